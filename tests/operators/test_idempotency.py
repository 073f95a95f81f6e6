"""Idempotent creates: OCI does the work but the response is lost (ocisim's `drop` fault closes the connection
after the backup exists). Whether the SDK's retry or Airflow's task retry sends the create again, it carries the
same opc-retry-token, so ocisim answers with the first backup: exactly one exists, and the task adopts it."""

from __future__ import annotations

from tests.airflow_helpers import last_run_id, run_dag, xcom
from tests.conftest import oci_connection_json

DAG_ID = "test_op_misc_idempotent"


def backups_named(sim, name: str) -> list[dict]:
    return [b for b in sim.admin.resources("volumebackup") if b["display_name"] == name]


def try_number(run_id: str) -> int:
    from airflow import settings
    from airflow.models import TaskInstance

    with settings.Session() as session:
        return session.query(TaskInstance).filter_by(dag_id=DAG_ID, run_id=run_id,
                                                      task_id="backup_volume").one().try_number


def test_sdk_retry_of_a_lost_create_adopts_the_first_backup(airflow_oci):
    sim = airflow_oci
    sim.admin.fault("CreateVolumeBackup", "drop")
    sim.admin.reset_counters()
    state, tasks = run_dag(DAG_ID, {"volume_id": sim.tenancy["volumes"]["data1"], "display_name": "lost-once"})
    assert state == "success", tasks
    run_id = last_run_id(DAG_ID)

    assert sim.admin.counters()["CreateVolumeBackup"] >= 2  # the create was sent again...
    [backup] = backups_named(sim, "lost-once")  # ...and made nothing new
    result = xcom(DAG_ID, run_id, "backup_volume")
    assert result["backup_id"] == backup["id"] and result["lifecycle_state"] == "AVAILABLE"
    assert try_number(run_id) == 1  # the hook's retry strategy absorbed it inside the first try


def test_task_retry_after_a_lost_create_adopts_what_the_first_try_made(airflow_oci, monkeypatch):
    """With SDK retries off, the lost response fails try 1; try 2 (same task instance) gets the backup try 1
    made, waits for it and succeeds."""
    sim = airflow_oci
    monkeypatch.setenv("AIRFLOW_CONN_OCI_NORETRY", oci_connection_json(sim, max_attempts=1))
    sim.admin.fault("CreateVolumeBackup", "drop")
    sim.admin.reset_counters()

    state, tasks = run_dag(DAG_ID, {"volume_id": sim.tenancy["volumes"]["data1"], "display_name": "lost-in-try-1",
                                    "conn_id": "oci_noretry"})
    assert state == "success", tasks
    run_id = last_run_id(DAG_ID)
    assert try_number(run_id) == 2  # try 1 failed on the dropped connection, Airflow retried

    # try 2 finds try 1's backup in OCI by its run and task tags and asks for none (the token would adopt it too)
    assert sim.admin.counters()["CreateVolumeBackup"] == 1
    [backup] = backups_named(sim, "lost-in-try-1")
    result = xcom(DAG_ID, run_id, "backup_volume")
    assert result["backup_id"] == backup["id"] and result["lifecycle_state"] == "AVAILABLE"
    assert result["freeform_tags"]["airflow-run"] == run_id  # tagged as ours, by this run


def test_a_new_run_is_a_new_backup(airflow_oci):
    """The token is per task instance, not per DAG: another run of the same task makes its own backup."""
    sim = airflow_oci
    for _ in range(2):
        state, _tasks = run_dag(DAG_ID, {"volume_id": sim.tenancy["volumes"]["data1"], "display_name": "nightly"})
        assert state == "success"
    assert len(backups_named(sim, "nightly")) == 2
