"""The nightly backup DAG with a `backup-group`: two volumes tagged `backup-group: db` are backed up together as
one volume group backup (one point in time), restored as a group and checked member by member; an ungrouped
volume is protected as before. dag.test() against a seeded ocisim with real ext4 bytes; no mocks."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from ocisim.testing import ocisim_running
from tests.airflow_helpers import last_run_id, run_dag, xcom
from tests.conftest import oci_connection_json
from tests.dags.seeds import grouped_estate

DAG_ID = "oci_nightly_backup"
POLICIES = {"default": {"full_interval_days": 7, "retention_days": 7.5, "verify": "all"}}


@pytest.fixture
def grouped(tmp_path, airflow_db, monkeypatch, request):
    with ocisim_running(tmp_path / "grouped", time_scale=600.0, seed=grouped_estate(**getattr(request, "param", {})),
                        guest_exec=True) as handle:
        monkeypatch.setenv("AIRFLOW_CONN_OCI_DEFAULT", oci_connection_json(handle))
        yield handle


def _conf(sim, **extra) -> dict:
    return {"compartment_ids": sim.tenancy["compartments"]["prod"], "verification_level": "script",
            "verifier_instance_id": sim.tenancy["instances"]["verifier"], "policies": POLICIES, **extra}


def _ours(resource: dict) -> bool:
    tags = resource.get("freeform_tags") or {}
    return tags.get("airflow-dag") == DAG_ID and not tags.get("airflow-temporary")


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _assert_nothing_left(sim) -> None:
    """No restored volume group, restored volume, verifier attachment or test instance survives a run."""
    live = ("TERMINATING", "TERMINATED")
    groups = [g["display_name"] for g in sim.admin.resources("volumegroup")
              if g["freeform_tags"].get("airflow-temporary") and g["lifecycle_state"] not in live]
    assert groups == []
    originals = set(sim.tenancy["volumes"].values())
    volumes = [v["display_name"] for v in sim.admin.resources("volume")
               if v["id"] not in originals and v["lifecycle_state"] not in live]
    assert volumes == []
    verifier = sim.tenancy["instances"]["verifier"]
    assert [a for a in sim.admin.resources("volumeattachment")
            if a["instance_id"] == verifier and a["lifecycle_state"] in ("ATTACHING", "ATTACHED")] == []


def test_group_backed_up_as_one_restored_and_verified_together_then_incremental_and_pruned(grouped):
    sim = grouped
    vols = sim.tenancy["volumes"]
    members = {vols["db-data"], vols["db-log"]}

    # night 1: one FULL volume group backup of db-data + db-log, the ungrouped app-data backed up alone
    sim.admin.reset_counters()
    state, tasks = run_dag(DAG_ID, _conf(sim))
    assert state == "success", tasks
    counters = sim.admin.counters()
    assert counters["CreateVolumeGroupBackup"] == 1 and counters["CreateVolumeBackup"] == 1
    [group_backup] = [g for g in sim.admin.resources("volumegroupbackup") if _ours(g)]
    assert group_backup["type"] == "FULL" and group_backup["lifecycle_state"] == "AVAILABLE"
    backups = {b["id"]: b for b in sim.admin.resources("volumebackup") if _ours(b)}
    in_group = [backups[i] for i in group_backup["volume_backup_ids"]]
    assert {b["volume_id"] for b in in_group} == members
    # one point in time: both member backups come from the one request, made together
    times = sorted(_ts(b["time_created"]) for b in in_group)
    assert times[-1] - times[0] < timedelta(seconds=60)
    alone = [b for b in backups.values() if b["id"] not in group_backup["volume_backup_ids"]]
    assert [b["volume_id"] for b in alone] == [vols["app-data"]]  # no individual backup of a member
    # the group: the volume group made of the two, and its restore checked member by member through Run Command
    [group] = [g for g in sim.admin.resources("volumegroup") if g["display_name"] == "db"
               and g["lifecycle_state"] == "AVAILABLE"]
    assert set(group["volume_ids"]) == members and group_backup["volume_group_id"] == group["id"]
    assert counters["CreateVolumeGroup"] == 2  # the group, then its test restore
    assert group_backup["freeform_tags"]["verified-level"] == "script"
    assert all(b["freeform_tags"].get("verified-at") for b in in_group)
    scripts = [c["content"]["source"]["text"] for c in sim.admin.resources("agentcommand")]
    assert len(scripts) == 3 and all("e2fsck -fn" in s for s in scripts)
    _assert_nothing_left(sim)

    run_id = last_run_id(DAG_ID)
    verification = xcom(DAG_ID, run_id, "protect_group.verify_restore", key="verification", map_index=0)
    assert verification["passed"] and len(verification["members"]) == 2
    assert sorted(m["canary"] for m in verification["members"]) == ["db-data canary", "db-log canary"]
    made = xcom(DAG_ID, run_id, "protect_group.backup_group", map_index=0)  # after its deferral
    assert (made["group"], made["backup_type"], made["volume_group_backup_id"]) == ("db", "FULL", group_backup["id"])
    report = xcom(DAG_ID, run_id, "report")
    assert report["totals"] == {"volumes": 1, "backed_up": 1, "verified": 1, "failed": 0, "pruned": 0}
    [row] = report["groups"]
    assert row["group"] == "db" and row["status"] == "verified" and row["backup_id"] == group_backup["id"]
    assert row["type"] == "FULL" and row["rto_seconds"] is not None and row["rpo_hours"] is not None
    assert {m["display_name"]: m["backup_id"] for m in row["members"]} == {
        b["display_name"].rsplit(" - ", 1)[1]: b["id"] for b in in_group}
    assert all(m["verification"]["passed"] for m in row["members"])

    # night 2, a day later: INCREMENTAL, the same volume group adopted, not a new one
    sim.admin.write(vols["db-log"], 40 << 20, b"wal of night two")
    sim.admin.advance(86400)
    sim.admin.reset_counters()
    state, tasks = run_dag(DAG_ID, _conf(sim))
    assert state == "success", tasks
    night2 = [g for g in sim.admin.resources("volumegroupbackup") if _ours(g) and g["id"] != group_backup["id"]]
    assert len(night2) == 1 and night2[0]["type"] == "INCREMENTAL"
    assert night2[0]["volume_group_id"] == group["id"]
    assert sim.admin.counters()["CreateVolumeGroup"] == 1  # only tonight's test restore
    _assert_nothing_left(sim)

    # night 3, after the full interval: FULL again; retention deletes night 1's group backup (expired, not the
    # newest verified) with its member backups, never the newest verified one
    sim.admin.advance(7 * 86400)
    state, tasks = run_dag(DAG_ID, _conf(sim))
    assert state == "success", tasks
    prune = xcom(DAG_ID, last_run_id(DAG_ID), "prune_backups")
    checked = _ts(prune["checked_at"])
    group_backups = [g for g in sim.admin.resources("volumegroupbackup") if _ours(g)]
    newest = max((g for g in group_backups if g["freeform_tags"].get("verified-at")), key=lambda g: g["time_created"])
    expected = {g["id"] for g in group_backups if g["id"] != newest["id"]
                and _ts(g["time_created"]) < checked - timedelta(days=7.5)}
    assert group_backup["id"] in expected
    assert {d["backup_id"] for d in prune["deleted"] if d.get("group") == "db"} == expected
    states = {g["id"]: g["lifecycle_state"] for g in sim.admin.resources("volumegroupbackup")}
    assert all(states[i] in ("TERMINATING", "TERMINATED") for i in expected)
    assert states[newest["id"]] == "AVAILABLE"
    member_states = {b["id"]: b["lifecycle_state"] for b in sim.admin.resources("volumebackup")}
    assert all(member_states[i] in ("TERMINATING", "TERMINATED") for i in group_backup["volume_backup_ids"])
    # per-volume retention never deletes a member backup on its own
    assert not [d for d in prune["deleted"] if d.get("volume_id") in members]
    _assert_nothing_left(sim)


@pytest.mark.parametrize("grouped", [{"log_ad": 2}], indirect=True)
def test_group_across_availability_domains_fails_the_plan_before_any_backup(grouped, capfd):
    sim = grouped
    sim.admin.reset_counters()
    state, tasks = run_dag(DAG_ID, _conf(sim))
    assert state == "failed" and tasks["plan_backups"] == "failed"
    out = capfd.readouterr().out
    assert "backup-group 'db': a volume group's volumes share one availability domain" in out
    assert "db-data" in out and "db-log" in out
    assert not [op for op in sim.admin.counters() if op.startswith(("Create", "Delete", "Attach", "Launch"))]


def test_dry_run_prunes_no_group_backup(grouped):
    sim = grouped
    assert run_dag(DAG_ID, _conf(sim))[0] == "success"
    sim.admin.advance(8 * 86400)
    state, tasks = run_dag(DAG_ID, _conf(sim, dry_run=True))
    assert state == "success", tasks
    prune = xcom(DAG_ID, last_run_id(DAG_ID), "prune_backups")
    first = min((g for g in sim.admin.resources("volumegroupbackup") if _ours(g)), key=lambda g: g["time_created"])
    assert prune["dry_run"] and first["id"] in {d["backup_id"] for d in prune["deleted"]}
    assert first["lifecycle_state"] == "AVAILABLE"


def test_a_corrupted_member_fails_the_group_verification_and_the_run_names_it_and_cleans_up(grouped, capfd):
    sim = grouped
    # the first member backup of the next group backup is damaged as it is made: its restore fails e2fsck
    sim.admin.fault("CreateVolumeGroupBackup", "corrupt_backup", count=1)
    state, tasks = run_dag(DAG_ID, _conf(sim))
    assert state == "failed"
    assert tasks["protect_group.verify_restore[0]"] == "failed", tasks
    assert tasks["protect_volume.verify_restore[0]"] == "success"  # the ungrouped volume is unaffected
    assert tasks["delete_test_restores"] == "success" and tasks["report"] == "failed"
    report = xcom(DAG_ID, last_run_id(DAG_ID), "report", key="report")
    [row] = report["groups"]
    assert row["failed"] and row["status"] == "VERIFICATION FAILED"
    checks = sorted((m["verification"]["passed"], m["verification"]["detail"]) for m in row["members"])
    assert checks[0][0] is False and "e2fsck" in checks[0][1] and checks[1][0] is True
    # nothing of the group is marked restorable
    [group_backup] = [g for g in sim.admin.resources("volumegroupbackup") if _ours(g)]
    assert "verified-at" not in group_backup["freeform_tags"]
    assert not [b for b in sim.admin.resources("volumebackup")
                if b["id"] in group_backup["volume_backup_ids"] and b["freeform_tags"].get("verified-at")]
    captured = capfd.readouterr()
    out = captured.out + captured.err
    assert "verification FAILED for backup group 'db'" in out
    assert "db (backup group): VERIFICATION FAILED" in out
    _assert_nothing_left(sim)


@pytest.mark.parametrize("grouped", [{"boot_in_group": True}], indirect=True)
def test_boot_level_boots_the_restored_boot_volume_of_a_group_and_checks_the_others_by_api(grouped):
    sim = grouped
    sim.admin.reset_counters()
    state, tasks = run_dag(DAG_ID, _conf(sim, verification_level="boot", subnet_id=sim.tenancy["subnet_id"]))
    assert state == "success", tasks
    [group_backup] = [g for g in sim.admin.resources("volumegroupbackup") if _ours(g)]
    assert len(group_backup["volume_backup_ids"]) == 3
    verification = xcom(DAG_ID, last_run_id(DAG_ID), "protect_group.verify_restore", key="verification",
                        map_index=0)
    levels = sorted((m["level"], m["restored_volume_id"].split(".")[1]) for m in verification["members"])
    assert levels == [("api", "volume"), ("api", "volume"), ("boot", "bootvolume")] and verification["passed"]
    counters = sim.admin.counters()
    assert counters["ListShapes"] == 1 and counters["LaunchInstance"] == 1  # the shape was checked first
    tests = [i for i in sim.admin.resources("instance") if i["freeform_tags"].get("airflow-temporary")]
    assert len(tests) == 1 and tests[0]["lifecycle_state"] in ("TERMINATING", "TERMINATED")
    leftovers = [b["display_name"] for b in sim.admin.resources("bootvolume")
                 if b["id"] not in sim.tenancy["boot_volumes"].values()
                 and b["lifecycle_state"] not in ("TERMINATING", "TERMINATED")]
    assert leftovers == []
    _assert_nothing_left(sim)


def test_group_backup_copied_to_the_dr_region_once_and_a_failed_copy_fails_the_run_naming_the_group(grouped, capfd):
    sim = grouped
    policies = {"default": {**POLICIES["default"], "dr_region": "us-phoenix-1"}}
    sim.admin.reset_counters()
    state, tasks = run_dag(DAG_ID, _conf(sim, policies=policies))
    assert state == "success", tasks
    assert tasks["protect_group.copy_to_dr_region[0]"] == "success"
    [group_backup] = [g for g in sim.admin.resources("volumegroupbackup")
                      if _ours(g) and g["_region"] == "us-ashburn-1"]
    [copy] = [g for g in sim.admin.resources("volumegroupbackup") if g["_region"] == "us-phoenix-1"]
    assert copy["source_volume_group_backup_id"] == group_backup["id"] and copy["lifecycle_state"] == "AVAILABLE"
    members = {b["id"]: b for b in sim.admin.resources("volumebackup") if b["_region"] == "us-phoenix-1"}
    assert set(copy["volume_backup_ids"]) <= set(members) and len(copy["volume_backup_ids"]) == 2
    assert sim.admin.counters()["CopyVolumeGroupBackup"] == 1
    run_id = last_run_id(DAG_ID)
    made = xcom(DAG_ID, run_id, "protect_group.copy_to_dr_region", map_index=0)
    assert (made["backup_id"], made["source_backup_id"], made["region"]) == (copy["id"], group_backup["id"],
                                                                             "us-phoenix-1")
    assert made["member_backup_ids"] == copy["volume_backup_ids"]
    [row] = xcom(DAG_ID, run_id, "report")["groups"]
    assert row["status"] == "verified" and row["dr_copy"]["backup_id"] == copy["id"]
    assert f"DR copy {copy['id']} in us-phoenix-1" in capfd.readouterr().out

    # a re-run of the copy (another task, so another retry token) adopts the copy: no second one
    sim.admin.reset_counters()
    state, tasks = run_dag("test_op_misc_trigger_error", {"backup_id": group_backup["id"]})
    assert state == "success", tasks
    assert sim.admin.counters().get("CopyVolumeGroupBackup", 0) == 0
    assert [g["id"] for g in sim.admin.resources("volumegroupbackup") if g["_region"] == "us-phoenix-1"] == [
        copy["id"]]

    # the next night's copy fails: the run fails after cleanup and the report names the group
    sim.admin.advance(86400)
    sim.admin.fault("CopyVolumeGroupBackup", "fail_work_request", message="region unavailable")
    state, tasks = run_dag(DAG_ID, _conf(sim, policies=policies))
    assert state == "failed" and tasks["protect_group.copy_to_dr_region[0]"] == "failed", tasks
    assert tasks["protect_group.verify_restore[0]"] == "success" and tasks["report"] == "failed"
    report = xcom(DAG_ID, last_run_id(DAG_ID), "report", key="report")
    [row] = report["groups"]
    assert row["failed"] and row["dr_copy"]["failed"] and row["status"] == "verified"  # verified, not copied
    captured = capfd.readouterr()
    assert "db (backup group): verified - " in captured.out + captured.err
    assert "; DR COPY to us-phoenix-1 FAILED" in captured.out + captured.err
    _assert_nothing_left(sim)
