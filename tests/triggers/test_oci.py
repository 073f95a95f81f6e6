"""The one trigger, end to end: the trigger a deferrable task really deferred on (read back from Airflow's trigger
table) serialises and round-trips through its classpath and kwargs, runs against ocisim to a success event that
carries the task's partial result, and the task resumes from that event to its final XCom. Error events carry
OCI's text into the task failure."""

from __future__ import annotations

import asyncio
import importlib
import threading

import oci
import pytest
from hooks.oci import OciHook
from hooks.waiting import WaitSpec
from triggers.oci import OciWaitTrigger

from tests.airflow_helpers import last_run_id, load_dag, run_dag, xcom
from tests.sensors.test_oci import HeldClock, available_backup

CLASSPATH = "triggers.oci.OciWaitTrigger"


def first_event(trigger):
    async def run():
        async for event in trigger.run():
            return event
        return None

    return asyncio.run(run())


def triggers_for(resource_id: str) -> list:
    from airflow import settings
    from airflow.models.trigger import Trigger

    with settings.Session() as session:
        rows = session.query(Trigger).filter(Trigger.classpath == CLASSPATH).all()
        return [(row.classpath, row.kwargs) for row in rows if row.kwargs["spec"]["resource_id"] == resource_id]


def round_trip(classpath: str, kwargs: dict):
    module, name = classpath.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)(**kwargs)


def test_deferred_task_trigger_serialises_round_trips_runs_and_resumes(airflow_oci):
    sim = airflow_oci
    volume_id = sim.tenancy["volumes"]["data1"]
    state, tasks = run_dag("test_op_misc_trigger_backup", {"volume_id": volume_id})
    assert state == "success", tasks
    final = xcom("test_op_misc_trigger_backup", last_run_id("test_op_misc_trigger_backup"), "backup_volume")

    # What the task deferred on, as Airflow stored it
    [(classpath, kwargs)] = triggers_for(final["backup_id"])
    assert classpath == CLASSPATH
    assert kwargs["result"] == {"backup_id": final["backup_id"], "region": "us-ashburn-1"}
    assert kwargs["spec"]["getter"] == "get_volume_backup" and kwargs["spec"]["target_states"] == ["AVAILABLE"]
    assert (kwargs["poll_interval"], kwargs["max_interval"], kwargs["timeout"]) == (0.2, 1, 300)

    # Round trip: the same class, the same fields, the same serialisation
    trigger = round_trip(classpath, kwargs)
    assert isinstance(trigger, OciWaitTrigger)
    assert trigger.serialize() == (classpath, kwargs)
    assert WaitSpec(**trigger.spec) == WaitSpec(**kwargs["spec"])
    assert vars(round_trip(*trigger.serialize())) == vars(trigger)

    # Run: the first event is a success carrying the partial result
    event = first_event(trigger)
    assert event.payload == {"status": "success", "resource_id": final["backup_id"], "state": "AVAILABLE",
                             "result": kwargs["result"]}

    # Resume: the task's execute_complete turns the event into the same final XCom the run produced
    operator = load_dag("test_op_misc_trigger_backup").get_task("backup_volume")
    assert operator.execute_complete({}, event.payload) == final


def test_trigger_polls_until_done_with_backoff(airflow_oci):
    """On a backup still CREATING (ocisim's clock held), the trigger keeps polling, then reports success."""
    sim = airflow_oci
    clock = HeldClock(sim, polls=3)
    backup = sim.client(oci.core.BlockstorageClient).create_volume_backup(oci.core.models.CreateVolumeBackupDetails(
        volume_id=sim.tenancy["volumes"]["data1"], type="FULL")).data
    spec = OciHook().lifecycle_spec(backup.id, ["AVAILABLE"], region="us-ashburn-1")
    trigger = round_trip(*OciWaitTrigger(spec.to_dict(), poll_interval=0.05, max_interval=0.2, timeout=60,
                                         result={"backup_id": backup.id}).serialize())
    sim.admin.reset_counters()
    with clock:
        event = first_event(trigger)
    assert clock.seen_before_jump >= 3
    assert sim.admin.counters()["GetVolumeBackup"] >= 4
    assert event.payload["status"] == "success" and event.payload["result"] == {"backup_id": backup.id}


def test_error_events_carry_oci_text(airflow_oci):
    sim = airflow_oci
    # A resource that is gone: OCI's own 404 text
    gone = "ocid1.volume.oc1.iad.aaaaaaaagonegonegonegone"
    with pytest.raises(oci.exceptions.ServiceError) as missing:
        sim.client(oci.core.BlockstorageClient).get_volume(gone)
    spec = OciHook().lifecycle_spec(gone, ["AVAILABLE"], region="us-ashburn-1")
    event = first_event(OciWaitTrigger(spec.to_dict(), poll_interval=0.05))
    assert event.payload["status"] == "error"
    assert event.payload["message"] == f"{gone} not found while waiting: {missing.value.message}"

    # A FAILED work request: its errors as OCI reports them
    backup_id = available_backup(sim, "copied")
    sim.admin.fault("CopyVolumeBackup", "fail_work_request", message="boom")
    response = sim.client(oci.core.BlockstorageClient).copy_volume_backup(
        backup_id, oci.core.models.CopyVolumeBackupDetails(destination_region="us-phoenix-1"))
    sim.admin.advance(3600)
    wr_id = response.headers["opc-work-request-id"]
    event = first_event(OciWaitTrigger(WaitSpec.work_request(wr_id, "us-ashburn-1").to_dict(), poll_interval=0.05))
    assert {k: event.payload[k] for k in ("status", "resource_id", "state", "message")} == {
        "status": "error", "resource_id": wr_id, "state": "FAILED",
        "message": f"work request {wr_id} (CopyVolumeBackup) FAILED: InternalError: boom"}

    # A deadline: the trigger gives up with what it last saw
    sim.admin.set_time_scale(0.001)
    backup = sim.client(oci.core.BlockstorageClient).create_volume_backup(oci.core.models.CreateVolumeBackupDetails(
        volume_id=sim.tenancy["volumes"]["data1"], type="FULL")).data
    spec = OciHook().lifecycle_spec(backup.id, ["AVAILABLE"], region="us-ashburn-1")
    event = first_event(OciWaitTrigger(spec.to_dict(), poll_interval=0.1, max_interval=0.2, timeout=0.6))
    assert event.payload["status"] == "error"
    assert event.payload["message"] == f"{backup.id} still REQUEST_RECEIVED after 1s (waiting for ['AVAILABLE'])"


def test_error_event_fails_the_deferred_task_with_oci_text(airflow_oci, capfd):
    """A deferrable copy whose work request fails: the copy ends FAULTY while the task is deferred, the trigger's
    error event fails the task, and the log says why."""
    sim = airflow_oci
    backup_id = available_backup(sim, "copied")
    sim.admin.fault("CopyVolumeBackup", "fail_work_request", message="boom")
    capfd.readouterr()
    state, tasks = run_dag("test_op_misc_trigger_error", {"backup_id": backup_id})
    assert state == "failed" and tasks == {"copy_backup_to_dr": "failed"}
    copies = [b for b in sim.admin.resources("volumebackup") if b.get("source_volume_backup_id") == backup_id]
    assert [c["lifecycle_state"] for c in copies] == ["FAULTY"]
    [(_, kwargs)] = triggers_for(copies[0]["id"])
    assert kwargs["spec"]["region"] == "us-phoenix-1"  # waited for in the destination region
    log = capfd.readouterr().out
    assert f"OciWaitError: {copies[0]['id']} reached lifecycle_state FAULTY (waiting for ['AVAILABLE'])" in log


def test_trigger_runs_sdk_calls_off_the_event_loop(airflow_oci):
    """Polls run in a worker thread (asyncio.to_thread), so a slow OCI answer never blocks other triggers."""
    sim = airflow_oci
    sim.admin.fault("GetVolume", "latency", latency_seconds=0.5)
    spec = OciHook().lifecycle_spec(sim.tenancy["volumes"]["data1"], ["AVAILABLE"], region="us-ashburn-1")
    trigger = OciWaitTrigger(spec.to_dict(), poll_interval=0.05)
    ticks = []

    async def main():
        async def ticker():
            while True:
                ticks.append(threading.current_thread().name)
                await asyncio.sleep(0.05)

        tick = asyncio.create_task(ticker())
        async for event in trigger.run():
            tick.cancel()
            return event

    event = asyncio.run(main())
    assert event.payload["status"] == "success"
    assert len(ticks) >= 5  # the loop kept turning during the 0.5 s call


def test_trigger_that_ends_the_task_pushes_each_key_as_a_worker_would(airflow_oci):
    """With `end_task` the trigger ends the task itself: its XComs are the same as a worker's push of the operator
    (return_value, and each key when the operator has multiple_outputs), so `task.output["backup_id"]` works."""
    sim = airflow_oci
    backup_id = available_backup(sim, "ended-by-trigger")
    spec = OciHook().lifecycle_spec(backup_id, ["AVAILABLE"], region="us-ashburn-1")
    result = {"backup_id": backup_id, "region": "us-ashburn-1"}
    ended = first_event(round_trip(*OciWaitTrigger(spec.to_dict(), poll_interval=0.05, result=result,
                                                   end_task="backup",
                                                   multiple_outputs=True).serialize()))
    xcoms = ended.xcoms
    assert xcoms["return_value"]["backup_id"] == backup_id and xcoms["return_value"]["lifecycle_state"] == "AVAILABLE"
    assert {k: v for k, v in xcoms.items() if k != "return_value"} == xcoms["return_value"]
    single = first_event(OciWaitTrigger(spec.to_dict(), poll_interval=0.05, result=result,
                                        end_task="backup"))
    assert list(single.xcoms) == ["return_value"]


def test_api_level_restore_is_checked_in_the_trigger_and_a_failed_check_resumes(airflow_oci):
    """A test restore at `api` level: the look that ends the wait is the check. Passed, the trigger ends the task
    with the check under `verification` (the verify task's fields) and tags the backup `verified-at`, as the
    resumed operator would (one pure function, triggers/results.py). Failed (a restore smaller than the backup),
    it does not end the task: the event resumes it on a worker, which fails naming the volume."""
    sim = airflow_oci
    backup_id = available_backup(sim, "api-check")
    storage = sim.client(oci.core.BlockstorageClient)
    backup = storage.get_volume_backup(backup_id).data
    volume = storage.get_volume(backup.volume_id).data
    restored = storage.create_volume(oci.core.models.CreateVolumeDetails(
        compartment_id=volume.compartment_id, availability_domain=volume.availability_domain,
        source_details=oci.core.models.VolumeSourceFromVolumeBackupDetails(id=backup_id))).data
    spec = OciHook().lifecycle_spec(restored.id, ["AVAILABLE"], region="us-ashburn-1")
    check = {"level": "api", "backup_id": backup_id, "source_id": backup.volume_id, "size_in_gbs": backup.size_in_gbs}
    result = {"volume_id": restored.id, "region": "us-ashburn-1", "ready_at": None, "check": check}
    sim.admin.advance(3600)
    ended = first_event(round_trip(*OciWaitTrigger(spec.to_dict(), poll_interval=0.05, result=result,
                                                   end_task="new_volume", multiple_outputs=True).serialize()))
    verification = ended.xcoms["verification"]
    assert verification == ended.xcoms["return_value"]["verification"]
    assert verification["passed"] and verification["level"] == "api" and verification["source_id"] == volume.id
    assert set(verification) == {"source_id", "backup_id", "restored_volume_id", "level", "passed",
                                 "restore_seconds", "detail", "check_seconds", "verified_at"}
    tags = storage.get_volume_backup(backup_id).data.freeform_tags
    assert tags["verified-level"] == "api" and tags["verified-at"] == verification["verified_at"]

    bigger = {**result, "check": {**check, "size_in_gbs": backup.size_in_gbs + 1}}
    resumed = first_event(OciWaitTrigger(spec.to_dict(), poll_interval=0.05, result=bigger, end_task="new_volume",
                                         multiple_outputs=True))
    assert not hasattr(resumed, "xcoms") or resumed.xcoms is None
    assert resumed.payload["status"] == "success" and resumed.payload["result"]["check"] == bigger["check"]
