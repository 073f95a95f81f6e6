"""The Protection page's states, tiles, links, RTO target, clock note and CSV over hand-made snapshots (the shapes
`catalogue.read_oci` and `read_airflow` return): every volume in exactly one state, and the tiles add up."""

from __future__ import annotations

import csv
import io
import re

import pytest
from common.errors import OciInputError
from operators.backup_policy import BackupPolicy
from protection.catalogue import Config, mapped_tasks, resolve_config
from protection.render import csv_text, page
from protection.snapshots import Status
from protection.view import STATES, api_payload, build, classify

from tests.unit.protection.test_view import NOW, REGION, backup, report_run, row, snapshot, vol

DAY = 86400
RUN = "scheduled__2026-11-30T02:00:00+00:00"  # a real run id: its ':' and '+' must be quoted in a URL


def ocid(kind: str, name: str) -> str:
    return f"ocid1.{kind}.oc1.iad.{name}aaaaaaaa"


def config(policies: dict | None = None) -> Config:
    return Config(["ocid1.compartment.oc1..c"], "backup-policy",
                  policies or {"default": {"full_interval_days": 7, "retention_days": 30}}, "latest nightly run")


def app_data_estate():
    """The issue's night: app-data's last attempt failed verification, its good verified backup is 2.8 d old
    (target 7 d); db-data is fine; web is past half its target; scratch is untagged."""
    app = vol("app-data", {"backup-policy": "default"})
    db = vol("db-data", {"backup-policy": "default"})
    web = vol("web", {"backup-policy": "default"})
    scratch = vol("scratch")
    good_app, bad_app = ocid("volumebackup", "appgood"), ocid("volumebackup", "appbad")
    good_db, old_web = ocid("volumebackup", "db"), ocid("volumebackup", "web")
    backups = [backup(app, good_app, "2026-11-27T16:48:00+00:00", "FULL", verified="2026-11-27T17:00:00+00:00"),
               backup(app, bad_app, "2026-11-30T02:00:00+00:00"),
               backup(db, good_db, "2026-11-30T02:00:00+00:00", "FULL", verified="2026-11-30T02:30:00+00:00"),
               backup(web, old_web, "2026-11-25T12:00:00+00:00", "FULL", verified="2026-11-25T13:00:00+00:00")]
    tonight = report_run(RUN, [row(app, bad_app, False, 65.0), row(db, good_db, True, 1086.497)],
                         "2026-11-30T03:00:00+00:00")
    tonight["tasks"] = mapped_tasks({"plan_backups": [{"volume_id": db["volume_id"]}, {"volume_id": app["volume_id"]}],
                                     "plan_groups": []})
    earlier = report_run("manual__2026-11-27", [row(app, good_app, True, 60.0)], "2026-11-27T17:30:00+00:00")
    earlier["tasks"] = mapped_tasks({"plan_backups": [{"volume_id": app["volume_id"]}]})
    return snapshot([app, db, web, scratch], backups), {"runs": [tonight, earlier], "config": None}


@pytest.mark.parametrize(("rpo", "failed", "state"), [
    (None, False, "out"), (None, True, "out"),            # never verified
    (8 * DAY, False, "out"), (8 * DAY, True, "out"),      # past the 7 d target
    (2.8 * DAY, True, "at_risk"),                         # within target, but the last attempt failed
    (4 * DAY, False, "at_risk"),                          # more than half the target used
    (3.5 * DAY, False, "ok"), (0, False, "ok"),           # half the target, or less, and the last attempt good
    (7 * DAY, False, "at_risk"),                          # exactly at the target: still within it
])
def test_each_volume_is_in_exactly_one_state(rpo, failed, state):
    assert classify(rpo, 7 * DAY, failed) == state


def test_a_failed_attempt_with_a_good_backup_within_target_is_at_risk_and_counted_once():
    oci, airflow = app_data_estate()
    view = build(oci, airflow, config())
    rows = {r["display_name"]: r for r in view["protected"]}
    app = rows["app-data"]
    assert app["state"] == "at_risk" and app["compliant"]
    assert app["state_reason"] == "last attempt failed: VERIFICATION FAILED"
    assert app["last_attempt"]["failed"] and app["last_attempt"]["time"] == "2026-11-30T02:00:00+00:00"
    assert app["last_attempt"]["age_seconds"] == 10 * 3600
    good = app["last_good_backup"]  # the backup the RPO rests on, shown beside the failed attempt
    assert good["backup_id"] == ocid("volumebackup", "appgood") and good["age_seconds"] == round(2.8 * DAY)
    assert rows["web"]["state"] == "at_risk" and rows["web"]["state_reason"].startswith("5.0 d of its 7.0 d")
    assert rows["db-data"]["state"] == "ok"
    assert [u["display_name"] for u in view["unprotected"]] == ["scratch"]
    names = [r["display_name"] for r in view["protected"] + view["unprotected"]]
    assert sorted(names) == ["app-data", "db-data", "scratch", "web"]  # each volume once
    totals = view["totals"]
    assert {k: totals[k] for k in STATES} == {"ok": 1, "at_risk": 2, "out": 0, "not_protected": 1}
    assert sum(totals[k] for k in STATES) == totals["volumes"] == len(oci["volumes"])


def test_the_tiles_and_the_rows_add_up_to_the_volumes_on_the_page():
    oci, airflow = app_data_estate()
    view = build(oci, airflow, config())
    html = page(view, Status(NOW, 0.0, False, None, "latest nightly run"), "/oci")
    tiles = dict(re.findall(r'<div class="tile (\w+)" data-state="\w+"><b>(\d+)</b>', html))
    assert set(tiles) == set(STATES) and sum(map(int, tiles.values())) == 4
    assert 'data-volumes="4"' in html
    states = re.findall(r'<tr data-volume="[^"]*" data-state="(\w+)"', html)
    assert sorted(states) == ["at_risk", "at_risk", "not_protected", "ok"]
    assert tiles == {s: str(states.count(s)) for s in STATES}


def test_rows_link_the_run_the_task_log_the_backup_and_a_restore_form():
    oci, airflow = app_data_estate()
    view = build(oci, airflow, config())
    app = next(r for r in view["protected"] if r["display_name"] == "app-data")
    quoted = "scheduled__2026-11-30T02%3A00%3A00%2B00%3A00"
    assert app["last_attempt"]["run_url"] == f"/dags/oci_nightly_backup/runs/{quoted}"
    # Airflow 3.3's route for a mapped task instance: .../tasks/<task_id>/mapped/<map_index> (app-data is item 1)
    assert app["last_attempt"]["task_url"] == (f"/dags/oci_nightly_backup/runs/{quoted}/tasks/"
                                               f"protect_volume.verify_restore/mapped/1")
    assert app["last_attempt"]["console_url"] == (f"https://cloud.oracle.com/block-storage/backups/"
                                                  f"{ocid('volumebackup', 'appbad')}?region={REGION}")
    good = app["last_good_backup"]
    assert good["run_url"] == "/dags/oci_nightly_backup/runs/manual__2026-11-27"
    assert good["task_url"].endswith("/tasks/protect_volume.verify_restore/mapped/0")
    assert good["console_url"].startswith("https://cloud.oracle.com/block-storage/backups/ocid1.volumebackup.")
    assert app["restore_url"] == f"/restore?volume_id={app['volume_id']}"
    # behind a path prefix, the page and the API link Airflow's UI under it, and the form under the plugin
    html = page(view, Status(NOW, 0.0, False, None, "latest nightly run"), "/airflow/oci")
    assert f'href="/airflow/dags/oci_nightly_backup/runs/{quoted}" data-ui>run</a>' in html
    assert f'href="/airflow/oci/restore?volume_id={app["volume_id"]}">Restore…</a>' in html
    body = api_payload(view, {}, "/airflow/oci")
    api_app = next(v for v in body["volumes"] if v["display_name"] == "app-data")
    assert api_app["last_attempt"]["task_url"].startswith(f"/airflow/dags/oci_nightly_backup/runs/{quoted}/tasks/")
    assert api_app["restore_url"] == f"/airflow/oci/restore?volume_id={app['volume_id']}"
    assert body["totals"] == {"volumes": 4, "ok": 1, "at_risk": 2, "out": 0, "not_protected": 1}


def test_group_members_link_their_groups_mapped_task_and_group_values_are_trimmed():
    data = vol("db-data", {"backup-policy": "default", "backup-group": "db"})
    log = vol("db-log", {"backup-policy": " default ", "backup-group": "db "})  # as typed in the console
    runs = [{"run_id": "n1", "state": "success", "report": {"generated_at": "2026-11-30T03:00:00+00:00",
                                                             "volumes": [], "groups": [], "totals": {}},
             "tasks": mapped_tasks({"plan_groups": [{"group": "db", "volume_ids": [data["volume_id"],
                                                                                   log["volume_id"]]}]})}]
    view = build(snapshot([data, log], []), {"runs": runs, "config": None}, config())
    assert {r["display_name"]: (r["group"], r["policy"]) for r in view["protected"]} == {
        "db-data": ("db", "default"), "db-log": ("db", "default")}
    assert runs[0]["tasks"][log["volume_id"]] == {"group_id": "protect_group", "map_index": 0}


def test_rto_is_in_minutes_against_the_policys_target():
    oci, airflow = app_data_estate()
    view = build(oci, airflow, config({"default": {"full_interval_days": 7, "retention_days": 30,
                                                   "rto_minutes": 15}}))
    db = next(r for r in view["protected"] if r["display_name"] == "db-data")
    assert (db["rto_minutes"], db["rto_target_minutes"]) == (18.1, 15)  # 1086.497 s
    html = page(view, Status(NOW, 0.0, False, None, "latest nightly run"))
    assert '<span class="badge bad">18.1 min</span><div class="ev">target 15 min</div>' in html
    assert "1086.497 s" not in html
    untargeted = build(oci, airflow, config())
    assert next(r for r in untargeted["protected"] if r["display_name"] == "db-data")["rto_target_minutes"] is None


def test_a_policy_rto_target_must_be_a_positive_number_of_minutes():
    assert BackupPolicy.from_dict("gold", {"rto_minutes": 30}).rto_minutes == 30
    for bad in (0, -5, "30", True):
        with pytest.raises(OciInputError, match=r"policy 'gold' rto_minutes .*greater than 0"):
            BackupPolicy.from_dict("gold", {"rto_minutes": bad})


def test_times_are_labelled_utc_with_ages_and_the_page_says_when_ocis_clock_differs():
    oci, airflow = app_data_estate()
    same = page(build({**oci, "local_time": NOW}, airflow, config()), Status(NOW, 0.0, False, None, "x"))
    assert "2026-11-30 02:00:00 UTC" in same and "10.0 h ago" in same and "2.8 d ago" in same
    assert 'id="clock"' in same and "The two agree." in same
    ahead = build({**oci, "local_time": "2026-11-27T12:00:00+00:00"}, airflow, config())
    assert ahead["clock"] == {"offset_seconds": 3 * DAY, "differs": True}
    html = page(ahead, Status(NOW, 0.0, False, None, "x"))
    assert "OCI's clock is 3.0 d ahead of Airflow's" in html


@pytest.mark.parametrize("name", ['=HYPERLINK("http://evil.example/","x")', "+1+1", "-2+3", "@SUM(A1)",
                                  "\tcmd", "\rcmd"])
def test_csv_cells_cannot_run_as_formulas(name):
    oci, airflow = app_data_estate()
    oci["volumes"][0]["display_name"] = name  # app-data, tagged
    oci["volumes"][3]["display_name"] = name  # scratch, untagged
    text = csv_text(build(oci, airflow, config()))
    rows = list(csv.DictReader(io.StringIO(text)))
    named = [r for r in rows if r["display_name"].lstrip("'") == name]
    assert len(named) == 2 and all(r["display_name"] == "'" + name for r in named)
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for cell in r.values())
    assert next(r for r in rows if r["volume_id"] == oci["volumes"][1]["volume_id"])["display_name"] == "db-data"


def test_the_page_reads_the_compartment_tree_the_nightly_protects():
    newest = {"config": {"compartment_ids": ["ocid1.compartment.oc1..p"], "include_subcompartments": True}}
    assert resolve_config(newest).include_subcompartments is True
    assert resolve_config({"config": None}, variable=lambda dag_id: {
        "compartment_ids": "ocid1.compartment.oc1..p", "include_subcompartments": "true"}).include_subcompartments
    assert not resolve_config({"config": None}, variable=lambda dag_id: {
        "compartment_ids": "ocid1.compartment.oc1..p"}).include_subcompartments
