"""The emergency clone's launch plan and attach arguments, as the DAG maps them (pure functions)."""

from __future__ import annotations

import json

from workflows.emergency_clone import attach_arguments as clone_attach_arguments
from workflows.emergency_clone import launch_plan as clone_launch_plan

BOOT_CLONE = {"volume_id": "ocid1.bootvolume.oc1..clone0", "compartment_id": "ocid1.compartment.oc1..c"}
RESOLVED = [{"launch": {"shape": "VM.Standard.E4.Flex", "shape_config": {"ocpus": 1}, "subnet_id": "s"},
             "attach": None},
            {"attach": {"attachment_type": "paravirtualized", "device": "/dev/oracleoci/oraclevdb"}}]


def test_the_launch_plan_boots_the_clone_of_the_first_resolved_volume():
    plan = clone_launch_plan(RESOLVED, [BOOT_CLONE, {"volume_id": "ocid1.volume.oc1..clone1"}])
    assert plan == {"shape": "VM.Standard.E4.Flex", "shape_config": {"ocpus": 1}, "subnet_id": "s",
                    "boot_volume_id": "ocid1.bootvolume.oc1..clone0", "compartment_id": "ocid1.compartment.oc1..c"}


def test_a_clone_a_trigger_ended_reads_as_the_worker_pushed_it():
    assert clone_launch_plan(RESOLVED, [json.dumps(BOOT_CLONE)])["boot_volume_id"] == BOOT_CLONE["volume_id"]
    pair = (RESOLVED[1], json.dumps({"volume_id": "ocid1.volume.oc1..clone1"}))
    assert clone_attach_arguments(pair) == {"attachment_type": "paravirtualized",
                                            "device": "/dev/oracleoci/oraclevdb",
                                            "volume_id": "ocid1.volume.oc1..clone1"}
