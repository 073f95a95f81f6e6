"""Plan mode against `make up`'s tenancy (issue 21): a plan run of each of the five DAGs, triggered through the REST
API with `plan_only: true` once the walk-through's runs have ended, makes 0 mutating calls (ocisim's request
counters, read before the runs start and after they end), succeeds, and its note lists what the run would do with
the OCI call of each step. The runs go in parallel; between the two tests below only reads run (the browser
reading the UI and the Protection page; tests/browser/conftest.py orders them), so every mutating call the
counters show would be a plan run's."""

from __future__ import annotations

import os
import re

import pytest

from ocisim.api import ROUTES
from tests.browser.test_ui import Walk

pytestmark = pytest.mark.skipif(os.environ.get("OCI_BROWSER") != "1",
                                reason="the browser test runs with `make test-browser` (OCI_BROWSER=1)")

# every OCI operation ocisim serves that changes something: all but its GETs and HEADs
MUTATING = frozenset(route.operation for route in ROUTES if route.method not in ("GET", "HEAD"))


def plans(walk: Walk) -> dict[str, tuple[dict, list[str]]]:
    """Per DAG: the run's configuration, and the lines its note must hold (a Markdown row per thing it would do:
    what, the OCI call, on what)."""
    t = walk.tenancy
    return {
        # the nightly as configured by its Variable: per volume its backup and the call, the DR copy of the gold one
        "oci_nightly_backup": ({}, [
            r"\| (FULL|INCREMENTAL) backup of db-data \| CreateVolumeBackup \| \S",
            r"\| (FULL|INCREMENTAL) backup of app-data \| CreateVolumeBackup \| \S",
            r"\| (FULL|INCREMENTAL) backup of app1 \(Boot Volume\) \| CreateBootVolumeBackup \| \S",
            r"\| DR copy of db-data \| CopyVolumeBackup \| us-phoenix-1 \|"]),
        "oci_restore": ({"volume_id": t["volumes"]["db-data"]}, [r"\| restore_volume \| CreateVolume \| \S"]),
        "oci_emergency_clone": ({"instance_id": t["instances"]["app1"], "launch_instance": True,
                                 "hostname": "app1-plan"},
                                [r"\| launch app1-plan \| LaunchInstance \|",
                                 r"\| clone_volume\[0\] \| CreateVolume \|"]),
        "oci_golden_image": ({"instance_id": t["instances"]["win1"], "image_name": "win1-golden-plan"},
                             [r"\| create_golden_image \| CreateImage \| \S"]),
        # the disk image the walk-through's migration form imported
        "oci_vmdk_migration": ({"namespace": t["namespace"], "bucket": "images",
                                "object_name": "disks/legacy-erp.vmdk"}, [r"\| import_image \| CreateImage \| \S"]),
    }


def test_a_plan_run_of_each_dag_is_triggered(stack, walk):
    """After the walk-through's runs have ended: the counters, then the five plan runs at once."""
    stack.shared["counters before the plans"] = walk.sim.counters()
    for dag_id, (conf, _) in plans(walk).items():
        run = walk.api.call("POST", f"/api/v2/dags/{dag_id}/dagRuns",
                            {"logical_date": None, "conf": {**conf, "plan_only": True}})
        stack.runs[f"plan {dag_id}"] = run["dag_run_id"]
    stack.clock.lap("plan runs of the five DAGs triggered (REST)")


def test_the_plan_runs_made_no_mutating_call_and_their_notes_say_what_would_happen(stack, walk):
    expected = plans(walk)
    ended = walk.wait_all({dag_id: stack.runs[f"plan {dag_id}"] for dag_id in expected}, 300)
    after, before = walk.sim.counters(), stack.shared["counters before the plans"]
    made = {op: n - before.get(op, 0) for op, n in after.items() if op in MUTATING and n > before.get(op, 0)}
    assert made == {}, f"mutating calls while only plan runs and reads ran: {made}"
    reads = sum(n - before.get(op, 0) for op, n in after.items() if op not in MUTATING)
    assert reads > 0, "the plan runs read OCI (references, permissions, the backup plan)"
    for dag_id, (_, rows) in expected.items():
        run = ended[dag_id]
        assert run["state"] == "success", f"{dag_id} plan run {run['dag_run_id']}: {run['state']}"
        note = run["note"] or ""
        assert re.match(r"\*\*OCI .+: PLAN ONLY, nothing changed\*\*\n", note), f"{dag_id}: {note!r}"
        for row in rows:
            assert re.search(rf"^{row}", note, re.M), f"{dag_id}: no row {row!r} in its note:\n{note}"
    print(f"[browser] plan runs: 0 mutating calls, {reads} reads; the nightly's note:\n"
          f"{ended['oci_nightly_backup']['note']}", flush=True)
    stack.clock.lap(f"plan runs of the five DAGs: 0 mutating calls ({reads} reads), notes say what would happen")
