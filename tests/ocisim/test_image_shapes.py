"""Image shape compatibility through the real SDK and CLI: an imported image's default list by launch mode, the
firmware its disk's partition table gives it, Add/Get/Remove of entries, and LaunchInstance refusing a shape
the image is not compatible with (ocisim/backend/compute/compatibility.py says what is OCI's and what ocisim
assumes)."""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path

import oci
import pytest
from oci.core.models import (
    AddImageShapeCompatibilityEntryDetails,
    CreateImageDetails,
    CreateVnicDetails,
    ImageMemoryConstraints,
    ImageOcpuConstraints,
    ImageSourceViaObjectStorageTupleDetails,
    InstanceSourceViaImageDetails,
    LaunchInstanceDetails,
    LaunchInstanceShapeConfigDetails,
)

from ocisim import formats
from ocisim.formats.partitions import gpt_with_esp

FAST = {"max_interval_seconds": 1, "max_wait_seconds": 60}
MIB = 1 << 20
CLI = Path(__file__).resolve().parents[2] / ".venv-cli" / "bin" / "oci"
FIXED = ["VM.Standard.E2.1.Micro", "VM.Standard2.1", "VM.Standard2.2", "VM.Standard2.4", "VM.Standard2.8"]


def _import(sim, name: str, disk: bytes, launch_mode: str) -> str:
    """The OCID of an AVAILABLE image imported (as a VMDK) from the raw `disk`."""
    t = sim.tenancy
    out = io.BytesIO()
    blocks = [(i, disk[i * MIB:(i + 1) * MIB]) for i in range(len(disk) // MIB)
              if disk[i * MIB:(i + 1) * MIB].strip(b"\0")]
    formats.write_image(out, "VMDK", len(disk), blocks, MIB)
    sim.client(oci.object_storage.ObjectStorageClient).put_object(t["namespace"], t["buckets"][0], name,
                                                                  io.BytesIO(out.getvalue()))
    compute = sim.client(oci.core.ComputeClient)
    wr = oci.core.ComputeClientCompositeOperations(compute).create_image_and_wait_for_work_request(
        CreateImageDetails(compartment_id=t["compartment_id"], display_name=name, launch_mode=launch_mode,
                           image_source_details=ImageSourceViaObjectStorageTupleDetails(
                               namespace_name=t["namespace"], bucket_name=t["buckets"][0], object_name=name)),
        waiter_kwargs=FAST).data
    image_id = next(r.identifier for r in wr.resources if r.entity_type == "image")
    oci.wait_until(compute, compute.get_image(image_id), "lifecycle_state", "AVAILABLE", **FAST)
    return image_id


def _launch(sim, image_id: str, shape: str, name: str, ocpus: float | None = None, memory: float | None = None):
    t = sim.tenancy
    config = LaunchInstanceShapeConfigDetails(ocpus=ocpus, memory_in_gbs=memory) if ocpus else None
    return sim.client(oci.core.ComputeClient).launch_instance(LaunchInstanceDetails(
        compartment_id=t["compartment_id"], availability_domain=t["availability_domains"][0], display_name=name,
        shape=shape, shape_config=config, source_details=InstanceSourceViaImageDetails(image_id=image_id),
        create_vnic_details=CreateVnicDetails(subnet_id=t["subnet_id"]))).data


def _refused(call, *args, **kwargs) -> oci.exceptions.ServiceError:
    with pytest.raises(oci.exceptions.ServiceError) as err:
        call(*args, **kwargs)
    return err.value


def test_emulated_import_needs_a_flexible_shape_added_before_it_launches_there(ocisim):
    sim = ocisim
    compute = sim.client(oci.core.ComputeClient)
    uefi_disk = gpt_with_esp(8 * MIB) + bytes(8 * MIB - 34 * 512)
    legacy = _import(sim, "legacy-erp", uefi_disk, "EMULATED")
    modern = _import(sim, "modern-app", b"\x01" * MIB + bytes(3 * MIB), "PARAVIRTUALIZED")

    # firmware from the partition table: a GPT disk with an EFI System Partition boots UEFI, others BIOS
    assert compute.get_image(legacy).data.launch_options.firmware == "UEFI_64"
    assert compute.get_image(modern).data.launch_options.firmware == "BIOS"

    # defaults by launch mode: EMULATED gets the fixed VM shapes only; PARAVIRTUALIZED every x86 shape, flexible
    # ones with the shape's full range
    entries = compute.list_image_shape_compatibility_entries(legacy).data
    assert sorted(e.shape for e in entries) == FIXED
    assert all(e.image_id == legacy and e.ocpu_constraints is None for e in entries)
    modern_entries = {e.shape: e for e in compute.list_image_shape_compatibility_entries(modern).data}
    assert "VM.Standard.E5.Flex" in modern_entries and "VM.Standard.A1.Flex" not in modern_entries
    e5 = modern_entries["VM.Standard.E5.Flex"]
    assert (e5.ocpu_constraints.min, e5.ocpu_constraints.max) == (1, 94)
    assert (e5.memory_constraints.min_in_gbs, e5.memory_constraints.max_in_gbs) == (1, 1049)
    shapes = {s.shape for s in compute.list_shapes(sim.tenancy["compartment_id"], image_id=legacy).data}
    assert shapes <= set(FIXED) and "VM.Standard2.1" in shapes
    err = _refused(compute.get_image_shape_compatibility_entry, legacy, "VM.Standard.E5.Flex")
    assert (err.status, err.code) == (404, "NotAuthorizedOrNotFound")

    # LaunchInstance refuses the pair as OCI does, before anything is made
    sim.admin.reset_counters()
    err = _refused(_launch, sim, legacy, "VM.Standard.E5.Flex", "erp-1", 2, 32)
    assert (err.status, err.code) == (400, "InvalidParameter")
    assert err.message == f"Shape VM.Standard.E5.Flex is not valid for image {legacy}."
    assert not [i for i in sim.admin.resources("instance") if i["display_name"] == "erp-1"]

    # add the flexible shape with OCPU and memory constraints; the launch must then fit them
    details = AddImageShapeCompatibilityEntryDetails(
        ocpu_constraints=ImageOcpuConstraints(min=1, max=4),
        memory_constraints=ImageMemoryConstraints(min_in_gbs=8, max_in_gbs=64))
    added = compute.add_image_shape_compatibility_entry(
        legacy, "VM.Standard.E5.Flex", add_image_shape_compatibility_entry_details=details).data
    assert (added.shape, added.ocpu_constraints.max, added.memory_constraints.min_in_gbs) == \
        ("VM.Standard.E5.Flex", 4, 8)
    got = compute.get_image_shape_compatibility_entry(legacy, "VM.Standard.E5.Flex").data
    assert (got.ocpu_constraints.min, got.memory_constraints.max_in_gbs) == (1, 64)
    err = _refused(_launch, sim, legacy, "VM.Standard.E5.Flex", "erp-1", 8, 64)
    assert (err.status, err.code) == (400, "InvalidParameter") and "allows 1 to 4 OCPUs" in err.message
    instance = _launch(sim, legacy, "VM.Standard.E5.Flex", "erp-1", 2, 32)
    assert instance.launch_options.firmware == "UEFI_64"
    oci.wait_until(compute, compute.get_instance(instance.id), "lifecycle_state", "RUNNING", **FAST)
    listed = compute.list_images(sim.tenancy["compartment_id"], shape="VM.Standard.E5.Flex").data
    assert legacy in {i.id for i in listed}

    # refusals of Add, and Remove
    for shape, details, message in [
            ("VM.Standard.E5.Flex", AddImageShapeCompatibilityEntryDetails(
                ocpu_constraints=ImageOcpuConstraints(min=1, max=500)), "allows 1 to 94"),
            ("VM.Standard.E4.Flex", AddImageShapeCompatibilityEntryDetails(
                ocpu_constraints=ImageOcpuConstraints(min=4, max=2)), "min at most max"),
            ("VM.Standard2.1", AddImageShapeCompatibilityEntryDetails(
                ocpu_constraints=ImageOcpuConstraints(min=1, max=1)), "not a flexible shape")]:
        err = _refused(compute.add_image_shape_compatibility_entry, legacy, shape,
                       add_image_shape_compatibility_entry_details=details)
        assert (err.status, err.code) == (400, "InvalidParameter") and message in err.message, err.message
    assert compute.remove_image_shape_compatibility_entry(legacy, "VM.Standard.E5.Flex").status == 204
    err = _refused(compute.remove_image_shape_compatibility_entry, legacy, "VM.Standard.E5.Flex")
    assert err.status == 404
    assert "VM.Standard.E5.Flex" not in {e.shape for e in compute.list_image_shape_compatibility_entries(legacy).data}


def test_cli_lists_image_shape_compatibility_entries(ocisim):
    """`oci compute image-shape-compatibility-entry list` through the real CLI (its own venv)."""
    if not CLI.exists():
        pytest.fail(f"{CLI} missing: run `make cli-venv` (make test does it)")
    image_id = ocisim.tenancy["images"]["Oracle-Linux-9"]
    env = {**os.environ, "OCI_CLI_SUPPRESS_FILE_PERMISSIONS_WARNING": "True"}
    done = subprocess.run(
        [str(CLI), "--config-file", str(ocisim.config_file), "--endpoint", ocisim.endpoints["us-ashburn-1"],
         "--output", "json", "compute", "image-shape-compatibility-entry", "list", "--image-id", image_id, "--all"],
        capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    entries = {e["shape"]: e for e in json.loads(done.stdout)["data"]}
    assert entries["VM.Standard.E4.Flex"]["ocpu-constraints"] == {"min": 1, "max": 64}
    assert entries["VM.Standard2.1"]["image-id"] == image_id
