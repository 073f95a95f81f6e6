"""The permission preflight of the nightly backup: a permission taken away in ocisim (a per-user denial, answered
404 NotAuthorizedOrNotFound as OCI answers) fails the run in plan_backups, before its first backup, naming the
operation, the resource and the statement of include/iam/policy.txt that grants it. Real Airflow, SDK, ocisim."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.airflow_helpers import run_dag

DAG_ID = "oci_nightly_backup"
POLICIES = {"default": {"full_interval_days": 7, "retention_days": 7.5, "verify": "all"}}
MUTATING = ("Create", "Update", "Delete", "Attach", "Detach", "Copy", "Launch", "Terminate")
POLICY_TXT = (Path(__file__).resolve().parents[2] / "include" / "iam" / "policy.txt").read_text()


def _statement(granted: str) -> str:
    return next(line for line in POLICY_TXT.splitlines() if line.startswith(f"Allow <airflow> to {granted} in "))


@pytest.mark.parametrize("verb, family, level, operation, granted", [
    ("read", "volume-family", "api", "GetVolume of ocid1.volume.", "manage volume-family"),
    ("inspect", "instance-agent-command-family", "script", "ListInstanceAgentCommands of the compartment of",
     "manage instance-agent-command-family"),
])
def test_a_permission_taken_away_fails_the_nightly_before_its_first_backup(estate, capfd, verb, family, level,
                                                                           operation, granted):
    sim = estate
    t = sim.tenancy
    sim.admin.deny(t["user_id"], verb, family)
    sim.admin.reset_counters()
    capfd.readouterr()
    state, tasks = run_dag(DAG_ID, {"compartment_ids": t["compartments"]["prod"], "verification_level": level,
                                    "verifier_instance_id": t["instances"]["verifier"], "policies": POLICIES})
    assert state == "failed" and tasks["plan_backups"] == "failed", tasks
    assert tasks["discover_volumes"] == "success", tasks  # listing (inspect) still works
    assert not any(t.startswith("protect_volume.") and s == "success" for t, s in tasks.items()), tasks
    assert {op: n for op, n in sim.admin.counters().items() if op.startswith(MUTATING)} == {}
    log = capfd.readouterr().out
    line = next((x for x in log.splitlines() if "permission: OCI answered 404 NotAuthorizedOrNotFound" in x), "")
    assert operation in line, log[-3000:]
    assert f"lacks '{'read volume-family' if family == 'volume-family' else 'inspect ' + family}'" in line
    assert line.endswith(f"include/iam/policy.txt grants it with: {_statement(granted)}"), line


def test_golden_image_without_work_requests_fails_in_validation_naming_the_statement(estate, capfd):
    """The golden image proves its reads in validate_request: a fleet needs work requests (why OCI failed a launch)
    and with that permission taken away the run stops before imaging, naming the statement."""
    sim = estate
    t = sim.tenancy
    sim.admin.deny(t["user_id"], "inspect", "work-requests")
    sim.admin.reset_counters()
    capfd.readouterr()
    state, tasks = run_dag("oci_golden_image", {
        "instance_id": t["instances"]["verifier"], "fleet_count": 1, "subnet_id": t["subnets"]["app"],
        "availability_domain": t["availability_domains"][0]})
    assert state == "failed" and tasks["validate_request"] == "failed", tasks
    assert {op: n for op, n in sim.admin.counters().items() if op.startswith(MUTATING)} == {}
    counters = sim.admin.counters()
    assert counters["ListImages"] == 1 and counters["ListVolumeAttachments"] >= 1  # proved before the refusal
    line = next((x for x in capfd.readouterr().out.splitlines() if "NotAuthorizedOrNotFound" in x), "")
    assert "to ListWorkRequests of compartment ocid1.compartment." in line, line
    assert line.endswith(f"grants it with: {_statement('inspect work-requests')}"), line
