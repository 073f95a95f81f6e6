"""JSON-schema patterns and defaults for the DAGs' trigger forms: one definition, so every form accepts the same
OCIDs, hostnames, shapes and device paths (and Airflow refuses the rest before a run is created)."""

from __future__ import annotations

from hooks.oci import OCID_RE

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
