"""The golden image DAG end to end: dag.test() against a seeded ocisim (Run Command executing on this machine) with
the real SDK: the iSCSI refusal, the detach/clean/image/re-attach path with an export that imports again and a fleet,
and a second run for the same instance inside OCI's 20-minute window. No mocks."""

from __future__ import annotations

import threading
import time

import oci
import pytest
from common.ids import MIB
from oci.core.models import (
    AttachIScsiVolumeDetails,
    CreateImageDetails,
    CreateVolumeDetails,
    ImageSourceViaObjectStorageTupleDetails,
)

from tests.airflow_helpers import last_run_id, load_dag, run_dag, xcom

DAG_ID = "oci_golden_image"
ISCSI_DEVICE = "/dev/oracleoci/oraclevdd"  # app1 has its paravirtualized volumes at oraclevdb and oraclevdc
MUTATING = ("Create", "Launch", "Attach", "Detach", "Delete", "Terminate", "Export", "Copy", "Update", "Put",
            "InstanceAction")
WAIT = {"max_interval_seconds": 1, "max_wait_seconds": 120}


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch):
    monkeypatch.setenv("OCI_POLL_INTERVAL", "0.2")
    monkeypatch.setenv("OCI_POLL_MAX_INTERVAL", "1")


def mutating(counters: dict) -> dict:
    return {op: n for op, n in counters.items() if op.startswith(MUTATING) and n}


def attach_iscsi_volume(sim, instance: str = "app1") -> tuple:
    """A new volume with content, attached to the instance through iSCSI (SDK, as a user would have it)."""
    t = sim.tenancy
    storage = sim.client(oci.core.BlockstorageClient)
    compute = sim.client(oci.core.ComputeClient)
    volume = storage.create_volume(CreateVolumeDetails(
        compartment_id=t["compartments"]["prod"], availability_domain=t["availability_domains"][0], size_in_gbs=50,
        display_name="iscsi-data")).data
    oci.wait_until(storage, storage.get_volume(volume.id), "lifecycle_state", "AVAILABLE", **WAIT)
    sim.admin.write(volume.id, 3 * MIB, b"iscsi volume payload")
    att = compute.attach_volume(AttachIScsiVolumeDetails(instance_id=t["instances"][instance], volume_id=volume.id,
                                                         device=ISCSI_DEVICE)).data
    att = oci.wait_until(compute, compute.get_volume_attachment(att.id), "lifecycle_state", "ATTACHED", **WAIT).data
    return volume, att


def by_id(sim, kind: str) -> dict[str, dict]:
    return {r["id"]: r for r in sim.admin.resources(kind)}


def test_iscsi_attached_is_refused_by_default_naming_the_attachment(estate, capfd):
    sim = estate
    volume, att = attach_iscsi_volume(sim)
    sim.admin.reset_counters()
    capfd.readouterr()
    state, tasks = run_dag(DAG_ID, {"instance_id": sim.tenancy["instances"]["app1"]})
    out = capfd.readouterr()
    text = out.out + out.err
    assert state == "failed" and tasks["create_golden_image"] == "failed", tasks
    assert tasks["export_image"] == "upstream_failed" and tasks["report"] == "failed"
    assert "OciInputError" in text
    assert f"attachment {att.id} (volume {volume.id}, device {ISCSI_DEVICE})" in text
    assert "no image of" in text  # the report says what was not made
    assert mutating(sim.admin.counters()) == {}
    assert by_id(sim, "volumeattachment")[att.id]["lifecycle_state"] == "ATTACHED"
    assert [i["display_name"] for i in sim.admin.resources("image")] == ["OL9"]


def test_detach_clean_image_reattach_then_export_that_imports_again_and_a_fleet_of_three(estate):
    sim = estate
    t = sim.tenancy
    instance_id, boot_id = t["instances"]["app1"], t["boot_volumes"]["app1"]
    volume, att = attach_iscsi_volume(sim)
    volume_sha = sim.admin.sha256(volume.id)
    paravirtual = [a["id"] for a in sim.admin.resources("volumeattachment")
                   if a["instance_id"] == instance_id and a["attachment_type"] == "paravirtualized"]
    assert len(paravirtual) == 2
    sim.admin.reset_counters()

    state, tasks = run_dag(DAG_ID, {
        "instance_id": instance_id, "iscsi_policy": "detach_and_reattach", "image_name": "app-golden",
        "export_bucket": "images", "export_namespace": t["namespace"], "export_format": "QCOW2",
        "fleet_count": 3, "hostname_pattern": "web-{index:02d}", "subnet_id": t["subnets"]["app"],
        "availability_domain": t["availability_domains"][0]})
    assert state == "success", tasks
    assert set(tasks.values()) == {"success"}, tasks
    run_id = last_run_id(DAG_ID)

    # iscsid cleaned through Run Command on the instance, then detached, imaged, re-attached at the same device
    image = xcom(DAG_ID, run_id, "create_golden_image")
    assert image["display_name"] == "app-golden" and image["lifecycle_state"] == "AVAILABLE"
    assert image["instance_state"] == "RUNNING"
    assert [(d["attachment_id"], d["volume_id"], d["device"], d["type"]) for d in image["detached"]] == \
        [(att.id, volume.id, ISCSI_DEVICE, "iscsi")]
    commands = [c for c in sim.admin.resources("agentcommand") if c["target"]["instance_id"] == instance_id]
    assert len(commands) == 1 and commands[0]["_lifecycle_state"] == "SUCCEEDED" and commands[0]["_exit_code"] == 0
    script = commands[0]["content"]["source"]["text"]
    assert f"iscsiadm -m node -T {att.iqn} -p {att.ipv4}:{att.port} -u" in script
    assert f"iscsiadm -m node -o delete -T {att.iqn}" in script
    attachments = by_id(sim, "volumeattachment")
    assert attachments[att.id]["lifecycle_state"] == "DETACHED"
    new = attachments[image["reattached"][0]]
    assert (new["lifecycle_state"], new["attachment_type"], new["volume_id"], new["device"], new["instance_id"]) == \
        ("ATTACHED", "iscsi", volume.id, ISCSI_DEVICE, instance_id)
    assert all(attachments[a]["lifecycle_state"] == "ATTACHED" for a in paravirtual)
    assert sim.admin.sha256(volume.id) == volume_sha
    assert by_id(sim, "instance")[instance_id]["lifecycle_state"] == "RUNNING"
    stored = by_id(sim, "image")[image["image_id"]]
    assert stored["freeform_tags"]["golden-image-of"] == instance_id
    assert stored["freeform_tags"]["managed-by"] == "airflow-oci"
    golden = sim.admin.sha256(image["image_id"])
    assert golden == sim.admin.sha256(boot_id)
    counters = sim.admin.counters()
    assert {op: counters.get(op) for op in ("CreateInstanceAgentCommand", "DetachVolume", "CreateImage",
                                             "AttachVolume", "ExportImage", "LaunchInstance")} == \
        {"CreateInstanceAgentCommand": 1, "DetachVolume": 1, "CreateImage": 1, "AttachVolume": 1, "ExportImage": 1,
         "LaunchInstance": 3}

    # the export landed as a QCOW2 object, and that object imports again with the same bytes
    exported = xcom(DAG_ID, run_id, "export_image")
    assert exported["object"] == {"namespace": t["namespace"], "bucket": "images",
                                  "name": "golden-images/app-golden.qcow2"}
    objects = sim.client(oci.object_storage.ObjectStorageClient)
    head = objects.head_object(t["namespace"], "images", "golden-images/app-golden.qcow2")
    assert int(head.headers["content-length"]) == exported["size_bytes"] > 0
    compute = sim.client(oci.core.ComputeClient)
    again = compute.create_image(CreateImageDetails(
        compartment_id=t["compartments"]["prod"], display_name="app-golden-reimported",
        image_source_details=ImageSourceViaObjectStorageTupleDetails(
            namespace_name=t["namespace"], bucket_name="images", object_name="golden-images/app-golden.qcow2",
            source_image_type="QCOW2"))).data
    oci.wait_until(compute, compute.get_image(again.id), "lifecycle_state", "AVAILABLE", **WAIT)
    assert sim.admin.sha256(again.id) == golden

    # a fleet of three from the image, three distinct hostnames on their VNICs, all RUNNING
    fleet = [xcom(DAG_ID, run_id, "launch_fleet", map_index=i) for i in range(3)]
    instances, vnics = by_id(sim, "instance"), by_id(sim, "vnic")
    labels = {a["instance_id"]: vnics[a["vnic_id"]]["hostname_label"] for a in sim.admin.resources("vnicattachment")}
    assert [labels[f["instance_id"]] for f in fleet] == ["web-01", "web-02", "web-03"]
    for row in fleet:
        assert instances[row["instance_id"]]["lifecycle_state"] == "RUNNING"
        assert instances[row["instance_id"]]["image_id"] == image["image_id"]
    report = xcom(DAG_ID, run_id, "report")
    assert report["hostnames"] == ["web-01", "web-02", "web-03"] and report["problems"] == []
    assert report["image"]["image_id"] == image["image_id"] and report["export"]["object"] == exported["object"]
    assert_image_asset_event(run_id, image["image_id"], sim.home_region)


def assert_image_asset_event(run_id: str, image_id: str, region: str) -> None:
    from airflow import settings
    from airflow.models.asset import AssetEvent

    with settings.Session() as session:
        events = session.query(AssetEvent).filter(AssetEvent.source_dag_id == DAG_ID,
                                                  AssetEvent.source_run_id == run_id).all()
        assert [(e.asset.uri, e.extra.get("source_instance_id") is not None) for e in events] == \
            [(f"oci://{region}/{image_id}", True)]


def test_second_run_for_the_same_instance_inside_the_window_waits_then_succeeds(estate, capfd):
    """Deterministic, as tests/operators/test_images.py does it: emulated time runs 1:1 while a side thread steps
    it. Run 1 images the instance; the side thread lets the image finish (11 emulated minutes) and no more, so run 2
    starts 9 minutes inside the window and is refused; after two refusals the side thread steps past the window and
    the next attempt succeeds."""
    sim = estate
    instance_id = sim.tenancy["instances"]["verifier"]
    sim.admin.set_time_scale(1)
    sim.admin.reset_counters()
    seen: dict = {}

    def wait_for(operation: str, count: int) -> int:
        deadline = time.monotonic() + 90
        while sim.admin.counters().get(operation, 0) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return sim.admin.counters().get(operation, 0)

    def step_time():
        seen["first"] = wait_for("CreateImage", 1)
        sim.admin.advance(11 * 60)  # run 1's image is done and the instance runs: 9 minutes of window left
        seen["refused"] = wait_for("CreateImage", 3) - 1
        sim.admin.advance(9 * 60 + 1)
        sim.admin.set_time_scale(600)

    side = threading.Thread(target=step_time, daemon=True)
    side.start()
    first_state, first_tasks = run_dag(DAG_ID, {"instance_id": instance_id, "image_name": "verifier-golden-1"})
    first = xcom(DAG_ID, last_run_id(DAG_ID), "create_golden_image")
    capfd.readouterr()
    second_state, second_tasks = run_dag(DAG_ID, {"instance_id": instance_id, "image_name": "verifier-golden-2"})
    out = capfd.readouterr().out
    side.join(120)
    assert first_state == "success", first_tasks
    assert second_state == "success", second_tasks
    assert second_tasks["create_golden_image"] == "success"
    second = xcom(DAG_ID, last_run_id(DAG_ID), "create_golden_image")
    assert seen["first"] == 1 and seen["refused"] == 2  # refused twice inside the window; the task did not fail
    assert sim.admin.counters()["CreateImage"] == 4  # one image, two refusals, one image: no hammering
    assert first["image_id"] != second["image_id"]
    images = by_id(sim, "image")
    assert images[first["image_id"]]["lifecycle_state"] == images[second["image_id"]]["lifecycle_state"] == \
        "AVAILABLE"
    assert second["instance_state"] == "RUNNING"
    assert "OCI allows one image per instance at a time (20 minutes apart)" in out and "trying again in" in out
    # runs for different instances are not held back by the DAG: no pool, many active runs
    dag = load_dag(DAG_ID)
    assert dag.max_active_runs >= 8 and dag.get_task("create_golden_image").pool == "default_pool"


@pytest.mark.parametrize("conf, message", [
    ({"export_bucket": "images"}, "export_namespace: required with export_bucket 'images'"),
    ({"fleet_count": 2, "os_type": "windows", "hostname_pattern": "golden-windows-{index}"},
     "'golden-windows-1': Windows names allow letters, digits and hyphens, at most 15 characters"),
    ({"fleet": [{"hostname": "web-01"}, {"hostname": "Web-01"}]}, "duplicate hostnames in the fleet: Web-01/web-01"),
    ({"instance_id": ""}, "instance_id: required"),
])
def test_bad_request_fails_before_any_api_call(estate, capfd, conf, message):
    sim = estate
    t = sim.tenancy
    sim.admin.reset_counters()
    capfd.readouterr()
    state, tasks = run_dag(DAG_ID, {"instance_id": t["instances"]["app1"], "subnet_id": t["subnets"]["app"],
                                    "availability_domain": t["availability_domains"][0], **conf})
    out = capfd.readouterr()
    assert state == "failed" and tasks["validate_request"] == "failed", tasks
    assert tasks["create_golden_image"] == "upstream_failed"
    assert message in out.out + out.err
    assert sim.admin.counters() == {}  # not even a read
