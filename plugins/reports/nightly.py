"""What the nightly report says: one row per volume (backup, sizes, RTO, verification, RPO), one per
`backup-group` with its members, and the text that goes to the log and the DAG run's note. Pure:
OciBackupReportOperator reads XCom and OCI and passes the facts in."""

from __future__ import annotations

from datetime import datetime

from reports.names import note, short_ocid


def build_row(item: dict, backup: dict | None, restore: dict | None, verification: dict | None,
              newest_verified_backup: dict | None, now: datetime) -> dict:
    rpo = None
    if newest_verified_backup:
        made = datetime.fromisoformat(newest_verified_backup["time_created"])
        rpo = round((now - made).total_seconds() / 3600, 2)
    if backup is None:
        status = "BACKUP FAILED"
    elif not item.get("verify"):
        status = "backed up (verification not sampled)"
    elif verification is None:
        status = "VERIFICATION FAILED (no result)"
    else:
        status = "verified" if verification["passed"] else "VERIFICATION FAILED"
    return {"volume_id": item["volume_id"], "display_name": item["display_name"], "kind": item["kind"],
            "policy": item["policy"], "planned_type": item["backup_type"],
            "backup_id": backup and backup["backup_id"], "type": backup and backup["type"],
            "size_in_gbs": backup and backup["size_in_gbs"],
            "unique_size_in_mbs": backup and backup["unique_size_in_mbs"],
            "unique_size_in_gbs": backup and backup["unique_size_in_gbs"],
            "rto_seconds": restore and restore.get("seconds_to_available"),
            "rto_source": restore and restore.get("rto_source"),
            "verification": verification and {k: verification.get(k) for k in
                                              ("level", "passed", "detail", "exit_code", "canary", "heartbeat")},
            "rpo_hours": rpo,
            "newest_verified_backup_id": newest_verified_backup and newest_verified_backup["backup_id"],
            # the backup this run adopted from an earlier run (its killed or failed night), and other backups
            # such runs made of the volume: kept, named here for a person to delete
            "adopted_run": item.get("adopted_run"), "duplicates": list(item.get("duplicates") or []),
            "status": status,
            "consistency": (backup or {}).get("consistency"),
            "failed": status.startswith(("BACKUP FAILED", "VERIFICATION FAILED"))
            or bool(((backup or {}).get("consistency") or {}).get("failed"))}


def consistency_line(row: dict) -> str:
    """A line's consistency (quiesce/evidence.py's words for the bracket's evidence; empty when the backup failed)."""
    from quiesce.evidence import evidence_text

    return f"; {evidence_text(row.get('consistency'))}" if row.get("backup_id") else ""


def build_group_row(item: dict, backup: dict | None, restore: dict | None, verification: dict | None,
                    newest_verified_backup: dict | None, now: datetime, copy: dict | None = None) -> dict:
    """A `backup-group`'s row: as a volume's (`build_row`), plus its members, each with its member backup and
    its own check, and its DR copy (`dr_copy`: the copy's id, its member copies and region, `failed`; None: no DR
    region). A group backup made but not copied to its policy's DR region fails the row (the group is not
    protected as its policy says); `status` stays the backup's and verification's, which its members share."""
    row = build_row({**item, "volume_id": None}, backup, restore, verification, newest_verified_backup, now)
    dr_region = item.get("dr_region")
    row["dr_copy"] = {"region": dr_region, "backup_id": (copy or {}).get("backup_id"),
                      "member_backup_ids": (copy or {}).get("member_backup_ids") or [],
                      "failed": bool(backup) and not (copy or {}).get("backup_id")} if dr_region else None
    row["failed"] = row["failed"] or bool(row["dr_copy"] and row["dr_copy"]["failed"])
    member_backups = (backup or {}).get("members") or {}
    checks = {c["source_id"]: c for c in (verification or {}).get("members") or []}
    row.update(group=item["group"], volume_group_id=backup and backup["volume_group_id"], members=[
        {"volume_id": m["volume_id"], "display_name": m["display_name"], "kind": m["kind"],
         "backup_id": member_backups.get(m["volume_id"]),
         "verification": checks.get(m["volume_id"]) and {k: checks[m["volume_id"]].get(k) for k in
                                                         ("level", "passed", "detail", "canary")}}
        for m in item["members"]])
    return row


def dr_copy_text(dr_copy: dict) -> str:
    """A group line's DR copy: the copy in its region, or that it failed (for the line and the run's error)."""
    if dr_copy["failed"]:
        return f"; DR COPY to {dr_copy['region']} FAILED"
    return f"; DR copy {dr_copy['backup_id'] or '-'} in {dr_copy['region']}"


def retention_approval_text(decision: dict, reason_limit: int = 500) -> str:
    """Who approved or rejected tonight's retention (operators/approval.py's OciApprovePruneOperator), when, why."""
    reason = f": {decision['reason'][:reason_limit]}" if decision.get("reason") else ""
    at = str(decision.get("at") or "-")[:16].replace("T", " ")
    if decision.get("approved"):
        return f"Retention approved by {decision['by']} at {at} UTC{reason}"
    return f"Retention REJECTED by {decision['by']} at {at} UTC{reason}; no backup deleted"


def render_text(report: dict) -> str:
    lines = [f"OCI nightly backup report, {report['generated_at']} (OCI time)",
             f"{report['totals']['volumes']} volumes, {report['totals']['backed_up']} backed up, "
             f"{report['totals']['verified']} verified, {report['totals']['failed']} failed, "
             f"{report['totals']['pruned']} pruned", ""]
    for step in report.get("failed_steps") or []:
        lines.append(f"STEP FAILED: {step['step']} ({step['state']}): {step['detail']}")
    if report.get("retention_approval"):
        lines.append(retention_approval_text(report["retention_approval"]))
    for d in report.get("duplicates") or []:
        lines.append(f"DUPLICATE BACKUP of {d['display_name']}: {d['backup_id']} ({d['type']}, "
                     f"{d['lifecycle_state']}, made {d['time_created']} by run {d['run']}): kept, not used by this "
                     f"run; delete it if it is not wanted")
    for v in report.get("skipped") or []:
        lines.append(f"NOT PROTECTED: {v['display_name']} ({v['volume_id']}): {v['skipped']}")
    if report.get("failed_steps") or report.get("duplicates") or report.get("skipped"):
        lines.append("")
    for r in report["volumes"]:
        v = r["verification"] or {}
        lines.append(
            f"- {r['display_name']} ({r['kind']}): {r['status']}; {r['type'] or r['planned_type']} "
            f"{r['backup_id'] or '-'}; size {r['size_in_gbs'] or '-'} GB, unique {r['unique_size_in_mbs'] or 0} MB; "
            f"RTO {r['rto_seconds'] if r['rto_seconds'] is not None else '-'} s; "
            f"check {v.get('level', '-')}: {v.get('detail', '-')}; "
            f"RPO {r['rpo_hours'] if r['rpo_hours'] is not None else '-'} h"
            + (f"; adopted from run {r['adopted_run']}" if r.get("adopted_run") else "") + consistency_line(r))
    for r in report.get("groups") or []:
        v = r["verification"] or {}
        lines.append(
            f"- group {r['group']} ({len(r['members'])} volumes, one volume group backup): {r['status']}; "
            f"{r['type'] or r['planned_type']} {r['backup_id'] or '-'}; size {r['size_in_gbs'] or '-'} GB, unique "
            f"{r['unique_size_in_mbs'] or 0} MB; RTO {r['rto_seconds'] if r['rto_seconds'] is not None else '-'} s; "
            f"check {v.get('level', '-')}: {v.get('detail', '-')}; "
            f"RPO {r['rpo_hours'] if r['rpo_hours'] is not None else '-'} h"
            + (dr_copy_text(r["dr_copy"]) if r.get("dr_copy") else "")
            + (f"; adopted from run {r['adopted_run']}" if r.get("adopted_run") else "") + consistency_line(r))
        for m in r["members"]:
            check = m["verification"] or {}
            lines.append(f"    - {m['display_name']} ({m['kind']}): backup {m['backup_id'] or '-'}; check "
                         f"{'PASS' if check.get('passed') else 'FAIL' if check else '-'} {check.get('detail', '')}")
    return "\n".join(lines)


def render_note(report: dict) -> str:
    """The run's note: the totals, then one table row per volume and group (failed ones first), each by its
    display name with a shortened backup OCID; within Airflow's 1000 characters (the full report is the log's)."""
    t = report["totals"]
    heading = (f"OCI nightly backup report, {report['generated_at'][:16].replace('T', ' ')} (OCI time): "
               f"{t['volumes']} volumes, {t['backed_up']} backed up, {t['verified']} verified, {t['failed']} "
               f"failed, {t['pruned']} pruned")

    def row(name: str, r: dict) -> list:
        v = r["verification"] or {}
        check = f"{v.get('level')}: {'PASS' if v.get('passed') else (v.get('detail') or 'FAIL')[:60]}" if v else "-"
        return [name, r["status"], f"{r['type'] or r['planned_type']} {short_ocid(r['backup_id'])}", check,
                "-" if r["rto_seconds"] is None else f"{r['rto_seconds']:.0f} s",
                "-" if r["rpo_hours"] is None else f"{r['rpo_hours']} h"]

    rows = [(r["failed"], row(r["display_name"], r)) for r in report["volumes"]]
    rows += [(r["failed"], row(f"group {r['group']} ({len(r['members'])} volumes)", r))
             for r in report.get("groups") or []]
    rows.sort(key=lambda pair: not pair[0])  # failed first, else in the plan's order
    tail = [f"STEP FAILED: {s['step']} ({s['state']}): {s['detail'][:120]}" for s in report.get("failed_steps") or []]
    if report.get("retention_approval"):
        tail.append(retention_approval_text(report["retention_approval"], 120))
    return note(heading, ["Volume", "Status", "Backup", "Check", "RTO", "RPO"], [r for _, r in rows], tail)
