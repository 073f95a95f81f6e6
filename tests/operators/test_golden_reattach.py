"""Golden image re-attach safety (real SDK, real Airflow, ocisim): the intent to detach is recorded on the instance
before the call, so a re-attach that fails fails the run naming the volume and device, and the next run re-attaches
what the earlier one detached."""

from __future__ import annotations

from common.tags import DETACH_TAG_PREFIX

from tests.airflow_helpers import last_run_id, run_dag, xcom
from tests.operators.test_images import ISCSI_DEVICE, attach_iscsi_volume, attachments

DAG = "test_op_images_golden_blocking"


def instance_tags(sim, instance_id: str) -> dict:
    return next(i for i in sim.admin.resources("instance") if i["id"] == instance_id)["freeform_tags"]


def test_failed_reattach_fails_naming_the_volume_and_a_rerun_reattaches_it(airflow_oci_guest, capfd):
    sim = airflow_oci_guest
    instance_id = sim.tenancy["instances"]["linux1"]
    volume, _ = attach_iscsi_volume(sim)
    sim.admin.fault("AttachVolume", "500", count=40)
    capfd.readouterr()
    state, tasks = run_dag(DAG, {"instance_id": instance_id})
    out = capfd.readouterr()
    text = out.out + out.err
    assert state == "failed", tasks
    assert f"DETACHED from {instance_id}: volume {volume.id} (device {ISCSI_DEVICE})" in text
    assert xcom(DAG, last_run_id(DAG), "create_golden_image", key="not_reattached")[0]["volume_id"] == volume.id
    tags = instance_tags(sim, instance_id)
    assert [v for k, v in tags.items() if k.startswith(DETACH_TAG_PREFIX) and volume.id in v]  # intent still there

    sim.admin.clear_faults()
    state, tasks = run_dag(DAG, {"instance_id": instance_id})  # a re-run: finds the intent, re-attaches
    assert state == "success", tasks
    live = [a for a in attachments(sim).values() if a["volume_id"] == volume.id and a["lifecycle_state"] == "ATTACHED"]
    assert len(live) == 1 and (live[0]["device"], live[0]["attachment_type"]) == (ISCSI_DEVICE, "iscsi")
    assert not [k for k in instance_tags(sim, instance_id) if k.startswith(DETACH_TAG_PREFIX)]
    result = xcom(DAG, last_run_id(DAG), "create_golden_image")
    assert [d["volume_id"] for d in result["detached"]] == [volume.id] and len(result["reattached"]) == 1


def test_a_dropped_detach_response_still_reattaches(airflow_oci_guest):
    sim = airflow_oci_guest
    instance_id = sim.tenancy["instances"]["linux1"]
    volume, _ = attach_iscsi_volume(sim)
    sim.admin.fault("DetachVolume", "drop")
    state, tasks = run_dag(DAG, {"instance_id": instance_id})
    live = [a for a in attachments(sim).values() if a["volume_id"] == volume.id and a["lifecycle_state"] == "ATTACHED"]
    assert len(live) == 1 and live[0]["device"] == ISCSI_DEVICE, (state, tasks)
    assert not [k for k in instance_tags(sim, instance_id) if k.startswith(DETACH_TAG_PREFIX)]
