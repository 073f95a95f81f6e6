"""The DAG folder as the scheduler sees it: every file imports, every DAG is documented and safe to operate, and
parsing never imports the OCI SDK or calls an API (the DAG processor parses every file every few minutes)."""

from __future__ import annotations

import ast
import inspect
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
DAG_FILES = sorted(p for p in DAGS.glob("*.py") if not p.name.startswith("_"))
# A connection whose endpoint is a closed port: anything that tried to reach OCI at parse time would fail or hang.
CLOSED_PORT_CONNECTION = json.dumps({"conn_type": "oci", "extra": {
    "auth": "api_key", "tenancy": "ocid1.tenancy.oc1..aaaaaaaaclosedport", "user": "ocid1.user.oc1..aaaaaaaaclosed",
    "fingerprint": "00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00", "key_content": "not a key",
    "region": "us-ashburn-1", "service_endpoint": "http://127.0.0.1:9"}})


def _dagbag():
    from airflow.dag_processing.dagbag import DagBag

    kwargs = {"dag_folder": str(DAGS)}
    if "include_examples" in inspect.signature(DagBag).parameters:  # Airflow 2; Airflow 3 reads load_examples
        kwargs["include_examples"] = False
    return DagBag(**kwargs)


def test_dag_files_exist():
    assert {p.stem for p in DAG_FILES} >= {"oci_nightly_backup", "oci_emergency_clone", "oci_restore"}


def test_dag_folder_imports_cleanly_and_calls_no_api_while_parsing(airflow_oci):
    sim = airflow_oci  # oci_default points at this ocisim: any parse-time call would show in its counters
    sim.admin.reset_counters()
    bag = _dagbag()
    assert bag.import_errors == {}
    assert sim.admin.counters() == {}, "a DAG file called the OCI API at parse time"
    from airflow.serialization.serialized_objects import DagSerialization

    files = {Path(dag.fileloc).stem for dag in bag.dags.values()}
    assert files == {p.stem for p in DAG_FILES}, "every DAG file defines at least one DAG"
    for dag_id, dag in bag.dags.items():
        assert dag.doc_md and len(dag.doc_md.strip()) > 200, f"{dag_id}: doc_md a user can read in the UI"
        assert dag.tags, f"{dag_id}: tags"
        args = dag.default_args
        assert args.get("owner") and args["owner"] != "airflow", f"{dag_id}: an owner in default_args"
        assert isinstance(args.get("retries"), int), f"{dag_id}: retries in default_args"
        assert isinstance(args.get("execution_timeout"), timedelta), f"{dag_id}: execution_timeout in default_args"
        for task in dag.tasks:
            assert task.execution_timeout is not None, f"{dag_id}.{task.task_id}: no execution_timeout"
        # what the DAG processor stores and the scheduler reads back
        assert set(DagSerialization.from_dict(DagSerialization.to_dict(dag)).task_dict) == set(dag.task_dict)


def _module_level_imports(tree: ast.AST) -> list[str]:
    """Modules imported outside any function or class body (what runs when the file is parsed)."""
    found = []

    def visit(node, deferred: bool):
        if isinstance(node, ast.Import) and not deferred:
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not deferred:
            found.append(node.module or "")
        for child in ast.iter_child_nodes(node):
            visit(child, deferred or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda |
                                                      ast.ClassDef))

    visit(tree, False)
    return found


@pytest.mark.parametrize("path", DAG_FILES, ids=[p.stem for p in DAG_FILES])
def test_dag_file_does_not_import_oci_at_module_level(path):
    imports = _module_level_imports(ast.parse(path.read_text(), str(path)))
    offending = [m for m in imports if m == "oci" or m.startswith("oci.")]
    assert offending == [], f"{path.name} imports {offending} at parse time; import the SDK inside tasks"


PARSE_SCRIPT = r"""
import importlib.util, json, socket, sys, time

def no_network(self, address, *args):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        raise OSError(f"network access at parse time: {address}")
    return real_connect(self, address, *args)

real_connect = socket.socket.connect
socket.socket.connect = no_network
sys.path[:0] = [sys.argv[2], sys.argv[3]]
started = time.perf_counter()
spec = importlib.util.spec_from_file_location("dag_under_test", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
from airflow.sdk import DAG
print(json.dumps({"seconds": time.perf_counter() - started, "oci_loaded": "oci" in sys.modules,
                  "oci_modules": sorted(m for m in sys.modules if m == "oci" or m.startswith("oci."))[:5],
                  "dags": sorted(v.dag_id for v in vars(module).values() if isinstance(v, DAG))}))
"""


def test_each_dag_file_parses_alone_without_the_sdk_or_network(capsys):
    """Each file in a fresh interpreter, sockets blocked and the connection on a closed port: it parses, defines
    its DAGs, and `oci` is not in sys.modules afterwards. Parse times are printed, not asserted."""
    env = {**os.environ, "AIRFLOW_CONN_OCI_DEFAULT": CLOSED_PORT_CONNECTION,
           "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)])}
    times = []
    for path in DAG_FILES:
        proc = subprocess.run([sys.executable, "-c", PARSE_SCRIPT, str(path), str(ROOT / "plugins"), str(ROOT)],
                              capture_output=True, text=True, env=env, timeout=180)
        assert proc.returncode == 0, f"{path.name} failed to parse:\n{proc.stderr[-3000:]}"
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        assert result["dags"], f"{path.name} defines no DAG"
        assert not result["oci_loaded"], f"{path.name} loads the OCI SDK at parse time: {result['oci_modules']}"
        times.append(f"{path.name}: {result['seconds']:.2f} s ({', '.join(result['dags'])})")
    with capsys.disabled():
        print("\nDAG file parse times (fresh interpreter, includes importing Airflow):\n  " + "\n  ".join(times))


@pytest.mark.parametrize("path", DAG_FILES, ids=[p.stem for p in DAG_FILES])
def test_dag_file_reads_no_configuration_itself(path):
    """A DAG file reads no environment variable and no Airflow Variable: what a run works on is resolved at run
    time (Params defaults < Variable < conf), and the deployment settings it may read at parse time are the
    config module's (plugins/common/config.py)."""
    tree = ast.parse(path.read_text(), str(path))
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert not {"environ", "getenv", "Variable"} & names, f"{path.name} reads configuration itself"
    assert "os" not in _module_level_imports(tree)


def test_nightly_params_ignore_the_old_environment_and_deployment_settings_apply(monkeypatch):
    """OCI_BACKUP_COMPARTMENTS and the like configure nothing any more (the Variable does); the schedule and
    max_active_tasks are deployment settings, read when the file is parsed."""
    from common.config import NIGHTLY_DEFAULTS

    from tests.airflow_helpers import load_dag

    for name, value in (("OCI_BACKUP_COMPARTMENTS", "ocid1.compartment.oc1..old"), ("OCI_BACKUP_LEVEL", "api"),
                        ("OCI_BACKUP_TAG_KEY", "old"), ("OCI_BACKUP_SCHEDULE", "5 4 * * *"),
                        ("OCI_BACKUP_MAX_ACTIVE_TASKS", "7")):
        monkeypatch.setenv(name, value)
    dag = load_dag("oci_nightly_backup", DAGS)
    assert {name: dag.params.get_param(name).value for name in dag.params} == NIGHTLY_DEFAULTS
    assert dag.max_active_tasks == 7 and dag.timetable.expression == "5 4 * * *"
