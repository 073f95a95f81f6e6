"""What a trigger-ended task returns: one pure function per kind of task, used both by OciWaitTrigger (which ends
the task in the triggerer, `end_task`) and by the operator's `finish` (which resumes on a worker, or waits
blocking): the two paths cannot disagree about a task's XCom.

Each function takes the waited-for resource as a dict (the SDK model's fields) and the task's partial result (what
the operator put in it before the wait: region, ready_at, check, ...) and returns the task's XCom. No API call,
no operator import: the trigger looks the function up in `RESULTS` by the operator's `end_task` name.

A restore at the `api` verification level also carries its check (`verification`, the same fields as
OciVerifyRestoreOperator's XCom): the restored volume is AVAILABLE with the backup's size, seen by the same look
that ended the wait, so no task starts to check it.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from common.ids import ocid_kind
from common.xcom import VERIFY_XCOM_KEY
from hooks.block_storage import backup_result


def _time(value: Any) -> datetime | None:
    """A time from the SDK model (datetime), its dict (ISO text) or an HTTP Date header (RFC 1123 text)."""
    if value is None or isinstance(value, datetime):
        return value
    text = str(value)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return email.utils.parsedate_to_datetime(text)


def volume_result(volume: Any, region: str) -> dict:
    """The XCom dict of a volume or boot volume: what downstream tasks need, never more."""
    return {"volume_id": volume.id, "kind": ocid_kind(volume.id), "display_name": volume.display_name,
            "availability_domain": volume.availability_domain, "compartment_id": volume.compartment_id,
            "size_in_gbs": volume.size_in_gbs, "lifecycle_state": volume.lifecycle_state, "region": region}


def api_check(state: str | None, size_in_gbs: int | None, expected_gbs: int | None, volume_id: str) -> str:
    """The `api` level's rule, the one place it is written: the restored volume is AVAILABLE with (at least) the
    backup's size. Returns the evidence; raises RuntimeError with what was seen when the check fails."""
    if state != "AVAILABLE":
        raise RuntimeError(f"restored volume {volume_id} is {state}, not AVAILABLE")
    if expected_gbs and (size_in_gbs or 0) < expected_gbs:
        raise RuntimeError(f"restored volume is {size_in_gbs} GB, the backup {expected_gbs} GB")
    return f"restored volume AVAILABLE, {size_in_gbs} GB"


def new_volume_xcom(data: dict, result: dict) -> dict:
    """A clone's or restore's XCom from the volume as last seen AVAILABLE: the time to AVAILABLE (a restore's
    RTO) on OCI's clock, `time_created` to the first look that saw it AVAILABLE (`ready_at`, the trigger's) or
    to the read right after a blocking wait (`read_at`); never this machine's clock. With `check` in the result
    (a test restore at `api` level), also the check's outcome as `verification`."""
    volume = SimpleNamespace(**data)
    created = _time(data["time_created"])
    ready = _time(result.get("ready_at") or result.get("read_at")) or created
    seconds = round(max(0.0, (ready - created).total_seconds()), 3)
    xcom = volume_result(volume, result["region"]) | {
        "seconds_to_available": seconds,
        "rto_source": "OCI clock: time_created to the first poll that saw it AVAILABLE" if result.get("ready_at")
        else "OCI clock: time_created to the read right after the wait"}
    check = result.get("check")
    if check:
        verification = {"source_id": check.get("source_id"), "backup_id": check["backup_id"],
                        "restored_volume_id": volume.id, "level": check["level"], "passed": False,
                        "restore_seconds": seconds, "detail": ""}
        try:
            verification["detail"] = api_check(data.get("lifecycle_state"), data.get("size_in_gbs"),
                                               check.get("size_in_gbs"), volume.id)
            verification["passed"] = True
            verification["verified_at"] = ready.isoformat()
        except RuntimeError as exc:
            verification["detail"] = str(exc)
        verification["check_seconds"] = 0.0  # the look that ended the wait is the check
        xcom[VERIFY_XCOM_KEY] = verification
    return xcom


# what a backup of a nightly plan item passes on from that item to the volume's later tasks (as a volume group
# backup does): where its test restore goes, whether there is one, its DR region and the volume's name
CARRIED = ("availability_domain", "verify", "dr_region", "volume_name")


def backup_xcom(data: dict, result: dict) -> dict:
    """A backup task's XCom from the backup as last seen AVAILABLE, with the quiesce evidence and the plan
    values it carries."""
    backup = SimpleNamespace(**data)
    backup.time_created = _time(backup.time_created)
    return backup_result(backup, result["region"]) | consistency_of(result) | \
        {key: result[key] for key in CARRIED if key in result}


def consistency_of(result: dict) -> dict:
    """The quiesce evidence a backup task's XCom carries (`consistency`), when a quiesce was asked for."""
    return {"consistency": result["consistency"]} if result.get("consistency") else {}


def group_verification(rows: list[dict], group_backup: dict, group_restored: dict, level: str,
                       check_seconds: float) -> dict:
    """A restored volume group's check from its members' rows (source_id, backup_id, restored_volume_id, level,
    passed, detail): it passes when every member passed. OciVerifyGroupRestoreOperator's XCom, and an
    `api`-level group restore's `verification`."""
    failed = [r for r in rows if not r["passed"]]
    return {"volume_group_backup_id": group_backup["volume_group_backup_id"],
            "restored_volume_group_id": group_restored.get("volume_group_id"), "level": level,
            "passed": bool(rows) and not failed, "members": rows,
            "detail": "; ".join(f"{r['source_id']}: {r['detail']}" for r in failed)
            or f"{len(rows)} restored volumes checked together",
            "restore_seconds": group_restored.get("seconds_to_available"), "check_seconds": check_seconds}


def group_api_rows(volumes: list[dict], member_backups: list[dict]) -> list[dict]:
    """The `api` check of each restored member volume (dicts with id, lifecycle_state, size_in_gbs and the member
    backup it came from, `source_backup_id`) against its member backup's size, in volume id order."""
    backups = {b["backup_id"]: b for b in member_backups}
    rows = []
    for volume in sorted(volumes, key=lambda v: v["id"]):
        backup = backups.get(volume["source_backup_id"]) or {}
        row = {"source_id": backup.get("source_id"), "backup_id": volume["source_backup_id"],
               "restored_volume_id": volume["id"], "level": "api", "passed": False, "detail": ""}
        try:
            row["detail"] = api_check(volume.get("lifecycle_state"), volume.get("size_in_gbs"),
                                      backup.get("size_in_gbs"), volume["id"])
            row["passed"] = True
        except RuntimeError as exc:
            row["detail"] = str(exc)
        rows.append(row)
    return rows


def ends_task(xcom: Any) -> bool:
    """Whether the trigger may end the task with this XCom: not when it carries a failed check (the task then
    resumes on a worker, which tags the backup and fails with the volume's name)."""
    check = xcom.get(VERIFY_XCOM_KEY) if isinstance(xcom, dict) else None
    return not check or bool(check.get("passed"))


def verified(xcom: Any) -> tuple[str, str, datetime] | None:
    """(backup id, level, when) to tag `verified-at` for a passed check this XCom carries, else None."""
    check = xcom.get(VERIFY_XCOM_KEY) if isinstance(xcom, dict) else None
    if not check or not check.get("passed"):
        return None
    return check["backup_id"], check["level"], _time(check["verified_at"])


# `end_task` names (an operator's class attribute) -> the function building its XCom
RESULTS: dict[str, Callable[[dict, dict], dict]] = {"backup": backup_xcom, "new_volume": new_volume_xcom}
