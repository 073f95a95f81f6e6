"""Image operators through real Airflow (dag.test) against ocisim with the real SDK: the golden-image preflight
(iSCSI refused, or cleaned up, detached and re-attached), the one-image-per-instance window, import/export round
trips with byte checks, and bad inputs refused before any mutating request. Plus unit tests of the pure parts."""

from __future__ import annotations

import hashlib
import io
import threading
import time
from pathlib import Path

import oci
import pytest
from common.ids import GIB, MIB
from oci.core.models import AttachIScsiVolumeDetails, CreateImageDetails, CreateVolumeDetails

from ocisim import formats
from ocisim.disks import make_ext4
from tests.airflow_helpers import last_run_id, run_dag, xcom

ISCSI_DEVICE = "/dev/oracleoci/oraclevdc"
MUTATING = ("Create", "Launch", "Attach", "Detach", "Delete", "Terminate", "Export", "Copy", "Update", "Put",
            "InstanceAction")
WAIT = {"max_interval_seconds": 1, "max_wait_seconds": 120}


# -- helpers ---------------------------------------------------------------------------------------------------
def mutating(counters: dict) -> dict:
    return {op: n for op, n in counters.items() if op.startswith(MUTATING)}


def run_failing(dag_id: str, conf: dict, capfd) -> str:
    """Run a one-task DAG that must fail; return what the task logged (the error text is in it)."""
    capfd.readouterr()
    state, tasks = run_dag(dag_id, conf)
    out = capfd.readouterr()
    assert state == "failed" and set(tasks.values()) == {"failed"}, tasks
    return out.out + out.err


def attach_iscsi_volume(sim) -> tuple:
    """A new 50 GB volume attached to the seeded instance through iSCSI (SDK, as an operator would find it)."""
    t = sim.tenancy
    storage = sim.client(oci.core.BlockstorageClient)
    compute = sim.client(oci.core.ComputeClient)
    volume = storage.create_volume(CreateVolumeDetails(compartment_id=t["compartment_id"], size_in_gbs=50,
                                                       availability_domain=t["availability_domains"][0],
                                                       display_name="iscsi-data")).data
    oci.wait_until(storage, storage.get_volume(volume.id), "lifecycle_state", "AVAILABLE", **WAIT)
    sim.admin.write(volume.id, 3 * MIB, b"iscsi volume payload")
    att = compute.attach_volume(AttachIScsiVolumeDetails(instance_id=t["instances"]["linux1"], volume_id=volume.id,
                                                         device=ISCSI_DEVICE)).data
    att = oci.wait_until(compute, compute.get_volume_attachment(att.id), "lifecycle_state", "ATTACHED", **WAIT).data
    return volume, att


def attachments(sim) -> dict:
    return {a["id"]: a for a in sim.admin.resources("volumeattachment")}


def image_file(raw: Path, out: Path, fmt: str, subformat: str | None = None) -> Path:
    data = raw.read_bytes()
    chunks = [(i, data[i * MIB:(i + 1) * MIB]) for i in range(len(data) // MIB)]
    blocks = [(i, chunk) for i, chunk in chunks if chunk.strip(b"\0")]
    with open(out, "wb") as f:
        formats.write_image(f, fmt, len(data), blocks, MIB, subformat)
    return out


def upload(sim, name: str, data: bytes) -> None:
    t = sim.tenancy
    sim.client(oci.object_storage.ObjectStorageClient).put_object(t["namespace"], t["buckets"][0], name,
                                                                  io.BytesIO(data))


@pytest.fixture(scope="module")
def raw_disk(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("disk") / "legacy.raw"
    make_ext4(path, {"etc/hostname": "legacy-vm\n", "srv/app/data.bin": bytes(range(256)) * 4096}, size_mib=24,
              label="root")
    return path


# -- golden image: iSCSI preflight -----------------------------------------------------------------------------
def test_image_refused_while_iscsi_attached_names_the_attachment_and_changes_nothing(airflow_oci, capfd):
    sim = airflow_oci
    volume, att = attach_iscsi_volume(sim)
    instance_id = sim.tenancy["instances"]["linux1"]
    sim.admin.reset_counters()
    text = run_failing("test_op_images_one_image", {"instance_id": instance_id}, capfd)
    assert "OciInputError" in text
    assert f"attachment {att.id} (volume {volume.id}, device {ISCSI_DEVICE})" in text
    assert "detach_iscsi=True" in text
    counters = sim.admin.counters()
    assert mutating(counters) == {}, counters
    assert "CreateImage" not in counters and "DetachVolume" not in counters
    assert attachments(sim)[att.id]["lifecycle_state"] == "ATTACHED"
    assert sim.admin.resources("image") and all(i["display_name"] == "Oracle-Linux-9"
                                                for i in sim.admin.resources("image"))

    text = run_failing("test_op_images_one_image", {"instance_id": "ocid1.instance.oc1..bad"}, capfd)
    assert "instance_id 'ocid1.instance.oc1..bad': not an OCID" in text
    assert mutating(sim.admin.counters()) == {}


@pytest.mark.parametrize("mode", ["blocking", "deferrable"])
def test_golden_image_cleans_iscsid_detaches_images_and_reattaches(airflow_oci_guest, mode):
    sim = airflow_oci_guest
    t = sim.tenancy
    instance_id, boot_id = t["instances"]["linux1"], t["boot_volumes"]["linux1"]
    volume, att = attach_iscsi_volume(sim)
    volume_sha = sim.admin.sha256(volume.id)
    paravirtual = [a for a in attachments(sim).values() if a["attachment_type"] == "paravirtualized"]
    sim.admin.reset_counters()

    dag_id = f"test_op_images_golden_{mode}"
    state, tasks = run_dag(dag_id, {"instance_id": instance_id})
    assert state == "success", tasks
    result = xcom(dag_id, last_run_id(dag_id), "create_golden_image")

    # the XCom: plain ids and states
    assert result["instance_id"] == instance_id and result["region"] == sim.home_region
    assert result["lifecycle_state"] == "AVAILABLE" and result["instance_state"] == "RUNNING"
    assert result["size_in_mbs"] == 47 * 1024 and result["display_name"] == f"golden-{instance_id[-6:]}"
    assert [{k: d[k] for k in ("attachment_id", "volume_id", "device", "type")} for d in result["detached"]] == \
        [{"attachment_id": att.id, "volume_id": volume.id, "device": ISCSI_DEVICE, "type": "iscsi"}]
    assert len(result["reattached"]) == 1 and result["reattached"][0] != att.id

    # the iscsid cleanup really ran on the instance, through Run Command, and exited 0
    commands = [c for c in sim.admin.resources("agentcommand") if c["target"]["instance_id"] == instance_id]
    assert len(commands) == 1
    command = commands[0]
    assert command["_lifecycle_state"] == "SUCCEEDED" and command["_exit_code"] == 0
    script = command["content"]["source"]["text"]
    assert f"iscsiadm -m node -T {att.iqn} -p {att.ipv4}:{att.port} -u" in script
    assert f"iscsiadm -m node -o delete -T {att.iqn}" in script

    # detached, then re-attached: same volume, same type, same device; the paravirtualized one never touched
    now = attachments(sim)
    assert now[att.id]["lifecycle_state"] == "DETACHED"
    new = now[result["reattached"][0]]
    assert (new["lifecycle_state"], new["attachment_type"], new["volume_id"], new["device"]) == \
        ("ATTACHED", "iscsi", volume.id, ISCSI_DEVICE)
    for pv in paravirtual:
        assert now[pv["id"]]["lifecycle_state"] == "ATTACHED"
    assert sim.admin.sha256(volume.id) == volume_sha

    # the image holds the boot volume; the instance runs again; one request of each kind
    image = next(i for i in sim.admin.resources("image") if i["id"] == result["image_id"])
    assert image["lifecycle_state"] == "AVAILABLE" and image["freeform_tags"]["airflow-dag"] == dag_id
    assert sim.admin.sha256(result["image_id"]) == sim.admin.sha256(boot_id)
    assert next(i for i in sim.admin.resources("instance") if i["id"] == instance_id)["lifecycle_state"] == "RUNNING"
    counters = sim.admin.counters()
    assert {op: counters.get(op) for op in ("CreateInstanceAgentCommand", "DetachVolume", "CreateImage",
                                             "AttachVolume")} == \
        {"CreateInstanceAgentCommand": 1, "DetachVolume": 1, "CreateImage": 1, "AttachVolume": 1}
    link = xcom(dag_id, last_run_id(dag_id), "create_golden_image", key="_link_OciConsoleLink")
    assert link == f"https://cloud.oracle.com/compute/images/{result['image_id']}?region={sim.home_region}"


@pytest.mark.parametrize("mode", ["blocking", "deferrable"])
def test_failed_image_still_reattaches_the_detached_volume(airflow_oci_guest, mode, capfd):
    sim = airflow_oci_guest
    instance_id = sim.tenancy["instances"]["linux1"]
    volume, att = attach_iscsi_volume(sim)
    sim.admin.fault("CreateImage", "fail_work_request", message="imaging failed on purpose")
    text = run_failing(f"test_op_images_golden_{mode}", {"instance_id": instance_id}, capfd)
    assert "DELETED" in text and "re-attaching the 1 detached volume(s)" in text
    live = [a for a in attachments(sim).values() if a["volume_id"] == volume.id and a["lifecycle_state"] == "ATTACHED"]
    assert len(live) == 1 and live[0]["id"] != att.id
    assert (live[0]["attachment_type"], live[0]["device"], live[0]["instance_id"]) == \
        ("iscsi", ISCSI_DEVICE, instance_id)


def test_second_image_inside_the_window_waits_then_succeeds(airflow_oci, capfd):
    """Deterministic: time runs 1:1 while a side thread steps it. The first image (SDK) is still being made when the
    task starts, so it waits for the instance; then the image is done but the 20 minutes are not over, so CreateImage
    is refused; after two refusals the side thread steps past the window and the next attempt succeeds."""
    sim = airflow_oci
    t = sim.tenancy
    instance_id = t["instances"]["linux1"]
    compute = sim.client(oci.core.ComputeClient)
    sim.admin.set_time_scale(1)
    first = compute.create_image(CreateImageDetails(compartment_id=t["compartment_id"], instance_id=instance_id,
                                                    display_name="first")).data
    sim.admin.reset_counters()
    seen: dict = {}

    def wait_for(operation: str, count: int) -> int:
        deadline = time.monotonic() + 60
        while sim.admin.counters().get(operation, 0) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return sim.admin.counters().get(operation, 0)

    def step_time():
        seen["polled_instance"] = wait_for("GetInstance", 3)
        seen["tried_while_imaging"] = sim.admin.counters().get("CreateImage", 0)
        sim.admin.advance(11 * 60)  # the first image is done, the instance runs: 9 minutes of window left
        seen["refused"] = wait_for("CreateImage", 2)
        seen["window_opened_at"] = time.monotonic()
        sim.admin.advance(9 * 60 + 1)
        sim.admin.set_time_scale(600)

    side = threading.Thread(target=step_time, daemon=True)
    capfd.readouterr()
    started = time.monotonic()
    side.start()
    state, tasks = run_dag("test_op_images_one_image", {"instance_id": instance_id})
    side.join(130)
    out = capfd.readouterr().out
    assert state == "success", tasks
    assert seen["polled_instance"] >= 3 and seen["tried_while_imaging"] == 0
    assert seen["refused"] == 2  # refused twice inside the window, and the task did not fail
    result = xcom("test_op_images_one_image", last_run_id("test_op_images_one_image"), "create_image")
    assert result["lifecycle_state"] == "AVAILABLE" and result["instance_state"] == "RUNNING"
    assert result["image_id"] != first.id and result["detached"] == [] and result["reattached"] == []
    assert sim.admin.counters()["CreateImage"] == 3  # two refusals, then one success: no hammering
    assert "another image of it is being made" in out
    assert "OCI allows one image per instance at a time (20 minutes apart)" in out and "trying again in" in out
    assert seen["window_opened_at"] - started >= 0.2  # the attempts were spaced by the poll interval


# -- import and export -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["blocking", "deferrable"])
def test_import_vmdk_and_qcow2_export_both_ways_and_reimport_equal_bytes(airflow_oci, raw_disk, tmp_path, mode):
    sim = airflow_oci
    t = sim.tenancy
    ns, bucket = t["namespace"], t["buckets"][0]
    size = raw_disk.stat().st_size
    raw_sha = hashlib.sha256(raw_disk.read_bytes()).hexdigest()
    upload(sim, "migrate/legacy vm.vmdk", image_file(raw_disk, tmp_path / "a.vmdk", "VMDK").read_bytes())
    upload(sim, "migrate/legacy.qcow2", image_file(raw_disk, tmp_path / "a.qcow2", "QCOW2").read_bytes())
    vmdk_uri = f"https://objectstorage.{sim.home_region}.oraclecloud.com/n/{ns}/b/{bucket}/o/migrate%2Flegacy%20vm.vmdk"
    missing_image = "ocid1.image.oc1.iad.aaaaaaaanosuchimage0000000000000000000000000000000000000"
    dag_id = f"test_op_images_migrate_{mode}"
    state, tasks = run_dag(dag_id, {"namespace": ns, "bucket": bucket, "vmdk_uri": vmdk_uri,
                                    "qcow2_object": "migrate/legacy.qcow2", "missing_image_id": missing_image})
    assert state == "success", tasks
    assert set(tasks.values()) == {"success"}
    run_id = last_run_id(dag_id)

    imported = {task: xcom(dag_id, run_id, task) for task in ("import_vmdk", "import_qcow2", "reimport_qcow2",
                                                               "reimport_vmdk")}
    assert imported["import_vmdk"]["source"] == vmdk_uri
    assert imported["import_qcow2"]["source"].endswith("/o/migrate%2Flegacy.qcow2")
    for task, result in imported.items():
        assert result["lifecycle_state"] == "AVAILABLE", task
        assert result["virtual_size_bytes"] == size and result["size_in_mbs"] == size // MIB, task
        assert result["work_request_id"], task
        assert sim.admin.sha256(result["image_id"], length=size)["sha256"] == raw_sha, task
    images = {i["id"]: i for i in sim.admin.resources("image")}
    assert images[imported["import_vmdk"]["image_id"]]["launch_mode"] == "PARAVIRTUALIZED"
    assert images[imported["import_vmdk"]["image_id"]]["operating_system"] == "Oracle Linux"
    assert images[imported["import_qcow2"]["image_id"]]["launch_mode"] == "NATIVE"
    assert images[imported["import_qcow2"]["image_id"]]["freeform_tags"]["managed-by"] == "airflow-oci"

    objects = sim.client(oci.object_storage.ObjectStorageClient)
    for task, fmt, name, magic in (("export_as_qcow2", "QCOW2", f"exports/{mode}/from-vmdk.qcow2", b"QFI\xfb"),
                                   ("export_as_vmdk", "VMDK", f"exports/{mode}/from-qcow2.vmdk", b"KDMV")):
        result = xcom(dag_id, run_id, task)
        assert result["export_format"] == fmt and result["lifecycle_state"] == "AVAILABLE"
        assert result["object"] == {"namespace": ns, "bucket": bucket, "name": name}
        head = objects.head_object(ns, bucket, name)
        assert result["size_bytes"] == int(head.headers["content-length"]) > 0
        assert objects.get_object(ns, bucket, name, range="bytes=0-3").data.content == magic

    assert images[xcom(dag_id, run_id, "reimport_vmdk")["image_id"]]["lifecycle_state"] == "DELETED"
    assert xcom(dag_id, run_id, "delete_reimported_vmdk")["existed"] is True
    assert xcom(dag_id, run_id, "delete_missing_image") == {"image_id": missing_image, "deleted": True,
                                                            "existed": False, "region": sim.home_region}


def test_import_bad_inputs_are_refused_before_any_mutating_request(airflow_oci, raw_disk, tmp_path, capfd):
    sim = airflow_oci
    t = sim.tenancy
    ns, bucket, comp, region = t["namespace"], t["buckets"][0], t["compartment_id"], sim.home_region
    upload(sim, "notes.vmdk", b"this is not a disk image\n" * 100)
    huge = io.BytesIO()
    formats.write_image(huge, "VMDK", 500 * GIB, [], MIB)  # streamOptimized, no data: tiny
    assert len(huge.getvalue()) < MIB
    upload(sim, "huge.vmdk", huge.getvalue())
    upload(sim, "actually.qcow2", image_file(raw_disk, tmp_path / "a.qcow2", "QCOW2").read_bytes())
    base = {"namespace": ns, "bucket": bucket, "compartment_id": comp, "region": region}
    cases = [
        ({"object_name": "no-such-disk.vmdk"}, ["object 'no-such-disk.vmdk' in bucket", "not found"]),
        ({"object_name": "notes.vmdk"}, ["object 'notes.vmdk'", "is a text file, not a disk image"]),
        ({"object_name": "huge.vmdk"}, ["object 'huge.vmdk'", "500.0 GB", "over OCI's 400 GB"]),
        ({"object_name": "actually.qcow2", "source_image_type": "VMDK"},
         ["source_image_type 'VMDK'", "is a QCOW2 image"]),
        ({"object_name": "actually.qcow2", "source_image_type": "RAW"}, ["source_image_type 'RAW'"]),
        ({"object_name": "actually.qcow2", "source_image_type": "QCOW2", "compartment_id": "ocid1.compartment.x"},
         ["compartment_id 'ocid1.compartment.x': not an OCID"]),
        ({"object_name": "actually.qcow2", "source_image_type": "QCOW2", "region": "mars"},
         ["region 'mars': not an OCI region identifier"]),
        ({"object_name": "actually.qcow2", "source_image_type": "QCOW2", "region": "us-nowhere-1"},
         ["region 'us-nowhere-1'"]),
        ({"namespace": "", "bucket": "", "object_name": "", "source_uri": "https://example.com/disk.vmdk"},
         ["source_uri 'https://example.com/disk.vmdk': not an Object Storage object URI"]),
        ({"source_uri": f"https://objectstorage.{region}.oraclecloud.com/n/{ns}/b/{bucket}/o/actually.qcow2"},
         ["give one or the other"]),
    ]
    for overrides, expected in cases:
        sim.admin.reset_counters()
        text = run_failing("test_op_images_import_one", {**base, **overrides}, capfd)
        for fragment in expected:
            assert fragment in text, (overrides, fragment)
        assert mutating(sim.admin.counters()) == {}, overrides


def test_import_whose_work_request_fails_fails_with_oci_text(airflow_oci, raw_disk, tmp_path, capfd):
    sim = airflow_oci
    t = sim.tenancy
    upload(sim, "good.qcow2", image_file(raw_disk, tmp_path / "g.qcow2", "QCOW2").read_bytes())
    sim.admin.fault("CreateImage", "fail_work_request", message="the import broke on purpose")
    text = run_failing("test_op_images_import_one", {
        "namespace": t["namespace"], "bucket": t["buckets"][0], "object_name": "good.qcow2",
        "source_image_type": "QCOW2", "compartment_id": t["compartment_id"], "region": sim.home_region}, capfd)
    assert "OciWaitError" in text and "(CreateImage) FAILED" in text and "the import broke on purpose" in text


def test_export_refuses_images_over_400_gb_and_bad_inputs(airflow_oci, capfd):
    sim = airflow_oci
    t = sim.tenancy
    big = sim.sim.compute.make_image(sim.home_region, t["compartment_id"], "big", "Oracle Linux", "9", {},
                                     size_in_gbs=500)
    base = {"namespace": t["namespace"], "bucket": t["buckets"][0], "image_id": t["images"]["Oracle-Linux-9"]}
    cases = [
        ({"image_id": big["id"]}, [f"image_id '{big['id']}': the image is 512000 MB", "400 GB export limit"]),
        ({"export_format": "VHD"}, ["export_format 'VHD'"]),
        ({"bucket": "no-such-bucket"}, ["bucket 'no-such-bucket'", "not found"]),
        ({"image_id": "ocid1.volume.oc1.iad.aaaaaaaabbbbbbbb"}, ["expected an OCID of type 'image'"]),
    ]
    for overrides, expected in cases:
        sim.admin.reset_counters()
        text = run_failing("test_op_images_export_one", {**base, **overrides}, capfd)
        for fragment in expected:
            assert fragment in text, (overrides, fragment)
        counters = sim.admin.counters()
        assert mutating(counters) == {} and "ExportImage" not in counters, overrides
