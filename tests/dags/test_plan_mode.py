"""Plan mode (`plan_only`, common/plan.py): a plan run of each of the five DAGs checks everything, makes 0 mutating
calls (ocisim's request counters), succeeds, and its report (the run note) lists what the run would do with the
OCI call of each step. One estate, five short runs. Real Airflow, SDK, ocisim."""

from __future__ import annotations

import io

import oci
import pytest
from common.ids import MIB

from ocisim import formats
from tests.airflow_helpers import last_run_id, run_dag, xcom

MUTATING = ("Create", "Update", "Delete", "Attach", "Detach", "Copy", "Launch", "Terminate", "Add", "Put",
            "InstanceAction", "Export", "Commit", "Upload", "Remove", "Change")
POLICIES = {"default": {"full_interval_days": 7, "retention_days": 7.5, "verify": "all",
                        "dr_region": "us-phoenix-1"}}
OURS = {"managed-by": "airflow-oci", "airflow-dag": "oci_nightly_backup"}


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch):
    monkeypatch.setenv("OCI_POLL_INTERVAL", "0.2")
    monkeypatch.setenv("OCI_POLL_MAX_INTERVAL", "1")


def _plan(sim, dag_id: str, conf: dict) -> tuple[dict, str, dict]:
    """One plan run: it succeeds with 0 mutating calls. Returns the report's XCom, the note and the task states."""
    sim.admin.reset_counters()
    state, tasks = run_dag(dag_id, {**conf, "plan_only": True})
    assert state == "success", tasks
    changed = {op: n for op, n in sim.admin.counters().items() if op.startswith(MUTATING) and n}
    assert changed == {}, changed
    run_id = last_run_id(dag_id)
    report, note = xcom(dag_id, run_id, "report"), xcom(dag_id, run_id, "report", key="note")
    assert report["plan_only"] is True and note.startswith("**OCI ") and "PLAN ONLY, nothing changed" in note, note
    return report, note, tasks


def test_a_plan_run_of_each_dag_makes_no_change_and_says_what_it_would_do(estate):
    sim = estate
    t = sim.tenancy
    ad = t["availability_domains"][0]
    storage = sim.client(oci.core.BlockstorageClient)

    # an expired verified backup this DAG made of db-data, and a newer verified one: retention may delete the first
    old = storage.create_volume_backup(oci.core.models.CreateVolumeBackupDetails(
        volume_id=t["volumes"]["db-data"], type="FULL", display_name="db-data-old",
        freeform_tags={**OURS, "verified-at": "2026-01-01T00:00:00Z"})).data
    sim.admin.advance(9 * 86400)
    newer = storage.create_volume_backup(oci.core.models.CreateVolumeBackupDetails(
        volume_id=t["volumes"]["db-data"], type="FULL", display_name="db-data-newer",
        freeform_tags={**OURS, "verified-at": "2026-01-10T00:00:00Z"})).data
    sim.admin.advance(3600)
    assert storage.get_volume_backup(newer.id).data.lifecycle_state == "AVAILABLE"
    before = {kind: len(sim.admin.resources(kind)) for kind in ("volumebackup", "bootvolumebackup", "volume",
                                                                 "bootvolume", "instance", "image")}

    # the nightly: per volume its backup type and why, the DR copies, retention's deletion and why it is allowed
    report, note, tasks = _plan(sim, "oci_nightly_backup", {
        "compartment_ids": t["compartments"]["prod"], "verification_level": "api", "policies": POLICIES})
    assert tasks["plan_backups"] == "success" and tasks["protect_volume.backup_volume[0]"] == "skipped", tasks
    volumes = {v["volume_id"]: v for v in report["volumes"]}
    assert set(volumes) == {t["volumes"]["db-data"], t["volumes"]["app-data"], t["boot_volumes"]["app1"]}
    assert volumes[t["volumes"]["db-data"]]["backup_type"] == "INCREMENTAL"
    assert volumes[t["volumes"]["app-data"]]["backup_type"] == "FULL" and volumes[t["volumes"]["app-data"]]["reason"]
    assert volumes[t["boot_volumes"]["app1"]]["operation"] == "CreateBootVolumeBackup"
    assert {(c["volume"], c["destination_region"]) for c in report["dr_copies"]} == {
        ("db-data", "us-phoenix-1"), ("app-data", "us-phoenix-1"), (volumes[t["boot_volumes"]["app1"]]
                                                                     ["display_name"], "us-phoenix-1")}
    [deletion] = report["retention"]
    assert deletion["backup_id"] == old.id and f"the newest verified backup {newer.id} is kept" in deletion["why"]
    assert "CreateVolumeBackup" in note and "CopyVolumeBackup" in note and "DeleteVolumeBackup" in note, note
    assert any(s["task"] == "delete_test_restores" and s["operation"] == "DeleteVolume" for s in report["steps"])
    assert xcom("oci_nightly_backup", last_run_id("oci_nightly_backup"), "prune_backups")["dry_run"] is True
    # the Protection page does not count a plan run as a night: it backed nothing up
    from protection.catalogue import read_airflow

    assert last_run_id("oci_nightly_backup") not in [r["run_id"] for r in read_airflow()["runs"]]

    # restore: the backup chosen, the volume it would restore, then the attachment to the verifier
    report, note, tasks = _plan(sim, "oci_restore", {"backup_id": newer.id,
                                                     "attach_instance_id": t["instances"]["verifier"]})
    assert tasks["choose_backup"] == "success" and tasks["restore_volume"] == "skipped", tasks
    steps = [(s["task"], s["operation"]) for s in report["steps"]]
    assert steps[:2] == [("restore_volume", "CreateVolume"), ("attach_restored_volume", "AttachVolume")], steps
    assert newer.id in report["steps"][0]["on"] and t["instances"]["verifier"] in report["checked"]
    assert "CreateVolume" in note and "AttachVolume" in note, note

    # emergency clone of an instance: one clone per volume, then the launch
    report, note, tasks = _plan(sim, "oci_emergency_clone", {"instance_id": t["instances"]["app1"],
                                                             "launch_instance": True, "hostname": "app1-clone"})
    clones = [s for s in report["steps"] if s["task"].startswith("clone_volume[")]
    assert len(clones) == 3 and {s["operation"] for s in clones} == {"CreateVolume"}, report["steps"]
    assert [x["hostname"] for x in report["launches"]] == ["app1-clone"], report

    # golden image with a fleet of two: the image, then the two launches by hostname
    report, note, tasks = _plan(sim, "oci_golden_image", {
        "instance_id": t["instances"]["verifier"], "fleet_count": 2, "subnet_id": t["subnets"]["app"],
        "availability_domain": ad})
    assert report["steps"][0]["task"] == "create_golden_image" and report["steps"][0]["operation"] == "CreateImage"
    assert [x["hostname"] for x in report["launches"]] == ["web-01", "web-02"]
    assert "launch web-01" in note and "launch web-02" in note

    # VMDK migration of an object in the bucket, with a fleet of one
    vmdk = io.BytesIO()
    formats.write_image(vmdk, "VMDK", 8 * MIB, [(0, b"\x01" * MIB)], MIB)
    sim.client(oci.object_storage.ObjectStorageClient).put_object(t["namespace"], "images", "vm/erp.vmdk",
                                                                  io.BytesIO(vmdk.getvalue()))
    report, note, tasks = _plan(sim, "oci_vmdk_migration", {
        "namespace": t["namespace"], "bucket": "images", "object_name": "vm/erp.vmdk", "fleet_count": 1,
        "hostname_pattern": "erp-{index:02d}", "subnet_id": t["subnets"]["app"], "availability_domain": ad})
    assert [s["operation"] for s in report["steps"]][:1] == ["CreateImage"], report["steps"]
    assert [x["hostname"] for x in report["launches"]] == ["erp-01"] and "LaunchInstance" in note

    after = {kind: len(sim.admin.resources(kind)) for kind in before}
    assert after == before
