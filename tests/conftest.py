"""Shared fixtures: ocisim on free ports with the real SDK in front of it, and a real Airflow (its own home and
SQLite metadata database per test session) whose `oci_default` connection points at that ocisim."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Airflow reads its configuration at import: set it before anything imports airflow.
_HOME = Path(tempfile.mkdtemp(prefix="airflow-test-home-"))
os.environ.update({
    "AIRFLOW_HOME": str(_HOME),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    # DAG files read this at parse time: waits on ocisim (time x600) need no 10-second polls
    "OCI_POLL_INTERVAL": "0.5",
    # dag.test() runs triggers inline, so the race the trigger's minimum event age avoids cannot happen here
    "OCI_TRIGGER_MIN_EVENT_AGE": "0",
    # ... and cannot end a task from the trigger (dag.test() resumes it whatever the event): resume as before
    "OCI_TRIGGER_END_TASK": "0",
    # dag.test() has no scheduler to time an approval out: the in-place tests run with the gate off, and the
    # approval's own tests (tests/dags/test_approval_gates.py) switch it on and answer through the REST API
    "OCI_APPROVAL_IN_PLACE": "0",
    # Airflow 3.3.2's dag.test() fails a successful run of a DAG with a DeadlineAlert (it looks the alerts up by
    # id in a DAG it serialised in place, where they are still dicts): the nightly's RPO deadline is off here
    "OCI_RPO_DEADLINE": "0",
    # uploads are off unless configured: tests upload files they wrote under the temporary directory
    "OCI_UPLOAD_ROOTS": os.path.realpath(tempfile.gettempdir()),
    "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps([
        {"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
         "kwargs": {"path": str(ROOT / "dags")}},
        {"name": "test-dags", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
         "kwargs": {"path": str(ROOT / "tests" / "operators" / "dags")}},
    ]),
})
for path in (str(ROOT / "plugins"), str(ROOT)):
    if path not in sys.path:
        sys.path.insert(0, path)

from ocisim.testing import ocisim_running  # noqa: E402

# DAG files the operator tests run (a bundle of their own), not test modules
collect_ignore_glob = ["operators/dags/*"]


@pytest.fixture
def ocisim(tmp_path):
    """A fresh ocisim with the default seeded tenancy, time scaled 600x (a 10-minute operation takes 1 s)."""
    with ocisim_running(tmp_path / "ocisim", time_scale=600.0) as handle:
        yield handle


@pytest.fixture
def ocisim_guest(tmp_path):
    """As `ocisim`, with Run Command executing scripts on this machine."""
    with ocisim_running(tmp_path / "ocisim", time_scale=600.0, guest_exec=True) as handle:
        yield handle


@pytest.fixture(scope="session")
def airflow_db():
    """The metadata database, migrated once per session."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True,
                   env=os.environ.copy())
    from airflow import settings

    settings.configure_orm()
    return _HOME


def oci_connection_json(handle, key_inline: bool = True, max_attempts: int | None = None) -> str:
    """The `oci_default` connection for an ocisim: api_key auth, one endpoint per region; `max_attempts` caps the
    SDK's tries per call (1: an injected fault fails the try at once)."""
    cfg = handle.config()
    extra = {"auth": "api_key", "tenancy": cfg["tenancy"], "user": cfg["user"], "fingerprint": cfg["fingerprint"],
             "region": handle.home_region, "service_endpoints": handle.endpoints}
    if key_inline:
        extra["key_content"] = Path(cfg["key_file"]).read_text()
    else:
        extra["key_file"] = cfg["key_file"]
    if max_attempts is not None:
        extra["max_attempts"] = max_attempts
    return json.dumps({"conn_type": "oci", "extra": extra})


@pytest.fixture
def airflow_oci(airflow_db, ocisim, monkeypatch):
    """Airflow ready to run DAGs against `ocisim` through connection `oci_default`."""
    monkeypatch.setenv("AIRFLOW_CONN_OCI_DEFAULT", oci_connection_json(ocisim))
    return ocisim


@pytest.fixture
def airflow_oci_guest(airflow_db, ocisim_guest, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_OCI_DEFAULT", oci_connection_json(ocisim_guest))
    return ocisim_guest


@pytest.fixture
def estate(tmp_path, airflow_db, monkeypatch):
    """ocisim (guest exec on) seeded with the protected estate, and Airflow's oci_default pointing at it."""
    from tests.dags.seeds import protected_estate

    with ocisim_running(tmp_path / "estate", time_scale=600.0, seed=protected_estate(), guest_exec=True) as handle:
        monkeypatch.setenv("AIRFLOW_CONN_OCI_DEFAULT", oci_connection_json(handle))
        yield handle


@pytest.fixture(autouse=True)
def _fresh_secrets_masker():
    """Every ocisim makes a new API key and the hook registers its PEM lines with Airflow's process-wide masker,
    which recompiles one regex of all its patterns per registration: clear it after each test, or it grows all
    session long and every new key costs more (a worker process masks one task's secrets, not hundreds)."""
    yield
    if "airflow.sdk._shared.secrets_masker" in sys.modules:
        from airflow.sdk._shared.secrets_masker import reset_secrets_masker

        reset_secrets_masker()
