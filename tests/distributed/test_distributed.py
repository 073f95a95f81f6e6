"""The distributed deployment (docker-compose's stack, without Docker): PostgreSQL + Redis + CeleryExecutor with two
workers, scheduler, dag-processor, triggerer and api-server as separate processes, against ocisim. The nightly backup
is triggered and read back through the REST API only. Run with `make test-distributed` (it sets OCI_DISTRIBUTED=1;
`make test` leaves this directory out)."""

from __future__ import annotations

import os
import socket
import urllib.parse

import pytest

from tests.distributed.run_stack import StackError, check_postgres, check_redis
from tests.distributed.seeds import BLOCK, BOOT

DAG_ID = "oci_nightly_backup"
RUN_TIMEOUT = 900
WORKERS = {"worker-1", "worker-2"}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


def test_unreachable_postgresql_fails_with_a_message_naming_host_and_port():
    port = _closed_port()
    with pytest.raises(StackError, match=rf"PostgreSQL is not reachable at 127\.0\.0\.1:{port} as user 'postgres'"):
        check_postgres("127.0.0.1", port, "postgres")


def test_unreachable_redis_fails_with_a_message_naming_host_and_port():
    port = _closed_port()
    with pytest.raises(StackError, match=rf"Redis is not reachable at 127\.0\.0\.1:{port}"):
        check_redis("127.0.0.1", port)


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _table(tis: list[dict]) -> str:
    return "\n".join(f"  {ti['task_id']}[{ti['map_index']}] {ti['state']} on {ti['hostname']} try {ti['try_number']}"
                     for ti in sorted(tis, key=lambda t: (t["task_id"], t["map_index"])))


@pytest.mark.skipif(os.environ.get("OCI_DISTRIBUTED") != "1",
                    reason="the distributed stack runs with `make test-distributed` (OCI_DISTRIBUTED=1)")
@pytest.mark.timeout(RUN_TIMEOUT + 600)  # start, a run of at most RUN_TIMEOUT, stop
def test_nightly_backup_on_celery_workers_with_deferred_waits_through_the_rest_api(stack):
    api, phases, tenancy = stack.api, stack.phases, stack.tenancy
    with phases(f"dag-processor parsed {DAG_ID}"):
        dag = stack.wait(f"{DAG_ID} parsed by the dag-processor", lambda: api.get(f"/dags/{DAG_ID}"), 300)
        assert dag["is_paused"] is True  # new DAGs start paused; this test unpauses it

    with phases("unpause and trigger through the REST API"):
        assert api.patch(f"/dags/{DAG_ID}", {"is_paused": False})["is_paused"] is False
        conf = {"compartment_ids": tenancy["compartments"]["prod"], "verification_level": "script",
                "verifier_instance_id": tenancy["instances"]["verifier"]}
        run_id = api.post(f"/dags/{DAG_ID}/dagRuns", {"logical_date": None, "conf": conf})["dag_run_id"]
    base = f"/dags/{DAG_ID}/dagRuns/{_q(run_id)}"

    seen_deferred: set[tuple[str, int]] = set()

    def finished():
        for ti in api.get(f"{base}/taskInstances", limit=200)["task_instances"]:
            if ti["state"] == "deferred":
                seen_deferred.add((ti["task_id"], ti["map_index"]))
        state = api.get(base)["state"]
        return state if state in ("success", "failed") else None

    print(f"[distributed] run {run_id}", flush=True)
    with phases("nightly backup run (six volumes, script verification)"):
        state = stack.wait(f"run {run_id}", finished, RUN_TIMEOUT, every=1.0)
    tis = api.get(f"{base}/taskInstances", limit=200)["task_instances"]
    print(f"[distributed] task instances:\n{_table(tis)}\n[distributed] seen deferred while polling: "
          f"{len(seen_deferred)} task instances", flush=True)

    with phases("assertions (REST API and ocisim)"):
        assert state == "success", f"run {run_id} ended {state}:\n{_table(tis)}"
        by_task: dict[str, list[dict]] = {}
        for ti in tis:
            by_task.setdefault(ti["task_id"], []).append(ti)
        assert len(by_task["protect_volume.backup_volume"]) == 6, _table(tis)
        assert {ti["state"] for ti in tis} <= {"success", "skipped"}, _table(tis)

        # CeleryExecutor, two workers: every task instance that ran names its worker, and both took a share
        ran = [ti for ti in tis if ti["state"] == "success"]
        hosts = {ti["hostname"] for ti in ran}
        assert hosts == WORKERS, f"task instances ran on {hosts}, expected both of {WORKERS}:\n{_table(tis)}"

        # backup (and restore) waits were deferred: the task paused as DEFERRED, and the triggerer process (its
        # own log file of the try, served back through the REST API) ran the trigger to its event
        triggerers = api.get("/jobs", job_type="TriggererJob")["jobs"]
        assert [j["hostname"] for j in triggerers] == ["triggerer"], triggerers
        for task in ("protect_volume.backup_volume", "protect_volume.restore_for_test"):
            for ti in by_task[task]:
                log = api.get(f"{base}/taskInstances/{task}/logs/{ti['try_number']}", map_index=ti["map_index"],
                              full_content="true")["content"]
                events = [e.get("event", "") for e in log]
                where = f"{task}[{ti['map_index']}]"
                assert "Pausing task as DEFERRED. " in events, f"{where} never deferred: {events}"
                assert any(".log.trigger." in e for e in events), f"{where}: no triggerer log in {events[:5]}"
                fired = [e["result"] for e in log if e.get("event") == "Trigger fired event"]
                if not fired:
                    # the per-try trigger file can miss its last lines when the trigger ends at once (seen: 1 of
                    # 12 files); the triggerer's own log has every event, named by dag/run/task/map index/try
                    name = f"{DAG_ID}/{run_id}/{task}/{ti['map_index']}/{ti['try_number']} "
                    fired = [line for line in (stack.logs / "triggerer.log").read_text().splitlines()
                             if "Trigger fired event" in line and name in line]
                assert fired and "'status': 'success'" in fired[0], f"{where}: {fired or events}"

        # each worker imported the SDK and the operators once, before its pool forked (plugins/celery_config.py)
        for worker in ("worker-1", "worker-2"):
            assert "preloaded" in (stack.logs / f"{worker}.log").read_text(), worker

        # the report, read back through the REST API: six volumes backed up and verified
        report = api.get(f"{base}/taskInstances/report/xcomEntries/return_value")["value"]
        assert report["totals"] == {"volumes": 6, "backed_up": 6, "verified": 6, "failed": 0, "pruned": 0}, report

        # ocisim: a verified backup of each tagged volume, made by this DAG; nothing temporary left behind
        admin = stack.admin()
        tagged = {tenancy["volumes"][name] for name in BLOCK} | {tenancy["boot_volumes"][name] for name in BOOT}
        backups = [b for kind in ("volumebackup", "bootvolumebackup") for b in admin.resources(kind)
                   if (b.get("freeform_tags") or {}).get("airflow-dag") == DAG_ID]
        assert {b.get("volume_id") or b.get("boot_volume_id") for b in backups} == tagged
        assert len(backups) == 6
        assert all(b["lifecycle_state"] == "AVAILABLE" for b in backups)
        assert all(b["freeform_tags"].get("verified-level") == "script" for b in backups), backups
        for kind in ("volume", "bootvolume"):
            left = [v["display_name"] for v in admin.resources(kind)
                    if (v.get("freeform_tags") or {}).get("airflow-temporary") and v["lifecycle_state"] != "TERMINATED"]
            assert left == [], f"temporary {kind}s left in ocisim: {left}"
        verifier = tenancy["instances"]["verifier"]
        attached = [a["id"] for a in admin.resources("volumeattachment")
                    if a["instance_id"] == verifier and a["lifecycle_state"] in ("ATTACHING", "ATTACHED")]
        assert attached == [], f"attachments left on the verifier: {attached}"
        commands = admin.resources("agentcommand")
        assert len(commands) >= 6 and all("e2fsck -fn" in c["content"]["source"]["text"] for c in commands)
