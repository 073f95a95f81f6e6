"""A run's identity across kills, pure (issue 16): which backup a run adopts instead of making one (an earlier try
of this run's, or a killed run's unverified one within the policy's window), the duplicates it reports, the tags
a test restore starts with, and tag values that differ only in whitespace or case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from common.errors import OciInputError
from common.tags import restored_tags
from operators.backup_policy import BackupPolicy, adoption, check_tag_values, duplicate_rows, protected
from reports.nightly import render_text

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
DAG, RUN = "oci_nightly_backup", "scheduled__2026-06-01T02:00:00+00:00"


def backup(backup_id: str, hours_ago: float, run: str = RUN, state: str = "AVAILABLE", kind: str = "FULL",
           **tags) -> dict:
    return {"backup_id": backup_id, "type": kind, "lifecycle_state": state,
            "time_created": (NOW - timedelta(hours=hours_ago)).isoformat(),
            "freeform_tags": {"managed-by": "airflow-oci", "airflow-dag": DAG, "airflow-run": run, **tags}}


def test_a_re_run_adopts_its_earlier_trys_backup_whatever_its_state_and_reports_the_second():
    made = [backup("b-first", 2, state="CREATING"), backup("b-second", 1, kind="INCREMENTAL"),
            backup("b-old", 30, run="scheduled__2026-05-31T02:00:00+00:00", **{"verified-at": "x"})]
    keep, duplicates, why = adoption(made, BackupPolicy(), NOW, DAG, RUN)
    # the AVAILABLE one first (the earlier try's later steps saw it), the other reported
    assert keep["backup_id"] == "b-second" and [d["backup_id"] for d in duplicates] == ["b-first"]
    assert "earlier try of this run" in why
    assert duplicate_rows(duplicates) == [{"backup_id": "b-first", "type": "FULL", "time_created":
                                           made[0]["time_created"], "lifecycle_state": "CREATING", "run": RUN}]


@pytest.mark.parametrize("hours, tags, adopted", [
    (3, {}, True),  # a killed run's, unverified, young: adopted and verified
    (13, {}, False),  # older than adopt_within_hours (12): a new backup
    (3, {"verified-at": "2026-06-01T09:00:00+00:00"}, False),  # proven: tonight makes its own
    (3, {"verify-failed-at": "2026-06-01T09:00:00+00:00"}, False),  # failed its check: never adopted
])
def test_a_new_run_adopts_a_killed_runs_unverified_backup_only_within_the_window(hours, tags, adopted):
    other = "manual__2026-06-01T09:00:00+00:00"
    found = [backup("b-killed", hours, run=other, **tags)]
    keep, duplicates, why = adoption(found, BackupPolicy(), NOW, DAG, RUN)
    assert (keep is not None) == adopted and duplicates == []
    if adopted:
        assert other in why and "not verified" in why
    assert adoption(found, BackupPolicy(adopt_within_hours=0), NOW, DAG, RUN)[0] is None


def test_never_adopts_anothers_backup_a_gone_one_or_a_group_member():
    found = [backup("b-hand", 1) | {"freeform_tags": {}}, backup("b-gone", 1, state="TERMINATED"),
             backup("b-member", 1) | {"volume_group_backup_id": "ocid1.volumegroupbackup.oc1..g"}]
    assert adoption(found, BackupPolicy(), NOW, DAG, RUN) == (None, [], "")


def test_a_test_restore_starts_with_no_policy_or_group_tag():
    source = {"backup-policy": "gold", "backup-group": "db", "owner": "dba", "verified-at": "x"}
    assert restored_tags(source, {"airflow-temporary": "true"}) == {}
    assert restored_tags(source, {"purpose": "recovery"}) == {"backup-policy": "gold", "backup-group": "db",
                                                              "owner": "dba"}


def vol(name: str, group: str | None, policy: str = "default", **extra) -> dict:
    return {"volume_id": f"ocid1.volume.oc1..{name}", "display_name": name, "policy": policy.strip() or "default",
            "group": (group or "").strip() or None,
            "tag_values": {"backup-policy": policy, "backup-group": group}, **extra}


@pytest.mark.parametrize("other, message", [
    (vol("db-log", "db "), "tag backup-group: values that differ only in whitespace or case: 'db' on db-data; "
                           "'db ' on db-log"),
    (vol("db-log", "DB"), "'DB' on db-log; 'db' on db-data"),
    (vol("db-log", "db", policy="Gold"), None),
])
def test_tag_values_differing_only_in_whitespace_or_case_are_refused_naming_them(other, message):
    volumes = [vol("db-data", "db", policy="gold" if message is None else "default"), other]
    if message is None:
        with pytest.raises(OciInputError, match=r"tag backup-policy: .*'Gold' on db-log; 'gold' on db-data"):
            check_tag_values(volumes)
        return
    with pytest.raises(OciInputError) as err:
        check_tag_values(volumes)
    assert message in str(err.value)


def test_a_value_alone_is_trimmed_and_skipped_volumes_are_not_protected():
    check_tag_values([vol("db-data", " db "), vol("db-log", " db ")])  # one spelling: fine
    volumes = [vol("db-data", "db"), vol("restore", "db", skipped="a temporary of this project")]
    assert [v["display_name"] for v in protected(volumes)] == ["db-data"]


def test_the_report_names_duplicates_and_unprotected_volumes():
    report = {"generated_at": "now", "totals": {"volumes": 0, "backed_up": 0, "verified": 0, "failed": 0,
                                                "pruned": 0},
              "volumes": [], "groups": [],
              "duplicates": [{"display_name": "app-data", **duplicate_rows([backup("b-2", 1)])[0]}],
              "skipped": [{"volume_id": "ocid1.volume.oc1..r", "display_name": "db-data",
                           "skipped": "a member of volume group 'db-restore'"}]}
    text = render_text(report)
    assert f"DUPLICATE BACKUP of app-data: b-2 (FULL, AVAILABLE, made {report['duplicates'][0]['time_created']} " \
           f"by run {RUN})" in text
    assert "NOT PROTECTED: db-data (ocid1.volume.oc1..r): a member of volume group 'db-restore'" in text
