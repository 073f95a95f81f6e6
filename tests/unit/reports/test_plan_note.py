"""A plan run's note (reports/plan.py) and the plan helpers (common/plan.py): pure, no Airflow run."""

from __future__ import annotations

from common.plan import checked_references, describe, launches, plan_run
from reports.plan import nightly_plan, on_demand_plan, render_note, render_text

VOL = "ocid1.volume.oc1.iad.aaaaaaaadbdata000001"
BACKUP = "ocid1.volumebackup.oc1.iad.aaaaaaaaold0000001"


def test_the_nightly_plan_lists_each_volume_copy_and_deletion_with_its_call_and_reason():
    plan = [{"volume_id": VOL, "display_name": "db-data", "kind": "volume", "backup_type": "FULL",
             "reason": "no FULL backup yet", "verify": True, "dr_region": "us-phoenix-1"}]
    prune = {"deleted": [{"backup_id": BACKUP, "volume_id": VOL, "type": "FULL", "time_created": "2026-01-01",
                          "why": "made by oci_nightly_backup, older than retention_days 7.5"}]}
    calls = [{"task_id": "protect_volume.backup_volume", "map_index": 0, "operation": "CreateVolumeBackup",
              "detail": "x"},
             {"task_id": "delete_test_restores", "map_index": -1, "operation": "DeleteVolume", "detail": "temps"}]
    groups = [{"group": "db", "display_name": "db", "backup_type": "INCREMENTAL", "reason": "FULL 2 days old",
               "verify": True, "dr_region": None}]
    result = nightly_plan(plan, groups, prune, calls, [{"task_id": "protect_volume.restore_for_test",
                                                    "operation": "CreateVolume"}], [{"volume_id": VOL}])
    # the mapped backup is the volume's row, not a step of its own
    assert [s["task"] for s in result["steps"]] == ["delete_test_restores"]
    assert result["dr_copies"] == [{"volume": "db-data", "destination_region": "us-phoenix-1",
                                    "operation": "CopyVolumeBackup"}]
    assert result["volumes"][1]["operation"] == "CreateVolumeGroupBackup" and len(result["dr_copies"]) == 1
    note = render_note(result)
    assert "INCREMENTAL backup of group db" in note
    assert note.startswith("**OCI nightly backup: PLAN ONLY, nothing changed**") and len(note) <= 1000
    for text in ("FULL backup of db-data", "CreateVolumeBackup", "no FULL backup yet", "CopyVolumeBackup",
                 "DeleteVolumeBackup", "older than retention_days 7.5", "Checked first: 1 reference(s)"):
        assert text in note, text
    assert f"DeleteVolumeBackup {BACKUP}" in render_text(result)


def test_an_on_demand_plan_names_its_launches_and_the_references_it_checked():
    request = {"instance_id": "ocid1.instance.oc1.iad.aaaaaaaaapp1", "plan_only": True,
               "fleet": [{"hostname": "web-01", "shape": "VM.Standard.E4.Flex", "os_type": "linux",
                          "subnet_id": "ocid1.subnet.oc1.iad.aaaaaaaaapp"}]}
    result = on_demand_plan("golden image", request, checked_references(request),
                            [{"task_id": "create_golden_image", "operation": "CreateImage", "detail": "instance"}],
                            [{"task_id": "launch_fleet", "operation": "LaunchInstance"}], launches(request))
    assert result["checked"] == ["ocid1.instance.oc1.iad.aaaaaaaaapp1", "ocid1.subnet.oc1.iad.aaaaaaaaapp"]
    note = render_note(result)
    assert "launch web-01" in note and "CreateImage" in note and "launch_fleet" in note


def test_helpers_outside_a_run_and_long_values():
    assert plan_run(None) is False and plan_run({}) is False
    assert launches({"launch": False}) == []
    assert describe({"a": None, "b": "x" * 500}).endswith("…") and len(describe({"b": "x" * 500})) == 240
