"""The permission preflight: a permission taken away in ocisim (a per-user denial, answered 404
NotAuthorizedOrNotFound as OCI answers) fails the nightly in plan_backups, before its first backup, and the golden
image in validate_request, before it images, naming the operation, the resource and the statement of
include/iam/policy.txt that grants it; the restore, the emergency clone and the VMDK migration likewise before
their first change. One estate per test, several runs (each refused run is short). Real Airflow, SDK,
ocisim."""

from __future__ import annotations

import io
from pathlib import Path

import oci

from tests.airflow_helpers import run_dag

POLICIES = {"default": {"full_interval_days": 7, "retention_days": 7.5, "verify": "all"}}
MUTATING = ("Create", "Update", "Delete", "Attach", "Detach", "Copy", "Launch", "Terminate", "Add", "Put")
POLICY_TXT = (Path(__file__).resolve().parents[2] / "include" / "iam" / "policy.txt").read_text()


def _statement(granted: str) -> str:
    return next(line for line in POLICY_TXT.splitlines() if line.startswith(f"Allow <airflow> to {granted} in "))


def _refused(sim, capfd, deny: tuple[str, str], dag_id: str, conf: dict, failed_task: str) -> str:
    """Run with one permission taken away; the run fails in `failed_task` with 0 mutating calls. Returns the log
    line that names the missing permission."""
    sim.admin.clear_denials()
    sim.admin.deny(sim.tenancy["user_id"], *deny)
    sim.admin.reset_counters()
    capfd.readouterr()
    state, tasks = run_dag(dag_id, conf)
    assert state == "failed" and tasks[failed_task] == "failed", tasks
    assert {op: n for op, n in sim.admin.counters().items() if op.startswith(MUTATING)} == {}
    log = capfd.readouterr().out
    return next((x for x in log.splitlines() if "permission: OCI answered 404 NotAuthorizedOrNotFound" in x), "")


def test_a_permission_taken_away_fails_the_run_before_its_first_change_naming_the_statement(estate, capfd):
    sim = estate
    t = sim.tenancy
    nightly = {"compartment_ids": t["compartments"]["prod"], "verifier_instance_id": t["instances"]["verifier"],
               "policies": POLICIES}

    # the nightly: discovery lists (inspect) the volumes; plan_backups reads each (read) before the first backup
    line = _refused(sim, capfd, ("read", "volume-family"), "oci_nightly_backup",
                    {**nightly, "verification_level": "api"}, "plan_backups")
    assert "to GetVolume of ocid1.volume." in line and "lacks 'read volume-family'" in line, line
    assert line.endswith(f"include/iam/policy.txt grants it with: {_statement('manage volume-family')}"), line

    # at the script level it also needs Run Command in the verifier's compartment
    line = _refused(sim, capfd, ("inspect", "instance-agent-command-family"), "oci_nightly_backup",
                    {**nightly, "verification_level": "script"}, "plan_backups")
    assert "to ListInstanceAgentCommands of the compartment of ocid1.instance." in line, line
    assert line.endswith(f"grants it with: {_statement('manage instance-agent-command-family')}"), line

    # the golden image, with a fleet, needs work requests (why OCI failed a launch): refused before imaging
    line = _refused(sim, capfd, ("inspect", "work-requests"), "oci_golden_image",
                    {"instance_id": t["instances"]["verifier"], "fleet_count": 1, "subnet_id": t["subnets"]["app"],
                     "availability_domain": t["availability_domains"][0]}, "validate_request")
    counters = sim.admin.counters()
    assert counters["ListImages"] == 1 and counters["ListVolumeAttachments"] >= 1  # proved before the refusal
    assert "to ListWorkRequests of compartment ocid1.compartment." in line, line
    assert line.endswith(f"grants it with: {_statement('inspect work-requests')}"), line



def test_restore_clone_and_migration_refuse_before_their_first_change_naming_the_statement(estate, capfd):
    sim = estate
    t = sim.tenancy
    subnet = t["subnets"]["app"]
    storage = sim.client(oci.core.BlockstorageClient)
    boot_backup = storage.create_boot_volume_backup(oci.core.models.CreateBootVolumeBackupDetails(
        boot_volume_id=t["boot_volumes"]["app1"], type="FULL", display_name="app1-boot")).data
    sim.admin.advance(3600)

    # the restore, launching on the restored boot volume, needs work requests (why OCI failed a launch)
    line = _refused(sim, capfd, ("inspect", "work-requests"), "oci_restore",
                    {"backup_id": boot_backup.id, "launch_instance": True, "hostname": "app1-restored",
                     "subnet_id": subnet}, "validate_request")
    assert "to ListWorkRequests of compartment ocid1.compartment." in line, line
    assert line.endswith(f"grants it with: {_statement('inspect work-requests')}"), line

    # the clone of an instance reads each attached volume (the attachments just listed them) before cloning
    line = _refused(sim, capfd, ("read", "volume-family"), "oci_emergency_clone",
                    {"instance_id": t["instances"]["app1"]}, "resolve_volumes")
    assert "to GetBootVolume of ocid1.bootvolume." in line and "lacks 'read volume-family'" in line, line
    assert line.endswith(f"grants it with: {_statement('manage volume-family')}"), line

    # the migration needs the image compartment's images before it imports
    sim.admin.clear_denials()
    sim.client(oci.object_storage.ObjectStorageClient).put_object(t["namespace"], "images", "vm/a.vmdk",
                                                                  io.BytesIO(b"KDMV" + b"\0" * 508))
    line = _refused(sim, capfd, ("inspect", "instance-family"), "oci_vmdk_migration",
                    {"namespace": t["namespace"], "bucket": "images", "object_name": "vm/a.vmdk"},
                    "validate_request")
    assert "to ListImages of compartment ocid1.compartment." in line, line
    assert line.endswith(f"grants it with: {_statement('manage instance-images')}"), line
    sim.admin.clear_denials()
