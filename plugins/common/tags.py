"""The freeform tags this project reads and writes: what it made, what is temporary, what was proven restorable.

OCI copies a volume's tags to its backups and a backup's tags to the volume restored from it. The verification
tags describe one backup, so they must not travel to a restored or cloned volume (whose own backups would then
look verified): `inherited()` drops them.
"""

from __future__ import annotations

from collections.abc import Iterable

MANAGED_TAG, MANAGED_VALUE = "managed-by", "airflow-oci"
TEMPORARY_TAG = "airflow-temporary"
VERIFIED_TAG = "verified-at"
VERIFIED_LEVEL_TAG = "verified-level"
VERIFY_FAILED_TAG = "verify-failed-at"  # on a backup whose test restore failed: never adopted by a later run
VERIFIED_LEVELS = ("api", "boot", "script")  # the values of VERIFIED_LEVEL_TAG: how far a test restore went
# protected volumes with the same value are backed up together (one volume group backup, one point in time)
GROUP_TAG = "backup-group"
NOT_INHERITED = (VERIFIED_TAG, VERIFIED_LEVEL_TAG, VERIFY_FAILED_TAG)
SWAP_TAG = "airflow-boot-swap"  # on the instance while a boot swap is under way: "old|new|was_running"
SWAPPED_TAG = "airflow-boot-swapped"  # on the instance once swapped: "old|new" (the old one is kept for the user)


def inherited(tags: dict | None) -> dict:
    """A source's freeform tags as a new volume made from it should carry them."""
    return {k: v for k, v in (tags or {}).items() if k not in NOT_INHERITED}


def restored_tags(source_tags: dict | None, requested: dict | None) -> dict:
    """The source's tags a volume restored from it keeps: `inherited()`, or none for a temporary (a test
    restore), which must never carry the policy or group tag that would make discovery protect or group it,
    not even for the moment before the restore is tagged temporary."""
    return {} if (requested or {}).get(TEMPORARY_TAG) else inherited(source_tags)


def swap_record(value: str | None) -> dict | None:
    """A boot swap's tag value read back: {old, new, was_running}, or None when there is none."""
    parts = (value or "").split("|")
    if len(parts) < 2 or not all(parts[:2]):
        return None
    return {"old": parts[0], "new": parts[1], "was_running": parts[2:3] == ["1"]}


# -- volumes detached for an image ----------------------------------------------------------------------------
# On an instance: a volume an image task detached and must re-attach, one tag per volume, written before the
# DetachVolume call so a retry, a re-run or on_kill finds it (operators/detached_volumes.py).
DETACH_TAG_PREFIX = "airflow-detached-"
_INTENT_FIELDS = ("volume_id", "attachment_id", "device", "type", "is_read_only", "is_shareable", "use_chap",
                  "is_agent_auto_iscsi_login_enabled")


def intent_key(volume_id: str) -> str:
    """The tag key for one detached volume: the prefix and a short digest of its OCID."""
    import hashlib

    return DETACH_TAG_PREFIX + hashlib.sha256(volume_id.encode()).hexdigest()[:12]


def intent_value(entry: dict) -> str:
    """One detached volume in a freeform tag value (at most 256 characters: OCIDs, device, type, 4 flags)."""
    return "|".join(str(int(bool(entry.get(k)))) if k.startswith(("is_", "use_")) else str(entry.get(k) or "")
                    for k in _INTENT_FIELDS)


def intents_of(tags: dict | None) -> list[dict]:
    """The detached volumes recorded in an instance's freeform tags."""
    found = []
    for key, value in sorted((tags or {}).items()):
        parts = value.split("|") if key.startswith(DETACH_TAG_PREFIX) else []
        if len(parts) == len(_INTENT_FIELDS):
            entry = dict(zip(_INTENT_FIELDS, parts, strict=True))
            for k in _INTENT_FIELDS:
                if k.startswith(("is_", "use_")):
                    entry[k] = entry[k] == "1"
            entry["device"] = entry["device"] or None
            found.append(entry)
    return found


def newest_verified(backups: Iterable[dict]) -> dict | None:
    """The newest backup that passed a test restore and can still be restored (AVAILABLE): one deleted by hand
    or being deleted proves nothing about what is left."""
    verified = [b for b in backups if (b.get("freeform_tags") or {}).get(VERIFIED_TAG)
                and b.get("lifecycle_state", "AVAILABLE") == "AVAILABLE"]
    return max(verified, key=lambda b: b["time_created"], default=None)
