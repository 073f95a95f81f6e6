"""The OCI Protection page after a real nightly run (dag.test()) over volumes sharing `backup-group: db`: the
members are shown with their group and with the evidence of their group's restore, read through the real API
server app from ocisim and Airflow's metadata. No mocks."""

from __future__ import annotations

import os

import pytest

from tests.airflow_helpers import run_dag
from tests.conftest import oci_connection_json

DAG_ID = "oci_nightly_backup"


@pytest.fixture
def grouped_night(tmp_path, airflow_db):
    from ocisim.testing import ocisim_running
    from tests.dags.seeds import grouped_estate

    saved = {k: os.environ.get(k) for k in ("AIRFLOW_CONN_OCI_DEFAULT", "OCI_PROTECTION_CACHE_SECONDS")}
    with ocisim_running(tmp_path / "grouped", time_scale=600.0, seed=grouped_estate(), guest_exec=True) as sim:
        os.environ["AIRFLOW_CONN_OCI_DEFAULT"] = oci_connection_json(sim)
        os.environ["OCI_PROTECTION_CACHE_SECONDS"] = "0"
        conf = {"compartment_ids": sim.tenancy["compartments"]["prod"], "verification_level": "script",
                "verifier_instance_id": sim.tenancy["instances"]["verifier"],
                "policies": {"default": {"full_interval_days": 7, "retention_days": 30, "verify_every_days": 1}}}
        state, tasks = run_dag(DAG_ID, conf)
        assert state == "success", tasks
        yield sim
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def test_group_members_are_shown_with_their_group_and_its_verification(grouped_night):
    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient
    from protection.app import app as protection_app

    client = TestClient(create_app("all"))
    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="ann", role="viewer"))
    protection_app.app.state.snapshots.clear()
    body = client.get("/oci/api/protection", headers={"Authorization": f"Bearer {token}"}).json()
    rows = {v["display_name"]: v for v in body["volumes"]}
    assert {name: (row["group"], row["verification"]["result"]) for name, row in rows.items()} == {
        "db-data": ("db", "PASS"), "db-log": ("db", "PASS"), "app-data": (None, "PASS")}
    for name in ("db-data", "db-log"):
        evidence = rows[name]["verification"]["evidence"]
        assert f"canary '{name} canary'" in evidence and "restored with backup group 'db': verified" in evidence
        assert rows[name]["rto_seconds"] is not None and rows[name]["compliant"] is True
    assert not [u for u in body["unprotected"] if u["display_name"] in ("db-data", "db-log")]
    for name in ("db-data", "db-log"):  # a member's evidence is its group's mapped task (the only group: index 0)
        assert rows[name]["state"] == "ok" and rows[name]["group"] == "db"
        for part in (rows[name]["last_attempt"], rows[name]["last_good_backup"]):
            assert part["task_url"].endswith("/tasks/protect_group.verify_restore/mapped/0"), part
            assert "volume-group-backups" not in part["console_url"] and part["backup_id"] in part["console_url"]
    html = client.get("/oci/", headers={"Authorization": f"Bearer {token}"}).text
    assert html.count('data-verification="PASS" data-compliance="compliant" data-group="db"') == 2
