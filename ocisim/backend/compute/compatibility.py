"""Image shape compatibility: which shapes an image launches on, and within which OCPU and memory ranges on a
flexible shape (ListImageShapeCompatibilityEntries and its Get, Add and Remove; LaunchInstance's check).

What OCI documents, and where ocisim gets it from:
- An image has a list of compatible shapes, one entry per shape; AddImageShapeCompatibilityEntry adds a shape to
  it and RemoveImageShapeCompatibilityEntry takes one away (204). An entry's `ocpuConstraints` and
  `memoryConstraints` are "for a flexible image and shape" the OCPUs and memory (GB) an instance of this image may
  have (API reference, ImageShapeCompatibilityEntry, AddImageShapeCompatibilityEntryDetails).
- Custom images can be imported to launch VMs in emulated or paravirtualized mode; native images are made from
  OCI's own images. Emulated mode suits old guests (Linux kernels before 3.4) and is slower; it should not be
  used for an image that supports paravirtualized mode (OCI docs, Content/Marketplace/build-image.htm, on the
  virtualization modes).
- A launch on a shape the image is not compatible with is refused synchronously with 400 InvalidParameter,
  "Shape <shape> is not valid for image <image OCID>." (the error OCI answers, as users report it, e.g.
  oracle/terraform-provider-oci#2103).
- The image's firmware is a capability, BIOS or UEFI_64 (global image capability schema,
  Content/Compute/Tasks/configuringimagecapabilities.htm); ocisim shows it as `launchOptions.firmware`, from the
  imported disk's partition table (formats/partitions.py).

Where OCI's documentation is silent, ocisim assumes (and tests rely on) this:
- Platform (seeded) images are compatible with every shape ocisim offers, flexible ones over the shape's full
  OCPU and memory range.
- An image of an instance keeps its base image's list (the instance could run on those shapes).
- An imported image in PARAVIRTUALIZED, NATIVE or CUSTOM mode is compatible with every x86 shape, flexible ones
  over the shape's full range; the Arm shape (VM.Standard.A1.Flex) only once added (an imported disk is taken
  to be x86_64).
- An imported image in EMULATED mode is compatible with the fixed VM shapes only; a flexible shape must be added
  with AddImageShapeCompatibilityEntry before an instance launches on it.
- An added flexible shape without constraints gets the shape's full range; constraints outside the shape's
  limits, or a minimum over the maximum, are 400 InvalidParameter; constraints on a fixed shape are refused too.
- Firmware does not narrow the list (OCI's documentation lists no shape that refuses one firmware).
- An image from before ocisim kept these lists (no `_shapes` field) is compatible with every shape.
"""

from __future__ import annotations

from ...errors import invalid, not_found
from . import shapes

ARM_SHAPES = ("VM.Standard.A1.Flex",)


def full_range(shape: shapes.Shape) -> dict:
    """The constraints covering everything a flexible shape allows."""
    return {"ocpu_constraints": {"min": int(shape.ocpus[0]), "max": int(shape.ocpus[1])},
            "memory_constraints": {"min_in_gbs": int(shape.memory[0]), "max_in_gbs": int(shape.memory[1])}}


def entry_for(shape: shapes.Shape) -> dict:
    """A default entry: constraints for a flexible shape (its full range), none for a fixed one."""
    return full_range(shape) if shape.flexible else {"ocpu_constraints": None, "memory_constraints": None}


def defaults(origin: str, launch_mode: str, base: dict | None = None) -> dict[str, dict]:
    """The compatibility list an image starts with, by how it was made (see the module docstring)."""
    if origin == "instance" and base is not None and base.get("_shapes") is not None:
        return {name: dict(entry) for name, entry in base["_shapes"].items()}
    every = shapes.SHAPES.values()
    if origin == "import":
        if launch_mode == "EMULATED":
            every = [s for s in every if not s.flexible]
        else:
            every = [s for s in every if s.name not in ARM_SHAPES]
    return {s.name: entry_for(s) for s in every}


def entries_of(image: dict) -> dict[str, dict]:
    stored = image.get("_shapes")
    return stored if stored is not None else {s.name: entry_for(s) for s in shapes.SHAPES.values()}


def shown(image: dict, name: str, entry: dict) -> dict:
    """An entry as the API answers it (ImageShapeCompatibilityEntry and its Summary have the same fields)."""
    return {"image_id": image["id"], "shape": name, "ocpu_constraints": entry.get("ocpu_constraints"),
            "memory_constraints": entry.get("memory_constraints")}


def added(name: str, details: dict) -> dict:
    """The entry AddImageShapeCompatibilityEntry stores for `name`, or 400 (see the module docstring)."""
    shape = shapes.SHAPES.get(name)
    if shape is None:
        raise not_found(f"shape {name}")
    ocpu, memory = details.get("ocpu_constraints"), details.get("memory_constraints")
    if not shape.flexible:
        if ocpu or memory:
            raise invalid(f"Shape {name} is not a flexible shape; ocpuConstraints and memoryConstraints apply only "
                          f"to flexible shapes.")
        return entry_for(shape)
    entry = full_range(shape)
    for field, wire, low_key, high_key, limits in (
            ("ocpu_constraints", "ocpuConstraints", "min", "max", shape.ocpus),
            ("memory_constraints", "memoryConstraints", "min_in_gbs", "max_in_gbs", shape.memory)):
        given = details.get(field) or {}
        for key in (low_key, high_key):
            if given.get(key) is not None:
                entry[field][key] = given[key]
        low, high = entry[field][low_key], entry[field][high_key]
        if not isinstance(low, int | float) or not isinstance(high, int | float) or low > high:
            raise invalid(f"{wire}: min {low} and max {high} must be numbers with min at most max.")
        if low < limits[0] or high > limits[1]:
            raise invalid(f"{wire} {low:g} to {high:g}: {name} allows {limits[0]:g} to {limits[1]:g}.")
    return entry


def check_launch(image: dict, shape_name: str, shape_config: dict) -> None:
    """400 InvalidParameter when the image is not compatible with the shape, or a flexible launch's OCPUs or
    memory fall outside the entry's constraints."""
    entry = entries_of(image).get(shape_name)
    if entry is None:
        raise invalid(f"Shape {shape_name} is not valid for image {image['id']}.")
    ocpu, memory = entry.get("ocpu_constraints"), entry.get("memory_constraints")
    ocpus, gbs = shape_config["ocpus"], shape_config["memory_in_gbs"]
    if ocpu and not ocpu["min"] <= ocpus <= ocpu["max"]:
        raise invalid(f"shapeConfig.ocpus {ocpus:g}: image {image['id']} allows {ocpu['min']} to {ocpu['max']} "
                      f"OCPUs on {shape_name}.")
    if memory and not memory["min_in_gbs"] <= gbs <= memory["max_in_gbs"]:
        raise invalid(f"shapeConfig.memoryInGBs {gbs:g}: image {image['id']} allows {memory['min_in_gbs']} to "
                      f"{memory['max_in_gbs']} GB on {shape_name}.")
