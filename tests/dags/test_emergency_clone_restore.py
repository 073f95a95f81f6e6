"""The emergency clone and restore DAGs end to end: dag.test() against a seeded ocisim with real ext4 bytes.
No mocks: the bytes of every new volume are compared with the source's (or the backup's) point in time."""

from __future__ import annotations

import time

import oci
import pytest
import yaml
from airflow.sdk.exceptions import ParamValidationError
from guest.user_data import decode_user_data

from tests.airflow_helpers import last_run_id, run_dag, variable, xcom

CLONE = "oci_emergency_clone"
RESTORE = "oci_restore"
FS_BYTES = 64 << 20  # the seeded ext4 filesystems are 64 MiB: compare that much of every volume
MUTATING = ("Create", "Launch", "Attach", "Delete", "Terminate", "Update", "Copy", "Detach")


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch):
    """The DAGs read their poll interval at parse time; ocisim runs 600x, so poll often."""
    monkeypatch.setenv("OCI_POLL_INTERVAL", "0.2")
    monkeypatch.setenv("OCI_POLL_MAX_INTERVAL", "1")


def _sha(sim, resource_id: str) -> str:
    return sim.admin.sha256(resource_id, length=FS_BYTES)["sha256"]


def _by_id(sim, *kinds: str) -> dict:
    return {r["id"]: r for kind in kinds for r in sim.admin.resources(kind)}


def _wait_available(get, resource_id: str, timeout: float = 60) -> object:
    deadline = time.monotonic() + timeout
    while True:
        data = get(resource_id).data
        if data.lifecycle_state == "AVAILABLE":
            return data
        assert time.monotonic() < deadline, f"{resource_id} still {data.lifecycle_state}"
        time.sleep(0.1)


def _backup(sim, volume_id: str, backup_type: str = "FULL", verified: bool = False):
    """A backup made with the SDK (as a person or another tool would), AVAILABLE; optionally tagged as the
    nightly DAG tags one that passed a test restore."""
    storage = sim.client(oci.core.BlockstorageClient)
    m = oci.core.models
    if volume_id.startswith("ocid1.bootvolume."):
        made = storage.create_boot_volume_backup(m.CreateBootVolumeBackupDetails(
            boot_volume_id=volume_id, type=backup_type)).data
        backup = _wait_available(storage.get_boot_volume_backup, made.id)
    else:
        made = storage.create_volume_backup(m.CreateVolumeBackupDetails(volume_id=volume_id, type=backup_type)).data
        backup = _wait_available(storage.get_volume_backup, made.id)
    if verified:
        tags = {**backup.freeform_tags, "verified-at": "2026-11-27T02:30:00+00:00", "verified-level": "script"}
        storage.update_volume_backup(backup.id, m.UpdateVolumeBackupDetails(freeform_tags=tags))
    return backup


def _logs(capfd, caplog) -> str:
    """Task logs so far: Airflow's own lines reach the captured stdout; a task function's stdlib logging may
    reach pytest's log capture instead, depending on which dag.test of the process configured logging."""
    text = capfd.readouterr().out + caplog.text
    caplog.clear()
    return text


def _mutations(sim) -> dict:
    return {op: n for op, n in sim.admin.counters().items() if op.startswith(MUTATING)}


# -- emergency clone ---------------------------------------------------------------------------------------
def test_clone_by_instance_is_point_in_time_and_comes_up_on_a_new_instance(estate):
    sim = estate
    app1 = sim.tenancy["instances"]["app1"]
    sources = {"boot": sim.tenancy["boot_volumes"]["app1"], "db-data": sim.tenancy["volumes"]["db-data"],
               "app-data": sim.tenancy["volumes"]["app-data"]}
    at_clone_time = {name: _sha(sim, vid) for name, vid in sources.items()}

    state, tasks = run_dag(CLONE, {"instance_id": app1, "launch_instance": True, "hostname": "app1-clone"})
    assert state == "success", tasks
    assert [tasks[f"clone_volume[{i}]"] for i in range(3)] == ["success"] * 3
    assert tasks["launch_on_clone"] == "success"
    # index 0 is the boot volume: not attached as a block volume; the two block clones are
    assert tasks["attach_cloned_volume[0]"] == "skipped"
    assert tasks["attach_cloned_volume[1]"] == tasks["attach_cloned_volume[2]"] == "success"

    report = xcom(CLONE, last_run_id(CLONE), "report")
    clones = {row["source_id"]: row["clone_id"] for row in report["volumes"]}
    assert set(clones) == set(sources.values()) and len(set(clones.values())) == 3
    assert report["volumes"][0]["kind"] == "bootvolume"
    for name, vid in sources.items():
        assert _sha(sim, clones[vid]) == at_clone_time[name], name

    # point in time: the sources change after the clone, the clones do not
    for vid in sources.values():
        sim.admin.write(vid, 8 << 20, b"written to the source after the clone " + vid[-8:].encode())
    for name, vid in sources.items():
        assert _sha(sim, vid) != at_clone_time[name], name
        assert _sha(sim, clones[vid]) == at_clone_time[name], name

    # the new instance boots the cloned boot volume, with its hostname in the VNIC and in cloud-init
    instance = report["instance"]
    assert instance["boot_volume_id"] == clones[sources["boot"]]
    assert instance["hostname_label"] == "app1-clone"
    stored = _by_id(sim, "instance")[instance["instance_id"]]
    assert stored["lifecycle_state"] == "RUNNING"
    assert yaml.safe_load(decode_user_data(stored["metadata"]["user_data"]))["hostname"] == "app1-clone"
    # ... with the cloned block volumes at the source's device paths
    attached = {a["volume_id"]: a["device"] for a in sim.admin.resources("volumeattachment")
                if a["instance_id"] == instance["instance_id"] and a["lifecycle_state"] == "ATTACHED"}
    assert attached == {clones[sources["db-data"]]: "/dev/oracleoci/oraclevdb",
                        clones[sources["app-data"]]: "/dev/oracleoci/oraclevdc"}

    # clones are tagged with their source and this DAG; the source instance keeps its volumes
    volumes = _by_id(sim, "volume", "bootvolume")
    for vid, clone_id in clones.items():
        tags = volumes[clone_id]["freeform_tags"]
        assert tags["cloned-from"] == vid and tags["airflow-dag"] == CLONE
        assert volumes[clone_id]["lifecycle_state"] == "AVAILABLE"
    still = {a["volume_id"] for a in sim.admin.resources("volumeattachment")
             if a["instance_id"] == app1 and a["lifecycle_state"] == "ATTACHED"}
    assert still == {sources["db-data"], sources["app-data"]}


def test_clone_by_volume_ids_launches_on_the_boot_volume_in_the_list(estate):
    sim = estate
    scratch = sim.tenancy["volumes"]["scratch"]  # attached nowhere: its clone is attached without a device path
    db_data = sim.tenancy["volumes"]["db-data"]  # attached to app1 at oraclevdb: its clone goes there too
    verifier_boot = sim.tenancy["boot_volumes"]["verifier"]
    before = {vid: _sha(sim, vid) for vid in (scratch, db_data, verifier_boot)}
    instances_before = set(_by_id(sim, "instance"))

    state, tasks = run_dag(CLONE, {
        "volume_ids": [scratch, db_data, verifier_boot], "launch_instance": True, "hostname": "verifier-copy",
        "shape": "VM.Standard2.1", "subnet_id": sim.tenancy["subnets"]["app"]})
    assert state == "success", tasks
    report = xcom(CLONE, last_run_id(CLONE), "report")
    rows = report["volumes"]
    assert rows[0]["source_id"] == verifier_boot  # the boot volume is cloned first
    clones = {r["source_id"]: r for r in rows}
    for vid, sha in before.items():
        assert _sha(sim, clones[vid]["clone_id"]) == sha
    sim.admin.write(scratch, 4 << 20, b"later")
    assert _sha(sim, clones[scratch]["clone_id"]) == before[scratch] != _sha(sim, scratch)

    new = set(_by_id(sim, "instance")) - instances_before
    assert new == {report["instance"]["instance_id"]}
    instance = _by_id(sim, "instance")[report["instance"]["instance_id"]]
    assert instance["shape"] == "VM.Standard2.1" and instance["lifecycle_state"] == "RUNNING"
    assert report["instance"]["boot_volume_id"] == clones[verifier_boot]["clone_id"]
    attached = {a["volume_id"]: a["device"] for a in sim.admin.resources("volumeattachment")
                if a["instance_id"] == instance["id"] and a["lifecycle_state"] == "ATTACHED"}
    assert attached == {clones[db_data]["clone_id"]: "/dev/oracleoci/oraclevdb", clones[scratch]["clone_id"]: None}
    # a clone keeps the source's tags: a clone of a protected volume is protected too
    volumes = _by_id(sim, "volume")
    assert volumes[clones[db_data]["clone_id"]]["freeform_tags"]["backup-policy"] == "default"


def test_clone_without_launch_makes_only_the_clones(estate):
    sim = estate
    db_data = sim.tenancy["volumes"]["db-data"]
    instances_before = set(_by_id(sim, "instance"))
    state, tasks = run_dag(CLONE, {"volume_ids": [db_data]})
    assert state == "success", tasks
    assert tasks["launch_on_clone"] == "skipped"
    # nothing to attach to: the mapped attach is skipped before it is even expanded
    assert {t: s for t, s in tasks.items() if t.startswith("attach")} == {"attach_cloned_volume": "skipped"}
    report = xcom(CLONE, last_run_id(CLONE), "report")
    assert report["instance"] is None and _sha(sim, report["volumes"][0]["clone_id"]) == _sha(sim, db_data)
    assert set(_by_id(sim, "instance")) == instances_before


# -- restore -----------------------------------------------------------------------------------------------
def test_restore_boot_backup_by_id_and_launch_on_it_shows_the_backups_point_in_time(estate):
    sim = estate
    boot = sim.tenancy["boot_volumes"]["app1"]
    at_backup = _sha(sim, boot)
    backup = _backup(sim, boot)
    sim.admin.write(boot, 8 << 20, b"written after the backup")
    assert _sha(sim, boot) != at_backup

    state, tasks = run_dag(RESTORE, {"backup_id": backup.id, "launch_instance": True, "hostname": "app1-restored",
                                     "subnet_id": sim.tenancy["subnets"]["app"]})
    assert state == "success", tasks
    assert tasks["attach_restored_volume"] == "skipped"
    report = xcom(RESTORE, last_run_id(RESTORE), "report")
    assert report["backup"]["backup_id"] == backup.id and report["backup"]["chosen_by"] == "backup_id"
    assert report["backup"]["verified_at"] is None
    restored = report["restored"]
    assert restored["kind"] == "bootvolume" and restored["volume_id"] != boot
    assert _sha(sim, restored["volume_id"]) == at_backup == _sha(sim, backup.id)
    assert report["rto_seconds"] is not None and report["rto_seconds"] >= 0
    instance = report["instance"]
    assert instance["boot_volume_id"] == restored["volume_id"] and instance["hostname_label"] == "app1-restored"
    assert _by_id(sim, "instance")[instance["instance_id"]]["lifecycle_state"] == "RUNNING"
    tags = _by_id(sim, "bootvolume")[restored["volume_id"]]["freeform_tags"]
    assert tags["restored-from-backup"] == backup.id and tags["airflow-dag"] == RESTORE


def test_restore_by_volume_takes_the_newest_verified_backup_and_attaches_it(estate):
    sim = estate
    db_data, verifier = sim.tenancy["volumes"]["db-data"], sim.tenancy["instances"]["verifier"]
    at_verified = _sha(sim, db_data)
    verified = _backup(sim, db_data, "FULL", verified=True)
    sim.admin.write(db_data, 8 << 20, b"rows written after the verified backup")
    newer = _backup(sim, db_data, "INCREMENTAL")  # newer, but never test-restored
    at_newer = _sha(sim, db_data)
    sim.admin.write(db_data, 9 << 20, b"and more rows after that")
    assert len({at_verified, at_newer, _sha(sim, db_data)}) == 3

    state, tasks = run_dag(RESTORE, {"volume_id": db_data, "attach_instance_id": verifier,
                                     "device": "/dev/oracleoci/oraclevdd"})
    assert state == "success", tasks
    assert tasks["launch_on_restored_boot_volume"] == "skipped"
    report = xcom(RESTORE, last_run_id(RESTORE), "report")
    assert report["backup"]["backup_id"] == verified.id != newer.id
    assert report["backup"]["chosen_by"] == "newest verified"
    assert report["backup"]["verified_at"] == "2026-11-27T02:30:00+00:00"
    restored = report["restored"]["volume_id"]
    assert _sha(sim, restored) == at_verified
    att = report["attachment"]
    assert att["instance_id"] == verifier and att["volume_id"] == restored
    assert att["device"] == "/dev/oracleoci/oraclevdd"
    assert _by_id(sim, "volumeattachment")[att["attachment_id"]]["lifecycle_state"] == "ATTACHED"
    # the new volume gets the backup's tags back, but not the backup's verification
    tags = _by_id(sim, "volume")[restored]["freeform_tags"]
    assert tags["backup-policy"] == "default" and tags["restored-from-backup"] == verified.id
    assert not tags.get("verified-at") and not tags.get("verified-level")


def test_restore_refuses_a_volume_without_a_verified_backup_unless_allowed(estate, capfd, caplog):
    sim = estate
    app_data = sim.tenancy["volumes"]["app-data"]
    at_backup = _sha(sim, app_data)
    unverified = _backup(sim, app_data)
    sim.admin.write(app_data, 8 << 20, b"after")

    sim.admin.reset_counters()
    state, tasks = run_dag(RESTORE, {"volume_id": app_data})
    assert state == "failed"
    assert tasks["choose_backup"] == "failed" and tasks["restore_volume"] == "upstream_failed"
    out = _logs(capfd, caplog)
    assert f"volume_id '{app_data}' (app-data): no verified backup to restore" in out
    assert f"the newest is {unverified.id}" in out and "allow_unverified" in out
    assert _mutations(sim) == {}

    state, tasks = run_dag(RESTORE, {"volume_id": app_data, "allow_unverified": True})
    assert state == "success", tasks
    report = xcom(RESTORE, last_run_id(RESTORE), "report")
    assert report["backup"]["backup_id"] == unverified.id
    assert "unverified" in report["backup"]["chosen_by"]
    assert _sha(sim, report["restored"]["volume_id"]) == at_backup
    assert "which was never test-restored" in _logs(capfd, caplog)


# -- bad input: refused before any API call ----------------------------------------------------------------
FAKE = {kind: f"ocid1.{kind}.oc1.iad.{'a' * 24}" for kind in
        ("instance", "volume", "bootvolume", "volumebackup", "bootvolumebackup", "subnet")}

BAD_CLONE = [
    ({}, "give exactly one"),
    ({"instance_id": FAKE["instance"], "volume_ids": [FAKE["volume"]]}, "give exactly one"),
    ({"volume_ids": [FAKE["instance"]]}, "volume_ids[0] 'ocid1.instance."),
    ({"volume_ids": [FAKE["volume"]], "launch_instance": True, "hostname": "web1"},
     "launch_instance needs exactly one boot volume among them, got 0"),
    ({"instance_id": FAKE["instance"], "launch_instance": True}, "hostname None: required"),
    ({"instance_id": FAKE["instance"], "launch_instance": True, "hostname": "a-very-long-windows-name",
      "os_type": "windows"}, "Windows names allow letters, digits and hyphens, at most 15 characters"),
]
BAD_RESTORE = [
    ({}, "give exactly one"),
    ({"backup_id": FAKE["volumebackup"], "volume_id": FAKE["volume"]}, "give exactly one"),
    ({"backup_id": FAKE["volume"]}, "must be a volume backup or boot volume backup OCID"),
    ({"backup_id": FAKE["bootvolumebackup"], "attach_instance_id": FAKE["instance"]},
     "attach restores block volumes"),
    ({"backup_id": FAKE["volumebackup"], "launch_instance": True, "hostname": "web1", "subnet_id": FAKE["subnet"]},
     "launch_instance: the restore makes a block volume"),
    ({"backup_id": FAKE["bootvolumebackup"], "launch_instance": True, "hostname": "web1"}, "subnet_id None"),
    ({"backup_id": FAKE["volumebackup"], "device": "/dev/oracleoci/oraclevdd"}, "only with attach_instance_id"),
]


@pytest.mark.parametrize("dag_id, cases", [(CLONE, BAD_CLONE), (RESTORE, BAD_RESTORE)], ids=["clone", "restore"])
def test_bad_requests_fail_in_validate_request_before_any_api_call(airflow_oci, capfd, dag_id, cases):
    sim = airflow_oci
    for conf, message in cases:
        sim.admin.reset_counters()
        state, tasks = run_dag(dag_id, conf)
        out = capfd.readouterr().out
        assert state == "failed" and tasks["validate_request"] == "failed", (conf, tasks)
        assert message in out, (conf, message)
        assert "OciInputError" in out
        assert sim.admin.counters() == {}, conf  # not one request, read or write


@pytest.mark.parametrize("stored, conf, message", [
    ({"backup_id": FAKE["volume"]}, {}, "backup_id 'ocid1.volume"),  # the Variable's value is the request's
    ({"backup_id": FAKE["volume"]}, {"backup_id": FAKE["volumebackup"], "device": "/dev/oracleoci/oraclevdd"},
     "only with attach_instance_id"),  # the conf wins over the Variable
    ({"backupid": FAKE["volumebackup"]}, {}, "Variable 'oci_restore': unknown key 'backupid'"),
    ({}, {"volume_id": FAKE["volume"], "attach_to": FAKE["instance"]}, "trigger conf: unknown key 'attach_to'"),
])
def test_validate_request_reads_the_variable_named_after_the_dag_then_the_conf(airflow_oci, capfd, stored, conf,
                                                                              message):
    """Params defaults < the Variable `oci_restore` < the trigger conf, the nightly's order; unknown keys named."""
    sim = airflow_oci
    sim.admin.reset_counters()
    with variable(RESTORE, stored):
        state, tasks = run_dag(RESTORE, conf)
    out = capfd.readouterr().out
    assert state == "failed" and tasks["validate_request"] == "failed", tasks
    assert message in out and "OciInputError" in out
    assert sim.admin.counters() == {}


@pytest.mark.parametrize("dag_id, conf, field", [
    (CLONE, {"instance_id": "i-123"}, "instance_id"),
    (CLONE, {"instance_id": FAKE["instance"], "hostname": "web_01"}, "hostname"),
    (RESTORE, {"backup_id": FAKE["volumebackup"], "device": "/dev/sdb"}, "device"),
])
def test_the_trigger_form_schema_refuses_malformed_values(airflow_oci, dag_id, conf, field):
    sim = airflow_oci
    sim.admin.reset_counters()
    with pytest.raises(ParamValidationError, match=f"param {field}"):
        run_dag(dag_id, conf)
    assert sim.admin.counters() == {}
