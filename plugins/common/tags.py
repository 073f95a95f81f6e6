"""The freeform tags this project reads and writes: what it made, what is temporary, what was proven restorable.

OCI copies a volume's tags to its backups and a backup's tags to the volume restored from it. The verification
tags describe one backup, so they must not travel to a restored or cloned volume (whose own backups would then
look verified): `inherited()` drops them.
"""

from __future__ import annotations

MANAGED_TAG, MANAGED_VALUE = "managed-by", "airflow-oci"
TEMPORARY_TAG = "airflow-temporary"
VERIFIED_TAG = "verified-at"
VERIFIED_LEVEL_TAG = "verified-level"
NOT_INHERITED = (VERIFIED_TAG, VERIFIED_LEVEL_TAG)
SWAP_TAG = "airflow-boot-swap"  # on the instance while a boot swap is under way: "old|new|was_running"
SWAPPED_TAG = "airflow-boot-swapped"  # on the instance once swapped: "old|new" (the old one is kept for the user)


def inherited(tags: dict | None) -> dict:
    """A source's freeform tags as a new volume made from it should carry them."""
    return {k: v for k, v in (tags or {}).items() if k not in NOT_INHERITED}


def swap_record(value: str | None) -> dict | None:
    """A boot swap's tag value read back: {old, new, was_running}, or None when there is none."""
    parts = (value or "").split("|")
    if len(parts) < 2 or not all(parts[:2]):
        return None
    return {"old": parts[0], "new": parts[1], "was_running": parts[2:3] == ["1"]}
