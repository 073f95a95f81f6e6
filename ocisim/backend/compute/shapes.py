"""The shapes each availability domain offers (ListShapes) and the OCPU and memory rules a launch obeys.

Figures follow OCI's published limits for these shapes. Flex shapes take OCPUs and memory from `shapeConfig`
within their ranges; fixed shapes have theirs in the name. VM.Standard.E2.1.Micro is offered in the third AD
only, as on OCI where it lives in one AD of a region.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import invalid


@dataclass(frozen=True)
class Shape:
    name: str
    processor: str
    ocpus: tuple[float, float]  # (min, max); equal for a fixed shape
    memory: tuple[float, float]  # total GB (min, max)
    per_ocpu: tuple[float, float] = (0, 0)  # GB per OCPU (min, max), Flex only
    default_per_ocpu: float = 0  # GB per OCPU when shapeConfig gives none, Flex only
    ads: tuple[int, ...] = (1, 2, 3)  # AD numbers that offer it

    @property
    def flexible(self) -> bool:
        return self.name.endswith(".Flex")


MILAN, GENOA = "2.55 GHz AMD EPYC 7J13 (Milan)", "2.4 GHz AMD EPYC 9J14 (Genoa)"
ICE_LAKE, SKYLAKE = "2.6 GHz Intel Xeon 8358 (Ice Lake)", "2.0 GHz Intel Xeon Platinum 8167M (Skylake)"
SHAPES = {s.name: s for s in (
    Shape("VM.Standard.E4.Flex", MILAN, (1, 64), (1, 1024), (1, 64), 16),
    Shape("VM.Standard.E5.Flex", GENOA, (1, 94), (1, 1049), (1, 64), 16),
    Shape("VM.Standard3.Flex", ICE_LAKE, (1, 32), (1, 512), (1, 64), 16),
    Shape("VM.Standard.A1.Flex", "3.0 GHz Ampere Altra", (1, 80), (1, 512), (1, 64), 6, ads=(1, 2)),
    Shape("VM.Standard2.1", SKYLAKE, (1, 1), (15, 15)),
    Shape("VM.Standard2.2", SKYLAKE, (2, 2), (30, 30)),
    Shape("VM.Standard2.4", SKYLAKE, (4, 4), (60, 60)),
    Shape("VM.Standard2.8", SKYLAKE, (8, 8), (120, 120)),
    Shape("VM.Standard.E2.1.Micro", "2.0 GHz AMD EPYC 7551 (Naples)", (1, 1), (1, 1), ads=(3,)),
)}


def offered(ad_number: int) -> list[Shape]:
    return [s for s in SHAPES.values() if ad_number in s.ads]


def describe(shape: Shape) -> dict:
    """A Shape as ListShapes answers it."""
    ocpus = shape.ocpus[0]
    body = {"shape": shape.name, "processor_description": shape.processor, "ocpus": ocpus,
            "memory_in_gbs": shape.memory[0] if not shape.flexible else ocpus * shape.default_per_ocpu,
            "networking_bandwidth_in_gbps": ocpus, "max_vnic_attachments": max(2, int(ocpus)), "gpus": 0,
            "local_disks": 0, "is_flexible": shape.flexible, "is_live_migration_supported": True,
            "billing_type": "ALWAYS_FREE" if shape.name.endswith("Micro") else "PAID",
            "is_billed_for_stopped_instance": False, "quota_names": [shape.name.lower().replace(".", "-")],
            "ocpu_options": None, "memory_options": None, "networking_bandwidth_options": None,
            "max_vnic_attachment_options": None}
    if shape.flexible:
        body["ocpu_options"] = {"min": shape.ocpus[0], "max": shape.ocpus[1], "max_per_numa_node": shape.ocpus[1]}
        body["memory_options"] = {"min_in_g_bs": shape.memory[0], "max_in_g_bs": shape.memory[1],
                                  "default_per_ocpu_in_g_bs": shape.default_per_ocpu,
                                  "min_per_ocpu_in_g_bs": shape.per_ocpu[0], "max_per_ocpu_in_g_bs": shape.per_ocpu[1],
                                  "max_per_numa_node_in_g_bs": shape.memory[1]}
        body["networking_bandwidth_options"] = {"min_in_gbps": 1, "max_in_gbps": 40, "default_per_ocpu_in_gbps": 1}
        body["max_vnic_attachment_options"] = {"min": 2, "max": 24, "default_per_ocpu": 1}
    return body


def shape_config(name: str, requested: dict | None, ad_number: int | None = None) -> dict:
    """OCPUs and memory of a launch: 400 for a shape the AD does not offer, shapeConfig on a fixed shape, or Flex
    settings outside the shape's limits."""
    shape = SHAPES.get(name)
    if shape is None or (ad_number is not None and ad_number not in shape.ads):
        where = f"availability domain AD-{ad_number}" if ad_number is not None else "ocisim"
        names = ", ".join(s.name for s in (offered(ad_number) if ad_number is not None else SHAPES.values()))
        raise invalid(f"Shape {name} is not offered in {where}; use one of: {names}.")
    requested = requested or {}
    if shape.flexible:
        ocpus = float(requested.get("ocpus") or 1)
        memory = float(requested.get("memory_in_gbs") or ocpus * shape.default_per_ocpu)
        if not shape.ocpus[0] <= ocpus <= shape.ocpus[1]:
            raise invalid(f"shapeConfig.ocpus {ocpus:g}: must be between {shape.ocpus[0]:g} and {shape.ocpus[1]:g} "
                          f"for {name}.")
        if not ocpus * shape.per_ocpu[0] <= memory <= ocpus * shape.per_ocpu[1]:
            raise invalid(f"shapeConfig.memoryInGBs {memory:g}: must be between {shape.per_ocpu[0]:g} and "
                          f"{shape.per_ocpu[1]:g} GB per OCPU for {name}.")
        if not shape.memory[0] <= memory <= shape.memory[1]:
            raise invalid(f"shapeConfig.memoryInGBs {memory:g}: must be between {shape.memory[0]:g} and "
                          f"{shape.memory[1]:g} GB for {name}.")
    else:
        if requested:
            raise invalid(f"shapeConfig is only accepted for flexible shapes, not {name}.")
        ocpus, memory = float(shape.ocpus[0]), float(shape.memory[0])
    return {"ocpus": ocpus, "memory_in_gbs": memory, "vcpus": int(ocpus * 2),
            "baseline_ocpu_utilization": None, "processor_description": shape.processor,
            "networking_bandwidth_in_gbps": ocpus, "max_vnic_attachments": max(2, int(ocpus)), "gpus": 0,
            "local_disks": 0}
