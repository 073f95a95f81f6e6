"""Seeding a tenancy from a file, or the default one: what exists before the first API call.

Seed file (JSON), every section optional:
{
  "regions": [{"name": "us-ashburn-1", "key": "IAD"}, {"name": "us-phoenix-1", "key": "PHX"}],
  "compartments": [{"name": "prod"}, {"name": "prod-db", "parent": "prod"}],
  "subnets": [{"name": "app", "compartment": "prod", "cidr": "10.0.1.0/24", "dns_label": "app"}],
  "images": [{"name": "Oracle-Linux-9", "compartment": "prod", "os": "Oracle Linux", "os_version": "9",
              "files": {"etc/os-release": "..."}}],
  "volumes": [{"name": "data1", "compartment": "prod", "ad": 1, "size_in_gbs": 50,
               "freeform_tags": {"backup-policy": "gold"}, "files": {"canary.txt": "..."}}],
  "instances": [{"name": "web1", "compartment": "prod", "ad": 1, "image": "Oracle-Linux-9", "os": "Linux",
                 "subnet": "app", "hostname": "web1", "boot_volume": {"size_in_gbs": 47, "freeform_tags": {},
                 "files": {...}}, "attach": [{"volume": "data1", "type": "paravirtualized"}]}],
  "buckets": [{"name": "images", "compartment": "prod", "objects": [{"name": "a.txt", "text": "..."}]}]
}
`files` become a real ext4 filesystem (mkfs.ext4 -d) at the start of the volume. Names are unique per kind.
"""

from __future__ import annotations

import json
from pathlib import Path

from .disks import ext4_blocks
from .sim import Sim
from .state import DEFAULT_REGIONS, Region

DEFAULT_SEED = {
    "compartments": [{"name": "ocisim"}],
    "subnets": [{"name": "app", "compartment": "ocisim", "cidr": "10.0.1.0/24", "dns_label": "app"}],
    "images": [{"name": "Oracle-Linux-9", "compartment": "ocisim", "os": "Oracle Linux", "os_version": "9",
                "files": {"etc/os-release": 'NAME="Oracle Linux Server"\nVERSION="9"\n'}}],
    "volumes": [{"name": "data1", "compartment": "ocisim", "ad": 1, "size_in_gbs": 50,
                 "freeform_tags": {"backup-policy": "default"},
                 "files": {"canary.txt": "ocisim default data volume\n"}}],
    "instances": [{"name": "linux1", "compartment": "ocisim", "ad": 1, "image": "Oracle-Linux-9", "os": "Linux",
                   "subnet": "app", "hostname": "linux1",
                   "boot_volume": {"size_in_gbs": 47, "freeform_tags": {"backup-policy": "default"},
                                   "files": {"etc/hostname": "linux1\n"}},
                   "attach": [{"volume": "data1", "type": "paravirtualized"}]}],
    "buckets": [{"name": "ocisim-bucket", "compartment": "ocisim"}],
}


def load_seed_file(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def regions_of(seed: dict | None) -> tuple[Region, ...]:
    if seed and seed.get("regions"):
        return tuple(Region(r["name"], r["key"]) for r in seed["regions"])
    return DEFAULT_REGIONS


def default_seed_applied(sim: Sim) -> dict | None:
    """The summary of an earlier seeding of this state directory (a restart seeds nothing again)."""
    return sim.store.meta_get("seed_summary")


def apply_seed(sim: Sim, seed: dict | None = None, region: str | None = None) -> dict:
    """Create what the seed describes, AVAILABLE/RUNNING at once; return the ids a client needs."""
    seed = DEFAULT_SEED if seed is None else seed
    region = region or sim.regions[0].name
    tenancy = sim.identity.tenancy() or sim.identity.create_tenancy()
    ads = sim.identity.ad_names(region)
    compartments: dict[str, str] = {}
    for c in seed.get("compartments", []):  # a parent is named before its children
        parent = compartments[c["parent"]] if c.get("parent") else tenancy["id"]
        compartments[c["name"]] = sim.identity.create_compartment(parent, c["name"])["id"]
    default_comp = next(iter(compartments.values()), tenancy["id"])

    def comp(item):
        return compartments.get(item.get("compartment"), default_comp)

    def ad(item):
        return ads[int(item.get("ad", 1)) - 1]

    def blocks(item, label):
        files = item.get("files")
        return ext4_blocks(sim.content, files, item.get("fs_size_mib", 64), label) if files else {}

    subnets = {s["name"]: sim.compute.make_subnet(region, comp(s), s["name"], s.get("cidr", "10.0.0.0/24"),
                                                  s.get("dns_label", s["name"]))["id"]
               for s in seed.get("subnets", [])}
    images = {}
    for im in seed.get("images", []):
        images[im["name"]] = sim.compute.make_image(
            region, comp(im), im["name"], im.get("os", "Oracle Linux"), im.get("os_version", ""),
            blocks(im, "root"), size_in_gbs=im.get("size_in_gbs", 47))["id"]
    volumes = {}
    for v in seed.get("volumes", []):
        volumes[v["name"]] = sim.blockstorage.make_volume(
            "volume", region, comp(v), ad(v), v["name"], v.get("size_in_gbs", 50), blocks(v, v["name"][:16]),
            freeform_tags=v.get("freeform_tags"), ready_after=0)["id"]
    instances = {}
    boot_volumes = {}
    for inst in seed.get("instances", []):
        bv = inst.get("boot_volume", {})
        boot = sim.blockstorage.make_volume(
            "bootvolume", region, comp(inst), ad(inst), f"{inst['name']} (Boot Volume)",
            bv.get("size_in_gbs", 47), blocks(bv, "root"), freeform_tags=bv.get("freeform_tags"),
            image_id=images.get(inst.get("image")), ready_after=0)
        instance = sim.compute.make_instance(
            region, comp(inst), ad(inst), inst["name"], inst.get("shape", "VM.Standard.E4.Flex"),
            subnets.get(inst.get("subnet")) or next(iter(subnets.values()), None), boot["id"],
            image_id=images.get(inst.get("image")), os_name=inst.get("os", "Linux"),
            hostname_label=inst.get("hostname", inst["name"]), freeform_tags=inst.get("freeform_tags"))
        for i, att in enumerate(inst.get("attach", [])):
            device = att.get("device", f"/dev/oracleoci/oraclevd{chr(ord('b') + i)}")
            sim.compute.make_attachment(instance["id"], volumes[att["volume"]], att.get("type", "paravirtualized"),
                                        device)
        instances[inst["name"]] = instance["id"]
        boot_volumes[inst["name"]] = boot["id"]
    namespace = sim.objectstorage.namespace()
    buckets = []
    for b in seed.get("buckets", []):
        sim.objectstorage.ensure_bucket(region, comp(b), b["name"])
        buckets.append(b["name"])
        for obj in b.get("objects", []):
            data = obj["text"].encode() if "text" in obj else Path(obj["file"]).read_bytes()
            sim.objectstorage.write_object(region, namespace, b["name"], obj["name"], [data])
    summary = {
        "compartment_id": default_comp, "compartments": compartments,
        "availability_domains": ads, "subnet_id": next(iter(subnets.values()), None), "subnets": subnets,
        "namespace": namespace, "images": images, "instances": instances, "boot_volumes": boot_volumes,
        "volumes": volumes, "buckets": buckets,
    }
    sim.store.meta_set("seed_summary", summary)
    return summary
