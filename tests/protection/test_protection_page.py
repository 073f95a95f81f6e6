"""The OCI Protection page through the real Airflow API server app (its auth, its plugin mount) against ocisim
after a real nightly run (dag.test()) in which one block volume's backup was corrupted as it was made. No mocks:
the page reads OCI through the SDK and Airflow's metadata database."""

from __future__ import annotations

import csv
import io
import os
import time

import pytest

from tests.airflow_helpers import run_dag
from tests.conftest import oci_connection_json

DAG_ID = "oci_nightly_backup"
FIELDS = {"volume_id", "display_name", "kind", "policy", "group", "last_backup_time", "last_backup_type",
          "last_verified_time", "verification", "rto_seconds", "rpo_seconds", "rpo_target_seconds", "compliant",
          "dr_copy", "backups_kept", "console_url"}


@pytest.fixture(scope="module")
def night(tmp_path_factory, airflow_db):
    """One nightly run over the protected estate; the first block volume backup is damaged as it is made."""
    from ocisim.testing import ocisim_running
    from tests.dags.seeds import protected_estate

    saved = {k: os.environ.get(k) for k in ("AIRFLOW_CONN_OCI_DEFAULT", "OCI_PROTECTION_CACHE_SECONDS")}
    with ocisim_running(tmp_path_factory.mktemp("estate"), time_scale=600.0, seed=protected_estate(),
                        guest_exec=True) as sim:
        os.environ["AIRFLOW_CONN_OCI_DEFAULT"] = oci_connection_json(sim)
        os.environ["OCI_PROTECTION_CACHE_SECONDS"] = "0"  # every request reads OCI: the tests change it
        sim.admin.fault("CreateVolumeBackup", "corrupt_backup", count=1)
        conf = {"compartment_ids": sim.tenancy["compartments"]["prod"], "verification_level": "script",
                "verifier_instance_id": sim.tenancy["instances"]["verifier"],
                "policies": {"default": {"full_interval_days": 7, "retention_days": 30, "verify_every_days": 1}}}
        state, tasks = run_dag(DAG_ID, conf)
        assert state == "failed", tasks  # the corrupted backup fails its verification, so the run
        yield sim
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def api(night):
    """Airflow's API server app, as `airflow api-server` builds it, with the plugin mounted at /oci."""
    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient
    from protection.app import app as protection_app

    client = TestClient(create_app("all"))
    manager = get_auth_manager()
    tokens = {"admin": manager.generate_jwt(SimpleAuthManagerUser(username="admin", role="admin")),
              "viewer": manager.generate_jwt(SimpleAuthManagerUser(username="ann", role="viewer")),
              "nobody": manager.generate_jwt(SimpleAuthManagerUser(username="norole", role=None))}
    protection_app.app.state.snapshots.clear()
    return client, tokens, protection_app.app.state.snapshots


def get(api, path: str, who: str | None = "viewer"):
    client, tokens, _ = api
    headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
    return client.get(path, headers=headers)


def _nights() -> int:
    """The nightly runs in Airflow's metadata (up to the page's 30): this module's one, plus any an earlier test
    module of the session ran (the database is the session's)."""
    from airflow import settings
    from airflow.models import DagRun
    from protection.catalogue import HISTORY_NIGHTS

    with settings.Session() as session:
        return min(session.query(DagRun).filter(DagRun.dag_id == DAG_ID).count(), HISTORY_NIGHTS)


def volumes(sim) -> dict[str, str]:
    return {"db-data": sim.tenancy["volumes"]["db-data"], "app-data": sim.tenancy["volumes"]["app-data"],
            "app1": sim.tenancy["boot_volumes"]["app1"], "scratch": sim.tenancy["volumes"]["scratch"]}


@pytest.mark.parametrize("path", ["/oci/", "/oci/api/protection", "/oci/protection.csv"])
def test_every_endpoint_needs_a_user_who_may_read_the_nightly_dag(api, path):
    assert get(api, path, who=None).status_code == 401
    assert get(api, path, who="nobody").status_code == 403  # a user without a role may not read the DAG
    client, _, _ = api
    forged = client.get(path, headers={"Authorization": "Bearer not.a.token"})
    assert forged.status_code in (401, 403)
    assert get(api, path).status_code == 200


def test_json_has_every_tagged_volume_the_untagged_one_and_the_failed_verification(api, night):
    sim = night
    ids = volumes(sim)
    response = get(api, "/oci/api/protection")
    body = response.json()
    assert body["source"]["stale"] is False and body["source"]["config_from"] == "latest nightly run"
    assert body["generated_at"]
    rows = {v["display_name"]: v for v in body["volumes"]}
    assert set(rows) == {"db-data", "app-data", "app1 (Boot Volume)"}
    assert all(set(v) == FIELDS for v in body["volumes"])
    failed = [v for v in body["volumes"] if v["verification"]["result"] == "FAIL"]
    assert len(failed) == 1 and failed[0]["kind"] == "volume", body["volumes"]
    assert "e2fsck" in failed[0]["verification"]["evidence"]
    for row in body["volumes"]:
        assert row["volume_id"] in ids.values() and row["policy"] == "default" and row["group"] is None
        assert row["last_backup_type"] == "FULL" and row["backups_kept"] == 1
        assert row["rpo_target_seconds"] == 86400
        assert row["dr_copy"] == "not required"
        assert row["console_url"].startswith("https://cloud.oracle.com/block-storage/") and "region=" in row[
            "console_url"]
        if row is failed[0]:
            assert row["last_verified_time"] is None and row["rpo_seconds"] is None and not row["compliant"]
            continue
        assert row["verification"]["result"] == "PASS" and row["verification"]["level"] == "script"
        assert "e2fsck -fn clean" in row["verification"]["evidence"]
        assert "canary" in row["verification"]["evidence"]
        assert row["last_verified_time"] and row["rto_seconds"] is not None
        assert 0 <= row["rpo_seconds"] < 86400 and row["compliant"] is True
    unprotected = {u["display_name"]: u for u in body["unprotected"]}
    assert unprotected["scratch"]["volume_id"] == ids["scratch"]
    assert unprotected["scratch"]["reason"] == "no backup-policy tag"
    assert unprotected[failed[0]["display_name"]]["reason"].startswith("newest backup failed verification")
    assert set(unprotected) == {"scratch", "verifier (Boot Volume)", failed[0]["display_name"]}
    text = response.text
    for secret in ("PRIVATE KEY", "key_content", "fingerprint", sim.config()["fingerprint"]):
        assert secret not in text


def test_page_and_csv_show_the_same_table(api, night):
    page = get(api, "/oci/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    html = page.text
    assert "Protected volumes" in html and "Not protected" in html and f"History, last {_nights()} nights" in html
    assert 'id="stale"' not in html
    assert html.count('data-verification="PASS"') == 2 and html.count('data-verification="FAIL"') == 1
    assert html.count('data-compliance="compliant"') == 2
    assert "<svg" in html
    sheet = get(api, "/oci/protection.csv")
    assert sheet.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(sheet.text)))
    assert sorted(r["display_name"] for r in rows) == ["app-data", "app1 (Boot Volume)", "db-data"]
    assert sorted(r["verification"] for r in rows) == ["FAIL", "PASS", "PASS"]


def test_images_the_dags_made_are_listed_with_the_instances_launched_from_them(api, night):
    import oci

    sim = night
    compute = sim.client(oci.core.ComputeClient)
    m = oci.core.models
    comp = sim.tenancy["compartments"]["prod"]
    tags = {"managed-by": "airflow-oci", "airflow-dag": "oci_golden_image"}
    image = compute.create_image(m.CreateImageDetails(compartment_id=comp, instance_id=sim.tenancy["instances"]["app1"],
                                                      display_name="app1-golden", freeform_tags=tags)).data
    oci.wait_until(compute, compute.get_image(image.id), "lifecycle_state", "AVAILABLE", max_wait_seconds=60)
    launched = compute.launch_instance(m.LaunchInstanceDetails(
        availability_domain=sim.tenancy["availability_domains"][0], compartment_id=comp, display_name="web-01",
        shape="VM.Standard.E4.Flex", shape_config=m.LaunchInstanceShapeConfigDetails(ocpus=1, memory_in_gbs=8),
        source_details=m.InstanceSourceViaImageDetails(image_id=image.id), freeform_tags=tags,
        create_vnic_details=m.CreateVnicDetails(subnet_id=sim.tenancy["subnet_id"], hostname_label="web-01"))).data
    html = get(api, "/oci/").text
    fleets = html[html.index('id="fleets-table"'):]
    assert "app1-golden" in fleets and "oci_golden_image" in fleets and "web-01 (" in fleets
    assert f"compute/images/{image.id}" in fleets
    compute.terminate_instance(launched.id)


def test_a_volume_past_its_rpo_target_is_overdue(api, night):
    night.admin.advance(2 * 86400)  # OCI's clock: two days after the night, the policy's target is one
    body = get(api, "/oci/api/protection").json()
    assert [v["compliant"] for v in body["volumes"]] == [False, False, False]
    assert all(v["rpo_seconds"] > 86400 for v in body["volumes"] if v["verification"]["result"] == "PASS")
    html = get(api, "/oci/").text
    assert html.count('data-compliance="overdue"') == 3


def test_oci_slow_shows_the_last_data_at_once_with_a_stale_banner(api, night):
    sim = night
    get(api, "/oci/api/protection")  # a good read to fall back on
    sim.admin.fault("ListVolumes", "latency", count=1, latency_seconds=4)
    began = time.monotonic()
    page = get(api, "/oci/")
    assert time.monotonic() - began < 3.5  # the 1.5 s wait, not OCI's 4 s
    assert page.status_code == 200 and "OCI is slow to answer; reading in the background" in page.text
    assert page.text.count('data-verification="PASS"') == 2
    deadline = time.monotonic() + 30
    while get(api, "/oci/api/protection").json()["source"]["stale"]:  # the read finishes in the background
        assert time.monotonic() < deadline
        time.sleep(0.5)


def test_oci_failing_shows_the_last_data_with_a_stale_banner_not_an_error(api, night):
    sim = night
    good = get(api, "/oci/api/protection").json()
    sim.admin.fault("ListVolumes", "500", count=1000)
    try:
        page = get(api, "/oci/")  # within the wait budget: the read is still retrying, or has failed
        assert page.status_code == 200
        assert 'id="stale"' in page.text and "Stale data" in page.text
        assert f"Showing OCI data from {good['source']['oci_data_time'][:19].replace('T', ' ')}" in page.text
        deadline = time.monotonic() + 30
        while "OCI call failed: 500" not in page.text:  # the page names OCI's error once the read gave up
            assert time.monotonic() < deadline, page.text
            time.sleep(0.5)
            page = get(api, "/oci/")
        assert page.status_code == 200
        assert page.text.count('data-verification="PASS"') == 2  # the last good read, still shown
        body = get(api, "/oci/api/protection").json()
        assert body["source"]["stale"] is True and len(body["volumes"]) == 3

        _, _, snapshots = api
        snapshots.clear()  # nothing read yet, and OCI failing: the page still answers, with the runs' history
        cold = get(api, "/oci/")
        assert cold.status_code == 200 and "No OCI data to show yet" in cold.text
        assert f"History, last {_nights()} nights" in cold.text
    finally:
        sim.admin.clear_faults()
    deadline = time.monotonic() + 30  # a failing OCI is asked again every few seconds: the banner goes
    while get(api, "/oci/api/protection").json()["source"]["stale"]:
        assert time.monotonic() < deadline, "still stale after OCI recovered"
        time.sleep(0.5)
