"""What ocisim's newer operations unlock, through real Airflow (dag.test) and the real SDK against ocisim:
shapes checked before a launch, discovery below the configured compartments, volume group backups."""

from __future__ import annotations

import oci

from tests.airflow_helpers import last_run_id, run_dag, xcom
from tests.operators.test_compute import mutating

SHAPE_RULES = {
    "shape_not_in_ad": "shape 'VM.Standard.E2.1.Micro': not offered in availability domain",
    "flex_ocpus_too_many": "shape_config.ocpus 65: VM.Standard.E4.Flex takes 1 to 64 OCPUs",
    "flex_memory_per_ocpu": "shape_config.memory_in_gbs 100: VM.Standard.E4.Flex takes 1 to 64 GB per OCPU, so 1 "
                            "to 64 GB for 1 OCPUs",
    "flex_memory_total": "shape_config.memory_in_gbs 600: VM.Standard3.Flex takes 1 to 512 GB",
    "ocpus_on_fixed_shape": "VM.Standard2.1 is a fixed shape (1 OCPUs, 15 GB); OCPUs and memory are set only on "
                            "a Flex shape",
}


def test_shapes_checked_before_launch(airflow_oci, capfd, caplog):
    """Each launch outside what ListShapes says for the AD fails its task naming the field and the rule, and
    ocisim saw no mutating request (ListShapes was read)."""
    sim = airflow_oci
    t = sim.tenancy
    sim.admin.reset_counters()
    state, tasks = run_dag("test_op_unlock_shapes", {"image_id": t["images"]["Oracle-Linux-9"],
                                                     "subnet_id": t["subnet_id"],
                                                     "availability_domain": t["availability_domains"][0]})
    assert state == "failed" and tasks == dict.fromkeys(SHAPE_RULES, "failed"), tasks
    counters = sim.admin.counters()
    assert mutating(counters) == {} and counters["ListShapes"] == len(SHAPE_RULES)
    text = capfd.readouterr().out + caplog.text
    missing = {task: rule for task, rule in SHAPE_RULES.items() if rule not in text}
    assert not missing, missing


def test_boot_verification_checks_the_shape_before_launching(airflow_oci):
    """The nightly's `boot` level launches a test instance on the restored boot volume: a shape the AD does not
    offer fails the check, naming the shape, before the launch (ocisim saw no LaunchInstance), and the backup is
    not tagged verified."""
    sim = airflow_oci
    t = sim.tenancy
    boot_volume_id = next(iter(t["boot_volumes"].values()))
    made = sim.client(oci.core.BlockstorageClient).create_boot_volume_backup(
        oci.core.models.CreateBootVolumeBackupDetails(boot_volume_id=boot_volume_id, type="FULL")).data
    sim.admin.reset_counters()
    state, tasks = run_dag("test_op_unlock_boot_shape", {"boot_volume_id": boot_volume_id, "backup_id": made.id,
                                                         "subnet_id": t["subnet_id"]})
    assert state == "failed" and tasks == {"verify_boot": "failed"}
    result = xcom("test_op_unlock_boot_shape", last_run_id("test_op_unlock_boot_shape"), "verify_boot",
                  key="verification")
    assert not result["passed"]
    assert result["detail"].startswith("shape 'VM.Standard.E2.1.Micro': not offered in availability domain")
    counters = sim.admin.counters()
    # nothing made or launched; the one change is the backup's verify-failed-at tag (never adopted, docs/
    # interrupted-runs.md), and it carries no verified-at
    assert mutating(counters) == {"UpdateBootVolumeBackup": 1} and counters["ListShapes"] == 1
    tags = sim.client(oci.core.BlockstorageClient).get_boot_volume_backup(made.id).data.freeform_tags
    assert "verify-failed-at" in tags and "verified-at" not in tags, tags


def test_discovery_includes_subcompartments(airflow_oci):
    """A tagged volume two levels below the configured compartment is found only with include_subcompartments
    (one ListCompartments of the tenancy's subtree); a sibling tree of the configured compartment is not."""
    sim = airflow_oci
    identity, storage = sim.sim.identity, sim.sim.blockstorage
    region, ad = sim.home_region, sim.tenancy["availability_domains"][0]
    parent = sim.tenancy["compartment_id"]
    child = identity.create_compartment(parent, "team-a")["id"]
    grandchild = identity.create_compartment(child, "team-a-db")["id"]
    elsewhere = identity.create_compartment(identity.tenancy()["id"], "other-team")["id"]
    deep = storage.make_volume("volume", region, grandchild, ad, "db-data", 50, {},
                               freeform_tags={"backup-policy": "gold"}, ready_after=0)["id"]
    storage.make_volume("volume", region, elsewhere, ad, "not-ours", 50, {}, freeform_tags={"backup-policy": "gold"},
                        ready_after=0)
    sim.admin.reset_counters()
    state, tasks = run_dag("test_op_unlock_subcompartments", {"compartment_id": parent})
    assert state == "success", tasks
    run_id = last_run_id("test_op_unlock_subcompartments")
    alone = {v["volume_id"] for v in xcom("test_op_unlock_subcompartments", run_id, "configured_only")}
    below = xcom("test_op_unlock_subcompartments", run_id, "with_subcompartments")
    assert deep not in alone and alone
    assert {v["volume_id"] for v in below} == alone | {deep}
    [found] = [v for v in below if v["volume_id"] == deep]
    assert found["compartment_id"] == grandchild and found["policy"] == "gold"
    assert sim.admin.counters()["ListCompartments"] == 1


def test_volumes_backed_up_together_as_a_volume_group_and_restored_as_one(estate, capfd):
    """The volumes of one `backup-group` are backed up as one volume group backup (one point in time) and
    restored as a new group whose members hold the sources' bytes; the next backup keeps the same group."""
    sim = estate
    dag_id = "test_op_unlock_volume_group"
    members = [sim.tenancy["volumes"]["db-data"], sim.tenancy["volumes"]["app-data"]]
    at_start = {v: sim.admin.sha256(v, length=64 << 20)["sha256"] for v in members}
    sim.admin.reset_counters()
    state, tasks = run_dag(dag_id, {"volume_ids": members})
    assert state == "success", tasks
    run_id = last_run_id(dag_id)
    first, restored = xcom(dag_id, run_id, "backup_group"), xcom(dag_id, run_id, "restore_group")
    again = xcom(dag_id, run_id, "backup_group_again")
    assert set(first["members"]) == set(members) and again["volume_group_id"] == first["volume_group_id"]
    assert again["volume_group_backup_id"] != first["volume_group_backup_id"]
    assert sorted(restored["volumes"].values()) == sorted(first["members"].values())
    source_of = {backup: volume for volume, backup in first["members"].items()}
    for volume_id, backup_id in restored["volumes"].items():
        assert sim.admin.sha256(volume_id, length=64 << 20)["sha256"] == at_start[source_of[backup_id]]
    counters = sim.admin.counters()
    assert counters["CreateVolumeGroup"] == 2 and counters["CreateVolumeGroupBackup"] == 2
    groups = {g["id"]: g for g in sim.admin.resources("volumegroup")}
    assert groups[restored["volume_group_id"]]["freeform_tags"]["airflow-temporary"] == "true"

    # a test restore's volume cannot join the production group: refused naming it, its group and why, before any
    # UpdateVolumeGroup (OCI would answer a bare 409)
    test_volume = next(iter(restored["volumes"]))
    sim.admin.reset_counters()
    state, tasks = run_dag(dag_id, {"volume_ids": [*members, test_volume]})
    assert state == "failed" and tasks["backup_group"] == "failed", tasks
    assert sim.admin.counters().get("UpdateVolumeGroup", 0) == 0
    out = capfd.readouterr().out
    assert (f"({test_volume}) is in volume group '{groups[restored['volume_group_id']]['display_name']}' "
            f"({restored['volume_group_id']}), a test restore of this project (the teardown removes it)") in out
