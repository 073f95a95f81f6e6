"""The floor: OCI's identifier rules (OCIDs, regions), its sizes and its console URLs, as pure functions.

It imports nothing of this project but the error types (common/errors.py), so a form, a report or an operator
checks an id without importing a hook. Layers above: docs/architecture.md.
"""

from __future__ import annotations

import re
from typing import Any

from common.errors import OciInputError, shown

OCID_RE = re.compile(r"^ocid1\.[a-z0-9]+\.oc[0-9]+\.[a-z0-9-]*\.[a-z0-9]{8,}$")
REGION_RE = re.compile(r"^[a-z]{2}-[a-z]+-[0-9]+$")

# OCI's sizes are binary: a 50 GB volume holds 50 x 2**30 bytes, an image's size_in_mbs counts 2**20 bytes
MIB = 1 << 20
GIB = 1 << 30


def validate_ocid(value: Any, field_name: str, resource_type: str | None = None) -> str:
    """The one OCID check: raises before any API call, naming the field and the rule."""
    if not isinstance(value, str) or not OCID_RE.match(value):
        raise OciInputError(f"{field_name} {value!r}: not an OCID (expected ocid1.<type>.<realm>.<region>.<id>)")
    if resource_type and value.split(".")[1] != resource_type:
        raise OciInputError(f"{field_name} {value!r}: expected an OCID of type '{resource_type}'")
    return value


def validate_region(value: Any, field_name: str = "region") -> str:
    if not isinstance(value, str) or not REGION_RE.match(value):
        raise OciInputError(f"{field_name} {value!r}: not an OCI region identifier (like us-ashburn-1)")
    return value


def check_bucket_name(name: Any, field: str = "bucket") -> str:
    """OCI's bucket name rule, checked before any call that names the bucket."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9._-]{1,256}", name):
        raise OciInputError(f"{field} {shown(name)}: a bucket name is 1-256 letters, digits, hyphens, underscores "
                            f"and periods")
    return name


# -- console URLs ------------------------------------------------------------------------------------------
CONSOLE = "https://cloud.oracle.com"
CONSOLE_PATHS = {
    "instance": "compute/instances/{id}",
    "image": "compute/images/{id}",
    "volume": "block-storage/volumes/{id}",
    "bootvolume": "block-storage/boot-volumes/{id}",
    "volumebackup": "block-storage/backups/{id}",
    "bootvolumebackup": "block-storage/boot-volume-backups/{id}",
    "volumegroup": "block-storage/volume-groups/{id}",
    "volumegroupbackup": "block-storage/volume-group-backups/{id}",
    "volumeattachment": "compute/instances/{instance_id}/attached-block-volumes",
    "instanceagentcommand": "compute/instances/{instance_id}/run-command",
    "bucket": "object-storage/buckets/{namespace}/{bucket}/objects",
    "object": "object-storage/buckets/{namespace}/{bucket}/objects",
    "workrequest": "compute/work-requests/{id}",
}


def ocid_kind(ocid: str) -> str:
    return ocid.split(".")[1] if ocid.startswith("ocid1.") else ""


def console_url(region: str, resource_id: str | None = None, kind: str | None = None, **parts: str) -> str:
    """The one console-URL builder: every resource kind, always with its region (OCI's console needs it)."""
    kind = kind or ocid_kind(resource_id or "")
    template = CONSOLE_PATHS.get(kind)
    if template is None:
        return f"{CONSOLE}/?region={region}"
    return f"{CONSOLE}/{template.format(id=resource_id, **parts)}?region={region}"


def asset_uri(region: str, resource_id: str) -> str:
    """The one Asset URI of an OCI resource (images a DAG made, volumes a backup verified): the region, then
    the OCID, so an Asset names one resource in one region."""
    return f"oci://{region}/{resource_id}"
