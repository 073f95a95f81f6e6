"""A nightly verification re-run after its worker was killed (issue 9 item 7): the killed try left the restored
volume attached to the verifier; the next try adopts that attachment (no second AttachVolume, no
409 InvalidatedRetryToken), checks the volume and detaches it. Real Airflow (dag.test), SDK, ocisim, e2fsck."""

from __future__ import annotations

import oci

from tests.airflow_helpers import last_run_id, run_dag, xcom

DAG_ID = "test_op_nightly_verify"


def test_verification_rerun_adopts_the_attachment_a_killed_try_left(estate):
    sim = estate
    storage = sim.client(oci.core.BlockstorageClient)
    compute = sim.client(oci.core.ComputeClient)
    source = storage.get_volume(sim.tenancy["volumes"]["db-data"]).data
    backup = storage.create_volume_backup(oci.core.models.CreateVolumeBackupDetails(
        volume_id=source.id, type="FULL")).data
    sim.admin.advance(3600)
    backup = storage.get_volume_backup(backup.id).data
    restored = storage.create_volume(oci.core.models.CreateVolumeDetails(
        compartment_id=source.compartment_id, availability_domain=source.availability_domain,
        source_details=oci.core.models.VolumeSourceFromVolumeBackupDetails(id=backup.id))).data
    sim.admin.advance(3600)
    verifier = sim.tenancy["instances"]["verifier"]
    # what the killed try did before SIGKILL: attached the restore read-only, at a device it chose
    left = compute.attach_volume(oci.core.models.AttachParavirtualizedVolumeDetails(
        instance_id=verifier, volume_id=restored.id, device="/dev/oracleoci/oraclevdq", is_read_only=True)).data
    sim.admin.advance(600)
    sim.admin.reset_counters()

    conf = {"restored": {"volume_id": restored.id},
            "backup": {"backup_id": backup.id, "source_id": source.id, "size_in_gbs": backup.size_in_gbs,
                       "time_created": backup.time_created.isoformat()},
            "verifier_instance_id": verifier}
    state, tasks = run_dag(DAG_ID, conf)
    assert state == "success", tasks
    assert sim.admin.counters().get("AttachVolume", 0) == 0  # adopted, not attached again
    result = xcom(DAG_ID, last_run_id(DAG_ID), "verify_restore")
    assert result["passed"] and result["device"] == "/dev/oracleoci/oraclevdq"
    assert result["canary"].startswith("db-data canary")
    states = {a["id"]: a["lifecycle_state"] for a in sim.admin.resources("volumeattachment")}
    assert states[left.id] == "DETACHED"
