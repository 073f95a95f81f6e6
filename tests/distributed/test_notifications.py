"""Notifications on the distributed stack (issue 19): the scheduler queues the nightly's RPO deadline to the
triggerer, which mails "RPO at risk" for a run slowed by ocisim's latency fault and not for a fast one; the
hourly watchdog, run by Celery workers, mails once when the nightly is paused and ocisim's clock passes the RPO
target, not again the next hour, and once when it clears. A real SMTP server (aiosmtpd) on loopback receives
the mails. Run with `make test-distributed` (OCI_DISTRIBUTED=1)."""

from __future__ import annotations

import json
import os
import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest

from tests.distributed.run_stack import Stack
from tests.distributed.seeds import six_volume_estate
from tests.mailbox import smtp_server

NIGHTLY, WATCHDOG = "oci_nightly_backup", "oci_freshness_watchdog"
DEADLINE_HOURS = 0.1  # 360 s after the logical date
RUN_TIMEOUT = 900


def _q(run_id: str) -> str:
    return urllib.parse.quote(run_id, safe="")


@pytest.mark.skipif(os.environ.get("OCI_DISTRIBUTED") != "1",
                    reason="the distributed stack runs with `make test-distributed` (OCI_DISTRIBUTED=1)")
def test_deadline_mails_only_the_slow_run_and_the_watchdog_mails_a_breach_once_and_its_clearing_once(tmp_path):
    with smtp_server() as box:
        stack = Stack(tmp_path, six_volume_estate(), extra_env={
            "AIRFLOW_CONN_SMTP_DEFAULT": box.connection_json(), "OCI_RPO_DEADLINE_HOURS": str(DEADLINE_HOURS),
            "OCI_RPO_DEADLINE": "1"})  # tests/conftest.py turns it off for dag.test(); the stack has it on
        try:
            stack.start()
            _scenario(stack, box)
        except BaseException:
            print(f"\nlogs of the stack under {stack.logs}:\n{stack.tails()}", flush=True)
            raise
        finally:
            stack.stop()
            print(stack.phases.summary(), flush=True)


def _scenario(stack, box) -> None:
    api, tenancy, sim = stack.api, stack.tenancy, stack.admin()
    conf = {"compartment_ids": tenancy["compartments"]["prod"], "verification_level": "api",
            "verifier_instance_id": tenancy["instances"]["verifier"], "notify_to": ["ops@example.com"]}
    api.post("/variables", {"key": NIGHTLY, "value": json.dumps(conf)})
    for dag_id in (NIGHTLY, WATCHDOG):
        stack.wait(f"{dag_id} parsed", lambda d=dag_id: api.get(f"/dags/{d}"), 300)
        api.patch(f"/dags/{dag_id}", {"is_paused": False})

    def run(dag_id: str, logical_date: str | None = None) -> tuple[str, str]:
        run_id = api.post(f"/dags/{dag_id}/dagRuns", {"logical_date": logical_date, "conf": {}})["dag_run_id"]

        def finished():
            state = api.get(f"/dags/{dag_id}/dagRuns/{_q(run_id)}")["state"]
            return state if state in ("success", "failed") else None
        return run_id, stack.wait(f"{dag_id} {run_id}", finished, RUN_TIMEOUT)

    def subjects(word: str) -> list[str]:
        return [m.subject for m in box.mails if word in m.subject]

    now = lambda: datetime.now(UTC).isoformat()  # noqa: E731
    with stack.phases("fast nightly (logical date now, deadline 360 s later)"):
        fast, state = run(NIGHTLY, now())
        assert state == "success"
    # the slow run: each backup and each test restore answers 40 s late, and its logical date is 330 s ago, so
    # its deadline passes 30 s after it starts, while the faults still hold it
    with stack.phases("slow nightly: backups and restores answer 40 s late"):
        sim.fault("CreateVolumeBackup", "latency", count=6, latency_seconds=40)
        sim.fault("CreateVolume", "latency", count=6, latency_seconds=40)
        past = (datetime.now(UTC) - timedelta(seconds=330)).isoformat()
        slow_id = api.post(f"/dags/{NIGHTLY}/dagRuns", {"logical_date": past, "conf": {}})["dag_run_id"]
        stack.wait("the RPO-at-risk mail", lambda: subjects("RPO at risk"), 600)
        assert api.get(f"/dags/{NIGHTLY}/dagRuns/{_q(slow_id)}")["state"] == "running"  # mailed while running
        stack.wait(f"{slow_id}", lambda: api.get(f"/dags/{NIGHTLY}/dagRuns/{_q(slow_id)}")["state"]
                   in ("success", "failed"), RUN_TIMEOUT)
    assert subjects("RPO at risk") == [f"[OCI] {NIGHTLY} RPO at risk: {slow_id} still running"], subjects("")
    assert not any(fast in m.part("plain") for m in box.mails)
    [risk] = [m for m in box.mails if "RPO at risk" in m.subject]
    assert risk.recipients == ["ops@example.com"] and f"/dags/{NIGHTLY}/runs/{_q(slow_id)}" in risk.part("plain")

    with stack.phases("watchdog: fresh, then the nightly paused and OCI's clock 8 days on"):
        assert run(WATCHDOG)[1] == "success"
        assert subjects("RPO breached") == []
        api.patch(f"/dags/{NIGHTLY}", {"is_paused": True})
        sim.advance(8 * 86400)
        assert run(WATCHDOG)[1] == "success"
        assert run(WATCHDOG)[1] == "success"
    breached = subjects("RPO breached")
    assert breached == ["[OCI] RPO breached: 6 volume(s)"], subjects("")
    with stack.phases("nightly again (manual, no logical date: no deadline), then the watchdog"):
        api.patch(f"/dags/{NIGHTLY}", {"is_paused": False})
        assert run(NIGHTLY)[1] == "success"
        assert run(WATCHDOG)[1] == "success"
        assert run(WATCHDOG)[1] == "success"
    assert subjects("RPO cleared") == ["[OCI] RPO cleared: 6 volume(s)"], subjects("")
    assert len(subjects("RPO at risk")) == 1 and len(subjects("RPO breached")) == 1
