"""In-place boot restore through the real oci_restore DAG (dag.test) against ocisim with real ext4 bytes: the
restored boot volume is swapped into the existing instance, which keeps its OCID, private IP and hostname; the
old boot volume is kept AVAILABLE. A try that fails mid-swap is finished by the next try."""

from __future__ import annotations

import shlex
import threading
import time
from datetime import timedelta

import pytest

from tests.airflow_helpers import last_run_id, load_dag, task_states, xcom
from tests.dags.test_emergency_clone_restore import (  # noqa: F401 (_fast_polls: the same autouse fixture)
    FS_BYTES,
    _backup,
    _by_id,
    _fast_polls,
    _sha,
)

RESTORE = "oci_restore"


def _run(conf: dict):
    """oci_restore once, with the swap's retry delay cut to 0 (the DAG's is 30 s)."""
    dag = load_dag(RESTORE)
    dag.get_task("swap_boot_volume").retry_delay = timedelta(0)
    run = dag.test(run_conf=conf)
    return run.state, task_states(RESTORE, run.run_id)


def _facing(sim, instance_id: str) -> tuple[str, str]:
    """(private IP, hostname label) of the instance's VNIC, through its attachment."""
    [att] = [a for a in sim.admin.resources("vnicattachment") if a["instance_id"] == instance_id
             and a["lifecycle_state"] == "ATTACHED"]
    vnic = _by_id(sim, "vnic")[att["vnic_id"]]
    return vnic["private_ip"], vnic["hostname_label"]


def _boot_of(sim, instance_id: str) -> list[str]:
    return [a["boot_volume_id"] for a in sim.admin.resources("bootvolumeattachment")
            if a["instance_id"] == instance_id and a["lifecycle_state"] == "ATTACHED"]


def _assert_swapped(sim, instance_id: str, old: str, at_backup: str, facing: tuple[str, str]) -> dict:
    report = xcom(RESTORE, last_run_id(RESTORE), "report")
    restored, swap = report["restored"]["volume_id"], report["swap"]
    assert swap["instance_id"] == instance_id and swap["boot_volume_id"] == restored != old
    assert swap["old_boot_volume_id"] == old and swap["old_boot_volume_state"] == "AVAILABLE"
    assert _boot_of(sim, instance_id) == [restored]
    assert _sha(sim, restored) == at_backup
    instance = _by_id(sim, "instance")[instance_id]
    assert instance["lifecycle_state"] == "RUNNING"
    assert instance["freeform_tags"]["airflow-boot-swapped"] == f"{old}|{restored}"
    assert "airflow-boot-swap" not in instance["freeform_tags"]
    assert _facing(sim, instance_id) == facing == (swap["private_ip"], swap["hostname_label"])
    old_volume = _by_id(sim, "bootvolume")[old]
    assert old_volume["lifecycle_state"] == "AVAILABLE"
    # the block volumes stay attached
    assert len([a for a in sim.admin.resources("volumeattachment") if a["instance_id"] == instance_id
                and a["lifecycle_state"] == "ATTACHED"]) == 2
    return report


def test_in_place_restore_swaps_the_boot_volume_and_keeps_the_instance(estate, capfd, caplog):
    sim = estate
    instance_id, old = sim.tenancy["instances"]["app1"], sim.tenancy["boot_volumes"]["app1"]
    facing = _facing(sim, instance_id)
    at_backup = _sha(sim, old)
    backup = _backup(sim, old)
    sim.admin.write(old, 8 << 20, b"written after the backup")
    after = _sha(sim, old)

    state, tasks = _run({"backup_id": backup.id, "in_place": True})
    assert state == "success", tasks
    assert tasks["launch_on_restored_boot_volume"] == tasks["attach_restored_volume"] == "skipped"
    _assert_swapped(sim, instance_id, old, at_backup, facing)
    assert _sha(sim, old) == after  # the old boot volume is kept as it was
    counters = sim.admin.counters()
    assert counters["DetachBootVolume"] == 1 and counters["AttachBootVolume"] == 1
    log = capfd.readouterr().out + caplog.text
    assert f"swapped in place into instance {instance_id}" in log and f"the old boot volume {old} is kept" in log


def test_a_try_that_dies_after_the_detach_is_finished_by_the_next(estate, monkeypatch):
    """Try 1 detaches the old boot volume but loses the answer (SDK retries off), and its rollback's attach
    fails too: it leaves the instance without a boot volume and the swap recorded on it. Try 2 reads the record
    and finishes the swap."""
    from tests.conftest import oci_connection_json

    sim = estate
    monkeypatch.setenv("AIRFLOW_CONN_OCI_DEFAULT", oci_connection_json(sim, max_attempts=1))
    instance_id, old = sim.tenancy["instances"]["app1"], sim.tenancy["boot_volumes"]["app1"]
    facing = _facing(sim, instance_id)
    at_backup = _sha(sim, old)
    backup = _backup(sim, old)
    sim.admin.fault("DetachBootVolume", "drop")
    sim.admin.fault("AttachBootVolume", "500")
    sim.admin.reset_counters()

    state, tasks = _run({"backup_id": backup.id, "in_place": True, "instance_id": instance_id})
    assert state == "success", tasks
    _assert_swapped(sim, instance_id, old, at_backup, facing)
    counters = sim.admin.counters()
    # try 1: detach (answer lost), re-attach of the old one (500); try 2: attach of the restored one
    assert counters["DetachBootVolume"] == 1 and counters["AttachBootVolume"] == 2

    from airflow import settings
    from airflow.models import TaskInstance

    with settings.Session() as session:
        ti = session.query(TaskInstance).filter_by(dag_id=RESTORE, run_id=last_run_id(RESTORE),
                                                   task_id="swap_boot_volume").one()
        assert ti.try_number == 2


def test_a_failed_attach_puts_the_old_boot_volume_back(estate, monkeypatch):
    """The restored volume cannot be attached on the only try: the old boot volume is attached again and the
    instance started; the run fails and says so, and the instance runs as before."""
    from tests.conftest import oci_connection_json

    sim = estate
    monkeypatch.setenv("AIRFLOW_CONN_OCI_DEFAULT", oci_connection_json(sim, max_attempts=1))
    instance_id, old = sim.tenancy["instances"]["app1"], sim.tenancy["boot_volumes"]["app1"]
    facing = _facing(sim, instance_id)
    backup = _backup(sim, old)
    sim.admin.fault("AttachBootVolume", "500", count=1)
    dag = load_dag(RESTORE)
    dag.get_task("swap_boot_volume").retries = 0
    run = dag.test(run_conf={"backup_id": backup.id, "in_place": True})
    tasks = task_states(RESTORE, run.run_id)
    assert run.state == "failed" and tasks["swap_boot_volume"] == "failed", tasks
    assert _boot_of(sim, instance_id) == [old]
    instance = _by_id(sim, "instance")[instance_id]
    assert instance["lifecycle_state"] == "RUNNING" and "airflow-boot-swap" not in instance["freeform_tags"]
    assert _facing(sim, instance_id) == facing
    report = xcom(RESTORE, run.run_id, "report", key="report")
    [problem] = report["problems"]
    assert f"rolled back: instance {instance_id} is RUNNING on its old boot volume {old}" in problem
    assert "no try is left: run the restore again" in problem and "next try" not in problem


def _after(sim, operation: str, count: int, kind: str) -> threading.Thread:
    """Arm `kind` on every later `operation` call once `count` calls were made (a START after the STOP)."""
    def arm():
        deadline = time.monotonic() + 120
        while sim.admin.counters().get(operation, 0) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        sim.admin.fault(operation, kind, count=100)

    thread = threading.Thread(target=arm, daemon=True)
    thread.start()
    return thread


def test_every_attach_refused_fails_with_the_command_that_puts_the_old_boot_volume_back(estate, monkeypatch):
    """OCI refuses every AttachBootVolume on both tries: try 1 says the next try goes on, the last says no try
    is left and gives the oci commands; they are exact: run with the real CLI, the instance is RUNNING on its old
    boot volume again."""
    from tests.conftest import oci_connection_json
    from tests.ocisim.test_cli import _oci

    sim = estate
    monkeypatch.setenv("AIRFLOW_CONN_OCI_DEFAULT", oci_connection_json(sim, max_attempts=1))
    instance_id, old = sim.tenancy["instances"]["app1"], sim.tenancy["boot_volumes"]["app1"]
    backup = _backup(sim, old)
    sim.admin.fault("AttachBootVolume", "500", count=100)
    sim.admin.reset_counters()
    state, tasks = _run({"backup_id": backup.id, "in_place": True})
    assert state == "failed" and tasks["swap_boot_volume"] == "failed", tasks
    assert sim.admin.counters()["AttachBootVolume"] == 4  # each try: the restored one, then the old one
    report = xcom(RESTORE, last_run_id(RESTORE), "report", key="report")
    swap_state = report["swap_state"]
    assert swap_state["lifecycle_state"] == "STOPPED" and swap_state["boot_volume_id"] is None
    [problem] = report["problems"]
    assert f"instance {instance_id} is STOPPED with no boot volume attached" in problem
    assert "no try is left" in problem and "next try" not in problem
    assert f"--instance-id {instance_id} --boot-volume-id {old}" in problem
    assert _boot_of(sim, instance_id) == []

    sim.admin.clear_faults()
    for command in swap_state["repair"]:
        _oci(sim, *shlex.split(command)[1:])
    assert _boot_of(sim, instance_id) == [old]
    assert _by_id(sim, "instance")[instance_id]["lifecycle_state"] == "RUNNING"


def test_a_start_refused_past_every_retry_says_the_instance_is_stopped_on_the_new_volume(estate, monkeypatch):
    """The restored boot volume is attached but OCI refuses every START: the run fails saying the instance is
    STOPPED on the NEW boot volume (not that it kept its old one), with the command that starts it."""
    from tests.conftest import oci_connection_json

    sim = estate
    monkeypatch.setenv("AIRFLOW_CONN_OCI_DEFAULT", oci_connection_json(sim, max_attempts=1))
    instance_id, old = sim.tenancy["instances"]["app1"], sim.tenancy["boot_volumes"]["app1"]
    backup = _backup(sim, old)
    sim.admin.reset_counters()
    armed = _after(sim, "InstanceAction", 1, "500")  # the STOP passes
    state, tasks = _run({"backup_id": backup.id, "in_place": True})
    armed.join(5)
    assert state == "failed" and tasks["swap_boot_volume"] == "failed", tasks
    report = xcom(RESTORE, last_run_id(RESTORE), "report", key="report")
    restored = report["restored"]["volume_id"]
    assert _boot_of(sim, instance_id) == [restored]
    assert _by_id(sim, "instance")[instance_id]["lifecycle_state"] == "STOPPED"
    [problem] = report["problems"]
    assert f"instance {instance_id} is STOPPED on the restored boot volume {restored}" in problem
    assert f"the old boot volume {old} is detached and kept" in problem
    assert f"start it with: oci compute instance action --region {sim.home_region} --instance-id {instance_id} " \
           f"--action START" in problem
    assert "next try" not in problem and "keeps its old" not in problem
    assert report["swap_state"]["repair"] and report["swap_state"]["boot_volume_id"] == restored


@pytest.mark.parametrize("conf, message", [
    ({"in_place": True, "launch_instance": True, "hostname": "x1"}, "in_place and launch_instance"),
    ({"in_place": True, "instance_id": "ocid1.instance.oc1.iad.aaaaaaaabbbbbbbb"}, "instance_id"),
    ({"instance_id": "ocid1.instance.oc1.iad.aaaaaaaabbbbbbbb"}, "only with in_place"),
])
def test_in_place_requests_are_checked_before_any_change(estate, capfd, caplog, conf, message):
    sim = estate
    backup = _backup(sim, sim.tenancy["boot_volumes"]["app1"])
    sim.admin.reset_counters()
    state, tasks = _run({"backup_id": backup.id, **conf})
    assert state == "failed" and tasks["validate_request"] == "failed", tasks
    mutating = {op: n for op, n in sim.admin.counters().items()
                if op.startswith(("Create", "Attach", "Detach", "Update", "InstanceAction", "Launch")) and n}
    assert mutating == {}
    assert message in capfd.readouterr().out + caplog.text


SHAPE_CASES = [
    (RESTORE, "validate_request", {"shape": "VM.Standard.E2.1.Micro"},
     "shape 'VM.Standard.E2.1.Micro': not offered in availability domain"),
    (RESTORE, "validate_request", {"ocpus": 1, "memory_in_gbs": 1000},
     "memory_in_gbs 1000: VM.Standard.E4.Flex takes 1 to 64 GB per OCPU, so 1 to 64 GB for 1 OCPUs"),
    ("oci_emergency_clone", "resolve_volumes", {"shape": "VM.Standard.E2.1.Micro"},
     "shape 'VM.Standard.E2.1.Micro': not offered in availability domain"),
    ("oci_emergency_clone", "resolve_volumes", {"shape": "VM.Standard3.Flex", "ocpus": 40},
     "ocpus 40: VM.Standard3.Flex takes 1 to 32 OCPUs"),
]


@pytest.mark.parametrize("dag_id, task, conf, message", SHAPE_CASES)
def test_a_launch_shape_is_checked_before_the_restore_or_clone(estate, capfd, caplog, dag_id, task, conf, message):
    """A shape the AD does not offer, or Flex settings outside its limits, fail the run in its read-only first
    tasks: nothing is restored or cloned for a launch that cannot happen."""
    from tests.airflow_helpers import run_dag

    sim = estate
    boot = sim.tenancy["boot_volumes"]["app1"]
    source = {"backup_id": _backup(sim, boot).id} if dag_id == RESTORE else {"volume_ids": [boot]}
    sim.admin.reset_counters()
    state, tasks = run_dag(dag_id, {**source, "launch_instance": True, "hostname": "app1-new",
                                    "subnet_id": sim.tenancy["subnets"]["app"], **conf})
    assert state == "failed" and tasks[task] == "failed", tasks
    counters = sim.admin.counters()
    mutating = {op: n for op, n in counters.items()
                if op.startswith(("Create", "Attach", "Detach", "Update", "InstanceAction", "Launch")) and n}
    assert mutating == {} and counters["ListShapes"] >= 1
    assert message in capfd.readouterr().out + caplog.text
