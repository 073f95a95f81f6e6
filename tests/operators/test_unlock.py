"""What ocisim's newer operations unlock, through real Airflow (dag.test) and the real SDK against ocisim:
shapes checked before a launch."""

from __future__ import annotations

from tests.airflow_helpers import run_dag
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
