"""The nightly report's rows and text, from the facts the report operator reads."""

from __future__ import annotations

from datetime import UTC, datetime

from reports.nightly import build_row, render_text

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
ITEM = {"volume_id": "ocid1.volume.oc1.x.aaaaaaaa", "display_name": "data", "kind": "volume", "policy": "gold",
        "backup_type": "INCREMENTAL", "verify": True}
BACKUP = {"backup_id": "ocid1.volumebackup.oc1.x.bbbbbbbb", "type": "INCREMENTAL", "size_in_gbs": 50,
          "unique_size_in_mbs": 12, "unique_size_in_gbs": 0}


def test_status_names_what_failed_and_rpo_counts_from_the_newest_verified_backup():
    newest = {"backup_id": "b-old", "time_created": "2026-01-02T06:00:00+00:00"}
    verified = build_row(ITEM, BACKUP, {"seconds_to_available": 7, "rto_source": "restore"},
                         {"level": "fs", "passed": True, "detail": "ok"}, newest, NOW)
    assert (verified["status"], verified["failed"], verified["rpo_hours"]) == ("verified", False, 6.0)
    assert verified["rto_seconds"] == 7 and verified["newest_verified_backup_id"] == "b-old"
    assert build_row(ITEM, None, None, None, None, NOW)["status"] == "BACKUP FAILED"
    assert build_row(ITEM, BACKUP, None, None, None, NOW)["status"] == "VERIFICATION FAILED (no result)"
    failed = build_row(ITEM, BACKUP, None, {"level": "fs", "passed": False, "detail": "bad"}, None, NOW)
    assert (failed["status"], failed["failed"], failed["rpo_hours"]) == ("VERIFICATION FAILED", True, None)
    unsampled = build_row({**ITEM, "verify": False}, BACKUP, None, None, None, NOW)
    assert (unsampled["status"], unsampled["failed"]) == ("backed up (verification not sampled)", False)


def test_text_lists_totals_failed_steps_and_one_line_per_volume():
    row = build_row(ITEM, None, None, None, None, NOW)
    text = render_text({"generated_at": NOW.isoformat(), "volumes": [row],
                        "totals": {"volumes": 1, "backed_up": 0, "verified": 0, "failed": 1, "pruned": 0},
                        "failed_steps": [{"step": "prune_backups", "state": "failed", "detail": "x"}]})
    assert "1 volumes, 0 backed up, 0 verified, 1 failed, 0 pruned" in text
    assert "STEP FAILED: prune_backups (failed): x" in text
    assert "- data (volume): BACKUP FAILED; INCREMENTAL -; size - GB, unique 0 MB; RTO - s" in text


def test_each_line_says_how_consistent_its_backup_is_and_a_timed_out_quiesce_fails_the_row():
    verified = {"level": "api", "passed": True, "detail": "ok"}
    app = {"consistency": "app-consistent", "failed": False, "recovered": [],
           "text": "app-consistent (postgres: start LSN 0/5000028, stop LSN 0/5033048; hold 140 ms)"}
    timed_out = {"consistency": "crash-consistent", "failed": True, "recovered": ["volume data: thawed /data"],
                 "text": "CRASH-CONSISTENT (quiesce timed out)"}
    accepted = {**timed_out, "failed": False}
    rows = [build_row(ITEM, {**BACKUP, "consistency": c}, None, verified, None, NOW) if c else
            build_row(ITEM, BACKUP, None, verified, None, NOW) for c in (app, timed_out, accepted, None)]
    assert [r["failed"] for r in rows] == [False, True, False, False]
    text = render_text({"generated_at": NOW.isoformat(), "volumes": rows,
                        "totals": {"volumes": 4, "backed_up": 4, "verified": 4, "failed": 1, "pruned": 0}})
    lines = text.splitlines()[-4:]
    assert lines[0].endswith("; app-consistent (postgres: start LSN 0/5000028, stop LSN 0/5033048; hold 140 ms)")
    assert lines[1].endswith("; CRASH-CONSISTENT (quiesce timed out); earlier bracket ended: volume data: thawed "
                             "/data")
    assert lines[3].endswith("; crash-consistent (no quiesce configured)")
