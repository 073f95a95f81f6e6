"""The fleet a DAG launches from the image it made (VMDK migration, golden image): the trigger form's fleet fields,
and their validation into one launch request per instance (pure, no API calls).

A fleet is either `fleet_count` instances named by `hostname_pattern` (`app-{index:02d}` → app-01, app-02, ...) with
one `os_type`, or an explicit `fleet` list of {hostname, os_type} (a mixed Linux/Windows fleet). Every hostname is
checked as `guest.user_data` checks one (RFC 1123 label; NetBIOS rules for Windows) and the fleet has no duplicate
(compared without case, as DNS and NetBIOS compare). Errors are OciInputError naming the field, value and rule.
"""

from __future__ import annotations

from common.errors import OciInputError
from common.ids import validate_ocid
from guest.user_data import fleet_hostnames, validate_fleet, validate_hostname, validate_os_type

from forms.params import (
    AD_EXAMPLES,
    DEFAULT_SHAPE,
    SHAPE_EXAMPLES,
    SHAPE_PATTERN,
    choice_field,
    exclusive,
    field,
    flag,
    ocid_field,
    text_field,
)

MAX_FLEET = 50
DEFAULT_PATTERN = "app-{index:02d}"
FLEET_SECTION = "Afterwards (optional): launch a fleet from the image"
FLEET_FIELDS = ("fleet_count", "hostname_pattern", "os_type", "fleet", "shape", "ocpus", "memory_in_gbs",
                "subnet_id", "availability_domain", "ssh_authorized_keys")


def fleet_params(pattern: str = DEFAULT_PATTERN) -> dict:
    """The fleet fields of a trigger form (JSON-schema validated by Airflow before a run is created)."""
    fleet = where = FLEET_SECTION
    return {
        "fleet_count": field(0, "integer", "Instances to launch", f"From the image, named by the hostname pattern "
                             f"(0: none; at most {MAX_FLEET}). " + exclusive("fleet"), fleet, minimum=0,
                             maximum=MAX_FLEET),
        "hostname_pattern": field(pattern, "string", "Hostname pattern", "{index} counts from 1: "
                                  f"{pattern} gives {pattern.format(index=1)}, {pattern.format(index=2)}; unique in "
                                  "the subnet; Windows: at most 15 characters", fleet, minLength=1, maxLength=63),
        "os_type": choice_field("linux", ["linux", "windows"], "Guest OS", "Linux gets cloud-init, Windows "
                                "cloudbase-init user data that renames the computer", fleet),
        "fleet": field([], "array", "Or: a mixed fleet", 'A JSON list, e.g. [{"hostname": "app-01", "os_type": '
                       '"linux"}, {"hostname": "WIN-01", "os_type": "windows"}]. ' + exclusive("fleet_count"), fleet,
                       maxItems=MAX_FLEET,
                       items={"type": "object", "required": ["hostname"], "additionalProperties": False,
                              "properties": {"hostname": {"type": "string", "minLength": 1, "maxLength": 63},
                                             "os_type": {"enum": ["linux", "windows"]}}}),
        "shape": field(DEFAULT_SHAPE, "string", "Shape", f"Of every instance. Example: {DEFAULT_SHAPE}", where,
                       pattern=SHAPE_PATTERN, examples=SHAPE_EXAMPLES),
        "ocpus": field(None, "number", "OCPUs", "Of a Flex shape, 1 to 64 (empty: 1)", where, minimum=1, maximum=64),
        "memory_in_gbs": field(None, "number", "Memory (GB)", "Of a Flex shape, 1 to 1024 (empty: 16 GB per OCPU)",
                               where, minimum=1, maximum=1024),
        "subnet_id": ocid_field("subnet", "Subnet", "Of the fleet (required to launch; it needs a DNS label)", where),
        "availability_domain": text_field("Availability domain", f"Of the fleet (required to launch). Example: "
                                          f"{AD_EXAMPLES[0]}", where, examples=AD_EXAMPLES),
        "ssh_authorized_keys": field(None, "string", "SSH public keys", "OpenSSH public key(s) for the Linux "
                                     "instances, one per line. Example: ssh-ed25519 AAAAC3… you@host", where,
                                     format="multiline"),
        **shape_compatibility_params(),
    }


def shape_compatibility_params() -> dict:
    """The fields that let a fleet launch on a shape its image is not yet compatible with (OCI's image shape
    compatibility list; operators/images.py OciCheckImageShapeOperator)."""
    def span(what: str, top: int):
        return field(None, "array", f"Compatible {what}", f"[min, max] {what} the added entry allows (empty: the "
                     f"shape's whole range). Example: [1, 8]", FLEET_SECTION,
                     items={"type": "integer", "minimum": 1, "maximum": top}, minItems=2, maxItems=2)

    return {
        "add_shape_compatibility": field(False, "boolean", "Add the shape to the image", "When the image is not "
                                         "compatible with the fleet's shape yet, add it (else the run stops before "
                                         "any launch)", FLEET_SECTION),
        "compatible_ocpus": span("OCPUs", 512),
        "compatible_memory_in_gbs": span("GB of memory", 4096),
    }


def resolve_shape_compatibility(params: dict, fleet: list[dict]) -> dict | None:
    """What the image shape check before the fleet's launch needs: the fleet's shape and shape config, whether to
    add the shape to the image, and the [min, max] OCPU and memory ranges to add it with (None: the shape's whole
    range). None when there is no fleet. The ranges must hold the fleet's own OCPUs and memory."""
    add = flag(params.get("add_shape_compatibility", False), "add_shape_compatibility")
    ranges = {}
    for name in ("compatible_ocpus", "compatible_memory_in_gbs"):
        value = _blank(params.get(name))
        if value is not None:
            if not isinstance(value, list | tuple) or len(value) != 2 or not all(
                    isinstance(v, int | float) and not isinstance(v, bool) and v >= 1 and float(v).is_integer()
                    for v in value) or value[0] > value[1]:
                raise OciInputError(f"{name} {value!r}: [min, max], whole numbers from 1 with min at most max")
            if not add:
                raise OciInputError(f"{name} {value!r}: only with add_shape_compatibility")
        ranges[name] = list(value) if value is not None else None
    if not fleet:
        return None
    shape, config = fleet[0]["shape"], fleet[0]["shape_config"]
    if not shape.endswith(".Flex") and any(ranges.values()):
        raise OciInputError(f"compatible_ocpus/compatible_memory_in_gbs: only for a Flex shape, not {shape!r}")
    for name, key in (("compatible_ocpus", "ocpus"), ("compatible_memory_in_gbs", "memory_in_gbs")):
        span = ranges[name]
        if span and config and not span[0] <= config[key] <= span[1]:
            raise OciInputError(f"{name} {span!r}: must hold the fleet's {key} {config[key]:g}")
    return {"shape": shape, "shape_config": config, "availability_domain": fleet[0]["availability_domain"],
            "add": add, "ocpus": ranges["compatible_ocpus"], "memory_in_gbs": ranges["compatible_memory_in_gbs"]}


def _blank(value):
    return None if value in ("", None) else value


def resolve_fleet(params: dict) -> list[dict]:
    """One OciLaunchInstanceOperator kwargs dict per instance (for `.expand_kwargs`): hostname, os_type, subnet_id,
    availability_domain, shape, shape_config, ssh_authorized_keys. [] when no fleet is asked for."""
    count = params.get("fleet_count") or 0
    listed = params.get("fleet") or []
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_FLEET:
        raise OciInputError(f"fleet_count {count!r}: a whole number from 0 to {MAX_FLEET}")
    if not isinstance(listed, list | tuple):
        raise OciInputError(f"fleet {listed!r}: a list of {{hostname, os_type}} objects")
    if listed and count:
        raise OciInputError(f"fleet ({len(listed)} entries) and fleet_count {count}: give one or the other (a list "
                            f"of hostnames, or a count with hostname_pattern)")
    if len(listed) > MAX_FLEET:
        raise OciInputError(f"fleet: {len(listed)} entries; at most {MAX_FLEET}")
    if listed:
        names, os_types = [], []
        for i, entry in enumerate(listed):
            if not isinstance(entry, dict) or set(entry) - {"hostname", "os_type"}:
                raise OciInputError(f"fleet[{i}] {entry!r}: an object with hostname and optional os_type only")
            os_type = entry.get("os_type") or params.get("os_type") or "linux"
            if os_type not in ("linux", "windows"):
                raise OciInputError(f"fleet[{i}].os_type {os_type!r}: one of ('linux', 'windows')")
            names.append(validate_hostname(entry.get("hostname"), os_type, f"fleet[{i}].hostname"))
            os_types.append(os_type)
        validate_fleet(names, "linux", "fleet")  # duplicates across the whole fleet, whatever the OS
    elif count:
        os_type = validate_os_type(params.get("os_type") or "linux")
        names = fleet_hostnames(params.get("hostname_pattern") or DEFAULT_PATTERN, count, os_type)
        os_types = [os_type] * count
    else:
        return []

    subnet_id = _blank(params.get("subnet_id"))
    if not subnet_id:
        raise OciInputError(f"subnet_id: required to launch a fleet of {len(names)}")
    validate_ocid(subnet_id, "subnet_id", "subnet")
    availability_domain = _blank(params.get("availability_domain"))
    if not isinstance(availability_domain, str) or not availability_domain.strip():
        raise OciInputError(f"availability_domain {availability_domain!r}: required to launch a fleet (like "
                            f"Uocm:US-ASHBURN-AD-1)")
    shape = params.get("shape") or DEFAULT_SHAPE
    if not isinstance(shape, str) or not shape.startswith(("VM.", "BM.")):
        raise OciInputError(f"shape {shape!r}: an OCI shape name like {DEFAULT_SHAPE}")
    ocpus, memory = _blank(params.get("ocpus")), _blank(params.get("memory_in_gbs"))
    shape_config = None
    if shape.endswith(".Flex"):
        ocpus = float(ocpus or 1)
        memory = float(memory or ocpus * 16)
        if not ocpus <= memory <= ocpus * 64:
            raise OciInputError(f"memory_in_gbs {memory:g}: from 1 to 64 GB per OCPU ({ocpus:g} OCPUs)")
        shape_config = {"ocpus": ocpus, "memory_in_gbs": memory}
    elif ocpus or memory:
        raise OciInputError(f"ocpus/memory_in_gbs: only for a Flex shape, not {shape!r}")
    keys = _blank(params.get("ssh_authorized_keys"))
    keys = [k.strip() for k in keys.splitlines() if k.strip()] if isinstance(keys, str) else keys
    return [{"hostname": name, "os_type": os_type, "subnet_id": subnet_id,
             "availability_domain": availability_domain.strip(), "shape": shape, "shape_config": shape_config,
             # Windows takes no SSH keys (OCI sets an initial opc password): keys go to the Linux instances only
             "ssh_authorized_keys": (keys or None) if os_type == "linux" else None}
            for name, os_type in zip(names, os_types, strict=True)]
