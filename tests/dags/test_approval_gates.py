"""The approval gates: before an in-place restore (the real oci_restore DAG), an emergency clone's launch and the
nightly's retention (OCI_APPROVAL_RETENTION_OVER), each through dag.test() against ocisim, answered the way a
person's browser does: Airflow's REST API (the api-server app, its auth manager, the hitlDetails
endpoint) on the same metadata database, from a second thread while the run waits in AWAITING_INPUT.

dag.test() has no scheduler: the timeout case runs the scheduler's own timeout sweep (the method its loop
calls) once the deadline has passed.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from tests.airflow_helpers import last_run_id, load_dag, run_dag, task_states, xcom
from tests.dags.test_emergency_clone_restore import (  # noqa: F401 (_fast_polls: the same autouse fixture)
    _backup,
    _fast_polls,
)
from tests.dags.test_in_place_restore import _boot_of, _by_id

RESTORE = "oci_restore"
GATE = "approve_swap"


@pytest.fixture
def api(estate, monkeypatch):
    """The api-server app as `airflow api-server` builds it, and tokens of an assigned and a foreign user."""
    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    monkeypatch.setenv("OCI_APPROVAL_IN_PLACE", "1")
    client = TestClient(create_app("all"))
    manager = get_auth_manager()
    tokens = {name: manager.generate_jwt(SimpleAuthManagerUser(username=name, role="op"))
              for name in ("alice", "bob")}
    client.tokens = tokens  # the answering thread asks as alice
    return client, tokens


def _answer_when_asked(client, answer: Callable[[str, str], None], timeout: float = 120, dag_id: str = RESTORE,
                       gate: str = GATE) -> threading.Thread:
    """A thread that waits for the run's approval request (GET hitlDetails), then calls answer(run_id, path)."""
    errors: list[BaseException] = []

    def run():
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                got = client.get(f"/api/v2/dags/{dag_id}/dagRuns/~/hitlDetails",
                                 headers=_auth(client.tokens["alice"]))
                pending = [d for d in got.json().get("hitl_details", [])
                           if d["task_instance"]["task_id"] == gate and not d["response_received"]]
                if pending:
                    run_id = pending[0]["task_instance"]["dag_run_id"]
                    answer(run_id, f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{gate}/-1/hitlDetails")
                    return
                time.sleep(0.3)
            raise AssertionError("no approval request appeared")
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.errors = errors  # type: ignore[attr-defined]
    thread.start()
    return thread


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _run(conf: dict):
    dag = load_dag(RESTORE)
    dag.get_task("swap_boot_volume").retry_delay = timedelta(0)
    run = dag.test(run_conf=conf)
    return run, task_states(RESTORE, run.run_id)


def _setup(sim):
    instance_id, old = sim.tenancy["instances"]["app1"], sim.tenancy["boot_volumes"]["app1"]
    return instance_id, old, _backup(sim, old)


def test_an_assigned_user_approves_and_a_foreign_user_or_a_second_answer_is_refused(api, estate):
    client, tokens = api
    sim = estate
    instance_id, old, backup = _setup(sim)
    seen: dict = {}

    def answer(run_id: str, path: str):
        detail = client.get(path, headers=_auth(tokens["alice"])).json()
        seen["detail"] = detail
        # what the approver reads: the instance, both boot volumes, the backup and the downtime
        seen["forbidden"] = client.patch(path, json={"chosen_options": ["Approve"]}, headers=_auth(tokens["bob"]))
        # nothing changed while the run waits: no stop, no detach
        seen["counters"] = sim.admin.counters()
        seen["ok"] = client.patch(path, json={"chosen_options": ["Approve"], "params_input": {"reason": "INC-42"}},
                                  headers=_auth(tokens["alice"]))
        seen["twice"] = client.patch(path, json={"chosen_options": ["Reject"]}, headers=_auth(tokens["alice"]))

    thread = _answer_when_asked(client, answer)
    run, tasks = _run({"backup_id": backup.id, "in_place": True, "approvers": ["alice"]})
    thread.join(5)
    assert not thread.errors and not thread.is_alive(), thread.errors or "the run ended before it asked"

    body = seen["detail"]["body"]
    assert instance_id in body and old in body and backup.id in body and "app1" in body
    assert "NOT verified" in body and "downtime" in body.lower() and "alice" in body
    assert seen["detail"]["assigned_users"] == [{"id": "alice", "name": "alice"}]
    assert seen["forbidden"].status_code == 403, seen["forbidden"].text
    assert seen["counters"].get("InstanceAction", 0) == 0 and seen["counters"].get("DetachBootVolume", 0) == 0
    assert seen["ok"].status_code == 200, seen["ok"].text
    assert seen["twice"].status_code == 409, seen["twice"].text

    assert run.state == "success", tasks
    assert tasks[GATE] == "success" and tasks["swap_boot_volume"] == "success"
    report = xcom(RESTORE, run.run_id, "report")
    assert report["approval"]["approved"] is True and report["approval"]["by"] == "alice"
    assert report["approval"]["reason"] == "INC-42"
    assert _boot_of(sim, instance_id) == [report["restored"]["volume_id"]]


def test_reject_leaves_the_instance_running_on_its_old_boot_volume(api, estate):
    client, tokens = api
    sim = estate
    instance_id, old, backup = _setup(sim)

    def answer(run_id: str, path: str):
        got = client.patch(path, json={"chosen_options": ["Reject"], "params_input": {"reason": "wrong backup"}},
                           headers=_auth(tokens["alice"]))
        assert got.status_code == 200, got.text

    thread = _answer_when_asked(client, answer)
    run, tasks = _run({"backup_id": backup.id, "in_place": True})
    thread.join(5)
    assert not thread.errors and not thread.is_alive(), thread.errors or "the run ended before it asked"

    assert run.state == "failed" and tasks["swap_boot_volume"] == "skipped", tasks
    assert _boot_of(sim, instance_id) == [old]
    assert _by_id(sim, "instance")[instance_id]["lifecycle_state"] == "RUNNING"
    counters = sim.admin.counters()
    assert counters.get("DetachBootVolume", 0) == 0 and counters.get("InstanceAction", 0) == 0
    report = xcom(RESTORE, run.run_id, "report", key="report")
    assert report["approval"] == {**report["approval"], "approved": False, "by": "alice", "reason": "wrong backup"}
    assert any("rejected by alice" in p and "wrong backup" in p and "not touched" in p for p in report["problems"])


def test_no_answer_in_time_fails_closed(api, estate):
    """The scheduler's AWAITING_INPUT sweep fails the gate once its deadline passed: the swap never runs."""
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

    client, _ = api
    sim = estate
    instance_id, old, backup = _setup(sim)

    def answer(run_id: str, path: str):
        time.sleep(6.5)  # past the 0.1-minute deadline
        SchedulerJobRunner(job=Job()).check_awaiting_input_timeouts()

    thread = _answer_when_asked(client, answer)
    run, tasks = _run({"backup_id": backup.id, "in_place": True, "approval_timeout_minutes": 0.1})
    thread.join(5)
    assert not thread.errors and not thread.is_alive(), thread.errors or "the run ended before it asked"

    assert run.state == "failed" and tasks[GATE] == "failed", tasks
    assert tasks["swap_boot_volume"] == "upstream_failed", tasks
    assert _boot_of(sim, instance_id) == [old]
    assert _by_id(sim, "instance")[instance_id]["lifecycle_state"] == "RUNNING"
    report = xcom(RESTORE, run.run_id, "report", key="report")
    assert any("no approval" in p and "not touched" in p for p in report["problems"]), report["problems"]


def test_an_emergency_clone_launch_waits_for_approval_where_the_deployment_asks(api, estate, monkeypatch):
    """Off by default (the clone tests launch without one); OCI_APPROVAL_CLONE_LAUNCH=1: Reject launches nothing
    and keeps the clones."""
    client, tokens = api
    sim = estate
    monkeypatch.setenv("OCI_APPROVAL_CLONE_LAUNCH", "1")
    instances_before = set(_by_id(sim, "instance"))

    def answer(run_id: str, path: str):
        detail = client.get(path, headers=_auth(tokens["alice"])).json()
        assert "app1-clone" in detail["body"] and "VM." in detail["body"], detail["body"]
        got = client.patch(path, json={"chosen_options": ["Reject"], "params_input": {"reason": "not now"}},
                           headers=_auth(tokens["alice"]))
        assert got.status_code == 200, got.text

    thread = _answer_when_asked(client, answer, dag_id="oci_emergency_clone", gate="approve_launch")
    state, tasks = run_dag("oci_emergency_clone", {"instance_id": sim.tenancy["instances"]["app1"],
                                                   "launch_instance": True, "hostname": "app1-clone",
                                                   "approvers": ["alice"]})
    thread.join(5)
    assert not thread.errors and not thread.is_alive(), thread.errors or "the run ended before it asked"
    assert state == "failed" and tasks["launch_on_clone"] == "skipped", tasks
    assert set(_by_id(sim, "instance")) == instances_before
    report = xcom("oci_emergency_clone", last_run_id("oci_emergency_clone"), "report", key="report")
    assert [r["clone_id"] for r in report["volumes"]] and all(r["clone_id"] for r in report["volumes"])
    assert any("rejected by alice" in p and "not now" in p for p in report["problems"]), report["problems"]


# -- the nightly's retention gate (OCI_APPROVAL_RETENTION_OVER) ------------------------------------------------
NIGHTLY = "oci_nightly_backup"


def _expired_backups(sim, count: int) -> tuple[str, list[str]]:
    """db-data alone under a tag of its own (one volume keeps the run short), with `count` verified backups the
    nightly made 40 emulated days ago: tonight's run verifies a new one, and retention (30 days) would delete
    all of them. Returns db-data's OCID and the old backups' OCIDs."""
    import oci

    volume = sim.tenancy["volumes"]["db-data"]
    storage = sim.client(oci.core.BlockstorageClient)
    tags = {**storage.get_volume(volume).data.freeform_tags, "retention-gate": "default"}
    storage.update_volume(volume, oci.core.models.UpdateVolumeDetails(freeform_tags=tags))
    old = []
    for _ in range(count):
        backup = _backup(sim, volume, verified=True)
        ours = {**storage.get_volume_backup(backup.id).data.freeform_tags, "managed-by": "airflow-oci",
                "airflow-dag": NIGHTLY}
        storage.update_volume_backup(backup.id, oci.core.models.UpdateVolumeBackupDetails(freeform_tags=ours))
        old.append(backup.id)
    sim.admin.advance(40 * 86400)
    sim.admin.reset_counters()
    return volume, old


def _nightly(sim, monkeypatch, over: str) -> tuple:
    monkeypatch.setenv("OCI_APPROVAL_RETENTION_OVER", over)  # read when the DAG file is parsed
    dag = load_dag(NIGHTLY)
    run = dag.test(run_conf={"compartment_ids": sim.tenancy["compartments"]["prod"], "tag_key": "retention-gate",
                             "verification_level": "api", "approvers": ["alice"],
                             "policies": {"default": {"full_interval_days": 7, "retention_days": 30}}})
    return run, task_states(NIGHTLY, run.run_id)


def test_retention_over_the_limit_waits_and_an_approval_deletes_what_it_listed(api, estate, monkeypatch):
    from reports.nightly import render_note

    client, tokens = api
    sim = estate
    _, old = _expired_backups(sim, 3)
    seen: dict = {}

    def answer(run_id: str, path: str):
        detail = client.get(path, headers=_auth(tokens["alice"])).json()
        seen["detail"] = detail
        seen["counters"] = sim.admin.counters()  # nothing deleted while it waits
        got = client.patch(path, json={"chosen_options": ["Approve"], "params_input": {"reason": "CHG-7"}},
                           headers=_auth(tokens["alice"]))
        assert got.status_code == 200, got.text

    thread = _answer_when_asked(client, answer, dag_id=NIGHTLY, gate="approve_prune")
    run, tasks = _run_nightly_then_join(sim, monkeypatch, thread, over="2")

    assert seen["detail"]["subject"] == "Approve retention deleting 3 backups (more than 2)", seen["detail"]
    assert all(b in seen["detail"]["body"] for b in old) and "db-data" in seen["detail"]["body"]
    assert seen["detail"]["assigned_users"] == [{"id": "alice", "name": "alice"}]
    assert seen["counters"].get("DeleteVolumeBackup", 0) == 0
    assert run.state == "success", tasks
    assert tasks["approve_prune"] == "success" and tasks["prune_backups"] == "success", tasks
    assert sim.admin.counters().get("DeleteVolumeBackup", 0) == 3
    assert sorted(b["lifecycle_state"] for b in sim.admin.resources("volumebackup") if b["id"] in old) != [] and all(
        b["lifecycle_state"] in ("TERMINATING", "TERMINATED") for b in sim.admin.resources("volumebackup")
        if b["id"] in old)
    report = xcom(NIGHTLY, run.run_id, "report")
    assert report["retention_approval"] == {**report["retention_approval"], "approved": True, "by": "alice",
                                            "reason": "CHG-7"}
    assert report["totals"]["pruned"] == 3
    assert re.search(r"^Retention approved by alice at \d{4}-\d\d-\d\d \d\d:\d\d UTC: CHG-7$",
                     render_note(report), re.M), render_note(report)


def test_a_rejected_retention_deletes_nothing_and_the_report_names_who(api, estate, monkeypatch):
    from reports.nightly import render_note

    client, tokens = api
    sim = estate
    _, old = _expired_backups(sim, 3)

    def answer(run_id: str, path: str):
        got = client.patch(path, json={"chosen_options": ["Reject"], "params_input": {"reason": "audit hold"}},
                           headers=_auth(tokens["alice"]))
        assert got.status_code == 200, got.text

    thread = _answer_when_asked(client, answer, dag_id=NIGHTLY, gate="approve_prune")
    run, tasks = _run_nightly_then_join(sim, monkeypatch, thread, over="2")

    # the backups are protected; only retention was declined: the run succeeds, its note says who declined
    assert run.state == "success", tasks
    assert tasks["approve_prune"] == "success" and tasks["prune_backups"] == "skipped", tasks
    assert sim.admin.counters().get("DeleteVolumeBackup", 0) == 0
    assert all(b["lifecycle_state"] == "AVAILABLE" for b in sim.admin.resources("volumebackup") if b["id"] in old)
    report = xcom(NIGHTLY, run.run_id, "report")
    assert report["retention_approval"]["approved"] is False and report["totals"]["pruned"] == 0
    assert re.search(r"^Retention REJECTED by alice at .+ UTC: audit hold; no backup deleted$", render_note(report),
                     re.M), render_note(report)


def test_the_retention_gate_is_no_task_when_off_and_does_not_ask_under_its_limit(estate, monkeypatch):
    """Off (the default): the nightly has no approval task, so a run executes nothing more. On, with no more
    backups to delete than the limit: the gate skips itself without asking, and retention deletes them."""
    monkeypatch.delenv("OCI_APPROVAL_RETENTION_OVER", raising=False)
    assert "approve_prune" not in load_dag(NIGHTLY).task_ids
    sim = estate
    _, old = _expired_backups(sim, 2)
    run, tasks = _nightly(sim, monkeypatch, over="2")
    assert run.state == "success", tasks
    assert tasks["approve_prune"] == "skipped" and tasks["prune_backups"] == "success", tasks
    assert sim.admin.counters().get("DeleteVolumeBackup", 0) == 2
    assert {d["backup_id"] for d in xcom(NIGHTLY, run.run_id, "prune_backups")["deleted"]} == set(old)
    assert xcom(NIGHTLY, run.run_id, "report").get("retention_approval") is None


def _run_nightly_then_join(sim, monkeypatch, thread, over: str) -> tuple:
    run, tasks = _nightly(sim, monkeypatch, over)
    thread.join(5)
    assert not thread.errors and not thread.is_alive(), thread.errors or "the run ended before it asked"
    return run, tasks
