"""The OCI Protection page's join, rendering and CSV over hand-made snapshots of OCI and of the nightly reports
(the same shapes `catalogue.read_oci` and `read_airflow` return; tests/protection reads them for real)."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from protection.catalogue import Config
from protection.render import csv_text, page
from protection.snapshots import Status
from protection.view import UNPROTECTED_FIELDS, VOLUME_FIELDS, api_payload, build
from reports.nightly import build_group_row

REGION = "us-ashburn-1"
NOW = "2026-11-30T12:00:00+00:00"


def vol(name: str, tags: dict | None = None, kind: str = "volume") -> dict:
    return {"volume_id": f"ocid1.{kind}.oc1.iad.{name}aaaaaaaa", "display_name": name, "kind": kind,
            "compartment_id": "ocid1.compartment.oc1..c", "lifecycle_state": "AVAILABLE", "size_in_gbs": 50,
            "freeform_tags": tags or {}}


def backup(volume: dict, bid: str, made: str, kind: str = "INCREMENTAL", verified: str | None = None,
           region: str = REGION, source_backup: str | None = None) -> dict:
    tags = {"verified-at": verified, "verified-level": "script"} if verified else {}
    return {"backup_id": bid, "source_id": volume["volume_id"], "source_backup_id": source_backup, "type": kind,
            "lifecycle_state": "AVAILABLE", "time_created": made, "unique_size_in_mbs": 7, "unique_size_in_gbs": 1,
            "size_in_gbs": 50, "freeform_tags": tags, "region": region}


def snapshot(volumes, backups, copies=()) -> dict:
    return {"now": NOW, "region": REGION, "volumes": volumes, "backups": list(backups), "copies": list(copies),
            "images": [], "instances": [], "dr_regions": ["us-phoenix-1"]}


def report_run(run_id: str, rows: list[dict], at: str) -> dict:
    return {"run_id": run_id, "state": "failed" if any(r["failed"] for r in rows) else "success",
            "run_type": "scheduled", "start_date": at, "end_date": at,
            "report": {"generated_at": at, "volumes": rows,
                       "totals": {"backed_up": len(rows), "verified": sum(not r["failed"] for r in rows),
                                  "failed": sum(r["failed"] for r in rows)}}}


def row(volume: dict, bid: str, passed: bool, rto: float) -> dict:
    return {"volume_id": volume["volume_id"], "backup_id": bid, "rto_seconds": rto,
            "status": "verified" if passed else "VERIFICATION FAILED", "failed": not passed,
            "verification": {"level": "script", "passed": passed, "canary": "canary ok" if passed else None,
                             "detail": "e2fsck -fn clean on /dev/x" if passed else "FAIL e2fsck -fn exited 12"}}


POLICIES = {"default": {"full_interval_days": 7, "retention_days": 30, "verify_every_days": 1},
            "gold": {"full_interval_days": 7, "retention_days": 90, "dr_region": "us-phoenix-1"}}
CONFIG = Config(["ocid1.compartment.oc1..c"], "backup-policy", POLICIES, "latest nightly run")


def estate():
    good, bad, gold, fresh, loose = (vol("good", {"backup-policy": "default"}), vol("bad", {"backup-policy": "x"}),
                                     vol("gold", {"backup-policy": "gold"}), vol("fresh", {"backup-policy": ""}),
                                     vol("loose"))
    backups = [backup(good, "b-good-1", "2026-11-30T02:00:00+00:00", "FULL", verified="2026-11-30T02:30:00+00:00"),
               backup(bad, "b-bad-1", "2026-11-28T02:00:00+00:00", "FULL", verified="2026-11-28T02:30:00+00:00"),
               backup(bad, "b-bad-2", "2026-11-30T02:00:00+00:00"),
               backup(gold, "b-gold-1", "2026-11-30T02:00:00+00:00", "FULL")]
    copies = [backup(gold, "c-gold-1", "2026-11-30T03:00:00+00:00", region="us-phoenix-1", source_backup="b-gold-1")]
    runs = [report_run("night-2", [row(good, "b-good-1", True, 42.0), row(bad, "b-bad-2", False, 50.0)],
                       "2026-11-30T03:00:00+00:00"),
            report_run("night-1", [row(bad, "b-bad-1", True, 40.0)], "2026-11-28T03:00:00+00:00")]
    return snapshot([good, bad, gold, fresh, loose], backups, copies), {"runs": runs, "config": None}


def test_each_tagged_volume_gets_its_state_verification_rpo_and_dr_copy():
    oci, airflow = estate()
    view = build(oci, airflow, CONFIG)
    rows = {r["display_name"]: r for r in view["protected"]}
    assert set(rows) == {"good", "bad", "gold", "fresh"}
    good, bad, gold, fresh = rows["good"], rows["bad"], rows["gold"], rows["fresh"]
    assert good["verification"]["result"] == "PASS" and good["compliant"] and good["rpo_seconds"] == 10 * 3600
    assert good["state"] == "ok" and good["state_reason"] == "10.0 h of its 24.0 h RPO target used"
    assert good["last_good_backup"]["evidence"] == "e2fsck -fn clean on /dev/x; canary 'canary ok'"
    assert good["rto_seconds"] == 42.0 and good["rpo_target_seconds"] == 86400 and good["dr_copy"] == "not required"
    # the newest backup failed (the report says so; OCI has no tag): RPO runs from the older verified one, which
    # is past its target: red, with the failed attempt named; the RTO is the newest measured (the failed try's)
    assert bad["policy"] == "x" and bad["verification"]["result"] == "FAIL" and bad["rto_seconds"] == 50.0
    assert "exited 12" in bad["verification"]["evidence"] and bad["last_verified_time"] == "2026-11-28T02:30:00+00:00"
    assert bad["rpo_seconds"] == 58 * 3600 and not bad["compliant"]  # unknown policy 'x' → default: 1 day
    assert bad["state"] == "out" and bad["state_reason"].endswith("; last attempt failed: VERIFICATION FAILED")
    assert bad["last_attempt"]["failed"] and bad["last_attempt"]["backup_id"] == "b-bad-2"
    assert bad["last_good_backup"]["backup_id"] == "b-bad-1" and bad["last_good_backup"]["run_id"] == "night-1"
    assert gold["verification"]["result"] == "UNVERIFIED" and gold["rpo_seconds"] is None and not gold["compliant"]
    assert gold["state"] == "out" and gold["state_reason"] == "never verified: no good verified backup"
    assert gold["last_attempt"]["status"] == "backed up, not verified by a nightly run yet"
    assert gold["dr_copy"] == "AVAILABLE in us-phoenix-1 (2026-11-30 03:00)" and gold["rpo_target_seconds"] == 7 * 86400
    assert fresh["policy"] == "default" and fresh["verification"]["result"] == "NONE" and fresh["backups_kept"] == 0
    assert fresh["state"] == "out" and fresh["last_attempt"] is None and fresh["last_good_backup"] is None
    assert [r["display_name"] for r in view["protected"]][-1] == "good"  # problems first
    # only the untagged volume is "not protected": a tagged one is never counted twice
    assert [(u["display_name"], u["state"], u["reason"]) for u in view["unprotected"]] == [
        ("loose", "not_protected", "no backup-policy tag")]
    assert [n["run_id"] for n in view["history"]] == ["night-1", "night-2"]  # oldest first
    assert good["rto_history"] == [None, 42.0] and bad["rto_history"] == [40.0, 50.0]


def test_a_dr_copy_missing_from_the_policy_region_is_said():
    oci, airflow = estate()
    oci["copies"] = []
    gold = next(r for r in build(oci, airflow, CONFIG)["protected"] if r["display_name"] == "gold")
    assert gold["dr_copy"] == "MISSING in us-phoenix-1"


def test_api_payload_has_exactly_the_documented_fields():
    oci, airflow = estate()
    body = api_payload(build(oci, airflow, CONFIG), {"source": {"stale": False}})
    assert set(body) == {"volumes", "unprotected", "generated_at", "source", "totals", "clock", "compartments"}
    assert all(tuple(v) == VOLUME_FIELDS for v in body["volumes"])
    assert all(tuple(u) == UNPROTECTED_FIELDS for u in body["unprotected"])


def test_page_escapes_what_oci_returns_and_shows_the_stale_banner():
    oci, airflow = estate()
    oci["volumes"][0]["display_name"] = "<script>alert(1)</script>"
    html = page(build(oci, airflow, CONFIG), Status(NOW, 0.0, True, "OCI call failed: 500 InternalServerError: x",
                                                    "latest nightly run"), "/oci")
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert 'id="stale"' in html and "Showing OCI data from 2026-11-30 12:00:00 UTC (OCI time)" in html
    assert 'href="/oci/api/protection"' in html and 'href="/oci/protection.csv"' in html
    assert html.count("<svg") >= 3


def test_csv_has_one_row_per_volume_with_its_state_and_the_verification_spread_out():
    oci, airflow = estate()
    rows = list(csv.DictReader(io.StringIO(csv_text(build(oci, airflow, CONFIG)))))
    assert len(rows) == 5  # every volume once, as the tiles count them
    assert sorted(r["state"] for r in rows) == ["not_protected", "ok", "out", "out", "out"]
    bad = next(r for r in rows if r["display_name"] == "bad")
    assert bad["verification"] == "FAIL" and bad["verification_level"] == "script"
    assert bad["verification_backup_id"] == "b-bad-2" and bad["compliant"] == "False"
    assert (bad["last_attempt"], bad["last_good_backup"]) == ("VERIFICATION FAILED", "b-bad-1")
    assert bad["last_good_backup_time"] == "2026-11-28T02:00:00+00:00"
    loose = next(r for r in rows if r["display_name"] == "loose")
    assert loose["state_reason"] == "no backup-policy tag"


# -- backup groups: the report's `groups` rows as build_group_row (reports/nightly.py) writes them ---------------
def group_night(run_id: str, at: str, members: list[dict], member_backups: dict[str, str], passed: dict[str, bool],
                rto: float = 61.0) -> dict:
    """A nightly run whose report has no volume row and one `backup-group` row 'db' over `members`."""
    item = {"group": "db", "display_name": "db", "kind": "volumegroup", "policy": "default", "backup_type": "FULL",
            "verify": True, "members": [{"volume_id": m["volume_id"], "display_name": m["display_name"],
                                         "kind": m["kind"]} for m in members]}
    made = {"volume_group_backup_id": "g-1", "backup_id": "g-1", "volume_group_id": "vg-db", "type": "FULL",
            "size_in_gbs": 100, "unique_size_in_gbs": 1, "unique_size_in_mbs": 3,
            "members": {m["volume_id"]: member_backups[m["display_name"]] for m in members}}
    checks = [{"source_id": m["volume_id"], "level": "script", "passed": passed[m["display_name"]],
               "detail": "e2fsck -fn clean" if passed[m["display_name"]] else "e2fsck -fn exited 4",
               "canary": f"{m['display_name']} canary"} for m in members]
    checked = {"level": "script", "passed": all(passed.values()), "detail": "group check", "members": checks}
    group_row = build_group_row(item, made, {"seconds_to_available": rto}, checked, None, datetime.fromisoformat(at))
    return {"run_id": run_id, "state": "failed" if group_row["failed"] else "success", "run_type": "scheduled",
            "start_date": at, "end_date": at,
            "report": {"generated_at": at, "volumes": [], "groups": [group_row],
                       "totals": {"volumes": 0, "backed_up": 0, "verified": 0, "failed": 0, "pruned": 0}}}


def grouped_estate(passed: dict[str, bool]):
    data = vol("db-data", {"backup-policy": "default", "backup-group": "db"})
    log = vol("db-log", {"backup-policy": "default", "backup-group": "db"})
    alone = vol("app", {"backup-policy": "default"})
    ok = all(passed.values())
    tagged = "2026-11-30T02:30:00+00:00" if ok else None  # the DAG tags the members only when the group passed
    backups = [backup(data, "b-data", "2026-11-30T02:00:00+00:00", "FULL", verified=tagged),
               backup(log, "b-log", "2026-11-30T02:00:00+00:00", "FULL", verified=tagged)]
    runs = [group_night("night-1", "2026-11-30T03:00:00+00:00", [data, log], {"db-data": "b-data", "db-log": "b-log"},
                        passed)]
    return snapshot([data, log, alone], backups), {"runs": runs, "config": None}


def test_group_members_show_their_groups_verification_evidence_and_restore_time():
    oci, airflow = grouped_estate({"db-data": True, "db-log": True})
    view = build(oci, airflow, CONFIG)
    rows = {r["display_name"]: r for r in view["protected"]}
    data, log, alone = rows["db-data"], rows["db-log"], rows["app"]
    assert (data["group"], log["group"], alone["group"]) == ("db", "db", None)
    assert data["verification"]["result"] == "PASS" and data["compliant"] and data["state"] == "ok"
    assert data["verification"]["evidence"] == ("e2fsck -fn clean; canary 'db-data canary'; "
                                                "restored with backup group 'db': verified")
    assert log["verification"]["evidence"].startswith("e2fsck -fn clean; canary 'db-log canary'")
    assert alone["state"] == "out"  # tagged, never backed up
    assert data["rto_seconds"] == 61.0 and log["rto_seconds"] == 61.0 and data["rto_history"] == [61.0]
    [night] = view["history"]
    assert (night["made"], night["verified"], night["failed"]) == (2, 2, 0)  # the members, as volumes
    assert view["unprotected"] == []  # the tagged volume without a backup is red, not "not protected"
    body = api_payload(view, {})
    assert {v["display_name"]: v["group"] for v in body["volumes"]} == {"db-data": "db", "db-log": "db", "app": None}
    csv_rows = {r["display_name"]: r for r in csv.DictReader(io.StringIO(csv_text(view)))}
    assert csv_rows["db-log"]["group"] == "db" and csv_rows["app"]["group"] == ""
    html = page(view, Status(NOW, 0.0, False, "", "latest nightly run"))
    assert ('data-volume="db-data" data-state="ok" data-verification="PASS" data-compliance="compliant" '
            'data-group="db"') in html
    assert ">group db</div>" in html


def test_a_group_that_failed_verification_fails_every_member_with_its_own_evidence():
    oci, airflow = grouped_estate({"db-data": True, "db-log": False})
    view = build(oci, airflow, CONFIG)
    rows = {r["display_name"]: r for r in view["protected"]}
    data, log = rows["db-data"], rows["db-log"]
    # no member backup is tagged: the report is the only evidence, and the group's failure covers both
    assert data["verification"]["result"] == log["verification"]["result"] == "FAIL"
    assert log["verification"]["evidence"] == ("e2fsck -fn exited 4; canary 'db-log canary'; "
                                               "restored with backup group 'db': VERIFICATION FAILED")
    assert data["verification"]["evidence"].startswith("e2fsck -fn clean; canary 'db-data canary'; ")
    assert data["verification"]["evidence"].endswith("group 'db': VERIFICATION FAILED")
    assert data["state"] == log["state"] == "out"  # never verified, and the last attempt failed
    assert log["state_reason"] == "never verified: no good verified backup; last attempt failed: VERIFICATION FAILED"
    assert log["last_attempt"]["failed"] and log["last_attempt"]["run_id"] == "night-1"
    assert data["verification"]["checked_at"] == "2026-11-30T03:00:00+00:00"
    [night] = view["history"]
    assert (night["made"], night["verified"], night["failed"]) == (2, 0, 2)


def test_the_newest_backup_says_how_consistent_it_is_from_its_own_tags():
    """quiesce/bracket.py tags a bracketed backup `backup-consistency`; any other backup is crash-consistent."""
    oci, airflow = estate()
    good = next(b for b in oci["backups"] if b["backup_id"] == "b-good-1")
    good["freeform_tags"]["backup-consistency"] = "app-consistent (postgres)"
    view = build(oci, airflow, CONFIG)
    rows = {r["display_name"]: r for r in view["protected"]}
    assert rows["good"]["last_backup_consistency"] == "app-consistent (postgres)"
    assert rows["bad"]["last_backup_consistency"] == "crash-consistent (no quiesce configured)"
    assert rows["fresh"]["last_backup_consistency"] is None
    html = page(view, Status(NOW, 0.0, False, "", "latest nightly run"))
    assert "app-consistent (postgres)" in html and "crash-consistent (no quiesce configured)" in html
