"""A nightly run killed at a chosen OCI call, then run again (issue 16): the same run re-run (dag.test with the
same logical date and run id: the killed run and its XComs are replaced by one of the same id) or a new run. The
process running dag.test() gets SIGKILL from inside ocisim as the chosen request arrives (the nth request of an
operation, or the first request once a group test restore was asked for): ocisim still carries the request out,
so what it made is there and the run never saw it. Then ocisim's records are counted: one backup per volume and
one group backup per night (a new run makes its own only where the killed run had proven its backup), one DR copy
of each, every backup proven, no test volume in a production volume group, nothing temporary left.
Real Airflow (dag.test in a subprocess, then in this process), the real SDK, ocisim; no mocks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ocisim.testing import ocisim_running
from tests.airflow_helpers import load_dag, task_states, xcom
from tests.conftest import oci_connection_json
from tests.dags.seeds import grouped_estate

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "oci_nightly_backup"
DR = "us-phoenix-1"
POLICIES = {"default": {"full_interval_days": 7, "retention_days": 7.5, "verify": "all", "dr_region": DR}}
LIVE = ("TERMINATING", "TERMINATED")
RUN = """
import json, sys
from datetime import datetime
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from tests.airflow_helpers import load_dag
when = datetime.fromisoformat(sys.argv[4])
run = load_dag(sys.argv[3]).test(logical_date=when, run_after=when, run_conf=json.loads(sys.argv[5]))
print("RUN-ENDED", run.state)
"""


@pytest.fixture
def grouped(tmp_path, airflow_db, monkeypatch):
    with ocisim_running(tmp_path / "grouped", time_scale=600.0, seed=grouped_estate()) as handle:
        monkeypatch.setenv("AIRFLOW_CONN_OCI_DEFAULT", oci_connection_json(handle))
        yield handle


def _conf(sim) -> dict:
    return {"compartment_ids": sim.tenancy["compartments"]["prod"], "verification_level": "api",
            "policies": POLICIES}


def nth(operation: str, n: int):
    """Kill as the `n`th request of `operation` arrives (ocisim still carries it out)."""
    return lambda sim, op: op == operation and sim.faults.counters[op] == n


def group_restore_asked(sim, op) -> bool:
    """Kill at the first request after a group test restore was asked for: its volumes exist, still being made."""
    return any((g.get("freeform_tags") or {}).get("airflow-temporary") for g in sim.store.list("volumegroup"))


def run_killed(sim, logical_date: datetime, when) -> None:
    """dag.test() in a subprocess, SIGKILLed (its whole process group) at the first request for which `when(sim,
    operation)` holds, counted as it reaches ocisim."""
    faults = sim.sim.faults
    count = faults.count
    proc: subprocess.Popen | None = None
    fired: list[str] = []

    def counting(op: str) -> None:
        count(op)
        if proc is not None and not fired and when(sim.sim, op):
            fired.append(op)
            os.killpg(proc.pid, signal.SIGKILL)

    faults.count = counting
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", RUN, str(ROOT / "plugins"), str(ROOT), DAG_ID, logical_date.isoformat(),
             json.dumps(_conf(sim))], env=os.environ.copy(), start_new_session=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out, _ = proc.communicate(timeout=300)
    finally:
        faults.count = count
    assert fired, f"the run ended before the kill point: {out[-3000:]}"
    assert proc.returncode == -signal.SIGKILL


def run_again(logical_date: datetime, sim) -> tuple[str, dict, str]:
    """The same run again (the same logical date and run id: dag.test() replaces the killed run, its XComs gone, by
    one of the same id) or a new one, in this process."""
    run = load_dag(DAG_ID).test(logical_date=logical_date, run_after=logical_date, run_conf=_conf(sim))
    return str(run.state), task_states(DAG_ID, run.run_id), run.run_id


def _ours(resource: dict) -> bool:
    tags = resource.get("freeform_tags") or {}
    return tags.get("airflow-dag") == DAG_ID and not tags.get("airflow-temporary")


def census(sim) -> dict:
    """What the nights made, counted in ocisim: backups per source volume (home region, live), group backups,
    DR copies of each, the production volume groups' members, and the temporaries still there."""
    vols = sim.tenancy["volumes"]
    home = sim.home_region
    backups = [b for b in sim.admin.resources("volumebackup") if b["lifecycle_state"] not in LIVE]
    groups = [g for g in sim.admin.resources("volumegroupbackup") if g["lifecycle_state"] not in LIVE]
    mine = [b for b in backups if b["_region"] == home and _ours(b)]
    names = {v: k for k, v in vols.items()}
    per_volume = {name: sum(1 for b in mine if b["volume_id"] == vid) for name, vid in vols.items()}
    copies = [b for b in backups if b["_region"] == DR]
    app_backups = {b["id"] for b in mine if b["volume_id"] == vols["app-data"]}
    production = {g["display_name"]: sorted(names.get(v, v) for v in g["volume_ids"])
                  for g in sim.admin.resources("volumegroup")
                  if g["lifecycle_state"] not in LIVE and not (g["freeform_tags"] or {}).get("airflow-temporary")}
    temporaries = [r["display_name"] for kind in ("volume", "volumegroup") for r in sim.admin.resources(kind)
                   if r["lifecycle_state"] not in LIVE and ((r["freeform_tags"] or {}).get("airflow-temporary")
                                                            or (kind == "volume" and r["id"] not in names))]
    return {"backups": per_volume,
            "group_backups": sum(1 for g in groups if g["_region"] == home and _ours(g)),
            "app_copies": sum(1 for c in copies if c.get("source_volume_backup_id") in app_backups),
            "group_copies": sum(1 for g in groups if g["_region"] == DR),
            "production_groups": production, "temporaries": temporaries}


ONE_NIGHT = {"backups": {"db-data": 1, "db-log": 1, "app-data": 1}, "group_backups": 1, "app_copies": 1,
             "group_copies": 1, "production_groups": {"db": ["db-data", "db-log"]}, "temporaries": []}

# (when the killed run dies, the run after it: the same run again or a new one)
KILLS = {
    "backup requested, same run again": (nth("CreateVolumeBackup", 1), "same"),
    "group backup requested, same run again": (nth("CreateVolumeGroupBackup", 1), "same"),
    "group test restore under way, same run again": (group_restore_asked, "same"),
    "group test restore under way, a new run": (group_restore_asked, "new"),
    "DR copy requested, same run again": (nth("CopyVolumeBackup", 1), "same"),
    "backup made, a new run": (nth("GetVolumeBackup", 1), "new"),
}


def verified_sources(sim) -> dict[str, int]:
    """Per volume (and `group`), 1 when the killed run had proven its backup: a new run then makes its own."""
    names = {v: k for k, v in sim.tenancy["volumes"].items()}
    done = {k: 0 for k in [*names.values(), "group"]}
    for b in sim.admin.resources("volumebackup") + sim.admin.resources("volumegroupbackup"):
        if _ours(b) and b["_region"] == sim.home_region and (b["freeform_tags"] or {}).get("verified-at") \
                and not b.get("volume_group_backup_id"):
            done[names.get(b.get("volume_id"), "group")] = 1
    return done


@pytest.mark.parametrize("case", list(KILLS))
def test_a_killed_night_run_again_makes_nothing_twice(grouped, case):
    sim = grouped
    when, again = KILLS[case]
    first = datetime(2026, 12, 1, 2, tzinfo=UTC)
    run_killed(sim, first, when)
    if when is group_restore_asked:  # temporary from its first moment: the create request carried the marker
        [group] = [g for g in sim.admin.resources("volumegroup") if g["freeform_tags"].get("airflow-temporary")]
        restored = [v for v in sim.admin.resources("volume") if v["id"] in group["volume_ids"]]
        assert len(restored) == 2
        assert all(v["freeform_tags"].get("airflow-temporary") == "true" and "backup-policy" not in
                   v["freeform_tags"] and "backup-group" not in v["freeform_tags"] for v in restored), restored
    proven = verified_sources(sim)
    sim.admin.advance(1800)  # half an hour later someone runs it again
    state, tasks, run_id = run_again(first if again == "same" else first + timedelta(hours=1), sim)
    assert state == "success", tasks
    expected = ONE_NIGHT
    if again == "new":  # an unverified backup is adopted; one the killed run proved is tonight's only if made now
        made = {v: 1 + proven[v] for v in ONE_NIGHT["backups"]}
        expected = {**ONE_NIGHT, "backups": made, "app_copies": made["app-data"],
                    "group_backups": 1 + proven["group"], "group_copies": 1 + proven["group"]}
    assert census(sim) == expected
    unproven = [b["id"] for b in sim.admin.resources("volumebackup") + sim.admin.resources("volumegroupbackup")
                if _ours(b) and b["_region"] == sim.home_region and b["lifecycle_state"] not in LIVE
                and not (b["freeform_tags"] or {}).get("verified-at")]
    assert unproven == []  # every backup either night made is proven: none left behind as a duplicate
    report = xcom(DAG_ID, run_id, "report")
    assert report["totals"]["failed"] == 0 and report["totals"]["verified"] == 1 and report["duplicates"] == []
    [group] = report["groups"]
    assert group["status"] == "verified" and not group["dr_copy"]["failed"]
    if again == "new" and not all(proven.values()):  # what the killed run left unproven was adopted, not remade
        killed = f"manual__{first.isoformat()}"
        assert killed in {r["adopted_run"] for r in report["volumes"] + report["groups"]}
