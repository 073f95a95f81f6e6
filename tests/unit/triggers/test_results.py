"""The pure functions that build a trigger-ended task's XCom (triggers/results.py): the trigger and the resumed
operator both use them, so the two paths give one result; the `api` check is written once."""

from __future__ import annotations

import pytest
from triggers.results import RESULTS, ends_task, group_api_rows, group_verification, new_volume_xcom, verified

VOLUME = {"id": "ocid1.volume.oc1..restored", "display_name": "vol-restore", "availability_domain": "AD-1",
          "compartment_id": "ocid1.compartment.oc1..c", "size_in_gbs": 50, "lifecycle_state": "AVAILABLE",
          "time_created": "2026-12-07T02:00:00+00:00"}
CHECK = {"level": "api", "backup_id": "ocid1.volumebackup.oc1..b", "source_id": "ocid1.volume.oc1..src",
         "size_in_gbs": 50}


def test_a_restore_seen_by_the_trigger_and_one_read_after_a_blocking_wait_give_the_same_fields():
    by_trigger = new_volume_xcom(VOLUME, {"region": "r", "ready_at": "Mon, 07 Dec 2026 02:01:30 GMT"})
    after_wait = new_volume_xcom(VOLUME, {"region": "r", "ready_at": None, "read_at": "Mon, 07 Dec 2026 02:01:30 GMT"})
    assert by_trigger["seconds_to_available"] == after_wait["seconds_to_available"] == 90.0
    assert set(by_trigger) == set(after_wait) and "verification" not in by_trigger
    assert by_trigger["rto_source"] != after_wait["rto_source"]  # says which look it was


@pytest.mark.parametrize(("volume", "passed", "detail"), [
    ({}, True, "restored volume AVAILABLE, 50 GB"),
    ({"size_in_gbs": 40}, False, "restored volume is 40 GB, the backup 50 GB"),
    ({"lifecycle_state": "FAULTY"}, False, "restored volume ocid1.volume.oc1..restored is FAULTY, not AVAILABLE"),
])
def test_the_api_check_passes_only_for_an_available_volume_of_the_backups_size(volume, passed, detail):
    xcom = new_volume_xcom(VOLUME | volume, {"region": "r", "ready_at": "Mon, 07 Dec 2026 02:01:30 GMT",
                                            "check": CHECK})
    check = xcom["verification"]
    assert (check["passed"], check["detail"], check["level"]) == (passed, detail, "api")
    assert check["source_id"] == CHECK["source_id"] and check["restored_volume_id"] == VOLUME["id"]
    assert ends_task(xcom) is passed  # a failed check resumes the task on a worker, to fail there
    mark = verified(xcom)
    assert (mark is not None) is passed
    if mark:
        assert mark[:2] == (CHECK["backup_id"], "api") and mark[2].isoformat() == check["verified_at"]


def test_a_group_passes_when_every_member_passes():
    members = [{"backup_id": "b1", "source_id": "v1", "size_in_gbs": 50},
               {"backup_id": "b2", "source_id": "v2", "size_in_gbs": 60}]
    seen = [{"id": "r2", "lifecycle_state": "AVAILABLE", "size_in_gbs": 50, "source_backup_id": "b2"},
            {"id": "r1", "lifecycle_state": "AVAILABLE", "size_in_gbs": 50, "source_backup_id": "b1"}]
    rows = group_api_rows(seen, members)
    assert [(r["restored_volume_id"], r["source_id"], r["passed"]) for r in rows] == [("r1", "v1", True),
                                                                                      ("r2", "v2", False)]
    check = group_verification(rows, {"volume_group_backup_id": "g"}, {"volume_group_id": "rg"}, "api", 0.0)
    assert not check["passed"] and check["detail"] == "v2: restored volume is 50 GB, the backup 60 GB"
    assert group_verification(rows[:1], {"volume_group_backup_id": "g"}, {}, "api", 0.0)["passed"]


def test_every_end_task_name_an_operator_gives_has_its_function():
    from operators.backups import OciCreateBackupOperator
    from operators.volumes import OciCloneVolumeOperator, OciRestoreVolumeOperator

    for operator in (OciCreateBackupOperator, OciCloneVolumeOperator, OciRestoreVolumeOperator):
        assert operator.end_task in RESULTS


def test_a_planned_backup_carries_its_items_values_on_and_checks_the_item():
    from common.errors import OciInputError
    from operators.backups import OciCreateBackupOperator
    from triggers.results import backup_xcom

    item = {"volume_id": "ocid1.volume.oc1.iad." + "a" * 24, "display_name": "db-data", "backup_type": "FULL",
            "availability_domain": "AD-1", "verify": False, "adopt_backup_id": None, "quiesce": None,
            "dr_region": "us-phoenix-1"}
    op = OciCreateBackupOperator(task_id="b", planned=item)
    op.validate_inputs()
    assert (op.volume_id, op.backup_type, op.adopt_backup_id) == (item["volume_id"], "FULL", None)
    data = {"id": "ocid1.volumebackup.oc1.iad." + "b" * 24, "volume_id": item["volume_id"], "type": "FULL",
            "display_name": "b", "lifecycle_state": "AVAILABLE", "time_created": "2026-12-07T01:00:00+00:00",
            "freeform_tags": {}}
    xcom = backup_xcom(data, {"region": "us-ashburn-1", **op.carried()})
    assert {k: xcom[k] for k in ("availability_domain", "verify", "dr_region", "volume_name")} == {
        "availability_domain": "AD-1", "verify": False, "dr_region": "us-phoenix-1", "volume_name": "db-data"}
    assert "verify" not in backup_xcom(data, {"region": "us-ashburn-1"})  # an unplanned backup carries nothing
    with pytest.raises(OciInputError, match=r"planned .*an item of the nightly plan"):
        OciCreateBackupOperator(task_id="b", planned={"display_name": "x"}).validate_inputs()
