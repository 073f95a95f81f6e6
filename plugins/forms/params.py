"""JSON-schema patterns and defaults for the DAGs' trigger forms: one definition, so every form accepts the same
OCIDs, hostnames, shapes and device paths (and Airflow refuses the rest before a run is created)."""

from __future__ import annotations

from common.ids import OCID_RE

DEFAULT_SHAPE = "VM.Standard.E4.Flex"
OPTIONAL_OCID = f"^(?:{OCID_RE.pattern[1:-1]})?$"
OPTIONAL_HOSTNAME = r"^(?:[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)?$"
SHAPE_PATTERN = r"^(VM|BM)\.[A-Za-z0-9.]+$"
OPTIONAL_SHAPE_PATTERN = r"^(?:(VM|BM)\.[A-Za-z0-9.]+)?$"
DEVICE_PATTERN = r"^(?:/dev/oracleoci/oraclevd([b-z]|[a-z][a-z]))?$"


def given(params: dict, name: str):
    """A form field's value, or None when it was left empty (forms send "" for an untouched text field)."""
    value = params.get(name)
    return None if value in ("", None) else value


def listed(value):
    """A list field given as one comma-separated string (a CLI trigger's conf, an environment variable) as a list:
    items stripped, empty ones dropped. Any other value comes back as it is, for validation to name."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def flag(value, field: str) -> bool:
    """A yes/no field as a bool: a template renders True as "True", a CLI conf may send "true"."""
    from common.errors import OciInputError

    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if not isinstance(value, bool):
        raise OciInputError(f"{field} {value!r}: true or false")
    return value


def blank_to_none(obj, *fields: str) -> None:
    """An operator argument whose template rendered empty (an unset run parameter) means 'not given': None."""
    for name in fields:
        if getattr(obj, name) == "":
            setattr(obj, name, None)


# -- the fields of a trigger form ---------------------------------------------------------------------------------
# Airflow's form marks a field required (and keeps Trigger disabled) when its schema does not allow null and it
# is empty, so every optional field allows null and defaults to None; the form sends None for a field left empty.
OCID_SHAPES = {
    "instance": "ocid1.instance.oc1.iad.anuwcljr…", "volume": "ocid1.volume.oc1.iad.abuwcljr…",
    "bootvolume": "ocid1.bootvolume.oc1.iad.abuwcljr…", "volumebackup": "ocid1.volumebackup.oc1.iad.abuwcljr…",
    "bootvolumebackup": "ocid1.bootvolumebackup.oc1.iad.abuwcljr…",
    "compartment": "ocid1.compartment.oc1..aaaaaaaa…", "subnet": "ocid1.subnet.oc1.iad.aaaaaaaa…"}
AD_EXAMPLES = ["Uocm:US-ASHBURN-AD-1", "Uocm:US-ASHBURN-AD-2", "Uocm:US-ASHBURN-AD-3"]
SHAPE_EXAMPLES = [DEFAULT_SHAPE, "VM.Standard.E5.Flex", "VM.Standard3.Flex", "VM.Standard2.1"]
OCID_RULE = "an OCID: ocid1.<kind>.oc1.<region>.<id>"


def field(default, kind: str | list[str], title: str, description: str, section: str, **schema):
    """One form field: a title, a description that says what to enter (with an example), its section. A field
    whose default is None (or an empty list) allows null, so leaving it empty never blocks the Trigger button."""
    from airflow.sdk import Param

    types = [kind] if isinstance(kind, str) else list(kind)
    if (default is None or default == []) and "null" not in types:
        types = ["null", *[t for t in types if t != "null"]]
    return Param(default, type=types if len(types) > 1 else types[0], title=title, description=description,
                 section=section, **schema)


def ocid_field(kind: str, title: str, description: str, section: str, **schema):
    """An optional OCID field of one kind: its pattern is checked by Airflow when the run is created (the form
    shows the refusal, naming the field and the pattern), its description shows the OCID's shape."""
    shape = OCID_SHAPES.get(kind, f"ocid1.{kind}.oc1.iad.aaaaaaaa…")
    return field(None, "string", title, f"{description.rstrip('. ')}. Example: {shape}", section, pattern=OPTIONAL_OCID,
                 **schema)


def text_field(title: str, description: str, section: str, **schema):
    """An optional text field (None when left empty)."""
    return field(None, "string", title, description, section, **schema)


def choice_field(default, values: list, title: str, description: str, section: str, **schema):
    """A drop-down of known values; None among them means 'not given' (shown as `(empty)` unless named)."""
    from airflow.sdk import Param

    types = sorted({"null" if v is None else "string" for v in values} | ({"null"} if default is None else set()))
    return Param(default, type=types if len(types) > 1 else types[0], enum=values, title=title,
                 description=description, section=section, **schema)


PLAN_SECTION = "Plan only (nothing changes)"


def plan_field():
    """`plan_only`, the same field on every DAG's form (common/plan.py): check everything, change nothing, and
    write what the run would do as its note."""
    return field(False, "boolean", "Plan only", "Check everything and change nothing: the run's note lists what it "
                 "would do (each OCI call) instead", PLAN_SECTION)


def exclusive(*fields: str) -> str:
    """The sentence a field's description ends with when other fields exclude it."""
    return f"Excludes {' and '.join(f'`{f}`' for f in fields)}: give one."


def blocking_fields(params) -> list[str]:
    """The fields of a DAG's Params that would keep Airflow's Trigger button disabled at their defaults: a typed
    schema without null and an empty value (None or ""), which the form marks required. [] means the form opens
    with Trigger enabled."""
    blocking = []
    for name in params:
        param = params.get_param(name) if hasattr(params, "get_param") else params[name]
        types = param.schema.get("type")
        allows_null = types is None or "null" in (types if isinstance(types, list) else [types])
        if param.value in (None, "") and not allows_null:
            blocking.append(name)
    return blocking
