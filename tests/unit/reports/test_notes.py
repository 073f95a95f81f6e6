"""The run notes: a short Markdown table a person reads in the run's header (display names, shortened OCIDs),
within Airflow's 1000-character note column, the failed rows first."""

from __future__ import annotations

from datetime import UTC, datetime

from reports.names import item_name, planned_name, short_ocid
from reports.nightly import build_row, render_note
from reports.on_demand import render_note as on_demand_note
from workflows.restore import note as restore_note

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
BACKUP = {"backup_id": "ocid1.volumebackup.oc1.iad.bbbbbbbbx7k2qa", "type": "FULL", "size_in_gbs": 50,
          "unique_size_in_mbs": 12, "unique_size_in_gbs": 0}


def item(name: str) -> dict:
    return {"volume_id": f"ocid1.volume.oc1.iad.aaaa{name}", "display_name": name, "kind": "volume",
            "policy": "default", "backup_type": "FULL", "verify": True}


def report(rows: list[dict]) -> dict:
    return {"generated_at": NOW.isoformat(), "volumes": rows, "groups": [], "failed_steps": [],
            "totals": {"volumes": len(rows), "backed_up": len(rows), "verified": 0, "failed": 1, "pruned": 0}}


def test_short_ocid_keeps_the_kind_and_the_end():
    assert short_ocid("ocid1.volumebackup.oc1.iad.abuwcljrx7k2qa") == "volumebackup…x7k2qa"
    assert short_ocid(None) == "-" and short_ocid("not-an-ocid") == "not-an-ocid"


def test_the_nightly_note_is_a_table_by_display_name_failed_first_within_1000_characters():
    good = build_row(item("db-data"), BACKUP, {"seconds_to_available": 12.4}, {"level": "script", "passed": True,
                                                                               "detail": "e2fsck clean"}, None, NOW)
    bad = build_row(item("app-data"), BACKUP, None, {"level": "script", "passed": False,
                                                     "detail": "e2fsck -fn exit 8: bad superblock"}, None, NOW)
    text = render_note(report([good, bad]))
    lines = text.splitlines()
    assert lines[0].startswith("**OCI nightly backup report") and "2 volumes, 2 backed up" in lines[0]
    assert lines[2] == "| Volume | Status | Backup | Check | RTO | RPO |"
    assert lines[4].startswith("| app-data | VERIFICATION FAILED | FULL volumebackup…x7k2qa | script: e2fsck")
    assert lines[5] == "| db-data | verified | FULL volumebackup…x7k2qa | script: PASS | 12 s | - |"
    assert "ocid1." not in text
    many = render_note(report([bad] + [good] * 40))
    assert len(many) <= 1000 and "VERIFICATION FAILED" in many
    assert many.splitlines()[-1].startswith("… ") and "more row(s): see the report task's log" in many


def test_the_restore_note_names_the_backup_and_the_new_volume():
    result = {"backup": {"type": "boot volume", "display_name": "nightly-app1", "backup_id":
                         "ocid1.bootvolumebackup.oc1.iad.cccccc123456", "time_created": "2026-01-02T02:00:00+00:00",
                         "verified_at": "2026-01-02T02:10:00+00:00"},
              "restored": {"kind": "bootvolume", "display_name": "app1-restore", "seconds_to_available": 31,
                           "volume_id": "ocid1.bootvolume.oc1.iad.dddddd654321"},
              "attachment": None, "instance": None, "swap": None}
    text = on_demand_note(restore_note, "restore", result, [])
    assert text.splitlines()[0] == "**OCI restore: done**"
    assert "| boot volume backup | nightly-app1 | bootvolumebackup…123456 | made 2026-01-02T02:00, verified " \
           "2026-01-02T02:10 |" in text
    assert "| new bootvolume | app1-restore | bootvolume…654321 | AVAILABLE after 31 s |" in text
    failed = on_demand_note(restore_note, "restore", {**result, "restored": None}, ["backup x was not restored"])
    assert failed.startswith("**OCI restore: INCOMPLETE, 1 problem(s)**") and "! backup x was not restored" in failed


def test_a_map_index_template_renders_the_items_name_or_its_index():
    from jinja2 import Environment

    class Ti:
        def __init__(self, index):
            self.map_index = index

        def xcom_pull(self, task_ids):
            return [{"display_name": "db-data"}, {"display_name": "app1 (Boot Volume)"}] if task_ids == "plan" else None

    template = Environment().from_string(item_name("plan"))
    assert [template.render(ti=Ti(i)) for i in (0, 1, 2)] == ["db-data", "app1 (Boot Volume)", "2"]


def test_a_planned_name_comes_from_the_item_or_from_the_backups_xcom_at_the_same_index():
    from types import SimpleNamespace

    from jinja2 import Environment

    class Ti:
        def __init__(self, index):
            self.map_index = index

        def xcom_pull(self, task_ids, key, map_indexes):
            names = {0: "db-data", 1: "app1 (Boot Volume)"}
            return names.get(map_indexes) if (task_ids, key) == ("group.backup", "volume_name") else None

    template = Environment().from_string(planned_name("group.backup"))
    backup = SimpleNamespace(planned={"display_name": "db-data", "volume_id": "v"})
    assert template.render(ti=Ti(0), task=backup) == "db-data"  # the backup: its own item, no read
    later = SimpleNamespace(backup_id="b")  # a later task of the group: no `planned`
    assert [template.render(ti=Ti(i), task=later) for i in (0, 1, 2)] == ["db-data", "app1 (Boot Volume)", "2"]


def test_a_refused_request_gets_a_note_that_says_why():
    text = on_demand_note(None, "restore", {}, ["refused: backup_id 'ocid1.volumebackup.oc1.iad.aaaa123456' and "
                                              "volume_id 'ocid1.volume.oc1.iad.bbbb654321': both given"])
    assert text == ("**OCI restore: nothing done**\n\n! refused: backup_id 'volumebackup…123456' and volume_id "
                    "'volume…654321': both given")
