"""What the demo runs, in order: (dag_id, conf builder from the seeded tenancy and the output dir)."""

from __future__ import annotations

import os
from pathlib import Path


def nightly(tenancy: dict, out: Path) -> dict:
    return {"compartment_ids": tenancy["compartments"]["prod"], "verification_level": "script",
            "verifier_instance_id": tenancy["instances"]["verifier"],
            "policies": {"default": {"full_interval_days": 7, "retention_days": 30},
                         "gold": {"full_interval_days": 7, "retention_days": 90, "dr_region": "us-phoenix-1"}}}


def on_prem_disk(out: Path) -> Path:
    """The "on-prem VM disk": a real ext4 filesystem with an OS-like tree, written as a streamOptimized VMDK."""
    from ocisim.disks import make_ext4
    from ocisim.formats import write_image

    raw = out / "legacy-erp.raw"
    make_ext4(raw, {"etc/hostname": "legacy-erp\n", "etc/os-release": 'NAME="Oracle Linux Server"\nVERSION="8"\n',
                    "opt/erp/data.bin": os.urandom(6 << 20)}, size_mib=32, label="root")
    vmdk = out / "legacy-erp.vmdk"
    size = raw.stat().st_size
    with open(raw, "rb") as src, open(vmdk, "wb") as dst:
        blocks = ((i, src.read(1 << 20)) for i in range((size + (1 << 20) - 1) >> 20))
        write_image(dst, "VMDK", size, ((i, b.ljust(1 << 20, b"\0")) for i, b in blocks if b.strip(b"\0")))
    return vmdk


def upload_roots(out: Path) -> dict:
    """The demo's uploads come from its own output folder only: uploads are off unless OCI_UPLOAD_ROOTS names
    the directories they may come from."""
    return {"OCI_UPLOAD_ROOTS": str(out.resolve())}


def migration(tenancy: dict, out: Path) -> dict:
    return {"local_path": str(on_prem_disk(out)), "bucket": "images", "object_name": "migrations/legacy-erp.vmdk",
            "part_size_mb": 2, "image_name": "legacy-erp", "source_image_type": "VMDK",
            "operating_system": "Oracle Linux", "operating_system_version": "8",
            "fleet": [{"hostname": "erp-01", "os_type": "linux"}, {"hostname": "erp-02", "os_type": "linux"},
                      {"hostname": "erp-win-01", "os_type": "windows"}],
            "subnet_id": tenancy["subnet_id"], "availability_domain": tenancy["availability_domains"][0]}


def golden_image(tenancy: dict, out: Path) -> dict:
    return {"instance_id": tenancy["instances"]["app1"], "image_name": "app1-golden",
            "iscsi_policy": "detach_and_reattach", "export_bucket": "images", "export_namespace": tenancy["namespace"],
            "export_format": "QCOW2", "fleet_count": 2, "hostname_pattern": "web-{index:02d}", "os_type": "linux",
            "subnet_id": tenancy["subnet_id"], "availability_domain": tenancy["availability_domains"][0]}


def emergency_clone(tenancy: dict, out: Path) -> dict:
    return {"instance_id": tenancy["instances"]["app1"], "launch_instance": True, "hostname": "app1-dr",
            "attach_cloned_volumes": True}


SCENARIOS = [
    ("oci_nightly_backup", nightly),
    ("oci_vmdk_migration", migration),
    ("oci_golden_image", golden_image),
    ("oci_emergency_clone", emergency_clone),
]
