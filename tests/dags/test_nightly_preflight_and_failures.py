"""The nightly backup refusing bad settings before anything is made, and failing loudly (issues 8 and 9): every
input the run needs is checked by plan_backups before the first backup (0 mutating calls in ocisim's counters);
a failed teardown, retention or DR copy fails the run after cleanup and the report names the step; the next run's
teardown removes what an earlier one left; retention never leaves a volume without a restorable verified backup.
Real Airflow (dag.test), the real SDK, ocisim."""

from __future__ import annotations

import oci
import pytest

from tests.airflow_helpers import last_run_id, run_dag, xcom
from tests.conftest import oci_connection_json

DAG_ID = "oci_nightly_backup"
POLICIES = {"default": {"full_interval_days": 7, "retention_days": 7.5, "verify": "all"}}
MUTATING = ("Create", "Update", "Delete", "Attach", "Detach", "Copy", "Launch", "Terminate")


def _conf(sim, **extra) -> dict:
    return {"compartment_ids": sim.tenancy["compartments"]["prod"], "verification_level": "api",
            "verifier_instance_id": sim.tenancy["instances"]["verifier"], "policies": POLICIES, **extra}


def _mutations(sim) -> dict:
    return {op: n for op, n in sim.admin.counters().items() if op.startswith(MUTATING)}


def _few_retries(sim, monkeypatch) -> None:
    """oci_default with SDK calls that give up after two attempts: "beyond the retries" in seconds."""
    monkeypatch.setenv("AIRFLOW_CONN_OCI_DEFAULT", oci_connection_json(sim, max_attempts=2))


def _temporaries_left(sim) -> list[str]:
    return [v["id"] for kind in ("volume", "bootvolume") for v in sim.admin.resources(kind)
            if (v.get("freeform_tags") or {}).get("airflow-temporary") and v["lifecycle_state"] != "TERMINATED"]


def _launch(sim, **agent) -> str:
    compute = sim.client(oci.core.ComputeClient)
    verifier = compute.get_instance(sim.tenancy["instances"]["verifier"]).data
    made = compute.launch_instance(oci.core.models.LaunchInstanceDetails(
        availability_domain=verifier.availability_domain, compartment_id=verifier.compartment_id,
        shape="VM.Standard2.1", display_name="verifier-2",
        source_details=oci.core.models.InstanceSourceViaImageDetails(image_id=sim.tenancy["images"]["OL9"]),
        create_vnic_details=oci.core.models.CreateVnicDetails(subnet_id=sim.tenancy["subnets"]["app"]),
        agent_config=oci.core.models.LaunchInstanceAgentConfigDetails(**agent) if agent else None)).data
    sim.admin.advance(3600)
    return made.id


def _stopped(sim) -> str:
    instance_id = _launch(sim)
    sim.client(oci.core.ComputeClient).instance_action(instance_id, "STOP")
    sim.admin.advance(3600)
    return instance_id


GONE_INSTANCE = "ocid1.instance.oc1.iad.aaaaaaaanotthereanymore"
GONE_SUBNET = "ocid1.subnet.oc1.iad.aaaaaaaanotthereanymore"
CASES = {
    "verifier is a volume": (lambda sim: {"verification_level": "script",
                                          "verifier_instance_id": sim.tenancy["volumes"]["db-data"]},
                             "verifier_instance_id 'ocid1.volume.", "expected an OCID of type 'instance'"),
    "verifier does not exist": (lambda sim: {"verification_level": "script", "verifier_instance_id": GONE_INSTANCE},
                                f"verifier_instance_id '{GONE_INSTANCE}': no such instance", "(or no access to it)"),
    "verifier stopped": (lambda sim: {"verification_level": "script", "verifier_instance_id": _stopped(sim)},
                         "verifier_instance_id 'ocid1.instance.", "is STOPPED; must be one of ('RUNNING',)"),
    "verifier without Run Command": (
        lambda sim: {"verification_level": "script", "verifier_instance_id": _launch(sim, plugins_config=[
            oci.core.models.InstanceAgentPluginConfigDetails(name="Compute Instance Run Command",
                                                             desired_state="DISABLED")])},
        "verifier_instance_id 'ocid1.instance.", "'Compute Instance Run Command' must be enabled"),
    "boot level without subnet": (lambda sim: {"verification_level": "boot", "subnet_id": ""},
                                  "subnet_id: required for the boot verification level", "boot"),
    "boot level, subnet gone": (lambda sim: {"verification_level": "boot", "subnet_id": GONE_SUBNET},
                                f"subnet_id '{GONE_SUBNET}': no such subnet", "(or no access to it)"),
    "unknown DR region": (lambda sim: {"policies": {"default": {**POLICIES["default"], "dr_region": "eu-frankfurt-1"}}},
                          "policy 'default' dr_region 'eu-frankfurt-1': not a region this connection knows",
                          "service_endpoints"),
    "policy keeps less than a FULL": (lambda sim: {"policies": {"default": {"full_interval_days": 7,
                                                                           "retention_days": 3}}},
                                      "policy 'default' retention_days 3: must be at least full_interval_days", "7"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_setting_fails_in_plan_before_any_mutating_call(estate, capfd, case):
    sim = estate
    make, message, rule = CASES[case]
    conf = _conf(sim, **make(sim))
    sim.admin.reset_counters()
    capfd.readouterr()
    state, tasks = run_dag(DAG_ID, conf)
    assert state == "failed" and tasks["plan_backups"] == "failed", tasks
    assert not any(t.startswith("protect_volume.") and s == "success" for t, s in tasks.items()), tasks
    assert _mutations(sim) == {}
    log = capfd.readouterr().out
    line = next((x for x in log.splitlines() if message in x), "")
    assert line and rule in line, f"{message!r} with {rule!r} not in the log"
    assert tasks["report"] == "failed"  # the leaf still runs, and says the run failed


def test_failed_teardown_fails_the_run_report_names_leftovers_next_run_removes_them(estate, monkeypatch):
    sim = estate
    _few_retries(sim, monkeypatch)
    sim.admin.fault("DeleteVolume", "500", count=10_000)
    sim.admin.fault("DeleteBootVolume", "500", count=10_000)
    state, tasks = run_dag(DAG_ID, _conf(sim))
    assert state == "failed", tasks
    assert tasks["delete_test_restores"] == "failed" and tasks["prune_backups"] == "success"
    assert tasks["report"] == "failed"
    left = _temporaries_left(sim)
    assert len(left) == 3  # the three test restores
    report = xcom(DAG_ID, last_run_id(DAG_ID), "report", key="report")
    assert report["totals"]["verified"] == 3 and report["totals"]["failed"] == 0
    [step] = report["failed_steps"]
    assert step["step"] == "delete_test_restores" and step["state"] == "failed"
    assert all(temp in step["detail"] for temp in left) and "500" in step["detail"]

    sim.admin.clear_faults()
    sim.admin.advance(86400)
    state, tasks = run_dag(DAG_ID, _conf(sim))
    assert state == "success", tasks
    assert _temporaries_left(sim) == []
    removed = xcom(DAG_ID, last_run_id(DAG_ID), "delete_test_restores", key="teardown")["removed"]
    assert set(left) <= set(removed["volumes"])  # last night's leftovers adopted with tonight's restores


def test_failed_retention_fails_the_run_and_the_report_names_the_backups(estate, monkeypatch):
    sim = estate
    state, _ = run_dag(DAG_ID, _conf(sim))
    assert state == "success"
    sim.admin.advance(8 * 86400)
    _few_retries(sim, monkeypatch)
    sim.admin.fault("DeleteVolumeBackup", "429", count=10_000)
    state, tasks = run_dag(DAG_ID, _conf(sim))
    assert state == "failed" and tasks["prune_backups"] == "failed" and tasks["report"] == "failed", tasks
    report = xcom(DAG_ID, last_run_id(DAG_ID), "report", key="report")
    [step] = report["failed_steps"]
    assert step["step"] == "prune_backups" and step["detail"].startswith("backups not deleted: ocid1.volumebackup.")
    assert report["totals"]["failed"] == 0  # every volume was backed up and verified: only the step failed


@pytest.fixture
def gold_estate(tmp_path, airflow_db, monkeypatch):
    """The protected estate with db-data under policy `gold` (the others `default`)."""
    from ocisim.testing import ocisim_running
    from tests.dags.seeds import protected_estate

    seed = protected_estate()
    next(v for v in seed["volumes"] if v["name"] == "db-data")["freeform_tags"] = {"backup-policy": "gold"}
    with ocisim_running(tmp_path / "estate", time_scale=600.0, seed=seed, guest_exec=True) as handle:
        monkeypatch.setenv("AIRFLOW_CONN_OCI_DEFAULT", oci_connection_json(handle))
        yield handle


def test_dr_copy_only_for_volumes_with_a_dr_region_and_a_failed_copy_fails_the_run(gold_estate):
    sim = gold_estate
    db = sim.tenancy["volumes"]["db-data"]
    policies = {**POLICIES, "gold": {**POLICIES["default"], "dr_region": "us-phoenix-1"}}
    state, tasks = run_dag(DAG_ID, _conf(sim, policies=policies))
    assert state == "success", tasks
    assert [t for t in tasks if t.startswith("copy_to_dr_region")] == ["copy_to_dr_region[0]"]
    copy = xcom(DAG_ID, last_run_id(DAG_ID), "copy_to_dr_region", map_index=0)
    assert copy["region"] == "us-phoenix-1" and copy["lifecycle_state"] == "AVAILABLE"
    source = next(b for b in sim.admin.resources("volumebackup") if b["id"] == copy["source_backup_id"])
    assert source["volume_id"] == db

    sim.admin.advance(86400)
    sim.admin.fault("CopyVolumeBackup", "fail_work_request", message="region unavailable")
    state, tasks = run_dag(DAG_ID, _conf(sim, policies=policies))
    assert state == "failed" and tasks["copy_to_dr_region[0]"] == "failed", tasks
    report = xcom(DAG_ID, last_run_id(DAG_ID), "report", key="report")
    [step] = report["failed_steps"]
    assert step["step"] == "copy_to_dr_region[0]" and db in step["detail"] and "us-phoenix-1" in step["detail"]
    assert _temporaries_left(sim) == []


def test_retention_keeps_the_last_restorable_verified_backup(estate):
    """The newest verified backups deleted by hand, then tonight's verification fails: the older verified backup
    is past retention, and is still kept (a volume is never left without one)."""
    sim = estate
    conf = _conf(sim, verification_level="script")
    state, _ = run_dag(DAG_ID, conf)  # night 1: verified FULLs
    assert state == "success"
    night1 = {b["id"] for b in sim.admin.resources("volumebackup")}
    sim.admin.advance(86400)
    state, _ = run_dag(DAG_ID, conf)  # night 2: verified INCREMENTALs, the newest verified
    assert state == "success"
    storage = sim.client(oci.core.BlockstorageClient)
    for backup in sim.admin.resources("volumebackup"):  # night 2's block volume backups, deleted by hand
        if backup["id"] not in night1 and backup["lifecycle_state"] == "AVAILABLE":
            storage.delete_volume_backup(backup["id"])
    # night 3, nine days after night 1 (past retention): FULLs; one is corrupted as it is made, so its
    # verification fails, and night 1's backup of that volume is the only verified one it has left
    sim.admin.advance(8 * 86400)
    sim.admin.fault("CreateVolumeBackup", "corrupt_backup", count=1)
    state, tasks = run_dag(DAG_ID, conf)
    assert tasks["report"] == "failed"
    assert state == "failed"
    for name in ("db-data", "app-data"):
        volume_id = sim.tenancy["volumes"][name]
        left = [b for b in sim.admin.resources("volumebackup") if b["volume_id"] == volume_id
                and b["lifecycle_state"] == "AVAILABLE" and (b.get("freeform_tags") or {}).get("verified-at")]
        assert left, f"{name}: no restorable verified backup left"
