"""Custom images through the real SDK: from an instance (OCI's imaging rules), import from Object Storage
(VMDK, QCOW2, refusals through FAILED work requests), export (checked by qemu-img) and the rest of the API."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import oci
import pytest
from oci.core.models import (
    AttachIScsiVolumeDetails,
    CreateImageDetails,
    CreateVnicDetails,
    CreateVolumeDetails,
    ExportImageViaObjectStorageTupleDetails,
    ExportImageViaObjectStorageUriDetails,
    ImageSourceViaObjectStorageTupleDetails,
    ImageSourceViaObjectStorageUriDetails,
    InstanceSourceViaImageDetails,
    LaunchInstanceDetails,
)

from ocisim import formats
from ocisim.backend.base import GB
from ocisim.disks import make_ext4

FAST = {"max_interval_seconds": 1, "max_wait_seconds": 60}
QEMU_IMG = "qemu-img"  # from PATH; `make test` installs it (tools/system-packages)


@pytest.fixture
def env(ocisim):
    t = ocisim.tenancy
    compute = ocisim.client(oci.core.ComputeClient)
    return {
        "sim": ocisim, "t": t, "compute": compute, "comp": t["compartment_id"],
        "ad": t["availability_domains"][0], "ns": t["namespace"], "bucket": t["buckets"][0],
        "ops": oci.core.ComputeClientCompositeOperations(compute),
        "storage": ocisim.client(oci.core.BlockstorageClient),
        "objects": ocisim.client(oci.object_storage.ObjectStorageClient),
        "wr": ocisim.client(oci.work_requests.WorkRequestClient),
    }


@pytest.fixture(scope="module")
def raw_disk(tmp_path_factory) -> Path:
    """A real ext4 disk to migrate: 24 MiB raw, with files."""
    path = tmp_path_factory.mktemp("disk") / "disk.raw"
    make_ext4(path, {"etc/hostname": "legacy-vm\n", "srv/app/data.bin": bytes(range(256)) * 4096}, size_mib=24,
              label="root")
    return path


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def image_file(raw: Path, out: Path, fmt: str, subformat: str | None = None) -> Path:
    size = raw.stat().st_size
    data = raw.read_bytes()
    bs = 1 << 20
    blocks = [(i, data[i * bs:(i + 1) * bs]) for i in range(size // bs) if data[i * bs:(i + 1) * bs].strip(b"\0")]
    with open(out, "wb") as f:
        formats.write_image(f, fmt, size, blocks, bs, subformat)
    return out


def upload(env, name: str, path: Path) -> None:
    with open(path, "rb") as f:
        env["objects"].put_object(env["ns"], env["bucket"], name, f)


def import_image(env, name: str, source, launch_mode: str | None = "PARAVIRTUALIZED"):
    """(image response, finished work request) of an import."""
    resp = env["ops"].create_image_and_wait_for_work_request(
        CreateImageDetails(compartment_id=env["comp"], display_name=name, image_source_details=source,
                           launch_mode=launch_mode), waiter_kwargs=FAST)
    return resp


def tuple_source(env, name: str, fmt: str | None) -> ImageSourceViaObjectStorageTupleDetails:
    return ImageSourceViaObjectStorageTupleDetails(
        namespace_name=env["ns"], bucket_name=env["bucket"], object_name=name, source_image_type=fmt,
        operating_system="Oracle Linux", operating_system_version="8")


def uri(env, name: str) -> str:
    return f"https://objectstorage.us-ashburn-1.oraclecloud.com/n/{env['ns']}/b/{env['bucket']}/o/{name}"


def image_of(env, wr) -> str:
    return next(r.identifier for r in wr.resources if r.entity_type == "image")


def wait(client, response, state: str, field: str = "lifecycle_state"):
    return oci.wait_until(client, response, field, state, **FAST).data


def service_error(call, *args, **kwargs) -> oci.exceptions.ServiceError:
    with pytest.raises(oci.exceptions.ServiceError) as err:
        call(*args, **kwargs)
    return err.value


def launch_from(env, image_id: str, name: str):
    return env["ops"].launch_instance_and_wait_for_state(LaunchInstanceDetails(
        compartment_id=env["comp"], availability_domain=env["ad"], display_name=name, shape="VM.Standard.E4.Flex",
        source_details=InstanceSourceViaImageDetails(image_id=image_id),
        create_vnic_details=CreateVnicDetails(subnet_id=env["t"]["subnet_id"], hostname_label=name)),
        wait_for_states=["RUNNING"], waiter_kwargs=FAST).data


def boot_volume_of(env, instance_id: str) -> str:
    atts = env["compute"].list_boot_volume_attachments(env["ad"], env["comp"], instance_id=instance_id).data
    return atts[0].boot_volume_id


# -- images of instances -------------------------------------------------------------------------------
def test_image_of_an_instance_is_its_boot_volume_at_request_time(env):
    sim, compute = env["sim"], env["compute"]
    inst_id, boot_id = env["t"]["instances"]["linux1"], env["t"]["boot_volumes"]["linux1"]
    sim.admin.write(boot_id, 5 << 20, b"configured golden state")
    before = sim.admin.sha256(boot_id)
    resp = compute.create_image(CreateImageDetails(compartment_id=env["comp"], instance_id=inst_id,
                                                   display_name="golden", freeform_tags={"role": "web"}))
    image = resp.data
    assert image.lifecycle_state == "PROVISIONING" and resp.headers["opc-work-request-id"]
    assert compute.get_instance(inst_id).data.lifecycle_state == "CREATING_IMAGE"
    sim.admin.write(boot_id, 5 << 20, b"changed after the request")  # not in the image
    wr = wait(env["wr"], env["wr"].get_work_request(resp.headers["opc-work-request-id"]), "SUCCEEDED", "status")
    assert wr.operation_type == "CreateImage" and image_of(env, wr) == image.id
    done = wait(compute, compute.get_image(image.id), "AVAILABLE")
    assert done.display_name == "golden" and done.freeform_tags == {"role": "web"}
    assert done.base_image_id == env["t"]["images"]["Oracle-Linux-9"] and done.operating_system == "Oracle Linux"
    assert done.launch_mode == "NATIVE" and done.size_in_mbs == 47 * 1024
    assert wait(compute, compute.get_instance(inst_id), "RUNNING").lifecycle_state == "RUNNING"
    assert sim.admin.sha256(image.id)["sha256"] == before["sha256"]
    assert sim.admin.sha256(boot_id)["sha256"] != before["sha256"]


def test_one_image_per_instance_in_a_20_minute_window(env):
    sim, compute = env["sim"], env["compute"]
    first_id = env["t"]["instances"]["linux1"]
    second = launch_from(env, env["t"]["images"]["Oracle-Linux-9"], "second")
    sim.admin.set_time_scale(1)  # step the clock by hand from here on

    def image(instance_id: str):
        return compute.create_image(CreateImageDetails(compartment_id=env["comp"], instance_id=instance_id))

    image(first_id)
    refused = service_error(image, first_id)
    assert refused.status == 409 and refused.code == "Conflict"
    assert first_id in refused.message and "allowed after" in refused.message
    assert image(second.id).status == 200  # images of different instances run in parallel
    sim.admin.advance(11 * 60)
    assert compute.get_instance(first_id).data.lifecycle_state == "RUNNING"  # the image is done...
    still = service_error(image, first_id)  # ...but the window is not over
    assert still.status == 409 and first_id in still.message
    sim.admin.advance(9 * 60 + 1)
    again = image(first_id)
    assert again.status == 200 and again.data.lifecycle_state == "PROVISIONING"


def test_iscsi_attachment_must_be_detached_before_imaging(env):
    sim, compute, storage = env["sim"], env["compute"], env["storage"]
    inst_id = env["t"]["instances"]["linux1"]
    vol = storage.create_volume(CreateVolumeDetails(compartment_id=env["comp"], availability_domain=env["ad"],
                                                    display_name="iscsi", size_in_gbs=50)).data
    wait(storage, storage.get_volume(vol.id), "AVAILABLE")
    att = env["ops"].attach_volume_and_wait_for_state(AttachIScsiVolumeDetails(
        instance_id=inst_id, volume_id=vol.id, device="/dev/oracleoci/oraclevdc"), wait_for_states=["ATTACHED"],
        waiter_kwargs=FAST).data
    details = CreateImageDetails(compartment_id=env["comp"], instance_id=inst_id)
    refused = service_error(compute.create_image, details)
    assert refused.status == 409 and refused.code == "Conflict"
    assert att.id in refused.message and "iSCSI" in refused.message and vol.id in refused.message
    assert compute.get_instance(inst_id).data.lifecycle_state == "RUNNING"  # nothing started
    compute.detach_volume(att.id)
    wait(compute, compute.get_volume_attachment(att.id), "DETACHED")
    assert compute.create_image(details).status == 200  # the refusal did not start the 20-minute window
    assert sim.admin.counters()["CreateImage"] == 2


def test_injected_failed_work_request_surfaces_with_its_text(env):
    compute = env["compute"]
    inst_id = env["t"]["instances"]["linux1"]
    env["sim"].admin.fault("CreateImage", "fail_work_request", message="boom")
    resp = env["ops"].create_image_and_wait_for_work_request(
        CreateImageDetails(compartment_id=env["comp"], instance_id=inst_id), waiter_kwargs=FAST)
    assert resp.data.status == "FAILED"
    errors = env["wr"].list_work_request_errors(resp.data.id).data
    assert [e.message for e in errors] == ["boom"]
    image_id = image_of(env, resp.data)
    assert compute.get_image(image_id).data.lifecycle_state != "AVAILABLE"
    assert wait(compute, compute.get_instance(inst_id), "RUNNING").lifecycle_state == "RUNNING"


# -- import --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("fmt", "subformat", "by_uri"), [
    ("VMDK", "monolithicSparse", False), ("VMDK", "streamOptimized", True), ("QCOW2", None, True)])
def test_import_then_launch_gives_the_source_disk_bytes(env, raw_disk, tmp_path, fmt, subformat, by_uri):
    sim, compute = env["sim"], env["compute"]
    name = f"legacy-{subformat or fmt}.{fmt.lower()}"
    upload(env, name, image_file(raw_disk, tmp_path / name, fmt, subformat))
    source = (ImageSourceViaObjectStorageUriDetails(source_uri=uri(env, name), source_image_type=fmt,
                                                    operating_system="Oracle Linux")
              if by_uri else tuple_source(env, name, fmt))
    resp = import_image(env, f"migrated-{fmt}", source)
    assert resp.data.status == "SUCCEEDED"
    image = compute.get_image(image_of(env, resp.data)).data
    assert image.lifecycle_state == "AVAILABLE" and image.launch_mode == "PARAVIRTUALIZED"
    assert image.operating_system == "Oracle Linux" and image.display_name == f"migrated-{fmt}"
    assert image.launch_options.network_type == "PARAVIRTUALIZED"
    size = raw_disk.stat().st_size
    assert sim.admin.sha256(image.id, length=size)["sha256"] == sha256_file(raw_disk)
    inst = launch_from(env, image.id, f"migrated-{fmt.lower()}")
    boot_id = boot_volume_of(env, inst.id)
    assert sim.admin.sha256(boot_id, length=size)["sha256"] == sha256_file(raw_disk)


def test_import_shows_importing_before_available(env, raw_disk, tmp_path):
    compute = env["compute"]
    upload(env, "disk.qcow2", image_file(raw_disk, tmp_path / "disk.qcow2", "QCOW2"))
    resp = compute.create_image(CreateImageDetails(compartment_id=env["comp"],
                                                   image_source_details=tuple_source(env, "disk.qcow2", None)))
    assert resp.data.lifecycle_state == "IMPORTING" and resp.headers["opc-work-request-id"]
    assert resp.data.launch_mode == "PARAVIRTUALIZED"  # OCI's default for imported images
    assert wait(compute, compute.get_image(resp.data.id), "AVAILABLE").lifecycle_state == "AVAILABLE"


def failed_import(env, source) -> tuple[str, str]:
    resp = import_image(env, "refused", source)
    assert resp.data.status == "FAILED"
    errors = env["wr"].list_work_request_errors(resp.data.id).data
    image = env["compute"].get_image(image_of(env, resp.data)).data
    assert image.lifecycle_state == "DELETED"
    return errors[0].message, errors[0].code


def test_import_refuses_a_file_that_is_not_vmdk_or_qcow2(env, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("this is not a disk image\n" * 100)
    upload(env, "notes.vmdk", text)
    message, code = failed_import(env, tuple_source(env, "notes.vmdk", "VMDK"))
    assert code == "ImageImportFailed"
    assert message.startswith("The image could not be imported:")
    assert "format is not supported" in message and "QCOW2 and VMDK" in message and "notes.vmdk" in message


def test_import_refuses_a_virtual_size_over_400_gb(env, tmp_path):
    huge = tmp_path / "huge.qcow2"
    with open(huge, "wb") as f:
        formats.write_image(f, "QCOW2", 500 * GB, [])
    assert huge.stat().st_size < 1 << 20
    upload(env, "huge.qcow2", huge)
    message, _ = failed_import(env, ImageSourceViaObjectStorageUriDetails(source_uri=uri(env, "huge.qcow2")))
    assert message.startswith("The image could not be imported:")
    assert "500.0 GB" in message and "400 GB maximum" in message


def test_import_of_a_missing_object_fails_asynchronously(env):
    message, _ = failed_import(env, tuple_source(env, "no-such-object.vmdk", "VMDK"))
    assert "no-such-object.vmdk" in message and "not found" in message


def test_import_refuses_a_format_that_does_not_match_source_image_type(env, raw_disk, tmp_path):
    upload(env, "actually.qcow2", image_file(raw_disk, tmp_path / "actually.qcow2", "QCOW2"))
    message, _ = failed_import(env, tuple_source(env, "actually.qcow2", "VMDK"))
    assert "QCOW2" in message and "sourceImageType is VMDK" in message


def test_import_request_errors(env):
    compute = env["compute"]
    bad_uri = service_error(compute.create_image, CreateImageDetails(
        compartment_id=env["comp"], image_source_details=ImageSourceViaObjectStorageUriDetails(
            source_uri="https://example.com/disk.vmdk")))
    assert bad_uri.status == 400 and "sourceUri" in bad_uri.message
    bad_mode = service_error(compute.create_image, CreateImageDetails(
        compartment_id=env["comp"], launch_mode="ACCELERATEDPV",
        image_source_details=tuple_source(env, "x.vmdk", "VMDK")))
    assert bad_mode.status == 400 and "launchMode" in bad_mode.message
    nothing = service_error(compute.create_image, CreateImageDetails(compartment_id=env["comp"]))
    assert nothing.status == 400 and nothing.code == "MissingParameter"
    unknown = service_error(compute.create_image, CreateImageDetails(
        compartment_id=env["comp"], instance_id="ocid1.instance.oc1.iad.aaaanothere"))
    assert unknown.status == 404


# -- export --------------------------------------------------------------------------------------------
def test_export_as_vmdk_and_qcow2_then_import_again(env, raw_disk, tmp_path):
    sim, compute, objects = env["sim"], env["compute"], env["objects"]
    upload(env, "src.vmdk", image_file(raw_disk, tmp_path / "src.vmdk", "VMDK"))
    image_id = image_of(env, import_image(env, "to-export", tuple_source(env, "src.vmdk", "VMDK")).data)
    size = raw_disk.stat().st_size
    for fmt, details in (
            ("VMDK", ExportImageViaObjectStorageTupleDetails(
                namespace_name=env["ns"], bucket_name=env["bucket"], object_name="exported.vmdk",
                export_format="VMDK")),
            ("QCOW2", ExportImageViaObjectStorageUriDetails(
                destination_uri=uri(env, "exports/exported.qcow2"), export_format="QCOW2"))):
        resp = compute.export_image(image_id, details)
        assert resp.data.lifecycle_state == "EXPORTING" and resp.headers["opc-work-request-id"]
        wr = wait(env["wr"], env["wr"].get_work_request(resp.headers["opc-work-request-id"]), "SUCCEEDED",
                  "status")
        assert wr.operation_type == "ExportImage"
        assert wait(compute, compute.get_image(image_id), "AVAILABLE").lifecycle_state == "AVAILABLE"
        name = "exported.vmdk" if fmt == "VMDK" else "exports/exported.qcow2"
        got = objects.get_object(env["ns"], env["bucket"], name)
        local = tmp_path / Path(name).name
        local.write_bytes(got.data.content)
        check = subprocess.run([QEMU_IMG, "check", "-f", fmt.lower(), str(local)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        raw_out = tmp_path / f"{fmt}.raw"
        subprocess.run([QEMU_IMG, "convert", "-f", fmt.lower(), "-O", "raw", str(local), str(raw_out)], check=True)
        assert raw_out.stat().st_size == size and sha256_file(raw_out) == sha256_file(raw_disk)
        again = import_image(env, f"reimported-{fmt}", tuple_source(env, name, fmt))
        assert again.data.status == "SUCCEEDED"
        reimported = image_of(env, again.data)
        assert sim.admin.sha256(reimported, length=size) == sim.admin.sha256(image_id, length=size)


def test_export_refusals(env):
    sim, compute = env["sim"], env["compute"]
    image_id = env["t"]["images"]["Oracle-Linux-9"]

    def export(fmt: str | None, image: str = image_id, bucket: str | None = None):
        return compute.export_image(image, ExportImageViaObjectStorageTupleDetails(
            namespace_name=env["ns"], bucket_name=bucket or env["bucket"], object_name="x", export_format=fmt))

    vhd = service_error(export, "VHD")
    assert vhd.status == 400 and "VHD" in vhd.message
    no_format = service_error(export, None)
    assert no_format.status == 400 and "exportFormat" in no_format.message
    no_bucket = service_error(export, "QCOW2", bucket="no-such-bucket")
    assert no_bucket.status == 404
    big = sim.sim.compute.make_image(sim.home_region, env["comp"], "big", "Oracle Linux", "9", {}, size_in_gbs=500)
    too_big = service_error(export, "VMDK", big["id"])
    assert too_big.status == 400 and "400 GB" in too_big.message


# -- get, list, delete ---------------------------------------------------------------------------------
def test_list_filter_page_and_delete_images(env):
    sim, compute = env["sim"], env["compute"]
    region, comp = sim.home_region, env["comp"]
    for name, os_name, version in (("ol8", "Oracle Linux", "8"), ("win", "Windows", "Server 2022"),
                                   ("ubuntu", "Canonical Ubuntu", "22.04")):
        sim.sim.compute.make_image(region, comp, name, os_name, version, {}, size_in_gbs=50)
    everything = oci.pagination.list_call_get_all_results(compute.list_images, comp, limit=1).data
    assert {i.display_name for i in everything} == {"Oracle-Linux-9", "ol8", "win", "ubuntu"}
    first = compute.list_images(comp, limit=2)
    assert len(first.data) == 2 and first.headers["opc-next-page"]
    by_name = compute.list_images(comp, sort_by="DISPLAYNAME", sort_order="ASC").data
    assert [i.display_name for i in by_name] == ["Oracle-Linux-9", "ol8", "ubuntu", "win"]
    assert [i.display_name for i in compute.list_images(comp, operating_system="Oracle Linux").data] == [
        "ol8", "Oracle-Linux-9"]
    assert [i.display_name for i in compute.list_images(
        comp, operating_system="Oracle Linux", operating_system_version="8").data] == ["ol8"]
    assert [i.display_name for i in compute.list_images(comp, display_name="win").data] == ["win"]
    assert len(compute.list_images(comp, shape="VM.Standard.E4.Flex").data) == 4
    win = compute.list_images(comp, display_name="win").data[0]
    got = compute.get_image(win.id)
    assert got.data.size_in_mbs == 50 * 1024 and got.headers["etag"] and got.data.lifecycle_state == "AVAILABLE"
    assert compute.delete_image(win.id).status == 204
    assert compute.get_image(win.id).data.lifecycle_state == "DELETED"
    assert "win" not in {i.display_name for i in compute.list_images(comp).data}
    assert [i.display_name for i in compute.list_images(comp, lifecycle_state="DELETED").data] == ["win"]
    gone = service_error(compute.launch_instance, LaunchInstanceDetails(
        compartment_id=comp, availability_domain=env["ad"], shape="VM.Standard.E4.Flex",
        source_details=InstanceSourceViaImageDetails(image_id=win.id),
        create_vnic_details=CreateVnicDetails(subnet_id=env["t"]["subnet_id"])))
    assert gone.status == 409 and gone.code == "IncorrectState"
    assert service_error(compute.get_image, "ocid1.image.oc1.iad.aaaanothere").status == 404
    other_region = sim.client(oci.core.ComputeClient, region="us-phoenix-1")
    assert service_error(other_region.get_image, win.id).status == 404
