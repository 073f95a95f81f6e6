"""The notification rules as pure functions: subjects, what a mail names, the configuration refusals, the
watchdog's de-duplication, the nightly's deadline."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from common.errors import OciInputError
from notify.config import check_notify
from notify.message import RunFacts, failure_mail, summary_mail, webhook_payload
from notify.watchdog import breaches, changes, mails

BASE = "https://airflow.example.com"


def _row(name, failed=False, status="verified", detail="restored volume AVAILABLE", rpo=2.0, policy="default"):
    return {"volume_id": f"ocid1.volume.oc1.iad.{name}", "display_name": name, "failed": failed, "status": status,
            "verification": {"detail": detail + "\nsecond line"}, "rpo_hours": rpo, "policy": policy,
            "type": "FULL", "rto_seconds": 12}


def test_fifty_failed_verifications_are_one_mail_naming_fifty_volumes():
    rows = [_row(f"vol-{i:02d}", True, "VERIFICATION FAILED", "e2fsck -fn exited 12") for i in range(50)]
    rows += [_row("healthy")]
    states = {f"protect_volume.verify_restore[{i}]": "failed" for i in range(50)} | {"report": "failed"}
    facts = RunFacts("oci_nightly_backup", "scheduled__2026-12-06T02:00:00+00:00", states,
                     {"protect_volume.verify_restore[3]": "OciWaitError: verification FAILED"},
                     {"totals": {}, "volumes": rows, "groups": [], "failed_steps": []})
    mail = failure_mail(facts, BASE)
    assert mail.subject == "[OCI] oci_nightly_backup failed: 50 of 51 volumes"
    assert all(f"volume vol-{i:02d} (" in mail.text for i in range(50)) and "healthy" not in mail.text
    assert "e2fsck -fn exited 12" in mail.text and "second line" not in mail.text  # first line only
    assert "- protect_volume.verify_restore[3]: OciWaitError: verification FAILED" in mail.text
    assert (f"{BASE}/dags/oci_nightly_backup/runs/scheduled__2026-12-06T02%3A00%3A00%2B00%3A00" in mail.text
            and f"{BASE}/oci/" in mail.text)
    assert f'<a href="{BASE}/oci/">' in mail.html and "vol-49" in mail.html


def test_a_failed_group_counts_its_members_and_names_them():
    group = {"group": "db", "failed": True, "status": "BACKUP FAILED", "verification": None,
             "members": [{"display_name": "db-data"}, {"display_name": "db-logs"}]}
    facts = RunFacts("oci_nightly_backup", "r", {"protect_group.backup_group[0]": "failed"}, {},
                     {"totals": {}, "volumes": [_row("app")], "groups": [group], "failed_steps": [
                         {"step": "prune_backups", "state": "failed", "detail": "backups not deleted: x"}]})
    mail = failure_mail(facts, BASE)
    assert mail.subject == "[OCI] oci_nightly_backup failed: 2 of 3 volumes"
    assert "group db (db-data, db-logs): BACKUP FAILED" in mail.text
    assert "step prune_backups failed: backups not deleted: x" in mail.text


def test_on_demand_subject_names_the_first_failed_step_not_the_report():
    facts = RunFacts("oci_emergency_clone", "r", {"validate_request": "success", "clone_volume[0]": "failed",
                                                  "attach_cloned_volume[0]": "upstream_failed", "report": "failed"},
                     {"clone_volume[0]": "OciWaitError: quota exceeded"},
                     {"source_instance_id": "ocid1.instance.oc1.iad.web1",
                      "volumes": [{"display_name": "web1-boot", "source_id": "ocid1.bootvolume.oc1.iad.b"}],
                      "problems": ["clone of web1-boot (ocid1.bootvolume.oc1.iad.b) was not made"]})
    mail = failure_mail(facts, BASE)
    assert mail.subject == "[OCI] oci_emergency_clone failed: clone_volume[0]"
    assert "instance ocid1.instance.oc1.iad.web1" in mail.text and "volume web1-boot" in mail.text
    assert "- clone_volume[0]: OciWaitError: quota exceeded" in mail.text
    assert "attach_cloned_volume" not in mail.text  # skipped for an upstream failure: not a failed step


def test_summary_counts_and_rpo_breaches_against_each_policy():
    report = {"volumes": [_row("a", rpo=30.0), _row("b", rpo=None, status="backed up (verification not sampled)"),
                          _row("c", True, "BACKUP FAILED"), _row("d", rpo=30.0, policy="gold")], "groups": []}
    policies = {"default": {"verify_every_days": 7}, "gold": {"verify_every_days": 1}}
    mail = summary_mail("oci_nightly_backup", "r", report, policies, BASE, "TABLE")
    assert mail.subject == ("[OCI] oci_nightly_backup summary: 1 protected, 1 failed, 1 unprotected, "
                            "2 RPO breaches")  # b (never verified) and d (30 h > 24 h)
    assert "- d (ocid1.volume.oc1.iad.d): RPO 30.0 h, target 24 h" in mail.text and "TABLE" in mail.text
    assert "<td>a</td>" in mail.html and "text/html" not in mail.text


def test_webhook_payload_is_generic_json():
    mail = failure_mail(RunFacts("oci_restore", "r", {"validate_request": "failed"}), BASE)
    payload = webhook_payload(mail)
    assert payload["title"] == "[OCI] oci_restore failed: validate_request" and payload["text"].startswith("*[OCI]")


def _conn(kind):
    return lambda conn_id: None if conn_id == "missing" else SimpleNamespace(conn_type=kind)


@pytest.mark.parametrize(("config", "kind", "message"), [
    ({"notify_to": "ops@example.com, nope"}, "smtp", "notify_to 'nope': not a mail address"),
    ({"notify_to": [1]}, "smtp", "notify_to [1]: a list of mail addresses"),
    ({"notify_to": ["ops@example.com"], "notify_smtp_conn_id": "missing"}, "smtp",
     "notify_smtp_conn_id 'missing': no such Airflow connection"),
    ({"notify_to": ["ops@example.com"]}, "http", "notify_smtp_conn_id 'smtp_default': connection of type 'http'"),
    ({"notify_webhook_conn_id": "missing"}, "http", "notify_webhook_conn_id 'missing': no such Airflow connection"),
    ({"notify_webhook_conn_id": "chat"}, "oci", "notify_webhook_conn_id 'chat': connection of type 'oci', must be"),
    ({"notify_summary": "maybe"}, "smtp", "notify_summary 'maybe': true or false"),
])
def test_bad_notification_keys_are_refused_by_name(config, kind, message):
    with pytest.raises(OciInputError, match="^" + message.replace("[", r"\[").replace("]", r"\]")
                       .replace("(", r"\(").replace(")", r"\)")):
        check_notify(config, get_connection=_conn(kind))


def test_empty_notify_to_is_off_and_needs_no_connection():
    values = check_notify({"notify_to": ""}, get_connection=_conn("smtp"))
    assert values["notify_to"] == [] and values["notify_smtp_conn_id"] == "smtp_default"
    assert check_notify({"notify_to": "a@b.example, c@d.example"}, get_connection=_conn("smtp"))["notify_to"] == [
        "a@b.example", "c@d.example"]


def test_layered_accepts_the_notify_keys_for_every_dag_and_refuses_others():
    from common.config import layered

    assert layered({"backup_id": ""}, {"notify_to": ["a@b.example"]}, {"notify_summary": False})["notify_to"] == [
        "a@b.example"]
    with pytest.raises(OciInputError, match="unknown key 'notify_too'"):
        layered({"backup_id": ""}, {"notify_too": []})


def test_watchdog_mails_each_breach_once_then_its_clearing_once():
    page = {"protected": [
        {"volume_id": "v1", "display_name": "db", "policy": "default", "rpo_seconds": 700000,
         "rpo_target_seconds": 604800, "compliant": False},
        {"volume_id": "v2", "display_name": "app", "policy": "default", "rpo_seconds": None,
         "rpo_target_seconds": 604800, "compliant": False},
        {"volume_id": "v3", "display_name": "ok", "policy": "default", "rpo_seconds": 10,
         "rpo_target_seconds": 604800, "compliant": True}]}
    now = breaches(page)
    assert sorted(now) == ["v1", "v2"]
    new, cleared = changes({}, now)
    [mail] = mails(new, cleared, BASE)
    assert mail.subject == "[OCI] RPO breached: 2 volume(s)"
    assert "- db (v1), policy default: newest verified backup 194.4 h old, target 168 h" in mail.text
    assert "- app (v2), policy default: no verified backup" in mail.text
    assert mails(*changes(now, now), BASE) == []  # still breached: nothing
    del now["v1"]
    [cleared_mail] = mails(*changes(breaches(page) | {}, now), BASE)
    assert cleared_mail.subject == "[OCI] RPO cleared: 1 volume(s)" and "- db (v1)" in cleared_mail.text


def test_nightly_deadline_from_the_smallest_rpo_target_or_the_setting(monkeypatch):
    from notify.callbacks import rpo_deadline

    monkeypatch.setenv("OCI_RPO_DEADLINE", "1")
    alert = rpo_deadline("oci_nightly_backup")
    assert alert.interval == timedelta(hours=168)  # the default policy's verify_every_days: 7
    assert alert.callback.path == "notify.callbacks.rpo_at_risk"
    assert alert.callback.kwargs == {"dag_id": "oci_nightly_backup", "interval_hours": 168.0}
    monkeypatch.setenv("OCI_RPO_DEADLINE_HOURS", "26")
    assert rpo_deadline("oci_nightly_backup").interval == timedelta(hours=26)
    monkeypatch.setenv("OCI_RPO_DEADLINE", "0")
    assert rpo_deadline("oci_nightly_backup") is None
