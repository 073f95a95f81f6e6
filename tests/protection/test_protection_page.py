"""The OCI Protection page through the real Airflow API server app (its auth, its plugin mount) against ocisim
after a real nightly run (dag.test()) over a compartment and its child (`include_subcompartments`), in which one
block volume's backup was corrupted as it was made. No mocks: the page reads OCI through the SDK and Airflow's
metadata database; ocisim's clock runs 600 times faster than Airflow's."""

from __future__ import annotations

import csv
import io
import os
import re
import time
from urllib.parse import quote

import pytest

from tests.airflow_helpers import last_run_id, run_dag, xcom
from tests.conftest import oci_connection_json

DAG_ID = "oci_nightly_backup"
FIELDS = {"volume_id", "display_name", "kind", "policy", "group", "state", "state_reason", "last_backup_time",
          "last_backup_type", "last_verified_time", "verification", "last_attempt", "last_good_backup", "rto_seconds",
          "rto_minutes", "rto_target_minutes", "rpo_seconds", "rpo_target_seconds", "compliant", "dr_copy",
          "backups_kept", "console_url", "restore_url"}
STATES = ("ok", "at_risk", "out", "not_protected")


@pytest.fixture(scope="module")
def night(tmp_path_factory, airflow_db):
    """One nightly run over the protected estate and a team's compartment below it (its tagged volume is
    protected with include_subcompartments); the first block volume backup is damaged as it is made."""
    from ocisim.testing import ocisim_running
    from tests.dags.seeds import protected_estate

    seed = protected_estate()
    seed["compartments"].append({"name": "prod-team", "parent": "prod"})
    seed["volumes"].append({"name": "team-data", "compartment": "prod-team", "size_in_gbs": 50,
                            "freeform_tags": {"backup-policy": "default"},
                            "files": {"canary.txt": "team-data canary\n", ".heartbeat": str(int(time.time()))}})
    saved = {k: os.environ.get(k) for k in ("AIRFLOW_CONN_OCI_DEFAULT", "OCI_PROTECTION_CACHE_SECONDS")}
    with ocisim_running(tmp_path_factory.mktemp("estate"), time_scale=600.0, seed=seed, guest_exec=True) as sim:
        os.environ["AIRFLOW_CONN_OCI_DEFAULT"] = oci_connection_json(sim)
        os.environ["OCI_PROTECTION_CACHE_SECONDS"] = "0"  # every request reads OCI: the tests change it
        sim.admin.fault("CreateVolumeBackup", "corrupt_backup", count=1)
        # a 7-day target: the run's OCI hours (600x Airflow's) stay under half of it, so a good volume is green
        conf = {"compartment_ids": sim.tenancy["compartments"]["prod"], "include_subcompartments": True,
                "verification_level": "script", "verifier_instance_id": sim.tenancy["instances"]["verifier"],
                "policies": {"default": {"full_interval_days": 7, "retention_days": 30, "verify_every_days": 7,
                                         "rto_minutes": 600}}}
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


def post(api, path: str, body: dict, who: str = "admin"):
    client, tokens, _ = api
    return client.post(path, json=body, headers={"Authorization": f"Bearer {tokens[who]}"})


def _nights() -> int:
    """The nightly runs in Airflow's metadata (up to the page's 30): this module's one, plus any an earlier test
    module of the session ran (the database is the session's), less plan runs (plan_only: no night of the
    history)."""
    from airflow import settings
    from airflow.models import DagRun
    from protection.catalogue import HISTORY_NIGHTS

    with settings.Session() as session:
        runs = session.query(DagRun).filter(DagRun.dag_id == DAG_ID).all()
        return min(sum(1 for run in runs if not (run.conf or {}).get("plan_only")), HISTORY_NIGHTS)


def volumes(sim) -> dict[str, str]:
    return {"db-data": sim.tenancy["volumes"]["db-data"], "app-data": sim.tenancy["volumes"]["app-data"],
            "app1": sim.tenancy["boot_volumes"]["app1"], "scratch": sim.tenancy["volumes"]["scratch"],
            "team-data": sim.tenancy["volumes"]["team-data"]}


@pytest.mark.parametrize("path", ["/oci/", "/oci/api/protection", "/oci/protection.csv", "/oci/restore"])
def test_every_endpoint_needs_a_user_who_may_read_the_nightly_dag(api, path):
    assert get(api, path, who=None).status_code == 401
    assert get(api, path, who="nobody").status_code == 403  # a user without a role may not read the DAG
    client, _, _ = api
    forged = client.get(path, headers={"Authorization": "Bearer not.a.token"})
    assert forged.status_code in (401, 403)
    assert get(api, path).status_code == 200


def test_json_has_every_volume_of_the_compartment_tree_once_with_its_state(api, night):
    sim = night
    ids = volumes(sim)
    response = get(api, "/oci/api/protection")
    body = response.json()
    assert body["source"]["stale"] is False and body["source"]["config_from"] == "latest nightly run"
    assert body["generated_at"]
    rows = {v["display_name"]: v for v in body["volumes"]}
    # the child compartment's volume is listed: the page reads the tree the nightly protected
    assert set(rows) == {"db-data", "app-data", "app1 (Boot Volume)", "team-data"}
    assert len(body["compartments"]) == 2 and sim.tenancy["compartments"]["prod-team"] in body["compartments"]
    assert all(set(v) == FIELDS for v in body["volumes"])
    failed = [v for v in body["volumes"] if v["verification"]["result"] == "FAIL"]
    assert len(failed) == 1 and failed[0]["kind"] == "volume", body["volumes"]
    assert "e2fsck" in failed[0]["verification"]["evidence"]
    # each volume once, in one state; the tiles' counts add up to the volumes
    assert {k: body["totals"][k] for k in STATES} == {"ok": 3, "at_risk": 0, "out": 1, "not_protected": 2}
    assert body["totals"]["volumes"] == 6 == len(body["volumes"]) + len(body["unprotected"])
    assert body["clock"]["differs"] is True and body["clock"]["offset_seconds"] > 60  # ocisim's clock runs fast
    for row in body["volumes"]:
        assert row["volume_id"] in ids.values() and row["policy"] == "default" and row["group"] is None
        assert row["last_backup_type"] == "FULL" and row["backups_kept"] == 1
        assert row["rpo_target_seconds"] == 7 * 86400 and row["rto_target_minutes"] == 600
        assert row["dr_copy"] == "not required"
        assert row["console_url"].startswith("https://cloud.oracle.com/block-storage/") and "region=" in row[
            "console_url"]
        if row is failed[0]:
            assert row["last_verified_time"] is None and row["rpo_seconds"] is None and not row["compliant"]
            assert row["state"] == "out" and row["last_attempt"]["failed"] and row["last_good_backup"] is None
            assert row["state_reason"] == ("never verified: no good verified backup; last attempt failed: "
                                           "VERIFICATION FAILED")
            continue
        assert row["state"] == "ok", row
        assert row["verification"]["result"] == "PASS" and row["verification"]["level"] == "script"
        assert "e2fsck -fn clean" in row["last_good_backup"]["evidence"]
        assert "canary" in row["last_good_backup"]["evidence"]
        assert row["last_verified_time"] and row["rto_seconds"] is not None
        assert row["rto_minutes"] == round(row["rto_seconds"] / 60, 1)
        assert 0 <= row["rpo_seconds"] < 3.5 * 86400 and row["compliant"] is True
        assert row["last_good_backup"]["age_seconds"] == row["rpo_seconds"]
    unprotected = {u["display_name"]: u for u in body["unprotected"]}
    assert unprotected["scratch"]["volume_id"] == ids["scratch"]
    assert unprotected["scratch"]["reason"] == "no backup-policy tag"
    assert set(unprotected) == {"scratch", "verifier (Boot Volume)"}  # the failed one is red, not counted twice
    text = response.text
    for secret in ("PRIVATE KEY", "key_content", "fingerprint", sim.config()["fingerprint"]):
        assert secret not in text


def test_page_and_csv_show_the_same_table(api, night):
    page = get(api, "/oci/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    html = page.text
    assert "Protected volumes" in html and "Not protected" in html and f"History, last {_nights()} nights" in html
    assert 'id="stale"' not in html
    assert html.count('data-verification="PASS"') == 3 and html.count('data-verification="FAIL"') == 1
    assert html.count('data-compliance="compliant"') == 3
    assert "<svg" in html
    tiles = dict(re.findall(r'<div class="tile (\w+)" data-state="\w+"><b>(\d+)</b>', html))
    assert tiles == {"ok": "3", "at_risk": "0", "out": "1", "not_protected": "2"} and 'data-volumes="6"' in html
    assert "OCI's clock is" in html and "ahead of Airflow's" in html  # ocisim's scaled clock is named
    sheet = get(api, "/oci/protection.csv")
    assert sheet.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(sheet.text)))
    assert sorted(r["display_name"] for r in rows) == ["app-data", "app1 (Boot Volume)", "db-data", "scratch",
                                                       "team-data", "verifier (Boot Volume)"]
    assert sorted(r["verification"] for r in rows) == ["", "", "FAIL", "PASS", "PASS", "PASS"]
    assert sorted(r["state"] for r in rows) == ["not_protected", "not_protected", "ok", "ok", "ok", "out"]


def test_rows_link_the_run_and_task_behind_their_evidence_and_a_prefilled_restore_form(api, night):
    """The links resolve through Airflow's own REST API: the run, and the mapped task instance whose map index
    is the volume's place in the run's plan; the restore form is pre-filled and its request body is accepted."""
    sim = night
    run_id = last_run_id(DAG_ID)
    plan = [item["volume_id"] for item in xcom(DAG_ID, run_id, "plan_backups")]
    body = get(api, "/oci/api/protection").json()
    for row in body["volumes"]:
        for part in (row["last_attempt"], row["last_good_backup"]):
            if part is None:
                continue
            index = plan.index(row["volume_id"])
            assert part["run_url"] == f"/dags/{DAG_ID}/runs/{quote(run_id, safe='')}"
            assert part["task_url"] == f"{part['run_url']}/tasks/protect_volume.verify_restore/mapped/{index}"
            assert part["console_url"].startswith("https://cloud.oracle.com/block-storage/")
            assert part["backup_id"] in part["console_url"] and "backup" in part["console_url"]
            ti = get(api, f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}/taskInstances/"
                          f"protect_volume.verify_restore/{index}", who="admin")
            assert ti.status_code == 200, ti.text
            assert ti.json()["state"] == ("failed" if part is row["last_attempt"] and part["failed"] else "success")
    team = next(v for v in body["volumes"] if v["display_name"] == "team-data")
    assert team["restore_url"] == f"/oci/restore?volume_id={team['volume_id']}"
    form = get(api, team["restore_url"])
    assert form.status_code == 200, form.text
    assert re.search(rf'name="volume_id"[^>]*value="{re.escape(team["volume_id"])}"', form.text), form.text
    assert 'data-api="/api/v2/dags/oci_restore/dagRuns"' in form.text
    # the request the form's script sends, as the admin: Airflow accepts it and the run carries the volume
    made = post(api, "/api/v2/dags/oci_restore/dagRuns",
                {"logical_date": None, "conf": {"volume_id": team["volume_id"]}})
    assert made.status_code == 200, made.text
    assert made.json()["conf"] == {"volume_id": team["volume_id"]}
    client, tokens, _ = api
    gone = client.delete(f"/api/v2/dags/oci_restore/dagRuns/{quote(made.json()['dag_run_id'], safe='')}",
                         headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert gone.status_code == 204, gone.text
    assert sim.tenancy["volumes"]["team-data"] == team["volume_id"]


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
    night.admin.advance(8 * 86400)  # OCI's clock: eight days after the night, the policy's target is seven
    body = get(api, "/oci/api/protection").json()
    assert [v["compliant"] for v in body["volumes"]] == [False, False, False, False]
    assert [v["state"] for v in body["volumes"]] == ["out"] * 4
    assert all(v["rpo_seconds"] > 7 * 86400 for v in body["volumes"] if v["verification"]["result"] == "PASS")
    html = get(api, "/oci/").text
    assert html.count('data-compliance="overdue"') == 4


def test_oci_slow_shows_the_last_data_at_once_with_a_stale_banner(api, night):
    sim = night
    get(api, "/oci/api/protection")  # a good read to fall back on
    sim.admin.fault("ListVolumes", "latency", count=1, latency_seconds=4)
    began = time.monotonic()
    page = get(api, "/oci/")
    assert time.monotonic() - began < 3.5  # the 1.5 s wait, not OCI's 4 s
    assert page.status_code == 200 and "OCI is slow to answer; reading in the background" in page.text
    assert page.text.count('data-verification="PASS"') == 3
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
        assert page.text.count('data-verification="PASS"') == 3  # the last good read, still shown
        body = get(api, "/oci/api/protection").json()
        assert body["source"]["stale"] is True and len(body["volumes"]) == 4

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
