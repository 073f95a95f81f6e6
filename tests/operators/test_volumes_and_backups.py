"""Volume and backup operators through real Airflow (dag.test) against ocisim, blocking and deferrable."""

from __future__ import annotations

import pytest

from tests.airflow_helpers import last_run_id, run_dag, xcom


@pytest.mark.parametrize("mode", ["blocking", "deferrable"])
def test_backup_restore_clone_attach_copy_and_cleanup(airflow_oci, mode):
    sim = airflow_oci
    volume_id = sim.tenancy["volumes"]["data1"]
    instance_id = sim.tenancy["instances"]["linux1"]
    source = sim.admin.sha256(volume_id)
    dag_id = f"test_op_volumes_{mode}"
    state, tasks = run_dag(dag_id, {"volume_id": volume_id, "instance_id": instance_id})
    assert state == "success", tasks
    assert set(tasks.values()) == {"success"}
    run_id = last_run_id(dag_id)

    backup = xcom(dag_id, run_id, "backup_volume")
    assert backup["type"] == "FULL" and backup["lifecycle_state"] == "AVAILABLE"
    assert backup["source_id"] == volume_id and backup["unique_size_in_mbs"] > 0
    assert backup["freeform_tags"]["managed-by"] == "airflow-oci"
    assert backup["freeform_tags"]["airflow-dag"] == dag_id

    restored = xcom(dag_id, run_id, "restore_for_test")
    assert restored["kind"] == "volume" and restored["lifecycle_state"] == "AVAILABLE"
    assert restored["seconds_to_available"] >= 0
    # the api-level check, made on resuming (or after the blocking wait) by the function the trigger uses
    check = restored["verification"]
    assert check["passed"] and check["level"] == "api" and check["backup_id"] == backup["backup_id"]
    assert check["source_id"] == volume_id and check["restored_volume_id"] == restored["volume_id"]
    assert xcom(dag_id, run_id, "restore_for_test", key="verification") == check
    assert sim.admin.sha256(restored["volume_id"], length=source["length"])["sha256"] == source["sha256"]

    clone = xcom(dag_id, run_id, "clone_volume")
    assert sim.admin.sha256(clone["volume_id"], length=source["length"])["sha256"] == source["sha256"]
    attach = xcom(dag_id, run_id, "attach_clone")
    assert attach["device"] == "/dev/oracleoci/oraclevdk" and attach["lifecycle_state"] == "ATTACHED"

    copy = xcom(dag_id, run_id, "copy_backup_to_dr")
    assert copy["region"] == "us-phoenix-1" and copy["lifecycle_state"] == "AVAILABLE"
    assert copy["source_backup_id"] == backup["backup_id"]

    volumes = {v["id"]: v for v in sim.admin.resources("volume")}
    assert volumes[restored["volume_id"]]["lifecycle_state"] == "TERMINATED"
    assert volumes[clone["volume_id"]]["lifecycle_state"] == "TERMINATED"
    assert volumes[volume_id]["lifecycle_state"] == "AVAILABLE"
    backups = {b["id"]: b for b in sim.admin.resources("volumebackup")}
    assert backups[copy["backup_id"]]["_region"] == "us-phoenix-1"
    assert backups[copy["backup_id"]]["lifecycle_state"] == "TERMINATED"
    assert backups[backup["backup_id"]]["lifecycle_state"] == "AVAILABLE"
    assert backups[backup["backup_id"]]["freeform_tags"]["verified-level"] == "api"
    attachments = {a["id"]: a for a in sim.admin.resources("volumeattachment")}
    assert attachments[attach["attachment_id"]]["lifecycle_state"] == "DETACHED"
