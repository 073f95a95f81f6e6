"""Join OCI's catalogue and the nightly reports into the page's rows: one per protected volume, the volumes that
are not protected and why, the history of the last nights, and the images and fleets the DAGs made.

RPO is what the nightly report calls it: the age of the newest backup proven restorable (`verified-at`), on
OCI's clock. Its target is the policy's `verify_every_days`, the promise the policy makes ("every volume is
proven restorable at least once per N days").
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

from common.ids import console_url
from common.tags import GROUP_TAG, VERIFIED_LEVEL_TAG, VERIFIED_TAG, newest_verified
from operators.backup_policy import BackupPolicy

from protection.catalogue import DAG_ID, Config, parse_time

# The JSON API's fields per protected volume, in this order (the CSV's columns follow them).
VOLUME_FIELDS = ("volume_id", "display_name", "kind", "policy", "group", "state", "state_reason", "last_backup_time",
                 "last_backup_type", "last_verified_time", "verification", "last_attempt", "last_good_backup",
                 "rto_seconds", "rto_minutes", "rto_target_minutes", "rpo_seconds", "rpo_target_seconds",
                 "compliant", "dr_copy", "backups_kept", "console_url", "restore_url")
UNPROTECTED_FIELDS = ("volume_id", "display_name", "kind", "policy", "state", "reason", "console_url")
URL_FIELDS = ("run_url", "task_url")  # paths in Airflow's UI: the API gives them with its base path


def policy_of(name: str, policies: dict) -> BackupPolicy:
    """The policy a tag value names, as the DAG resolves it (unknown → default); a policy the DAG would reject
    still has its defaults here, so the page shows rather than fails."""
    raw = policies.get(name) if name in policies else policies.get("default", {})
    try:
        return BackupPolicy.from_dict(name if name in policies else "default", raw or {})
    except Exception:
        return BackupPolicy(name=name)


def member_rows(group_row: dict) -> list[dict]:
    """A `backup-group` report row as one row per member, shaped as a volume's: the member's backup and its own
    check, the group's restore time (the group is restored as one), and the group's status unless the member's
    own check failed (a member that passed in a group that failed is not proven: the DAG tags none of them)."""
    rows = []
    for member in group_row.get("members") or []:
        check = member.get("verification")
        status = ("VERIFICATION FAILED" if check and check.get("passed") is False
                  else group_row.get("status") or "")
        rows.append({"volume_id": member["volume_id"], "display_name": member.get("display_name"),
                     "backup_id": member.get("backup_id"), "rto_seconds": group_row.get("rto_seconds"),
                     "verification": check, "status": status, "failed": status.startswith(
                         ("BACKUP FAILED", "VERIFICATION FAILED")), "group": group_row.get("group"),
                     "group_status": group_row.get("status")})
    return rows


def report_rows(report: dict) -> list[dict]:
    """Every volume a nightly report speaks of: its volume rows, then its groups' member rows."""
    return list(report.get("volumes") or []) + [m for g in report.get("groups") or [] for m in member_rows(g)]


def evidence_by_backup(runs: list[dict]) -> dict[str, dict]:
    """What each nightly report saw of each backup (newest report wins): restore time, check, status; a group
    member's backup has its group's restore and its own check."""
    seen: dict[str, dict] = {}
    for run in runs:  # newest first
        report = run.get("report") or {}
        for row in report_rows(report):
            if row.get("backup_id") and row["backup_id"] not in seen:
                seen[row["backup_id"]] = {**row, "checked_at": report.get("generated_at"), "run_id": run["run_id"],
                                          "task": (run.get("tasks") or {}).get(row.get("volume_id"))}
    return seen


def evidence_line(row: dict | None) -> str:
    """The check's own words: e2fsck's result and the canary it read, or why it failed."""
    if not row:
        return ""
    check = row.get("verification") or {}
    line = check.get("detail") or row.get("status") or ""
    if check.get("canary"):
        line += f"; canary {check['canary']!r}"
    if check.get("heartbeat"):
        line += f"; heartbeat {check['heartbeat']}"
    if row.get("group"):
        line += f"; restored with backup group {row['group']!r}: {row.get('group_status') or '-'}"
    return line


def verification_of(newest: dict | None, seen: dict[str, dict]) -> dict:
    """PASS (tagged `verified-at` by the DAG), FAIL (the report says so: OCI keeps no tag for a failure),
    UNVERIFIED (not checked, or no run reported on it yet) or NONE (no backup)."""
    if newest is None:
        return {"result": "NONE", "level": None, "evidence": "no backup", "checked_at": None, "backup_id": None}
    tags = newest.get("freeform_tags") or {}
    row = seen.get(newest["backup_id"])
    check = (row or {}).get("verification") or {}
    if tags.get(VERIFIED_TAG):
        return {"result": "PASS", "level": tags.get(VERIFIED_LEVEL_TAG), "checked_at": tags[VERIFIED_TAG],
                "evidence": evidence_line(row) or "verified-at tag on the backup", "backup_id": newest["backup_id"]}
    failed = row is not None and (row.get("status") or "").startswith("VERIFICATION FAILED")
    return {"result": "FAIL" if failed else "UNVERIFIED", "level": check.get("level"),
            "checked_at": row.get("checked_at") if failed else None,
            "evidence": evidence_line(row) if row else "no nightly report on this backup",
            "backup_id": newest["backup_id"]}


def dr_status(policy: BackupPolicy, backup_ids: set[str], copies: dict[str, list[dict]]) -> str:
    """The newest DR copy of any of the volume's backups in its policy's DR region; `copies` by source backup id
    (indexed once for the page, so each volume looks only at its own)."""
    if not policy.dr_region:
        return "not required"
    mine = [c for b in backup_ids for c in copies.get(b, ()) if c["region"] == policy.dr_region]
    if not mine:
        return f"MISSING in {policy.dr_region}"
    newest = max(mine, key=lambda c: c["time_created"] or "")
    return f"{newest['lifecycle_state']} in {policy.dr_region} ({newest['time_created'][:16].replace('T', ' ')})"


def history_of(runs: list[dict]) -> list[dict]:
    """Per night (oldest first): backups made, verified, failed, and each volume's restore time (a group member's
    backup counted as a volume's)."""
    nights = []
    for run in reversed(runs):
        report = run.get("report")
        if not report:
            nights.append({"run_id": run["run_id"], "night": (run.get("start_date") or "")[:16], "state": run["state"],
                           "made": 0, "verified": 0, "failed": 0, "rto": {}})
            continue
        totals = report.get("totals") or {}  # of the volume rows: a group's members are counted here
        members = [m for g in report.get("groups") or [] for m in member_rows(g)]
        nights.append({"run_id": run["run_id"], "night": (report.get("generated_at") or "")[:16],
                       "state": run["state"], "made": totals.get("backed_up", 0) + sum(bool(m["backup_id"])
                                                                                       for m in members),
                       "verified": totals.get("verified", 0) + sum(m["status"] == "verified" for m in members),
                       "failed": totals.get("failed", 0) + sum(m["failed"] for m in members),
                       "rto": {r["volume_id"]: r["rto_seconds"] for r in report_rows(report)
                               if r.get("rto_seconds") is not None}})
    return nights


def fleets_of(oci: dict) -> list[dict]:
    by_image = defaultdict(list)
    for inst in oci["instances"]:
        by_image[inst["image_id"]].append(inst)
    return [{**image, "console_url": console_url(oci["region"], image["image_id"]),
             "instances": sorted(by_image.get(image["image_id"], []), key=lambda i: i["hostname"] or "")}
            for image in sorted(oci["images"], key=lambda i: i["time_created"] or "", reverse=True)]


# The four states a volume is in, exactly one each; the page's tiles count them and add up to the volumes.
STATES = {"ok": "verified, within RPO", "at_risk": "at risk", "out": "out of RPO or never verified",
          "not_protected": "not protected"}
RESTORE_DAG = "oci_restore"


def classify(rpo_seconds: float | None, target_seconds: float, last_failed: bool) -> str:
    """Green `ok`: a good verified backup within the RPO target, the last attempt good and under half the target
    used. Amber `at_risk`: still within target, but the last attempt failed or more than half the target is used.
    Red `out`: no verified backup, or the newest is older than the target."""
    if rpo_seconds is None or rpo_seconds > target_seconds:
        return "out"
    if last_failed or rpo_seconds > target_seconds / 2:
        return "at_risk"
    return "ok"


def state_reason(state: str, rpo_seconds: float | None, target_seconds: float, attempt: dict | None) -> str:
    """Why a volume is in its state, in one line."""
    used = f"{age_text(rpo_seconds)} of its {age_text(target_seconds)} RPO target used" if rpo_seconds is not None \
        else ""
    failed = attempt and attempt.get("failed")
    if state == "out":
        why = ("never verified: no good verified backup" if rpo_seconds is None
               else f"the newest good verified backup is {age_text(rpo_seconds)} old, target "
                    f"{age_text(target_seconds)}")
        return why + (f"; last attempt failed: {attempt['status']}" if failed else "")
    if state == "at_risk":
        return "; ".join(p for p in (f"last attempt failed: {attempt['status']}" if failed else "",
                                     used if rpo_seconds > target_seconds / 2 else "") if p)
    return used


def run_path(dag_id: str, run_id: str | None) -> str | None:
    """A run in Airflow 3's UI (relative to its base URL): /dags/<dag_id>/runs/<run_id>."""
    return f"/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}" if run_id else None


def task_path(dag_id: str, run_id: str | None, task_id: str, map_index: int | None = None) -> str | None:
    """A task instance (its log is the page's first tab) in Airflow 3.3's UI routes:
    /dags/<dag_id>/runs/<run_id>/tasks/<task_id>, a mapped one with /mapped/<map_index>."""
    if not run_id:
        return None
    path = f"{run_path(dag_id, run_id)}/tasks/{quote(task_id, safe='')}"
    return path if map_index is None else f"{path}/mapped/{map_index}"


def evidence_task(dag_id: str, row: dict) -> str | None:
    """The task whose log holds a report row's evidence: the verification, or the backup when that failed."""
    task = row.get("task")
    if not task:
        return None
    step = "verify_restore" if row.get("verification") or str(row.get("status", "")).startswith(
        "VERIFICATION") else ("backup_group" if task["group_id"] == "protect_group" else "backup_volume")
    if step == "verify_restore" and (row.get("verification") or {}).get("level") == "api":
        step = "restore_for_test"  # an `api`-level check ends the test restore itself (no verify task runs)
    return task_path(dag_id, row.get("run_id"), f"{task['group_id']}.{step}", task["map_index"])


def attempts_by_volume(runs: list[dict]) -> dict[str, dict]:
    """Each volume's newest report row (the last attempt a nightly run made on it), with its run and task."""
    found: dict[str, dict] = {}
    for run in runs:  # newest first
        report = run.get("report") or {}
        for row in report_rows(report):
            vid = row.get("volume_id")
            if vid and vid not in found:
                found[vid] = {**row, "run_id": run["run_id"], "checked_at": report.get("generated_at"),
                              "task": (run.get("tasks") or {}).get(vid)}
    return found


def last_attempt(attempt: dict | None, newest: dict | None, dag_id: str, region: str, now: datetime) -> dict | None:
    """The newest thing that happened to a volume's protection: the last nightly report row on it, or a newer
    backup OCI has that no report speaks of yet. Its time is the backup's (OCI's clock), else the report's."""
    by_backup = newest if newest and attempt and newest["backup_id"] == attempt.get("backup_id") else None
    if newest and (attempt is None or (by_backup is None and (newest["time_created"] or "") > (
            attempt.get("checked_at") or ""))):
        tagged = bool((newest.get("freeform_tags") or {}).get(VERIFIED_TAG))
        return {"time": newest["time_created"], "age_seconds": age_of(newest["time_created"], now),
                "status": "verified" if tagged else "backed up, not verified by a nightly run yet", "failed": False,
                "backup_id": newest["backup_id"], "console_url": console_url(region, newest["backup_id"]),
                "rto_seconds": None, "run_id": None, "run_url": None, "task_url": None}
    if attempt is None:
        return None
    time = (by_backup or {}).get("time_created") or attempt.get("checked_at")
    backup_id = attempt.get("backup_id")
    return {"time": time, "age_seconds": age_of(time, now), "status": attempt.get("status") or "",
            "failed": bool(attempt.get("failed")), "backup_id": backup_id, "rto_seconds": attempt.get("rto_seconds"),
            "console_url": console_url(region, backup_id) if backup_id else None, "run_id": attempt["run_id"],
            "run_url": run_path(dag_id, attempt["run_id"]), "task_url": evidence_task(dag_id, attempt)}


def good_backup(verified: dict | None, seen: dict[str, dict], dag_id: str, region: str, now: datetime) -> dict | None:
    """The newest good verified backup (the RPO rests on it), with the run and task that verified it."""
    if verified is None:
        return None
    tags = verified.get("freeform_tags") or {}
    row = seen.get(verified["backup_id"])
    run_id = (row or {}).get("run_id")
    return {"backup_id": verified["backup_id"], "time": verified["time_created"],
            "age_seconds": age_of(verified["time_created"], now), "verified_at": tags.get(VERIFIED_TAG),
            "level": tags.get(VERIFIED_LEVEL_TAG), "evidence": evidence_line(row) or "verified-at tag on the backup",
            "rto_seconds": (row or {}).get("rto_seconds"), "console_url": console_url(region, verified["backup_id"]),
            "run_id": run_id, "run_url": run_path(dag_id, run_id), "task_url": evidence_task(dag_id, row or {})}


def age_of(stamp: str | None, now: datetime) -> float | None:
    made = parse_time(stamp)
    return round((now - made).total_seconds()) if made else None


def tag_value(tags: dict, key: str) -> str | None:
    """A tag's value as the nightly reads it: trimmed ("db " is "db"); empty is None."""
    value = tags.get(key)
    return value.strip() or None if isinstance(value, str) else None


def restore_path(volume_id: str) -> str:
    """The page's own trigger form for the restore DAG with `volume_id` filled in (Airflow 3.3's trigger form
    takes no values from its URL)."""
    return f"/restore?{urlencode({'volume_id': volume_id})}"


def build(oci: dict, airflow: dict, config: Config, dag_id: str = DAG_ID) -> dict:
    """Everything the page, the JSON API and the CSV show: every volume once, in exactly one state."""
    now = parse_time(oci["now"]) or now_utc()
    region = oci["region"]
    runs = airflow["runs"]
    seen = evidence_by_backup(runs)
    attempts = attempts_by_volume(runs)
    by_volume = defaultdict(list)
    for backup in oci["backups"]:
        by_volume[backup["source_id"]].append(backup)
    copies = defaultdict(list)
    for copy in oci["copies"]:
        copies[copy["source_backup_id"]].append(copy)
    history = history_of(runs)
    protected, unprotected = [], []
    for vol in oci["volumes"]:
        tags = vol["freeform_tags"]
        link = console_url(region, vol["volume_id"])
        if config.tag_key not in tags:
            unprotected.append({"volume_id": vol["volume_id"], "display_name": vol["display_name"],
                                "kind": vol["kind"], "policy": None, "console_url": link, "state": "not_protected",
                                "reason": f"no {config.tag_key} tag"})
            continue
        policy_name = tag_value(tags, config.tag_key) or "default"
        policy = policy_of(policy_name, config.policies)
        backups = sorted(by_volume.get(vol["volume_id"], []), key=lambda b: b["time_created"] or "", reverse=True)
        newest = backups[0] if backups else None
        verified = newest_verified(backups)
        check = verification_of(newest, seen)
        good = good_backup(verified, seen, dag_id, region, now)
        attempt = last_attempt(attempts.get(vol["volume_id"]), newest, dag_id, region, now)
        if check["result"] == "FAIL" and attempt is not None:
            attempt["failed"] = True
        rpo = good["age_seconds"] if good else None
        target = policy.verify_every_days * 86400
        state = classify(rpo, target, bool(attempt and attempt["failed"]))
        # the newest restore measured (the last attempt's, failed check or not), else the good backup's
        rto = next((p["rto_seconds"] for p in (attempt, good) if p and p["rto_seconds"] is not None), None)
        row = {"volume_id": vol["volume_id"], "display_name": vol["display_name"], "kind": vol["kind"],
               "policy": policy_name, "group": tag_value(tags, GROUP_TAG),
               "state": state, "state_reason": state_reason(state, rpo, target, attempt),
               "last_backup_time": newest and newest["time_created"],
               "last_backup_type": newest and newest["type"],
               # quiesce/bracket.py tags each backup it bracketed; any other backup is crash-consistent
               "last_backup_consistency": newest and ((newest.get("freeform_tags") or {}).get("backup-consistency")
                                                      or "crash-consistent (no quiesce configured)"),
               "last_verified_time": verified and verified["freeform_tags"].get(VERIFIED_TAG),
               "verification": check, "last_attempt": attempt, "last_good_backup": good,
               "rto_seconds": rto, "rto_minutes": round(rto / 60, 1) if rto is not None else None,
               "rto_target_minutes": policy.rto_minutes,
               "rpo_seconds": rpo, "rpo_target_seconds": round(target),
               "compliant": rpo is not None and rpo <= target,
               "dr_copy": dr_status(policy, {b["backup_id"] for b in backups}, copies),
               "backups_kept": len(backups), "console_url": link, "restore_url": restore_path(vol["volume_id"]),
               # the page's extras, not in the API
               "unique_size": newest and unique_size(newest),
               "rto_history": [n["rto"].get(vol["volume_id"]) for n in history]}
        protected.append(row)
    order = list(STATES)
    protected.sort(key=lambda r: (-order.index(r["state"]), r["display_name"]))  # red first, then amber, green
    unprotected.sort(key=lambda r: r["display_name"])
    counts = {state: sum(r["state"] == state for r in protected) for state in ("ok", "at_risk", "out")}
    counts["not_protected"] = len(unprotected)
    return {"generated_at": oci["now"], "region": region, "protected": protected, "unprotected": unprotected,
            "history": history, "fleets": fleets_of(oci), "config": config, "dag_id": dag_id,
            "clock": clock_of(oci), "compartments": oci.get("compartments") or config.compartment_ids,
            "totals": {"volumes": len(protected) + len(unprotected), **counts, "protected": len(protected),
                       "compliant": sum(r["compliant"] for r in protected),
                       "failed": sum(r["verification"]["result"] == "FAIL" for r in protected)}}


CLOCK_TOLERANCE = 60.0  # seconds: OCI's Date header has a second's resolution, and the read takes a moment


def clock_of(oci: dict) -> dict:
    """OCI's clock against this machine's (Airflow's) at the read: the page's times are OCI's, its runs' are
    Airflow's, and when the two differ the page says by how much."""
    oci_now, local = parse_time(oci.get("now")), parse_time(oci.get("local_time"))
    offset = (oci_now - local).total_seconds() if oci_now and local else 0.0
    return {"offset_seconds": round(offset), "differs": abs(offset) > CLOCK_TOLERANCE}


def api_payload(view: dict, meta: dict, base: str = "") -> dict:
    """The JSON API: exactly the documented fields per volume, plus where the data came from and how fresh. Links
    into Airflow's UI and the restore form are absolute paths under `base` (the plugin's mount, e.g. /oci)."""
    ui = ui_base(base)

    def linked(part: dict | None) -> dict | None:
        return part and {**part, **{k: part[k] and ui + part[k] for k in URL_FIELDS}}

    volumes = [{**{k: row[k] for k in VOLUME_FIELDS}, "last_attempt": linked(row["last_attempt"]),
                "last_good_backup": linked(row["last_good_backup"]), "restore_url": base + row["restore_url"]}
               for row in view["protected"]]
    return {"volumes": volumes, "unprotected": [{k: row[k] for k in UNPROTECTED_FIELDS} for row in view["unprotected"]],
            "totals": {k: view["totals"][k] for k in ("volumes", *STATES)}, "clock": view["clock"],
            "compartments": view["compartments"], "generated_at": view["generated_at"], **meta}


def ui_base(base: str) -> str:
    """Airflow's UI root from the plugin's mount path (/oci, or /airflow/oci behind a path prefix)."""
    return base.removesuffix("/oci")


def unique_size(backup: dict) -> str:
    if backup.get("unique_size_in_mbs") is not None:
        return f"{backup['unique_size_in_mbs']:,} MB"
    return f"{backup['unique_size_in_gbs']:,} GB" if backup.get("unique_size_in_gbs") is not None else "-"


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def now_utc() -> datetime:
    return datetime.now(UTC)
