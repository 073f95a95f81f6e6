"""An in-place restore killed at each step of its boot swap (SIGKILL of the process running the real oci_restore
DAG's dag.test(), while ocisim holds the chosen call: the call is done, its answer never read), then run again,
as a re-run of the same run (same run_id, so the same retry tokens) or as a new run of the same request. The
instance must end RUNNING on one of its two boot volumes, with one restored boot volume, and the report must say
what was done (issue 16 items 3 and 4)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.airflow_helpers import ROOT, load_dag, task_states, xcom
from tests.dags.test_emergency_clone_restore import _backup, _by_id, _fast_polls  # noqa: F401 (autouse fixture)
from tests.dags.test_in_place_restore import RESTORE, _boot_of

HELD = 1.5  # seconds ocisim holds the call the run is killed in (then does it)


def _run(conf: dict, when: datetime | None = None):
    """oci_restore once in this process; `when` fixes the run_id (manual__<when>): a re-run of that run."""
    dag = load_dag(RESTORE)
    dag.get_task("swap_boot_volume").retry_delay = timedelta(0)
    run = dag.test(run_conf=conf, **({"logical_date": when, "run_after": when} if when else {}))
    return run, task_states(RESTORE, run.run_id)


def _killed_run(sim, conf: dict, when: datetime, operation: str, nth: int, log: Path) -> None:
    """Run oci_restore in a child process (its output to `log`) and SIGKILL it while ocisim holds its `nth`
    `operation` call."""
    before = sim.admin.counters().get(operation, 0)
    armed = nth == 1
    if armed:
        sim.admin.fault(operation, "latency", latency_seconds=HELD)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")])}
    with log.open("wb") as out:
        child = subprocess.Popen([sys.executable, "-m", "tests.dags.test_swap_kill_rerun", json.dumps(conf),
                                  when.isoformat()], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 600  # a guard only: a loaded machine is slow
        while True:
            seen = sim.admin.counters().get(operation, 0) - before
            if not armed and seen >= nth - 1:  # hold the next one
                sim.admin.fault(operation, "latency", latency_seconds=HELD)
                armed = True
            if seen >= nth:
                break
            assert child.poll() is None, f"the run ended before its {operation} #{nth}: {_tail(log)}"
            assert time.monotonic() < deadline, f"no {operation} #{nth} within 600 s: {_tail(log)}"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
    time.sleep(HELD + 0.5)  # ocisim does the held call, its answer goes nowhere
    sim.admin.clear_faults()


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def _restored(sim, old: str) -> list[str]:
    """Boot volumes the restores made (every boot volume but the estate's own)."""
    seeded = set(sim.tenancy["boot_volumes"].values())
    return [b["id"] for b in sim.admin.resources("bootvolume")
            if b["id"] not in seeded and b["lifecycle_state"] not in ("TERMINATING", "TERMINATED")]


# step: (operation, nth), and what the kill leaves: (instance state, boot volume attached, swap still pending)
STEPS = {"intent": (("UpdateInstance", 1), ("RUNNING", "old", True)),
         "stop": (("InstanceAction", 1), ("STOPPED", "old", True)),
         "detach": (("DetachBootVolume", 1), ("STOPPED", None, True)),
         "attach": (("AttachBootVolume", 1), ("STOPPED", "new", True)),
         "start": (("InstanceAction", 2), ("RUNNING", "new", True)),
         "done": (("UpdateInstance", 2), ("RUNNING", "new", False))}


def _mutations(sim) -> set[str]:
    return {op for op, n in sim.admin.counters().items()
            if n and op.startswith(("Create", "Attach", "Detach", "Update", "InstanceAction"))}


@pytest.mark.parametrize("step, rerun", [
    ("intent", "new run"), ("stop", "new run"), ("detach", "same run"),
    ("attach", "new run naming the instance"), ("start", "same run"), ("done", "new run, then same run")])
def test_a_swap_killed_at_any_step_is_finished_by_the_next_run(estate, capfd, caplog, tmp_path, step,
                                                               rerun):
    sim = estate
    instance_id, old = sim.tenancy["instances"]["app1"], sim.tenancy["boot_volumes"]["app1"]
    backup = _backup(sim, old)
    conf = {"backup_id": backup.id, "in_place": True}
    when = datetime.now(UTC).replace(microsecond=0)
    (operation, nth), (state, on, pending) = STEPS[step]

    _killed_run(sim, conf, when, operation, nth, tmp_path / "killed-run.log")
    [restored] = _restored(sim, old)
    instance = _by_id(sim, "instance")[instance_id]
    assert instance["lifecycle_state"] == state, instance["lifecycle_state"]  # what the kill left
    assert _boot_of(sim, instance_id) == ([] if on is None else [{"old": old, "new": restored}[on]])
    assert ("airflow-boot-swap" in instance["freeform_tags"]) == pending
    if rerun.startswith("new run, then"):
        # the swap had finished: a new run stops before any change and names the instance it went to
        sim.admin.reset_counters()
        run, tasks = _run(conf)
        assert run.state == "failed" and tasks["validate_request"] == "failed", tasks
        log = capfd.readouterr().out + caplog.text
        assert f"swapped it out of instance {instance_id}, which boots from {restored}" in log
        assert f"Give instance_id {instance_id} to restore into it again" in log
        assert not _mutations(sim)
    sim.admin.reset_counters()
    if rerun.endswith("naming the instance"):  # the advice main's refusal gave: it made a second restore then
        conf = {**conf, "instance_id": instance_id}
    run, tasks = _run(conf, when if rerun.endswith("same run") else None)

    assert run.state == "success", tasks
    instance = _by_id(sim, "instance")[instance_id]
    assert _restored(sim, old) == [restored]  # no second restore
    assert instance["lifecycle_state"] == "RUNNING" and _boot_of(sim, instance_id) == [restored]
    assert "airflow-boot-swap" not in instance["freeform_tags"]
    assert instance["freeform_tags"]["airflow-boot-swapped"] == f"{old}|{restored}"
    counters = sim.admin.counters()
    assert tasks["restore_volume"] == "skipped" and counters.get("CreateBootVolume", 0) == 0
    # the steps the killed run did are not done again
    assert counters.get("DetachBootVolume", 0) == (1 if step in ("intent", "stop") else 0)
    assert counters.get("AttachBootVolume", 0) == (0 if on == "new" else 1)
    assert counters.get("InstanceAction", 0) == (0 if step in ("start", "done") else 1 if step != "intent" else 2)
    report = xcom(RESTORE, run.run_id, "report")
    assert report["swap"]["boot_volume_id"] == restored and report["swap"]["lifecycle_state"] == "RUNNING"
    assert report["unfinished_swap"]["new"] == restored and report["unfinished_swap"]["old"] == old
    log = capfd.readouterr().out + caplog.text
    did = "found finished" if step == "done" else "finished the unfinished"
    assert f"not restored again: this run {did} swap {old} -> {restored}" in log
    assert f"it is RUNNING on the restored boot volume {restored}" in log


if __name__ == "__main__":  # the child _killed_run starts: one run, with a fixed run_id, until it is killed
    _run(json.loads(sys.argv[1]), datetime.fromisoformat(sys.argv[2]))


def test_another_unfinished_swap_stops_the_request_before_any_change(estate):
    """validate_request's check (read-only): an unfinished swap to a volume not restored from the requested backup
    stops the run, naming it, where the instance stands and the command that puts it back; once the instance is
    back as it was (by hand), only the tag is left and a new swap replaces it."""
    import oci
    from common.errors import OciInputError
    from hooks.oci import OciHook

    sim = estate
    compute = sim.client(oci.core.ComputeClient)
    instance_id, old = sim.tenancy["instances"]["app1"], sim.tenancy["boot_volumes"]["app1"]
    other = next(b for b in sim.tenancy["boot_volumes"].values() if b != old)
    backup = _backup(sim, old)
    tags = {**compute.get_instance(instance_id).data.freeform_tags, "airflow-boot-swap": f"{old}|{other}|1"}
    compute.update_instance(instance_id, oci.core.models.UpdateInstanceDetails(freeform_tags=tags))
    hook = OciHook()
    assert hook.swap_to_finish(hook.swap_target(None, old), backup.id, old, "run-1") is None  # as it was: replaced

    compute.instance_action(instance_id, "STOP")
    deadline = time.monotonic() + 60
    while compute.get_instance(instance_id).data.lifecycle_state != "STOPPED":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    sim.admin.reset_counters()
    with pytest.raises(OciInputError) as refused:
        hook.swap_to_finish(hook.swap_target(None, old), backup.id, old, "run-1")
    text = str(refused.value)
    assert f"a boot volume swap {old} -> {other} is unfinished" in text and "not the backup asked for" in text
    assert f"instance {instance_id} is STOPPED on its old boot volume {old}" in text and "Nothing was changed" in text
    assert f"oci compute instance action --region {sim.home_region} --instance-id {instance_id} --action START" in text
    assert not _mutations(sim)
