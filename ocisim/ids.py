"""OCIDs: ocid1.<resource type>.oc1.<region key or empty>.<unique>."""

from __future__ import annotations

import secrets

_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
GLOBAL_TYPES = {"tenancy", "compartment", "user"}


def new_ocid(resource_type: str, region_key: str = "") -> str:
    unique = "".join(secrets.choice(_ALPHABET) for _ in range(60))
    realm_region = "" if resource_type in GLOBAL_TYPES else region_key.lower()
    return f"ocid1.{resource_type}.oc1.{realm_region}.aaaa{unique}"


def new_request_id() -> str:
    return secrets.token_hex(16).upper() + "/" + secrets.token_hex(16).upper()
