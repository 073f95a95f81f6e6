"""The tenancy the distributed test seeds into ocisim: six tagged volumes with real ext4 content."""

from __future__ import annotations

import time

BLOCK = ("db-data", "app-data", "logs", "home")
BOOT = ("app1", "app2")
TAG = {"backup-policy": "default"}


def six_volume_estate(heartbeat: float | None = None) -> dict:
    """Four tagged block volumes, two tagged boot volumes (six protected), one untagged volume, a verifier."""
    beat = str(int(heartbeat if heartbeat is not None else time.time()))
    volumes = [{"name": name, "compartment": "prod", "size_in_gbs": 50, "freeform_tags": dict(TAG),
                "files": {"canary.txt": f"{name} canary\n", ".heartbeat": beat, f"{name}/rows.dat": "rows\n" * 500}}
               for name in BLOCK]
    volumes.append({"name": "scratch", "compartment": "prod", "size_in_gbs": 50,
                    "files": {"tmp.txt": "not protected\n"}})
    instances = [{"name": name, "compartment": "prod", "image": "OL9", "subnet": "app", "hostname": name,
                  "boot_volume": {"size_in_gbs": 47, "freeform_tags": dict(TAG),
                                  "files": {"etc/hostname": f"{name}\n", "canary.txt": f"{name} boot canary\n",
                                            ".heartbeat": beat}}}
                 for name in BOOT]
    instances[0]["attach"] = [{"volume": "db-data", "type": "paravirtualized"},
                              {"volume": "app-data", "type": "paravirtualized"}]
    instances[1]["attach"] = [{"volume": "logs", "type": "paravirtualized"},
                              {"volume": "home", "type": "paravirtualized"}]
    instances.append({"name": "verifier", "compartment": "prod", "image": "OL9", "subnet": "app",
                      "hostname": "verifier",
                      "boot_volume": {"size_in_gbs": 47, "files": {"etc/hostname": "verifier\n"}}})
    return {
        "compartments": [{"name": "prod"}],
        "subnets": [{"name": "app", "compartment": "prod", "cidr": "10.0.1.0/24", "dns_label": "app"}],
        "images": [{"name": "OL9", "compartment": "prod", "os": "Oracle Linux", "os_version": "9",
                    "files": {"etc/os-release": 'NAME="Oracle Linux Server"\n'}}],
        "volumes": volumes,
        "instances": instances,
        "buckets": [{"name": "images", "compartment": "prod"}],
    }
