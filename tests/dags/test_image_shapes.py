"""Image shape compatibility in the migration DAG, end to end: an image imported in EMULATED mode is not compatible
with a flexible shape, so the run stops before any launch naming the shapes it allows; with
`add_shape_compatibility` the run adds the shape (with the request's OCPU range) and the fleet launches on it."""

from __future__ import annotations

import io

import oci
import pytest
from common.ids import MIB

from ocisim import formats
from ocisim.formats.partitions import gpt_with_esp
from tests.airflow_helpers import last_run_id, run_dag, xcom

DAG_ID = "oci_vmdk_migration"
SHAPE = "VM.Standard.E5.Flex"


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch):
    monkeypatch.setenv("OCI_POLL_INTERVAL", "0.2")
    monkeypatch.setenv("OCI_POLL_MAX_INTERVAL", "1")


def test_emulated_image_refused_on_a_flex_shape_then_launched_once_the_shape_is_added(estate, capfd):
    sim = estate
    t = sim.tenancy
    disk = gpt_with_esp(8 * MIB) + b"\x07" * (8 * MIB - 34 * 512)
    vmdk = io.BytesIO()
    formats.write_image(vmdk, "VMDK", len(disk), [(i, disk[i * MIB:(i + 1) * MIB]) for i in range(8)], MIB)
    sim.client(oci.object_storage.ObjectStorageClient).put_object(t["namespace"], "images", "vm/legacy-erp.vmdk",
                                                                  io.BytesIO(vmdk.getvalue()))
    conf = {"namespace": t["namespace"], "bucket": "images", "object_name": "vm/legacy-erp.vmdk",
            "launch_mode": "EMULATED", "fleet_count": 1, "hostname_pattern": "erp-{index:02d}", "shape": SHAPE,
            "ocpus": 2, "memory_in_gbs": 32, "subnet_id": t["subnets"]["app"],
            "availability_domain": t["availability_domains"][0]}

    # the request's ranges must hold the fleet's own OCPUs: refused in validation, before any call that changes
    capfd.readouterr()
    sim.admin.reset_counters()
    state, tasks = run_dag(DAG_ID, {**conf, "add_shape_compatibility": True, "compatible_ocpus": [1, 1]})
    assert state == "failed" and tasks["validate_request"] == "failed", tasks
    assert "compatible_ocpus [1, 1]: must hold the fleet's ocpus 2" in "".join(capfd.readouterr())
    assert not [op for op, n in sim.admin.counters().items() if n and op.startswith(("Create", "Launch", "Add"))]

    sim.admin.reset_counters()
    state, tasks = run_dag(DAG_ID, conf)
    out = capfd.readouterr()
    assert state == "failed" and tasks["check_image_shape"] == "failed", tasks
    assert tasks["launch_instance"] == "upstream_failed", tasks
    assert (f"shape {SHAPE} is not compatible with image legacy-erp (EMULATED); set add_shape_compatibility or "
            f"choose one of VM.Standard.E2.1.Micro, VM.Standard2.1, VM.Standard2.2") in out.out + out.err
    counters = sim.admin.counters()
    assert "LaunchInstance" not in counters and "AddImageShapeCompatibilityEntry" not in counters
    assert counters["ListImageShapeCompatibilityEntries"] >= 1

    state, tasks = run_dag(DAG_ID, {**conf, "add_shape_compatibility": True, "compatible_ocpus": [1, 8]})
    assert state == "success", tasks
    run_id = last_run_id(DAG_ID)
    checked = xcom(DAG_ID, run_id, "check_image_shape")
    image_id = xcom(DAG_ID, run_id, "import_image")["image_id"]
    assert checked["added"] and not checked["compatible"] and checked["shape"] == SHAPE
    assert checked["entry"] == {"ocpus": [1, 8], "memory_in_gbs": [1, 1049]}  # memory: the shape's whole range
    compute = sim.client(oci.core.ComputeClient)
    entry = compute.get_image_shape_compatibility_entry(image_id, SHAPE).data
    assert (entry.ocpu_constraints.min, entry.ocpu_constraints.max) == (1, 8)
    image = compute.get_image(image_id).data
    assert (image.launch_mode, image.launch_options.firmware) == ("EMULATED", "UEFI_64")
    launched = [i for i in sim.admin.resources("instance") if i.get("image_id") == image_id]
    assert [(i["shape"], i["lifecycle_state"], i["shape_config"]["ocpus"]) for i in launched] == \
        [(SHAPE, "RUNNING", 2.0)]

