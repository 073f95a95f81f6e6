"""The quiesce bracket: the applications on a backup's volumes enter their backup mode before the backup is
requested, and leave it once OCI has taken the point in time, which is when the backup (or volume group
backup) has left REQUEST_RECEIVED (the SDK's first lifecycle state; CREATING is the upload), not when the
upload ends.

It always closes: on leaving the `with` block (error, task timeout), from the operator's `on_kill`, and, for a
worker killed outright, on the next try or run: opening first ends whatever the volume's `airflow-quiesce-open`
tag says an earlier bracket left (a database session still in backup mode, a frozen filesystem). A bracket that
cannot be closed raises `OciQuiesceError` naming the volume, the database and the connection.
"""

from __future__ import annotations

import json
import time

from common.ids import ocid_kind

from quiesce import statements as sql
from quiesce.evidence import consistency_text
from quiesce.quiescers import QUIESCERS, OciQuiesceError, Quiescer
from quiesce.spec import CONSISTENCY_TAG, OPEN_TAG, POSITION_TAG, parse, where

POINT_IN_TIME_STATE = "REQUEST_RECEIVED"
POLL_SECONDS = 0.1  # how often the point-in-time step is looked at: the hold is measured to this


class Bracket:
    """One bracket over a backup's volumes (one volume, or every member of a volume group backup).

    `with Bracket(...) as b: create the backup; b.wait_point_in_time(backup_id)`, then `b.evidence` says how
    consistent the backup is and `b.tag(ids)` writes that onto the backups."""

    def __init__(self, hook, quiesce: dict, context, log, region: str | None = None):
        self.hook, self.context, self.log, self.region = hook, context, log, region
        self.max_seconds = float(quiesce.get("max_quiesce_seconds") or 30)
        self.on_failure = quiesce.get("on_quiesce_failure") or "fail"
        ti = context["ti"]
        self.run_id = ti.run_id
        seen, self.quiescers = set(), []
        for item in quiesce["items"]:
            spec = parse(item["spec"], where(item))
            key = spec.text if not spec.needs_instance else (spec.text, item["volume_id"])
            if key in seen:
                continue  # one bracket per database, however many of the group's volumes it lives on
            seen.add(key)
            self.quiescers.append(QUIESCERS[spec.kind](spec, item, sql.label_for(self.run_id, item["volume_id"]),
                                                       self))
        self.recovered: list[str] = []
        self.opened: list[Quiescer] = []
        self.positions: list[dict] = []
        self.open_error: str | None = None
        self.timed_out = False
        self.hold_ms: int | None = None
        self.closed = False
        self._held_since: float | None = None

    # -- helpers the quiescers use ------------------------------------------------------------------------
    def token(self, purpose: str) -> str:
        """A Run Command's retry token: per try, since a retried freeze must freeze again."""
        from hooks.retries import retry_token

        ti = self.context["ti"]
        return retry_token(ti.dag_id, ti.run_id, ti.task_id, getattr(ti, "map_index", -1),
                           f"{purpose}-{getattr(ti, 'try_number', 1)}-{time.time_ns()}")

    def instance_of(self, item: dict) -> str:
        volume = self.hook.get_resource(item["volume_id"], self.region)
        attachment = self.hook.attachment_of(volume, self.region)
        if attachment is None:
            raise OciQuiesceError(f"{where(item)}: the volume is attached to no instance; nothing to quiesce on")
        return attachment.instance_id

    def _set_marker(self, q: Quiescer, value: str | None) -> None:
        import oci

        volume_id = q.item["volume_id"]
        volume = self.hook.get_resource(volume_id, self.region)
        tags = dict(volume.freeform_tags or {})
        if value is None and OPEN_TAG not in tags:
            return
        if value is None:
            tags.pop(OPEN_TAG)
        else:
            tags[OPEN_TAG] = value
        client = self.hook.get_client("blockstorage", self.region)
        m = oci.core.models
        if ocid_kind(volume_id) == "bootvolume":
            client.update_boot_volume(volume_id, m.UpdateBootVolumeDetails(freeform_tags=tags))
        else:
            client.update_volume(volume_id, m.UpdateVolumeDetails(freeform_tags=tags))

    def _marker(self, q: Quiescer) -> dict | None:
        tags = self.hook.get_resource(q.item["volume_id"], self.region).freeform_tags or {}
        try:
            return json.loads(tags[OPEN_TAG]) if OPEN_TAG in tags else None
        except ValueError:
            return {"r": "unknown"}

    # -- the bracket ---------------------------------------------------------------------------------------
    def __enter__(self) -> Bracket:
        self.open()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(aborting=exc_type is not None and not issubclass(exc_type, Exception))

    def recover(self) -> list[str]:
        """End what an earlier bracket left (a killed worker's backup mode or frozen mount), by the volumes'
        markers; also what a try that adopts its earlier try's backup does before anything else."""
        for q in self.quiescers:
            marker = self._marker(q)
            if marker is not None:
                note = f"{where(q.item)}: {q.recover(marker)}"
                self.log.warning("quiesce: %s", note)
                self.recovered.append(note)
                self._set_marker(q, None)
        return self.recovered

    def open(self) -> None:
        """End what an earlier bracket left, then enter every backup mode (a failure closes those already
        open: the bracket is all or nothing)."""
        self.recover()
        try:
            for q in self.quiescers:
                self._set_marker(q, json.dumps({"k": q.spec.kind, "l": q.label, "r": self.run_id[:80]},
                                               separators=(",", ":")))
                q.open()
                self.opened.append(q)
                if q.session is not None:  # the session the next run must end if this worker dies now
                    self._set_marker(q, json.dumps({"k": q.spec.kind, "l": q.label, "s": q.session,
                                                    "r": self.run_id[:80]}, separators=(",", ":")))
                self.log.info("quiesce: %s in backup mode for %s (%s)", q.name(), where(q.item), q.start_position)
        except Exception as exc:
            failing = next((q for q in self.quiescers if q not in self.opened), self.quiescers[-1])
            self.open_error = f"{where(failing.item)} {failing.name()}: {type(exc).__name__}: {exc}"
            self.close()
            self.log.error("quiesce could not start: %s", self.open_error)
            if self.on_failure != "crash_consistent":
                raise OciQuiesceError(f"quiesce could not start, no backup made: {self.open_error}") from exc
            return
        self._held_since = time.monotonic()

    def wait_point_in_time(self, backup_id: str) -> None:
        """Return once the backup has left REQUEST_RECEIVED (OCI has its point in time), or once the bracket
        has been held `max_quiesce_seconds`: then it closes anyway and the backup is crash-consistent."""
        if self._held_since is None:
            return
        deadline = self._held_since + self.max_seconds
        while True:
            state = self.hook.get_resource(backup_id, self.region).lifecycle_state
            if state != POINT_IN_TIME_STATE:
                self.log.info("quiesce: %s is %s: OCI has its point in time", backup_id, state)
                return
            if time.monotonic() >= deadline:
                self.timed_out = True
                self.log.error("QUIESCE TIMED OUT: %s still %s after max_quiesce_seconds=%s; closing the bracket, "
                               "the backup will be crash-consistent", backup_id, state, self.max_seconds)
                return
            time.sleep(POLL_SECONDS)

    def close(self, aborting: bool = False) -> None:
        """Leave every backup mode (idempotent); raise naming each one that could not be left."""
        if self.closed:
            return
        self.closed = True
        if self._held_since is not None:
            self.hold_ms = round((time.monotonic() - self._held_since) * 1000)
        failures = []
        for q in reversed(self.opened):
            try:
                if aborting:
                    q.abort()
                    self.log.warning("quiesce: %s ended without a position (task killed)", q.name())
                else:
                    position = q.close()
                    self.positions.append({"volume_id": q.item["volume_id"], "kind": q.spec.kind,
                                           "position": position})
                    self.log.info("quiesce: %s left backup mode: %s", q.name(), position)
                self._set_marker(q, None)
            except Exception as exc:  # every one is tried; the open tag stays for the next run to end
                failures.append(f"{where(q.item)} {q.name()}: {type(exc).__name__}: {exc}")
        for q in self.quiescers:
            if q not in self.opened:
                try:
                    self._set_marker(q, None)
                except Exception as exc:
                    self.log.warning("quiesce: could not clear %s on %s: %s", OPEN_TAG, q.item["volume_id"], exc)
        if failures:
            raise OciQuiesceError("quiesce bracket could not be closed (the next run ends it): " + "; ".join(failures))

    # -- evidence ------------------------------------------------------------------------------------------
    @property
    def evidence(self) -> dict:
        """What the report, the run note and the backup's tags say about this backup's consistency."""
        kinds = sorted({q.spec.kind for q in self.quiescers})
        if self.open_error:
            consistency, reason = "crash-consistent", f"quiesce could not start: {self.open_error}"
        elif self.timed_out:
            consistency, reason = "crash-consistent", "quiesce timed out"
        else:
            consistency, reason = "app-consistent", None
        return {"consistency": consistency, "kinds": kinds, "reason": reason, "hold_ms": self.hold_ms,
                "max_quiesce_seconds": self.max_seconds, "positions": list(reversed(self.positions)),
                "recovered": list(self.recovered),
                "failed": consistency != "app-consistent" and self.on_failure != "crash_consistent",
                "text": consistency_text(consistency, kinds, reason, self.hold_ms, list(reversed(self.positions)))}

    def tag(self, backup_ids: list[str]) -> None:
        """Write the evidence onto the backups as freeform tags, so OCI itself carries it (and drop the open
        marker a backup inherited from its volume)."""
        import oci

        ev = self.evidence
        value = f"{ev['consistency']} ({', '.join(ev['kinds'])})" if not ev["reason"] else \
            f"{ev['consistency']} ({ev['reason']})"
        position = "; ".join(f"{p['kind']}: {p['position']}" for p in ev["positions"])
        position = f"{position}; hold {ev['hold_ms']} ms" if ev["hold_ms"] is not None else position
        client = self.hook.get_client("blockstorage", self.region)
        m = oci.core.models
        for backup_id in backup_ids:
            backup = self.hook.get_resource(backup_id, self.region)
            tags = {k: v for k, v in (backup.freeform_tags or {}).items() if k != OPEN_TAG}
            tags.update({CONSISTENCY_TAG: value[:255], POSITION_TAG: (position or "-")[:255]})
            kind = ocid_kind(backup_id)
            if kind == "volumegroupbackup":
                client.update_volume_group_backup(backup_id, m.UpdateVolumeGroupBackupDetails(freeform_tags=tags))
            elif kind == "bootvolumebackup":
                client.update_boot_volume_backup(backup_id, m.UpdateBootVolumeBackupDetails(freeform_tags=tags))
            else:
                client.update_volume_backup(backup_id, m.UpdateVolumeBackupDetails(freeform_tags=tags))
