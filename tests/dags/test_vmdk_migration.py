"""The VMDK migration DAG end to end: dag.test() against a seeded ocisim with the real SDK. A VMDK made from a real
ext4 disk is uploaded from a local path in parts, imported, and a mixed fleet launches from it. No mocks."""

from __future__ import annotations

import base64
import hashlib
import random
from pathlib import Path

import pytest
import yaml
from common.ids import MIB

from ocisim import formats
from ocisim.disks import make_ext4
from tests.airflow_helpers import last_run_id, load_dag, run_dag, xcom

DAG_ID = "oci_vmdk_migration"
MUTATING = ("Create", "Launch", "Attach", "Detach", "Delete", "Terminate", "Export", "Copy", "Update", "Put",
            "Upload", "Commit", "Abort", "InstanceAction")


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch):
    monkeypatch.setenv("OCI_POLL_INTERVAL", "0.2")
    monkeypatch.setenv("OCI_POLL_MAX_INTERVAL", "1")


@pytest.fixture(scope="module")
def legacy_disk(tmp_path_factory) -> tuple[Path, Path]:
    """(raw ext4 disk, its streamOptimized VMDK): a few files and a 3 MiB incompressible one, so the VMDK is
    larger than several 1 MiB upload parts."""
    folder = tmp_path_factory.mktemp("legacy")
    raw = folder / "legacy-app.raw"
    blob = random.Random(4).randbytes(3 * MIB)
    make_ext4(raw, {"etc/hostname": "legacy-app\n", "etc/os-release": 'NAME="Oracle Linux Server"\n',
                    "srv/app/config.ini": "[app]\nport = 8080\n", "srv/app/data.bin": blob}, size_mib=24,
              label="root")
    data = raw.read_bytes()
    blocks = [(i, data[i * MIB:(i + 1) * MIB]) for i in range(len(data) // MIB)]
    vmdk = folder / "legacy-app.vmdk"
    with open(vmdk, "wb") as f:
        formats.write_image(f, "VMDK", len(data), [(i, b) for i, b in blocks if b.strip(b"\0")], MIB)
    return raw, vmdk


def mutating(counters: dict) -> dict:
    return {op: n for op, n in counters.items() if op.startswith(MUTATING) and n}


def fleet_conf(sim, **extra) -> dict:
    t = sim.tenancy
    return {"subnet_id": t["subnets"]["app"], "availability_domain": t["availability_domains"][0], **extra}


def test_local_vmdk_uploaded_in_parts_imported_and_a_mixed_fleet_launched(estate, legacy_disk):
    sim = estate
    raw, vmdk = legacy_disk
    raw_size = raw.stat().st_size
    raw_sha = hashlib.sha256(raw.read_bytes()).hexdigest()
    assert vmdk.stat().st_size > 3 * MIB
    fleet = [{"hostname": "app-01", "os_type": "linux"}, {"hostname": "app-02", "os_type": "linux"},
             {"hostname": "WINAPP-01", "os_type": "windows"}]
    sim.admin.reset_counters()

    state, tasks = run_dag(DAG_ID, fleet_conf(sim, local_path=str(vmdk), bucket="images", part_size_mb=1,
                                              operating_system="Oracle Linux", operating_system_version="9",
                                              fleet=fleet))
    assert state == "success", tasks
    assert set(tasks.values()) == {"success"}, tasks
    run_id = last_run_id(DAG_ID)
    counters = sim.admin.counters()

    # uploaded from the local path in parts, then imported from that object
    uploaded = xcom(DAG_ID, run_id, "upload_disk")
    assert uploaded["multipart"] and uploaded["parts"] >= 4 and uploaded["size_bytes"] == vmdk.stat().st_size
    assert uploaded["object_name"] == "migrations/legacy-app.vmdk" and uploaded["bucket"] == "images"
    assert counters["UploadPart"] >= 2 and counters["CommitMultipartUpload"] == 1
    image = xcom(DAG_ID, run_id, "import_image")
    assert image["source"] == uploaded["uri"] and image["display_name"] == "legacy-app"
    assert image["lifecycle_state"] == "AVAILABLE" and image["virtual_size_bytes"] == raw_size
    assert sim.admin.sha256(image["image_id"], length=raw_size)["sha256"] == raw_sha
    stored = next(i for i in sim.admin.resources("image") if i["id"] == image["image_id"])
    assert (stored["operating_system"], stored["operating_system_version"], stored["launch_mode"]) == \
        ("Oracle Linux", "9", "PARAVIRTUALIZED")
    assert counters["CreateImage"] == 1 and counters["LaunchInstance"] == 3

    # three instances RUNNING with their hostnames; user data sets them; each boot volume holds the source disk
    instances = {i["id"]: i for i in sim.admin.resources("instance")}
    vnics = {v["hostname_label"]: v for v in sim.admin.resources("vnic")}
    launched = [xcom(DAG_ID, run_id, "launch_instance", map_index=i) for i in range(3)]
    assert [(r["hostname"], r["os_type"]) for r in launched] == [(f["hostname"], f["os_type"]) for f in fleet]
    for row in launched:
        instance = instances[row["instance_id"]]
        assert instance["lifecycle_state"] == "RUNNING" and instance["image_id"] == image["image_id"]
        assert vnics[row["hostname"]]["private_ip"] == row["private_ip"]
        user_data = base64.b64decode(instance["metadata"]["user_data"]).decode()
        if row["os_type"] == "linux":
            config = yaml.safe_load(user_data)
            assert user_data.startswith("#cloud-config\n")
            assert config["hostname"] == row["hostname"] and config["preserve_hostname"] is False
        else:
            assert user_data.startswith("#ps1_sysnative\n")
            assert f"$DesiredName = '{row['hostname']}'" in user_data
            assert "Rename-Computer -NewName $DesiredName -Force" in user_data
        assert sim.admin.sha256(row["boot_volume_id"], length=raw_size)["sha256"] == raw_sha

    assert rendered_map_indexes(run_id, "launch_instance") == ["app-01", "app-02", "WINAPP-01"]  # the grid's names

    # the report names it all; the image is an Asset event through the alias
    report = xcom(DAG_ID, run_id, "report")
    assert report["image"]["image_id"] == image["image_id"] and report["problems"] == []
    assert report["hostnames"] == ["app-01", "app-02", "WINAPP-01"]
    assert report["private_ips"] == [r["private_ip"] for r in launched]
    assert_image_asset_event(run_id, image["image_id"], sim.home_region)


def rendered_map_indexes(run_id: str, task_id: str) -> list[str]:
    from airflow import settings
    from airflow.models import TaskInstance

    with settings.Session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=DAG_ID, run_id=run_id, task_id=task_id).all()
        return [ti.rendered_map_index for ti in sorted(tis, key=lambda ti: ti.map_index)]


def assert_image_asset_event(run_id: str, image_id: str, region: str) -> None:
    from airflow import settings
    from airflow.models.asset import AssetEvent, AssetModel

    with settings.Session() as session:
        events = session.query(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id).filter(
            AssetEvent.source_dag_id == DAG_ID, AssetEvent.source_run_id == run_id).all()
        uris = [e.asset.uri for e in events]
    assert uris == [f"oci://{region}/{image_id}"]


def test_object_already_in_object_storage_is_imported_without_upload_or_fleet(estate, legacy_disk):
    sim = estate
    raw, vmdk = legacy_disk
    import io

    import oci

    t = sim.tenancy
    sim.client(oci.object_storage.ObjectStorageClient).put_object(t["namespace"], "images", "vm/legacy.vmdk",
                                                                  io.BytesIO(vmdk.read_bytes()))
    sim.admin.reset_counters()
    state, tasks = run_dag(DAG_ID, {"namespace": t["namespace"], "bucket": "images", "object_name": "vm/legacy.vmdk",
                                    "image_name": "legacy from bucket", "launch_mode": "EMULATED"})
    assert state == "success", tasks
    assert tasks["upload_disk"] == "skipped" and tasks["import_image"] == "success" and tasks["report"] == "success"
    counters = sim.admin.counters()
    assert "UploadPart" not in counters and "LaunchInstance" not in counters and counters["CreateImage"] == 1
    report = xcom(DAG_ID, last_run_id(DAG_ID), "report")
    assert report["instances"] == [] and report["image"]["display_name"] == "legacy from bucket"
    image = next(i for i in sim.admin.resources("image") if i["id"] == report["image"]["image_id"])
    assert image["launch_mode"] == "EMULATED"
    assert sim.admin.sha256(image["id"], length=raw.stat().st_size)["sha256"] == \
        hashlib.sha256(raw.read_bytes()).hexdigest()


@pytest.mark.parametrize("conf, message", [
    ({"fleet": [{"hostname": "web-01", "os_type": "linux"}, {"hostname": "WEB-01", "os_type": "windows"}]},
     "fleet: duplicate hostnames in the fleet: WEB-01/web-01 (2x)"),
    ({"fleet_count": 2, "os_type": "windows", "hostname_pattern": "windows-server-{index:02d}"},
     "hostnames from pattern 'windows-server-{index:02d}'[0] 'windows-server-01': Windows names allow letters, "
     "digits and hyphens, at most 15 characters"),
    ({"fleet_count": 2, "hostname_pattern": "app"}, "duplicate hostnames in the fleet: app (2x)"),
    ({"fleet_count": 1, "subnet_id": ""}, "subnet_id: required to launch a fleet of 1"),
])
def test_bad_request_fails_in_validation_with_no_mutating_request(estate, legacy_disk, capfd, conf, message):
    sim = estate
    _, vmdk = legacy_disk
    sim.admin.reset_counters()
    capfd.readouterr()
    state, tasks = run_dag(DAG_ID, fleet_conf(sim, local_path=str(vmdk), bucket="images", **conf))
    out = capfd.readouterr()
    assert state == "failed" and tasks["validate_request"] == "failed", tasks
    assert tasks["upload_disk"] == "upstream_failed" and tasks["import_image"] == "upstream_failed"
    assert message in out.out + out.err
    assert mutating(sim.admin.counters()) == {}


def test_trigger_form_rejects_values_outside_the_schema(airflow_db):
    """The Params' JSON schema: what the trigger form (and the REST API) refuses before a run exists."""
    from airflow.sdk.exceptions import ParamValidationError

    params = load_dag(DAG_ID).params
    for key, value in [("source_image_type", "RAW"), ("launch_mode", "FAST"), ("fleet_count", 500),
                       ("fleet", [{"hostname": "a", "os_type": "solaris"}]), ("fleet", [{"name": "a"}]),
                       ("part_size_mb", 0), ("local_path", "relative/disk.vmdk"), ("subnet_id", "subnet-1"),
                       ("source_uri", "ftp://example.com/disk.vmdk")]:
        with pytest.raises(ParamValidationError):
            params.get_param(key).resolve(value)
    assert params.get_param("source_uri").resolve(
        "https://objectstorage.us-ashburn-1.oraclecloud.com/n/ns/b/b/o/x.vmdk").endswith("x.vmdk")
    assert params.get_param("fleet").resolve([{"hostname": "WIN-01", "os_type": "windows"}])
