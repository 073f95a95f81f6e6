"""The tag catalogue's pure parts: which tags a made volume inherits, the detach record of an image task, the newest
verified backup and the boot swap record."""

from __future__ import annotations

from common.tags import (
    DETACH_TAG_PREFIX,
    VERIFIED_TAG,
    inherited,
    intent_key,
    intent_value,
    intents_of,
    newest_verified,
    swap_record,
)


def test_verification_tags_are_not_inherited():
    assert inherited({VERIFIED_TAG: "2026-01-01", "team": "a"}) == {"team": "a"}
    assert inherited(None) == {}


def test_a_detach_record_round_trips_through_a_tag_value():
    entry = {"volume_id": "ocid1.volume.oc1.iad.aaaa", "attachment_id": "ocid1.volumeattachment.oc1.iad.bbbb",
             "device": "/dev/oracleoci/oraclevdb", "type": "iscsi", "is_read_only": False, "is_shareable": True,
             "use_chap": True, "is_agent_auto_iscsi_login_enabled": False, "display_name": "not recorded"}
    key = intent_key(entry["volume_id"])
    assert key.startswith(DETACH_TAG_PREFIX) and key == intent_key(entry["volume_id"])
    assert key != intent_key("ocid1.volume.oc1.iad.cccc")
    value = intent_value(entry)
    assert len(value) <= 256
    recorded = {k: v for k, v in entry.items() if k != "display_name"}
    assert intents_of({key: value, "team": "a"}) == [recorded]


def test_detach_records_without_a_device_and_foreign_tags():
    value = intent_value({"volume_id": "v", "attachment_id": "a", "device": None, "type": "paravirtualized"})
    assert intents_of({intent_key("v"): value}) == [
        {"volume_id": "v", "attachment_id": "a", "device": None, "type": "paravirtualized", "is_read_only": False,
         "is_shareable": False, "use_chap": False, "is_agent_auto_iscsi_login_enabled": False}]
    assert intents_of({DETACH_TAG_PREFIX + "x": "too|few"}) == []
    assert intents_of(None) == []


def test_newest_verified_is_the_newest_available_backup_with_the_tag():
    def backup(i, day, state="AVAILABLE", verified=True):
        return {"backup_id": i, "time_created": f"2026-01-{day:02d}T00:00:00+00:00", "lifecycle_state": state,
                "freeform_tags": {VERIFIED_TAG: "x"} if verified else {}}

    backups = [backup("a", 1), backup("b", 3), backup("c", 4, verified=False), backup("d", 5, "TERMINATING")]
    assert newest_verified(backups)["backup_id"] == "b"
    assert newest_verified([backup("c", 4, verified=False)]) is None


def test_a_boot_swap_record_reads_back_or_is_none():
    assert swap_record("old|new|1") == {"old": "old", "new": "new", "was_running": True}
    assert swap_record("old|new") == {"old": "old", "new": "new", "was_running": False}
    assert swap_record(None) is None and swap_record("old|") is None
