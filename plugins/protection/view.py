"""Join OCI's catalogue and the nightly reports into the page's rows: one per protected volume, the volumes that
are not protected and why, the history of the last nights, and the images and fleets the DAGs made.

RPO is what the nightly report calls it: the age of the newest backup proven restorable (`verified-at`), on
OCI's clock. Its target is the policy's `verify_every_days`, the promise the policy makes ("every volume is
proven restorable at least once per N days").
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from common.tags import GROUP_TAG, VERIFIED_LEVEL_TAG, VERIFIED_TAG, newest_verified
from hooks.oci import console_url
from operators.backup_policy import BackupPolicy

from protection.catalogue import Config, parse_time

# The JSON API's fields per protected volume, in this order (the CSV's columns follow them).
VOLUME_FIELDS = ("volume_id", "display_name", "kind", "policy", "group", "last_backup_time", "last_backup_type",
                 "last_verified_time", "verification", "rto_seconds", "rpo_seconds", "rpo_target_seconds",
                 "compliant", "dr_copy", "backups_kept", "console_url")
UNPROTECTED_FIELDS = ("volume_id", "display_name", "kind", "policy", "reason", "console_url")


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
                seen[row["backup_id"]] = {**row, "checked_at": report.get("generated_at"), "run_id": run["run_id"]}
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


def dr_status(policy: BackupPolicy, backup_ids: set[str], copies: list[dict]) -> str:
    if not policy.dr_region:
        return "not required"
    mine = [c for c in copies if c["region"] == policy.dr_region and c["source_backup_id"] in backup_ids]
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


def build(oci: dict, airflow: dict, config: Config) -> dict:
    """Everything the page, the JSON API and the CSV show."""
    now = parse_time(oci["now"]) or now_utc()
    region = oci["region"]
    seen = evidence_by_backup(airflow["runs"])
    by_volume = defaultdict(list)
    for backup in oci["backups"]:
        by_volume[backup["source_id"]].append(backup)
    history = history_of(airflow["runs"])
    protected, unprotected = [], []
    for vol in oci["volumes"]:
        tags = vol["freeform_tags"]
        link = console_url(region, vol["volume_id"])
        if config.tag_key not in tags:
            unprotected.append({"volume_id": vol["volume_id"], "display_name": vol["display_name"],
                                "kind": vol["kind"], "policy": None, "console_url": link,
                                "reason": f"no {config.tag_key} tag"})
            continue
        policy_name = tags[config.tag_key] or "default"
        policy = policy_of(policy_name, config.policies)
        backups = sorted(by_volume.get(vol["volume_id"], []), key=lambda b: b["time_created"] or "", reverse=True)
        newest = backups[0] if backups else None
        verified = newest_verified(backups)
        check = verification_of(newest, seen)
        checked = newest if check["result"] in ("PASS", "FAIL") else verified
        shown = seen.get(checked["backup_id"]) if checked else None
        rpo = (now - parse_time(verified["time_created"])).total_seconds() if verified else None
        target = policy.verify_every_days * 86400
        row = {"volume_id": vol["volume_id"], "display_name": vol["display_name"], "kind": vol["kind"],
               "policy": policy_name, "group": tags.get(GROUP_TAG) or None,
               "last_backup_time": newest and newest["time_created"],
               "last_backup_type": newest and newest["type"],
               # quiesce/bracket.py tags each backup it bracketed; any other backup is crash-consistent
               "last_backup_consistency": newest and ((newest.get("freeform_tags") or {}).get("backup-consistency")
                                                      or "crash-consistent (no quiesce configured)"),
               "last_verified_time": verified and verified["freeform_tags"].get(VERIFIED_TAG),
               "verification": check, "rto_seconds": (shown or {}).get("rto_seconds"),
               "rpo_seconds": round(rpo) if rpo is not None else None, "rpo_target_seconds": round(target),
               "compliant": rpo is not None and rpo <= target,
               "dr_copy": dr_status(policy, {b["backup_id"] for b in backups}, oci["copies"]),
               "backups_kept": len(backups), "console_url": link,
               # the page's extras, not in the API
               "unique_size": newest and unique_size(newest),
               "rto_history": [n["rto"].get(vol["volume_id"]) for n in history]}
        protected.append(row)
        if check["result"] != "PASS":
            reason = {"NONE": "tagged, but no backup yet",
                      "FAIL": f"newest backup failed verification: {check['evidence']}",
                      "UNVERIFIED": "newest backup not verified"}[check["result"]]
            unprotected.append({"volume_id": vol["volume_id"], "display_name": vol["display_name"],
                                "kind": vol["kind"], "policy": policy_name, "console_url": link, "reason": reason})
    protected.sort(key=lambda r: (r["verification"]["result"] == "PASS" and r["compliant"], r["display_name"]))
    unprotected.sort(key=lambda r: (r["policy"] is None, r["display_name"]))
    return {"generated_at": oci["now"], "region": region, "protected": protected, "unprotected": unprotected,
            "history": history, "fleets": fleets_of(oci), "config": config,
            "totals": {"protected": len(protected), "compliant": sum(r["compliant"] for r in protected),
                       "failed": sum(r["verification"]["result"] == "FAIL" for r in protected),
                       "untagged": sum(r["policy"] is None for r in unprotected)}}


def api_payload(view: dict, meta: dict) -> dict:
    """The JSON API: exactly the documented fields per volume, plus where the data came from and how fresh."""
    return {"volumes": [{k: row[k] for k in VOLUME_FIELDS} for row in view["protected"]],
            "unprotected": [{k: row[k] for k in UNPROTECTED_FIELDS} for row in view["unprotected"]],
            "generated_at": view["generated_at"], **meta}


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
