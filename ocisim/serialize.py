"""The one serialiser: snake_case backend dicts <-> OCI's camelCase JSON.

Maps whose keys belong to the user (tags, metadata) pass through untouched, and private `_` fields never leave.
"""

from __future__ import annotations

import re

OPAQUE = {"freeform_tags", "defined_tags", "system_tags", "metadata", "extended_metadata", "opc_meta"}
OPAQUE_CAMEL = {"freeformTags", "definedTags", "systemTags", "metadata", "extendedMetadata"}
# Acronyms OCI spells in upper case in its JSON names.
SPECIAL = {"size_in_gbs": "sizeInGBs", "unique_size_in_gbs": "uniqueSizeInGBs",
           "size_in_mbs": "sizeInMBs", "unique_size_in_mbs": "uniqueSizeInMbs",
           "vpus_per_gb": "vpusPerGB", "boot_volume_size_in_gbs": "bootVolumeSizeInGBs",
           "size_in_bytes": "sizeInBytes", "image_size_in_mbs": "imageSizeInMBs",
           "billable_size_in_gbs": "billableSizeInGBs", "memory_in_gbs": "memoryInGBs",
           "unique_size_in_bytes": "uniqueSizeInBytes", "ipxe_script": "ipxeScript",
           "is_pv_encryption_in_transit_enabled": "isPvEncryptionInTransitEnabled",
           "text_sha256": "textSha256", "ocpus": "ocpus", "content_md5": "contentMd5",
           "opc_multipart_md5": "opcMultipartMd5", "md5": "md5",
           "min_in_gbs": "minInGBs", "max_in_gbs": "maxInGBs"}
REVERSE = {v: k for k, v in SPECIAL.items()}
_CAMEL_RE = re.compile(r"(?<=[a-z0-9])([A-Z])")


def camel(name: str) -> str:
    if name in SPECIAL:
        return SPECIAL[name]
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def snake(name: str) -> str:
    if name in REVERSE:
        return REVERSE[name]
    return _CAMEL_RE.sub(r"_\1", name).lower()


def to_wire(value):
    if isinstance(value, dict):
        return {camel(k): (v if k in OPAQUE else to_wire(v))
                for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [to_wire(v) for v in value]
    return value


def from_wire(value):
    if isinstance(value, dict):
        return {snake(k): (v if k in OPAQUE_CAMEL else from_wire(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [from_wire(v) for v in value]
    return value
