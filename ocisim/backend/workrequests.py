"""Work requests: the asynchronous record of image, backup-copy and other long operations.

Status moves ACCEPTED → IN_PROGRESS → SUCCEEDED | FAILED with emulated time; percentComplete is read off the
clock. An injected `fail_work_request` fault (or a backend rule, such as an unreadable image file) ends it
FAILED with the error text OCI would give.
"""

from __future__ import annotations

from ..clock import iso
from ..faults import Injected
from .base import Backend

KIND = "workrequest"


class WorkRequestBackend(Backend):
    def start(self, operation_type: str, compartment_id: str, region: str, resources: list[dict],
              duration: float, fail: tuple[str, str] | None = None, injected: Injected | None = None) -> dict:
        """Start a work request over `resources` ([{entity_type, identifier, entity_uri?}]).

        `fail` is (code, message) when the backend already knows the outcome; otherwise an injected
        `fail_work_request` fault of the call fails it.
        The caller schedules its resources' own states to match `failed(wr)`.
        """
        if fail is None and injected is not None:
            fail = injected.take_work_request_failure()
        now = self.state.now()
        wr = self.new(KIND, "coreservicesworkrequest", region, operation_type=operation_type,
                      status="ACCEPTED", compartment_id=compartment_id, percent_complete=0.0,
                      time_accepted=iso(now), time_started=None, time_finished=None,
                      resources=[{"entity_type": r["entity_type"], "action_type": "IN_PROGRESS",
                                  "identifier": r["identifier"], "entity_uri": r.get("entity_uri", "")}
                                 for r in resources],
                      _t0=now, _duration=max(duration, 1.0), _fail=list(fail) if fail else None,
                      _logs=[[iso(now), f"{operation_type} accepted"]])
        del wr["time_created"]
        end = wr["_duration"]
        final = "FAILED" if fail else "SUCCEEDED"
        action = "FAILED" if fail else ("CREATED" if operation_type.lower().startswith("create") else "UPDATED")
        done_resources = [dict(r, action_type=action) for r in wr["resources"]]
        self.store.schedule(wr, [
            (min(1.0, end / 10), {"status": "IN_PROGRESS", "time_started": iso(now + min(1.0, end / 10))}),
            (end, {"status": final, "time_finished": iso(now + end), "percent_complete": 100.0,
                   "resources": done_resources}),
        ], start=now)
        return wr

    def failed(self, wr: dict) -> bool:
        return wr.get("_fail") is not None

    def get_wr(self, wr_id: str, region: str) -> dict:
        wr = self.get(KIND, wr_id, region)
        if wr["status"] == "IN_PROGRESS":
            wr["percent_complete"] = round(min(99.0, 100.0 * (self.state.now() - wr["_t0"]) / wr["_duration"]), 1)
        return wr

    def list_wrs(self, region: str, compartment_id: str | None, resource_id: str | None) -> list[dict]:
        items = self.store.list(KIND, region)
        if compartment_id:
            items = [w for w in items if w["compartment_id"] == compartment_id]
        if resource_id:
            items = [w for w in items if any(r["identifier"] == resource_id for r in w["resources"])]
        return [self.get_wr(w["id"], region) for w in items]

    def errors(self, wr_id: str, region: str) -> list[dict]:
        wr = self.get_wr(wr_id, region)
        if wr["status"] != "FAILED" or not wr["_fail"]:
            return []
        code, message = wr["_fail"]
        return [{"code": code, "message": message, "timestamp": wr["time_finished"]}]

    def logs(self, wr_id: str, region: str) -> list[dict]:
        wr = self.get_wr(wr_id, region)
        entries = [{"message": m, "timestamp": t} for t, m in wr["_logs"]]
        if wr["time_started"]:
            entries.append({"message": f"{wr['operation_type']} in progress", "timestamp": wr["time_started"]})
        if wr["status"] == "IN_PROGRESS":
            entries.append({"message": f"{wr['percent_complete']:.0f}% complete", "timestamp": self.now_iso()})
        if wr["time_finished"]:
            entries.append({"message": f"{wr['operation_type']} {wr['status'].lower()}",
                            "timestamp": wr["time_finished"]})
        return entries
