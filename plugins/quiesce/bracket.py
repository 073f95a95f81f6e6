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
from contextlib import closing
from typing import Any

from common.errors import OciWaitError
from common.ids import ocid_kind

from quiesce import statements as sql
from quiesce.spec import CONSISTENCY_TAG, OPEN_TAG, POSITION_TAG, QuiesceSpec, parse, where

POINT_IN_TIME_STATE = "REQUEST_RECEIVED"
POLL_SECONDS = 0.1  # how often the point-in-time step is looked at: the hold is measured to this


class OciQuiesceError(OciWaitError):
    """A bracket that could not be opened or closed: names the volume, the database or mount, the connection."""


class Quiescer:
    """One application's backup mode. `open` enters it, `close` leaves it and returns the position text,
    `abort` drops it without a position (a killed task), `recover` ends one an earlier bracket left."""

    def __init__(self, spec: QuiesceSpec, item: dict, label: str, bracket: Bracket):
        self.spec, self.item, self.label, self.bracket = spec, item, label, bracket
        self.session: Any = None  # what the open-tag records so the next run can find it
        self.start_position: str | None = None

    def name(self) -> str:
        return f"{self.spec.kind} (connection {self.spec.conn_id})" if self.spec.conn_id else self.spec.text

    def open(self) -> None:
        raise NotImplementedError

    def close(self) -> str:
        raise NotImplementedError

    def abort(self) -> None:
        self.close()

    def recover(self, marker: dict) -> str:
        raise NotImplementedError


class PostgresQuiescer(Quiescer):
    def _hook(self):
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        return PostgresHook(postgres_conn_id=self.spec.conn_id)

    def open(self) -> None:
        self.conn = self._hook().get_conn()
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            cur.execute(sql.PG_SET_NAME, (self.label,))
            cur.execute("SELECT pg_backend_pid()")
            self.session = cur.fetchone()[0]
            cur.execute(sql.PG_START, (self.label,))
            self.start_position = cur.fetchone()[0]

    def close(self) -> str:
        with closing(self.conn), self.conn.cursor() as cur:
            cur.execute(sql.PG_STOP)
            stop_lsn, _ = cur.fetchone()
        return sql.pg_position(self.start_position, stop_lsn, self.label)

    def abort(self) -> None:
        self.conn.close()  # the server ends a backup whose session closes

    def recover(self, marker: dict) -> str:
        with closing(self._hook().get_conn()) as conn, conn.cursor() as cur:
            conn.autocommit = True
            cur.execute(sql.PG_LEFT_OPEN, (marker.get("l"),))
            pids = [row[0] for row in cur.fetchall()]
            for pid in pids:
                cur.execute(sql.PG_END_SESSION, (pid,))
        if pids:
            return f"ended the backup mode of session {pids} left by run {marker.get('r')}"
        return f"run {marker.get('r')} left its bracket open; the server had already left backup mode"


class MysqlQuiescer(Quiescer):
    """MariaDB's BACKUP STAGE or MySQL's FLUSH TABLES WITH READ LOCK, in one held session."""

    def _hook(self):
        from airflow.providers.mysql.hooks.mysql import MySqlHook

        return MySqlHook(mysql_conn_id=self.spec.conn_id)

    def _position(self, cur) -> str:
        cur.execute(sql.MY_BINLOG)
        status = cur.fetchone()
        cur.execute(sql.MY_GTID[self.spec.kind])
        gtid = cur.fetchone()[0]
        return sql.binlog_position(status, gtid or None)

    def open(self) -> None:
        start, _ = sql.mysql_statements(self.spec.kind)
        self.conn = self._hook().get_conn()
        cur = self.conn.cursor()
        cur.execute(sql.MY_SESSION_ID)
        self.session = cur.fetchone()[0]
        for statement in start:
            cur.execute(statement)
        self.start_position = self._position(cur)

    def close(self) -> str:
        _, end = sql.mysql_statements(self.spec.kind)
        with closing(self.conn):
            cur = self.conn.cursor()
            position = self._position(cur)
            for statement in end:
                cur.execute(statement)
        return position

    def abort(self) -> None:
        self.conn.close()  # the server releases a session's backup stage or read lock when it ends

    def recover(self, marker: dict) -> str:
        with closing(self._hook().get_conn()) as conn:
            cur = conn.cursor()
            cur.execute(sql.MY_LEFT_OPEN, (int(marker.get("s") or 0),))
            alive = cur.fetchone()
            if alive:
                cur.execute(sql.MY_END_SESSION, (int(alive[0]),))
        if alive:
            return f"ended session {alive[0]} left in backup mode by run {marker.get('r')}"
        return f"run {marker.get('r')} left its bracket open; the server had already left backup mode"


class OracleQuiescer(Quiescer):
    """Instance-wide backup mode: no session holds it, so opening first ends what V$BACKUP shows ACTIVE."""

    def _conn(self):
        from airflow.providers.oracle.hooks.oracle import OracleHook

        return OracleHook(oracle_conn_id=self.spec.conn_id).get_conn()

    def _run(self, statements: list[str]) -> str:
        with closing(self._conn()) as conn:
            cur = conn.cursor()
            for statement in statements:
                cur.execute(statement)
            cur.execute(sql.ORACLE_SCN)
            return str(cur.fetchone()[0])

    def open(self) -> None:
        with closing(self._conn()) as conn:
            cur = conn.cursor()
            cur.execute(sql.ORACLE_ACTIVE)
            ended = sql.oracle_recovery(cur.fetchall())
        if ended:
            self.bracket.recovered.append(f"{where(self.item)}: datafiles were still in backup mode; ended first")
            self._run(ended)
        self.start_position = self._run([sql.ORACLE_BEGIN])
        self.session = "instance"

    def close(self) -> str:
        return sql.oracle_position(self.start_position, self._run([sql.ORACLE_END]))

    def recover(self, marker: dict) -> str:
        with closing(self._conn()) as conn:
            cur = conn.cursor()
            cur.execute(sql.ORACLE_ACTIVE)
            ended = sql.oracle_recovery(cur.fetchall())
        if ended:
            self._run(ended)
            return f"ended the backup mode run {marker.get('r')} left"
        return f"run {marker.get('r')} left its bracket open; no datafile was in backup mode"


class GuestQuiescer(Quiescer):
    """fsfreeze or the user's script on the instance the volume is attached to, through Run Command."""

    def _run(self, script: str, timeout: int, purpose: str) -> dict:
        from hooks.waiting import Poll

        b = self.bracket
        instance_id = self.session
        result = b.hook.run_command(instance_id, None, script, timeout, Poll(0.1, 0.5, timeout + 30), b.region,
                                    b.token(f"quiesce-{purpose}-{self.item['volume_id'][-12:]}"))
        b.log.info("quiesce %s on %s: %s exit %s %s", purpose, instance_id, result["state"], result["exit_code"],
                   result["output"][-500:])
        return result

    def _ok(self, result: dict, what: str) -> None:
        if result["state"] != "SUCCEEDED" or result["exit_code"] != 0:
            raise OciQuiesceError(f"{where(self.item)} {self.spec.text!r}: {what} on instance {self.session} ended "
                                  f"{result['state']} (exit {result['exit_code']}): {result['output'][-300:]}")

    def _freeze_script(self) -> str:
        mounts = " ".join(self.spec.mounts)
        return ("set -u\ndone=''\nfor m in " + mounts + "; do\n  if ! fsfreeze -f \"$m\"; then\n"
                "    for d in $done; do fsfreeze -u \"$d\"; done\n    exit 1\n  fi\n  done=\"$done $m\"\n"
                "  echo \"frozen $m\"\ndone\n")

    def _thaw_script(self, tolerant: bool) -> str:
        mounts = " ".join(reversed(self.spec.mounts))
        fail = "echo \"not frozen $m\"" if tolerant else "echo \"thaw failed $m\"; rc=1"
        return (f"rc=0\nfor m in {mounts}; do\n  if fsfreeze -u \"$m\"; then echo \"thawed $m\"; else {fail}; "
                f"fi\ndone\nexit $rc\n")

    def open(self) -> None:
        self.session = self.bracket.instance_of(self.item)
        if self.spec.kind == "fsfreeze":
            self._ok(self._run(self._freeze_script(), 60, "freeze"), "fsfreeze -f")
        else:
            self._ok(self._run(self.spec.pre, self.spec.timeout, "pre"), f"pre command {self.spec.pre!r}")
        self.start_position = "frozen" if self.spec.kind == "fsfreeze" else "pre command done"

    def close(self) -> str:
        if self.spec.kind == "fsfreeze":
            self._ok(self._run(self._thaw_script(False), 60, "thaw"), "fsfreeze -u")
            return f"froze {', '.join(self.spec.mounts)} on {self.session}"
        self._ok(self._run(self.spec.post, self.spec.timeout, "post"), f"post command {self.spec.post!r}")
        return f"pre and post commands on {self.session}"

    def recover(self, marker: dict) -> str:
        self.session = self.bracket.instance_of(self.item)
        if self.spec.kind == "fsfreeze":
            out = self._run(self._thaw_script(True), 60, "recover")["output"]
            thawed = [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("thawed ")]
            return (f"thawed {', '.join(thawed)} left frozen by run {marker.get('r')}" if thawed else
                    f"run {marker.get('r')} left its bracket open; nothing was still frozen")
        result = self._run(self.spec.post, self.spec.timeout, "recover")
        return f"ran the post command run {marker.get('r')} left undone: {result['state']}"


QUIESCERS = {"postgres": PostgresQuiescer, "mariadb": MysqlQuiescer, "mysql": MysqlQuiescer,
             "oracle": OracleQuiescer, "fsfreeze": GuestQuiescer, "script": GuestQuiescer}


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


def consistency_text(consistency: str, kinds: list[str], reason: str | None, hold_ms: int | None,
                     positions: list[dict]) -> str:
    """One line of evidence: `app-consistent (postgres: start LSN ..., stop LSN ...; hold 812 ms)` or
    `CRASH-CONSISTENT (quiesce timed out)` (loud: the backup is not what was asked for)."""
    if consistency != "app-consistent":
        return f"CRASH-CONSISTENT ({reason})"
    parts = "; ".join(f"{p['kind']}: {p['position']}" for p in positions) or ", ".join(kinds)
    return f"app-consistent ({parts}; hold {hold_ms} ms)"


def evidence_text(consistency: dict | None) -> str:
    """The report's words for a backup's consistency (XCom `consistency`; None: no quiesce was asked)."""
    if not consistency:
        return "crash-consistent (no quiesce configured)"
    text = consistency["text"]
    if consistency.get("recovered"):
        text += "; earlier bracket ended: " + "; ".join(consistency["recovered"])
    return text

