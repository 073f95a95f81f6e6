"""Planning of `backup-group`s, pure: which volumes form a group, the rules a group must keep, what its plan item
holds, FULL or INCREMENTAL from its group backups, and retention never deleting a member backup on its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from common.errors import OciInputError
from operators.backup_policy import BackupPolicy, group_item, group_members, plan_backup_type, retention_candidates
from reports.nightly import build_group_row, render_text

NOW = datetime(2026, 6, 1, tzinfo=UTC)
AD1, AD2 = "kIdk:EU-FRANKFURT-1-AD-1", "kIdk:EU-FRANKFURT-1-AD-2"


def vol(name: str, group: str | None = None, ad: str = AD1, policy: str = "default") -> dict:
    return {"volume_id": f"ocid1.volume.oc1..{name}", "display_name": name, "kind": "volume", "policy": policy,
            "group": group, "compartment_id": "ocid1.compartment.oc1..prod", "availability_domain": ad,
            "size_in_gbs": 50, "region": "eu-frankfurt-1"}


def backup(backup_id: str, days_ago: float, kind: str = "FULL", verified: bool = False, **extra) -> dict:
    tags = {"managed-by": "airflow-oci", "airflow-dag": "oci_nightly_backup"}
    if verified:
        tags["verified-at"] = NOW.isoformat()
    return {"backup_id": backup_id, "type": kind, "lifecycle_state": "AVAILABLE", "freeform_tags": tags,
            "time_created": (NOW - timedelta(days=days_ago)).isoformat(), **extra}


def test_volumes_sharing_a_group_value_form_one_group_ordered_by_id_and_the_rest_stay_alone():
    volumes = [vol("z-log", "db"), vol("app"), vol("a-data", "db"), vol("cache", "web")]
    groups = group_members(volumes)
    assert sorted(groups) == ["db", "web"]
    assert [v["display_name"] for v in groups["db"]] == ["a-data", "z-log"]
    assert [v["display_name"] for v in groups["web"]] == ["cache"]


@pytest.mark.parametrize("other, field, rule", [
    (vol("db-log", "db", ad=AD2), "availability_domain", "share one availability domain"),
    (vol("db-log", "db", policy="gold"), "policy", "backed up on one policy"),
])
def test_a_group_across_ads_or_policies_is_refused_naming_its_volumes_and_the_rule(other, field, rule):
    with pytest.raises(OciInputError) as err:
        group_members([vol("db-data", "db"), other, vol("app")])
    text = str(err.value)
    assert text.startswith("backup-group 'db': ") and rule in text and f"differ in {field}" in text
    assert "db-data (ocid1.volume.oc1..db-data)" in text and "db-log (ocid1.volume.oc1..db-log)" in text
    # retention groups without the check: it must still prune what the plan refused
    assert len(group_members([vol("db-data", "db"), other], check=False)["db"]) == 2


def test_group_item_holds_its_members_and_where_its_volume_group_lives():
    item = group_item("db", group_members([vol("db-log", "db"), vol("db-data", "db")])["db"])
    assert item["kind"] == "volumegroup" and item["display_name"] == "db" and item["group"] == "db"
    assert item["volume_ids"] == ["ocid1.volume.oc1..db-data", "ocid1.volume.oc1..db-log"]
    assert item["availability_domain"] == AD1 and item["size_in_gbs"] == 100
    assert [m["display_name"] for m in item["members"]] == ["db-data", "db-log"]


def test_a_group_is_full_or_incremental_by_its_group_backups_like_a_volume():
    policy = BackupPolicy(full_interval_days=7)
    assert plan_backup_type([], policy, NOW)[0] == "FULL"
    assert plan_backup_type([backup("g1", 2)], policy, NOW)[0] == "INCREMENTAL"
    assert plan_backup_type([backup("g1", 8), backup("g2", 1, "INCREMENTAL")], policy, NOW)[0] == "FULL"


def test_retention_never_deletes_a_member_of_a_group_backup_on_its_own():
    policy = BackupPolicy(full_interval_days=7, retention_days=7.5)
    backups = [backup("member", 20, volume_group_backup_id="ocid1.volumegroupbackup.oc1..g"),
               backup("alone", 20), backup("newest", 1, verified=True)]
    assert [b["backup_id"] for b in retention_candidates(backups, policy, NOW, "oci_nightly_backup")] == ["alone"]


def test_group_backups_are_pruned_but_never_the_newest_verified_one():
    policy = BackupPolicy(full_interval_days=7, retention_days=7.5)
    groups = [backup("g-old", 20), backup("g-verified", 10, verified=True), backup("g-new", 1)]
    assert [b["backup_id"] for b in retention_candidates(groups, policy, NOW, "oci_nightly_backup")] == ["g-old"]


def test_group_report_row_has_a_line_per_member_and_fails_when_the_group_verification_failed():
    item = {**group_item("db", group_members([vol("db-data", "db"), vol("db-log", "db")])["db"]),
            "backup_type": "FULL", "verify": True}
    made = {"volume_group_backup_id": "ocid1.volumegroupbackup.oc1..g", "backup_id": "ocid1.volumegroupbackup.oc1..g",
            "volume_group_id": "ocid1.volumegroup.oc1..db", "type": "FULL", "size_in_gbs": 100,
            "unique_size_in_gbs": 1, "unique_size_in_mbs": 3,
            "members": {"ocid1.volume.oc1..db-data": "b-data", "ocid1.volume.oc1..db-log": "b-log"}}
    checked = {"level": "script", "passed": False, "detail": "ocid1.volume.oc1..db-log: e2fsck found errors",
               "members": [{"source_id": "ocid1.volume.oc1..db-data", "passed": True, "detail": "clean"},
                           {"source_id": "ocid1.volume.oc1..db-log", "passed": False, "detail": "e2fsck"}]}
    row = build_group_row(item, made, {"seconds_to_available": 30}, checked, None, NOW)
    assert row["failed"] and row["status"] == "VERIFICATION FAILED" and row["backup_id"] == made["backup_id"]
    assert [(m["display_name"], m["backup_id"], m["verification"]["passed"]) for m in row["members"]] == [
        ("db-data", "b-data", True), ("db-log", "b-log", False)]
    text = render_text({"generated_at": NOW.isoformat(), "failed_steps": [], "volumes": [], "groups": [row],
                        "totals": {"volumes": 0, "backed_up": 0, "verified": 0, "failed": 1, "pruned": 0}})
    assert "- group db (2 volumes, one volume group backup): VERIFICATION FAILED; FULL" in text
    assert "    - db-log (volume): backup b-log; check FAIL e2fsck" in text
    assert build_group_row(item, None, None, None, None, NOW)["status"] == "BACKUP FAILED"


def test_a_group_backup_not_copied_to_its_dr_region_fails_its_row_and_a_copy_is_named():
    item = {**group_item("db", [vol("db-data", "db"), vol("db-log", "db")]), "backup_type": "FULL",
            "verify": False, "dr_region": "us-phoenix-1"}
    made = {"backup_id": "gb", "type": "FULL", "size_in_gbs": 100, "unique_size_in_gbs": 1, "unique_size_in_mbs": 9,
            "volume_group_id": "vg", "members": {}}
    copied = build_group_row(item, made, None, None, None, NOW, {"backup_id": "gb-dr", "member_backup_ids": ["m"]})
    assert not copied["failed"] and copied["dr_copy"] == {"region": "us-phoenix-1", "backup_id": "gb-dr",
                                                          "member_backup_ids": ["m"], "failed": False}
    text = render_text({"generated_at": NOW.isoformat(), "failed_steps": [], "volumes": [], "groups": [copied],
                        "totals": {"volumes": 0, "backed_up": 0, "verified": 0, "failed": 0, "pruned": 0}})
    assert "; DR copy gb-dr in us-phoenix-1" in text
    lost = build_group_row(item, made, None, None, None, NOW, None)
    assert lost["failed"] and lost["dr_copy"]["failed"] and lost["status"] == "backed up (verification not sampled)"
    text = render_text({"generated_at": NOW.isoformat(), "failed_steps": [], "volumes": [], "groups": [lost],
                        "totals": {"volumes": 0, "backed_up": 0, "verified": 0, "failed": 0, "pruned": 0}})
    assert "; DR COPY to us-phoenix-1 FAILED" in text
    # no DR region: nothing to copy, nothing failed; no backup: the backup's failure, not the copy's
    assert build_group_row({**item, "dr_region": None}, made, None, None, None, NOW)["dr_copy"] is None
    assert build_group_row(item, None, None, None, None, NOW)["status"] == "BACKUP FAILED"
    assert not build_group_row(item, None, None, None, None, NOW)["dr_copy"]["failed"]
