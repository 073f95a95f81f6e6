"""The nightly backup DAG end to end: dag.test() against a seeded ocisim with real ext4 bytes and real
e2fsck/debugfs through Run Command. No mocks."""

from __future__ import annotations

from datetime import datetime, timedelta

import oci
import pytest

from tests.airflow_helpers import last_run_id, load_dag, rendered_map_indexes, run_dag, variable, xcom

DAG_ID = "oci_nightly_backup"
POLICIES = {"default": {"full_interval_days": 7, "retention_days": 7.5, "verify": "all"}}


def _conf(sim, **extra) -> dict:
    return {"compartment_ids": sim.tenancy["compartments"]["prod"], "verification_level": "script",
            "verifier_instance_id": sim.tenancy["instances"]["verifier"], "policies": POLICIES, **extra}


def _ours(resource: dict) -> bool:
    return (resource.get("freeform_tags") or {}).get("airflow-dag") == DAG_ID


def _backups(sim) -> list[dict]:
    return [b for kind in ("volumebackup", "bootvolumebackup") for b in sim.admin.resources(kind)]


def _assert_nothing_left(sim) -> None:
    """No restored test volume, verifier attachment or test instance survives a run."""
    for kind in ("volume", "bootvolume"):
        leftovers = [v["display_name"] for v in sim.admin.resources(kind)
                     if (v.get("freeform_tags") or {}).get("airflow-temporary")
                     and v["lifecycle_state"] != "TERMINATED"]
        assert leftovers == [], f"{kind} left behind: {leftovers}"
    verifier = sim.tenancy["instances"]["verifier"]
    attached = [a for a in sim.admin.resources("volumeattachment")
                if a["instance_id"] == verifier and a["lifecycle_state"] in ("ATTACHING", "ATTACHED")]
    assert attached == []
    instances = [i for i in sim.admin.resources("instance")
                 if (i.get("freeform_tags") or {}).get("airflow-temporary") and i["lifecycle_state"] != "TERMINATED"]
    assert instances == []


def _assert_each_restore_restored_its_own_volume(sim, run_id: str) -> None:
    """Per map index of `protect_volume`: the backup is of that index's planned volume, and the test restore (its
    volume in ocisim, and the canary the verification read from it) came from that very backup, not another
    index's: the XComArgs inside the mapped group resolve per map index."""
    plan = xcom(DAG_ID, run_id, "plan_backups")
    assert len(plan) >= 3
    # what every mapped task pulls whole is the plan's TASK_KEYS only; the report's full plan is its own XCom
    from operators.backup_plan import FULL_PLAN_KEY, TASK_KEYS

    full = xcom(DAG_ID, run_id, "plan_backups", key=FULL_PLAN_KEY)
    assert all(set(item) == set(TASK_KEYS) for item in plan), plan[0]
    assert [i["volume_id"] for i in full] == [i["volume_id"] for i in plan] and all(i["reason"] for i in full)
    resources = {r["id"]: r for kind in ("volume", "bootvolume", "volumebackup", "bootvolumebackup")
                 for r in sim.admin.resources(kind)}
    canaries = {sim.tenancy["volumes"]["db-data"]: "db-data canary", sim.tenancy["volumes"]["app-data"]:
                "app-data canary", sim.tenancy["boot_volumes"]["app1"]: "app1 boot canary"}
    for index, item in enumerate(plan):
        backup = xcom(DAG_ID, run_id, "protect_volume.backup_volume", map_index=index)
        restored = xcom(DAG_ID, run_id, "protect_volume.restore_for_test", map_index=index)
        stored = resources[backup["backup_id"]]
        assert (stored.get("volume_id") or stored.get("boot_volume_id")) == item["volume_id"], (index, item)
        assert resources[restored["volume_id"]]["source_details"]["id"] == backup["backup_id"], (index, restored)
        verified = xcom(DAG_ID, run_id, "protect_volume.verify_restore", map_index=index)
        assert verified["canary"].strip() == canaries[item["volume_id"]], (index, verified)


def test_nightly_full_then_incremental_then_full_with_verified_restores_and_retention(estate):
    sim = estate
    tagged = {sim.tenancy["volumes"]["db-data"], sim.tenancy["volumes"]["app-data"],
              sim.tenancy["boot_volumes"]["app1"]}
    # night 1: FULL of the three tagged volumes only, each restored and verified with e2fsck + debugfs
    state, tasks = run_dag(DAG_ID, _conf(sim))
    assert state == "success", tasks
    night1 = [b for b in _backups(sim) if _ours(b)]
    assert {b.get("volume_id") or b.get("boot_volume_id") for b in night1} == tagged
    assert sim.tenancy["volumes"]["scratch"] not in {b.get("volume_id") for b in night1}
    assert {b["type"] for b in night1} == {"FULL"}
    assert all(b["freeform_tags"].get("verified-level") == "script" for b in night1)
    commands = sim.admin.resources("agentcommand")
    assert len(commands) >= 3 and all("e2fsck -fn" in c["content"]["source"]["text"] for c in commands)
    _assert_nothing_left(sim)
    _assert_each_restore_restored_its_own_volume(sim, last_run_id(DAG_ID))
    report = xcom(DAG_ID, last_run_id(DAG_ID), "report")
    assert report["totals"] == {"volumes": 3, "backed_up": 3, "verified": 3, "failed": 0, "pruned": 0}
    by_backup = {b["id"]: b for b in night1}
    for row in report["volumes"]:
        stored = by_backup[row["backup_id"]]
        assert row["type"] == stored["type"] and row["size_in_gbs"] == stored["size_in_gbs"]
        assert row["unique_size_in_gbs"] == stored["unique_size_in_gbs"]
        assert row["verification"]["passed"] and row["verification"]["exit_code"] == 0
        assert row["verification"]["canary"].endswith("canary")
        assert row["rpo_hours"] is not None and row["rpo_hours"] < 48  # emulated hours pass 600x faster
        assert row["rto_seconds"] is not None

    # a backup this project did not make: retention must never touch it, however old
    storage = sim.client(oci.core.BlockstorageClient)
    foreign = storage.create_volume_backup(oci.core.models.CreateVolumeBackupDetails(
        volume_id=sim.tenancy["volumes"]["db-data"], type="FULL", display_name="made-by-hand")).data

    # night 2, one emulated day later: INCREMENTAL, each smaller than its FULL
    sim.admin.write(sim.tenancy["volumes"]["app-data"], 40 << 20, b"new rows for night two")
    sim.admin.advance(86400)
    state, tasks = run_dag(DAG_ID, _conf(sim))
    assert state == "success", tasks
    night2 = [b for b in _backups(sim) if _ours(b) and b["id"] not in by_backup]
    assert len(night2) == 3 and {b["type"] for b in night2} == {"INCREMENTAL"}
    full_app = next(b for b in night1 if b.get("volume_id") == sim.tenancy["volumes"]["app-data"])
    incr_app = next(b for b in night2 if b.get("volume_id") == sim.tenancy["volumes"]["app-data"])
    assert 0 < incr_app["unique_size_in_mbs"] < full_app["unique_size_in_mbs"]
    _assert_nothing_left(sim)

    # night 3, after the full interval: FULL again; retention prunes night 1 (ours, expired) and nothing else
    sim.admin.advance(7 * 86400)
    state, tasks = run_dag(DAG_ID, _conf(sim))
    assert state == "success", tasks
    seen = {b["id"] for b in night1 + night2}
    night3 = [b for b in _backups(sim) if _ours(b) and b["id"] not in seen]
    assert len(night3) == 3 and {b["type"] for b in night3} == {"FULL"}
    prune = xcom(DAG_ID, last_run_id(DAG_ID), "prune_backups")
    # Expected from ocisim's own records: ours, older than retention at prune time, not the newest verified.
    # (Emulated time runs 600x during a run, so ages are read, not assumed.)
    checked = datetime.fromisoformat(prune["checked_at"])
    mine = [b for b in _backups(sim) if _ours(b)]
    newest = {}
    for b in mine:
        if b["freeform_tags"].get("verified-at"):
            source = b.get("volume_id") or b.get("boot_volume_id")
            if source not in newest or b["time_created"] > newest[source]["time_created"]:
                newest[source] = b
    expected = {b["id"] for b in mine if b["id"] not in {n["id"] for n in newest.values()}
                and datetime.fromisoformat(b["time_created"].replace("Z", "+00:00")) < checked - timedelta(days=7.5)}
    assert {d["backup_id"] for d in prune["deleted"]} == expected
    assert {b["id"] for b in night1} <= expected  # eight emulated days old: expired
    states = {b["id"]: b["lifecycle_state"] for b in _backups(sim)}
    assert all(states[i] in ("TERMINATING", "TERMINATED") for i in expected)
    assert all(states[b["id"]] == "AVAILABLE" for b in night3)
    assert states[foreign.id] == "AVAILABLE"  # not ours: never pruned
    _assert_nothing_left(sim)


def test_corrupted_backup_fails_verification_names_the_volume_and_cleans_up(estate, capfd):
    sim = estate
    # the next block volume backup is damaged as it is made (admin fault): its restore fails e2fsck
    sim.admin.fault("CreateVolumeBackup", "corrupt_backup", count=1)
    state, tasks = run_dag(DAG_ID, _conf(sim))
    assert state == "failed"
    failed_verify = [t for t, s in tasks.items() if t.startswith("protect_volume.verify_restore") and s == "failed"]
    assert len(failed_verify) == 1, tasks
    assert tasks["delete_test_restores"] == "success"
    assert tasks["report"] == "failed"
    report = xcom(DAG_ID, last_run_id(DAG_ID), "report", key="report")
    bad = [r for r in report["volumes"] if r["failed"]]
    assert len(bad) == 1 and bad[0]["status"] == "VERIFICATION FAILED"
    assert "e2fsck" in bad[0]["verification"]["detail"]
    out = capfd.readouterr().out
    # the error names the volume by its display name, then its OCID
    assert f"verification FAILED for volume {bad[0]['display_name']} ({bad[0]['volume_id']};" in out
    # the grid names each mapped task by its volume (map_index_template), the failed one too
    # (the backup from the plan item it takes, the later tasks from the name its XCom carries)
    names = [item["display_name"] for item in xcom(DAG_ID, last_run_id(DAG_ID), "plan_backups")]
    for task_id in ("backup_volume", "restore_for_test", "verify_restore"):
        assert rendered_map_indexes(DAG_ID, last_run_id(DAG_ID), f"protect_volume.{task_id}") == names, task_id
    _assert_nothing_left(sim)


@pytest.mark.parametrize("conf, message", [
    ({"compartment_ids": ""}, "compartment_ids: empty"),
    ({"verifier_instance_id": ""}, "verifier_instance_id: required"),
])
def test_bad_configuration_fails_before_any_api_call(estate, capfd, conf, message):
    sim = estate
    sim.admin.reset_counters()
    state, tasks = run_dag(DAG_ID, _conf(sim, **conf))
    assert state == "failed" and tasks["resolve_config"] == "failed"
    assert message in capfd.readouterr().out
    assert not [op for op in sim.admin.counters() if op.startswith(("Create", "Delete", "Attach", "Launch"))]


def test_the_variable_configures_a_run_without_conf_and_a_conf_key_wins(estate):
    """A scheduled run has no conf: the Variable `oci_nightly_backup` is its configuration (over the Params
    defaults); a key the conf gives wins over the Variable's."""
    sim = estate
    stored = {"compartment_ids": sim.tenancy["compartments"]["prod"], "verification_level": "api",
              "policies": POLICIES, "dry_run": True}
    with variable(DAG_ID, stored):
        state, tasks = run_dag(DAG_ID)
        assert state == "success", tasks
        resolved = xcom(DAG_ID, last_run_id(DAG_ID), "resolve_config")
        assert resolved["compartment_ids"] == [stored["compartment_ids"]] and resolved["dry_run"] is True
        assert resolved["verification_level"] == "api" and resolved["tag_key"] == "backup-policy"  # a default
        report = xcom(DAG_ID, last_run_id(DAG_ID), "report")
        assert report["totals"]["backed_up"] == 3 and report["totals"]["verified"] == 3
        assert {row["verification"]["level"] for row in report["volumes"]} == {"api"}
        # at api level each test restore checked itself (in its trigger, or on resuming): no verify task started
        verify = {t: s for t, s in tasks.items() if t.startswith("protect_volume.verify_restore")}
        assert verify and set(verify.values()) == {"skipped"} and tasks["verify_on_worker"] == "skipped", tasks
        assert all(row["verification"]["passed"] and row["verification"]["detail"].startswith(
            "restored volume AVAILABLE") for row in report["volumes"])
        tagged = {b["id"]: (b.get("freeform_tags") or {}).get("verified-level") for b in _backups(sim)}
        assert all(tagged[row["backup_id"]] == "api" for row in report["volumes"])

        sim.admin.reset_counters()
        # what the UI's form sends: every field, at its default, but the level changed; the level wins, the
        # fields left at their defaults keep the Variable's values (and boot needs a subnet: refused, no call)
        form = {**load_dag(DAG_ID).params.dump(), "verification_level": "boot"}
        state, tasks = run_dag(DAG_ID, form)
        resolved = xcom(DAG_ID, last_run_id(DAG_ID), "resolve_config")
    assert resolved["verification_level"] == "boot" and resolved["dry_run"] is True
    assert resolved["compartment_ids"] == [stored["compartment_ids"]]
    assert state == "failed" and tasks["plan_backups"] == "failed"
    assert not [op for op in sim.admin.counters() if op.startswith(("Create", "Delete", "Attach", "Launch"))]


def test_an_unknown_key_in_the_variable_fails_resolve_config_naming_it(estate, capfd):
    sim = estate
    sim.admin.reset_counters()
    with variable(DAG_ID, {"compartments": sim.tenancy["compartments"]["prod"]}):
        state, tasks = run_dag(DAG_ID, _conf(sim))
    assert state == "failed" and tasks["resolve_config"] == "failed"
    assert "Variable 'oci_nightly_backup': unknown key 'compartments'" in capfd.readouterr().out
    assert not [op for op in sim.admin.counters() if op.startswith(("Create", "Delete", "Attach", "Launch"))]
