"""The words and commands of an unfinished in-place swap (common/swaps.py): pure functions."""

from __future__ import annotations

from common.swaps import repair_commands, where

INST, OLD, NEW, ATT = "ocid1.instance.oc1..i", "ocid1.bootvolume.oc1..old", "ocid1.bootvolume.oc1..new", "ocid1.att..a"
RECORD = {"old": OLD, "new": NEW}


def test_where_names_the_volume_the_instance_is_on():
    assert where(INST, "STOPPED", None, RECORD) == f"instance {INST} is STOPPED with no boot volume attached"
    assert where(INST, "STOPPED", NEW, RECORD) == f"instance {INST} is STOPPED on the restored boot volume {NEW}"
    assert where(INST, "RUNNING", OLD, RECORD) == f"instance {INST} is RUNNING on its old boot volume {OLD}"


def test_repair_commands_start_from_where_the_instance_stands():
    attach = (f"oci compute boot-volume-attachment attach --region r1 --instance-id {INST} --boot-volume-id {OLD} "
              f"--wait-for-state ATTACHED")
    start = f"oci compute instance action --region r1 --instance-id {INST} --action START --wait-for-state RUNNING"
    assert repair_commands(INST, "r1", OLD, "STOPPED", None, True) == [attach, start]
    assert repair_commands(INST, "r1", OLD, "STOPPED", None, False) == [attach]
    on_new = repair_commands(INST, "r1", OLD, "RUNNING", (ATT, NEW), True)
    assert on_new[0].endswith("--action STOP --wait-for-state STOPPED")
    assert f"detach --region r1 --boot-volume-attachment-id {ATT} --force" in on_new[1]
    assert on_new[2:] == [attach, start]
    assert repair_commands(INST, "r1", OLD, "RUNNING", (ATT, OLD), True) == []
    assert repair_commands(INST, "r1", OLD, "STOPPED", (ATT, OLD), True) == [start]
