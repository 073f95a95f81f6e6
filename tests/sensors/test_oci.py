"""Sensors through real Airflow (dag.test) against ocisim in poke, reschedule and deferrable mode: they wait
(ocisim's clock is held still until they have looked twice), succeed with the same XCom in every mode, and fail
with OCI's text on a FAILED work request or a resource that goes away."""

from __future__ import annotations

import threading

import oci
import pytest

from tests.airflow_helpers import last_run_id, run_dag, xcom

MODES = ["poke", "reschedule", "deferrable"]
POLLS = ("GetWorkRequest", "GetVolumeBackup", "GetVolumeAttachment", "GetVolume")


class HeldClock:
    """Holds ocisim's clock (almost) still until the sensors have polled `polls` times, then jumps an hour, so
    whatever the sensors wait for is still in progress at their first looks and done right after."""

    def __init__(self, sim, polls: int = 2):
        self.sim = sim
        self.polls = polls
        self.seen_before_jump = 0
        self._stop = threading.Event()
        sim.admin.set_time_scale(0.001)
        sim.admin.reset_counters()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            seen = sum(self.sim.admin.counters().get(op, 0) for op in POLLS)
            if seen >= self.polls:
                self.seen_before_jump = seen
                self.sim.admin.advance(3600)
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def detach_data1(sim) -> tuple[str, str]:
    """Detach the seeded data1 volume from linux1: (work request id, attachment id)."""
    compute = sim.client(oci.core.ComputeClient)
    attachment = next(a for a in compute.list_volume_attachments(sim.tenancy["compartment_id"]).data
                      if a.volume_id == sim.tenancy["volumes"]["data1"] and a.lifecycle_state == "ATTACHED")
    response = compute.detach_volume(attachment.id)
    return response.headers["opc-work-request-id"], attachment.id


def trigger_resources(run_kwargs: list[dict]) -> set[str]:
    return {kw["spec"]["resource_id"] for kw in run_kwargs}


def all_trigger_kwargs() -> list[dict]:
    from airflow import settings
    from airflow.models.trigger import Trigger

    with settings.Session() as session:
        return [t.kwargs for t in session.query(Trigger).filter(Trigger.classpath == "triggers.oci.OciWaitTrigger")]


def reschedules(dag_id: str, run_id: str) -> int:
    from airflow import settings
    from airflow.models import TaskInstance
    from airflow.models.taskreschedule import TaskReschedule

    with settings.Session() as session:
        ids = [ti.id for ti in session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run_id)]
        return session.query(TaskReschedule).filter(TaskReschedule.ti_id.in_(ids)).count()


@pytest.mark.parametrize("mode", MODES)
def test_sensors_wait_and_succeed(airflow_oci, mode):
    sim = airflow_oci
    volume_id = sim.tenancy["volumes"]["data1"]
    storage = sim.client(oci.core.BlockstorageClient)
    clock = HeldClock(sim)
    backup = storage.create_volume_backup(oci.core.models.CreateVolumeBackupDetails(
        volume_id=volume_id, type="FULL", display_name=f"sensed-{mode}")).data
    wr_id, attachment_id = detach_data1(sim)
    sim.admin.reset_counters()
    dag_id = f"test_op_misc_sensors_{mode}"
    with clock:
        state, tasks = run_dag(dag_id, {"work_request_id": wr_id, "backup_id": backup.id,
                                        "attachment_id": attachment_id})
    assert state == "success", tasks
    assert clock.seen_before_jump >= 2  # they looked while it was still in progress
    run_id = last_run_id(dag_id)

    work_request = xcom(dag_id, run_id, "wait_for_detach_work_request")
    assert work_request["work_request_id"] == wr_id and work_request["status"] == "SUCCEEDED"
    assert work_request["operation_type"] == "DetachVolume" and work_request["percent_complete"] == 100.0
    assert work_request["resources"] == [{"entity_type": "volumeattachment", "action_type": "UPDATED",
                                          "identifier": attachment_id}]
    assert work_request["region"] == "us-ashburn-1"
    assert xcom(dag_id, run_id, "wait_for_backup") == {
        "resource_id": backup.id, "kind": "volumebackup", "lifecycle_state": "AVAILABLE",
        "display_name": f"sensed-{mode}", "region": "us-ashburn-1"}
    assert xcom(dag_id, run_id, "wait_for_detach")["lifecycle_state"] == "DETACHED"
    assert xcom(dag_id, run_id, "wait_for_backup", key="_link_OciConsoleLink") == \
        f"https://cloud.oracle.com/block-storage/backups/{backup.id}?region=us-ashburn-1"
    assert xcom(dag_id, run_id, "wait_for_detach_work_request", key="_link_OciConsoleLink") == \
        f"https://cloud.oracle.com/compute/work-requests/{wr_id}?region=us-ashburn-1"

    counters = sim.admin.counters()
    assert not {op for op in counters if not op.startswith(("Get", "List"))}  # sensors only read
    if mode == "reschedule":
        assert reschedules(dag_id, run_id) >= 1
    else:
        assert reschedules(dag_id, run_id) == 0
    deferred = trigger_resources(all_trigger_kwargs()) & {wr_id, backup.id, attachment_id}
    if mode == "deferrable":
        assert deferred  # the sensor that found it in progress handed the wait to the trigger
    else:
        assert not deferred


def available_backup(sim, name: str) -> str:
    storage = sim.client(oci.core.BlockstorageClient)
    backup = storage.create_volume_backup(oci.core.models.CreateVolumeBackupDetails(
        volume_id=sim.tenancy["volumes"]["data1"], type="FULL", display_name=name)).data
    sim.admin.advance(3600)
    assert storage.get_volume_backup(backup.id).data.lifecycle_state == "AVAILABLE"
    return backup.id


@pytest.mark.parametrize("mode", MODES)
def test_sensors_fail_with_oci_text(airflow_oci, mode, capfd):
    """A cross-region copy whose work request fails (injected): the work request ends FAILED with OCI's error
    text and the copy FAULTY, after the sensors' first looks (so the deferrable ones learn it from the trigger)."""
    sim = airflow_oci
    backup_id = available_backup(sim, f"to-copy-{mode}")
    clock = HeldClock(sim)
    sim.admin.fault("CopyVolumeBackup", "fail_work_request", message="boom: the copy could not be written")
    response = sim.client(oci.core.BlockstorageClient).copy_volume_backup(
        backup_id, oci.core.models.CopyVolumeBackupDetails(destination_region="us-phoenix-1"))
    wr_id, copy_id = response.headers["opc-work-request-id"], response.data.id
    sim.admin.reset_counters()
    capfd.readouterr()

    dag_id = f"test_op_misc_sensors_fail_{mode}"
    with clock:
        state, tasks = run_dag(dag_id, {"work_request_id": wr_id, "copy_id": copy_id})
    assert state == "failed"
    assert tasks == {"wait_for_failed_work_request": "failed", "wait_for_faulty_copy": "failed"}
    assert clock.seen_before_jump >= 2
    log = capfd.readouterr().out
    assert f"work request {wr_id} (CopyVolumeBackup) FAILED: InternalError: boom: the copy could not be written" \
        in log
    assert f"{copy_id} reached lifecycle_state FAULTY (waiting for ['AVAILABLE'])" in log
    deferred = trigger_resources(all_trigger_kwargs()) & {wr_id, copy_id}
    assert bool(deferred) == (mode == "deferrable")


def test_sensor_bad_input_fails_before_any_request(airflow_oci, capfd):
    sim = airflow_oci
    sim.admin.reset_counters()
    state, tasks = run_dag("test_op_misc_sensors_bad", {"resource_id": "ocid1.volume.oc1..not-an-ocid"})
    assert state == "failed" and tasks == {"wait_for_bad_input": "failed"}
    assert "resource_id 'ocid1.volume.oc1..not-an-ocid': not an OCID" in capfd.readouterr().out
    assert not sim.admin.counters()
