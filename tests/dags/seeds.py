"""Tenancies the end-to-end tests seed into ocisim: real ext4 content on every volume."""

from __future__ import annotations

import copy
import time

# What every estate here has: the prod compartment, a subnet with a DNS label, and the Oracle Linux image.
_NETWORK_AND_IMAGE = {
    "compartments": [{"name": "prod"}],
    "subnets": [{"name": "app", "compartment": "prod", "cidr": "10.0.1.0/24", "dns_label": "app"}],
    "images": [{"name": "OL9", "compartment": "prod", "os": "Oracle Linux", "os_version": "9",
                "files": {"etc/os-release": 'NAME="Oracle Linux Server"\n'}}],
}


def protected_estate(heartbeat: float | None = None) -> dict:
    """Two tagged block volumes, one tagged boot volume, one untagged volume, and a verifier instance."""
    beat = str(int(heartbeat if heartbeat is not None else time.time()))
    return {
        **copy.deepcopy(_NETWORK_AND_IMAGE),
        "volumes": [
            {"name": "db-data", "compartment": "prod", "size_in_gbs": 50, "freeform_tags": {"backup-policy": "default"},
             "files": {"canary.txt": "db-data canary\n", ".heartbeat": beat, "db/table.dat": "rows\n" * 2000}},
            {"name": "app-data", "compartment": "prod", "size_in_gbs": 50,
             "freeform_tags": {"backup-policy": "default"},
             "files": {"canary.txt": "app-data canary\n", ".heartbeat": beat}},
            {"name": "scratch", "compartment": "prod", "size_in_gbs": 50, "files": {"tmp.txt": "not protected\n"}},
        ],
        "instances": [
            {"name": "app1", "compartment": "prod", "image": "OL9", "subnet": "app", "hostname": "app1",
             "boot_volume": {"size_in_gbs": 47, "freeform_tags": {"backup-policy": "default"},
                             "files": {"etc/hostname": "app1\n", "canary.txt": "app1 boot canary\n"}},
             "attach": [{"volume": "db-data", "type": "paravirtualized"},
                        {"volume": "app-data", "type": "paravirtualized"}]},
            {"name": "verifier", "compartment": "prod", "image": "OL9", "subnet": "app", "hostname": "verifier",
             "boot_volume": {"size_in_gbs": 47, "files": {"etc/hostname": "verifier\n"}}},
        ],
        "buckets": [{"name": "images", "compartment": "prod"}],
    }


def grouped_estate(heartbeat: float | None = None, log_ad: int = 1, boot_in_group: bool = False) -> dict:
    """A database's data and log volumes sharing `backup-group: db` (the log in AD `log_ad`; with
    `boot_in_group`, the boot volume of instance db1 too), one protected volume of its own, and a verifier
    instance."""
    beat = str(int(heartbeat if heartbeat is not None else time.time()))
    protected = {"backup-policy": "default"}
    return {
        **copy.deepcopy(_NETWORK_AND_IMAGE),
        "volumes": [
            {"name": "db-data", "compartment": "prod", "size_in_gbs": 50,
             "freeform_tags": {**protected, "backup-group": "db"},
             "files": {"canary.txt": "db-data canary\n", ".heartbeat": beat, "db/table.dat": "rows\n" * 2000}},
            {"name": "db-log", "compartment": "prod", "size_in_gbs": 50, "ad": log_ad,
             "freeform_tags": {**protected, "backup-group": "db"},
             "files": {"canary.txt": "db-log canary\n", ".heartbeat": beat, "wal/0001": "wal\n" * 500}},
            {"name": "app-data", "compartment": "prod", "size_in_gbs": 50, "freeform_tags": protected,
             "files": {"canary.txt": "app-data canary\n", ".heartbeat": beat}},
        ],
        "instances": [
            {"name": "verifier", "compartment": "prod", "image": "OL9", "subnet": "app", "hostname": "verifier",
             "boot_volume": {"size_in_gbs": 47, "files": {"etc/hostname": "verifier\n"}}},
            *([{"name": "db1", "compartment": "prod", "image": "OL9", "subnet": "app", "hostname": "db1",
                "boot_volume": {"size_in_gbs": 47, "freeform_tags": {**protected, "backup-group": "db"},
                                "files": {"etc/hostname": "db1\n"}}}] if boot_in_group else []),
        ],
    }
