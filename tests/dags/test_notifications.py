"""Failure mails and the chat webhook (issue 19), end to end: real Airflow (dag.test, whose run calls the DAG's
on_failure_callback as the DAG processor would), the real SDK against ocisim, a real SMTP server (aiosmtpd)
and an HTTP server on loopback. One mail per failed run, naming the volume; a refused configuration names the
key; a notifier that cannot deliver leaves the run's outcome alone."""

from __future__ import annotations

import json

import pytest

from tests.airflow_helpers import last_run_id, run_dag, xcom
from tests.mailbox import smtp_server, webhook_server

NIGHTLY = "oci_nightly_backup"
WATCHDOG = "oci_freshness_watchdog"
POLICIES = {"default": {"full_interval_days": 7, "retention_days": 30, "verify": "all"}}
TO = ["ops@example.com", "dba@example.org"]


def _conf(sim, **extra) -> dict:
    return {"compartment_ids": sim.tenancy["compartments"]["prod"], "verification_level": "script",
            "verifier_instance_id": sim.tenancy["instances"]["verifier"], "policies": POLICIES, **extra}


@pytest.fixture
def mailbox(monkeypatch):
    with smtp_server() as box:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", box.connection_json())
        yield box


@pytest.fixture
def chat(monkeypatch):
    with webhook_server() as hook:
        monkeypatch.setenv("AIRFLOW_CONN_CHAT", hook.connection_json())
        yield hook


def test_one_mail_per_failed_nightly_naming_the_volume_and_one_webhook(estate, mailbox, chat, capfd, caplog):
    """One corrupted backup fails one verification: exactly one mail to both addresses and one webhook message,
    subject `[OCI] oci_nightly_backup failed: 1 of <m> volumes`, the volume by name, the links."""
    sim = estate
    sim.admin.fault("CreateVolumeBackup", "corrupt_backup", count=1)
    state, tasks = run_dag(NIGHTLY, _conf(sim, notify_to=TO, notify_webhook_conn_id="chat"))
    assert state == "failed", tasks
    report = xcom(NIGHTLY, last_run_id(NIGHTLY), "report", key="report")
    failed = [r for r in report["volumes"] if r["failed"]]
    assert len(failed) == 1 and "VERIFICATION FAILED" in failed[0]["status"], report["volumes"]
    total = len(report["volumes"]) + sum(len(g["members"]) for g in report["groups"])

    assert len(mailbox.mails) == 1, [m.subject for m in mailbox.mails]
    [mail] = mailbox.mails
    assert mail.subject == f"[OCI] {NIGHTLY} failed: 1 of {total} volumes"
    assert sorted(mail.recipients) == sorted(TO) and mail.sender == "airflow@example.com"
    text, html = mail.part("plain"), mail.part("html")
    volume = failed[0]["display_name"]
    assert f"volume {volume} ({failed[0]['volume_id']}): VERIFICATION FAILED" in text
    healthy = [r["display_name"] for r in report["volumes"] if not r["failed"]]
    assert healthy and not any(f"volume {name} " in text for name in healthy)  # only what failed is named
    run_id = last_run_id(NIGHTLY)
    assert f"/dags/{NIGHTLY}/runs/" in text and "/oci/" in text and run_id.split("+")[0] in text.replace("%3A", ":")
    assert volume in html and '<a href="' in html and "/oci/</a>" in html
    # the failed mapped verification names itself with its recorded error line
    failed_verify = [t for t, s in tasks.items() if t.startswith("protect_volume.verify_restore") and s == "failed"]
    assert len(failed_verify) == 1 and f"- {failed_verify[0]}: " in text

    [(path, payload)] = chat.posts
    assert path == "/hooks/s3cr3t-token" and payload["title"] == mail.subject and volume in payload["text"]
    log = capfd.readouterr()
    assert "webhook 'chat': 200" in caplog.text
    assert "s3cr3t-token" not in log.out + log.err + caplog.text  # the webhook's secret path is never logged


def test_on_demand_failure_mail_names_the_step_and_its_error(airflow_db, mailbox):
    """An on-demand DAG takes the keys from its Variable or conf: a refused restore request is one mail whose
    subject names the step and whose body has the error's first line."""
    state, tasks = run_dag("oci_restore", {"notify_to": "ops@example.com"})
    assert state == "failed" and tasks["validate_request"] == "failed", tasks
    [mail] = mailbox.mails
    assert mail.subject == "[OCI] oci_restore failed: validate_request"
    assert mail.recipients == ["ops@example.com"]
    assert "- validate_request: OciInputError: " in mail.part("plain")


@pytest.mark.parametrize(("conf", "message"), [
    ({"notify_to": ["ops@example.com", "not an address"]}, "notify_to 'not an address': not a mail address"),
    ({"notify_to": ["ops@example.com"], "notify_smtp_conn_id": "no_such_smtp"},
     "notify_smtp_conn_id 'no_such_smtp': no such Airflow connection"),
    ({"notify_webhook_conn_id": "oci_default"},
     "notify_webhook_conn_id 'oci_default': connection of type 'oci', must be http"),
])
def test_bad_notification_settings_are_refused_by_name_before_any_oci_call(estate, mailbox, capfd, conf, message):
    sim = estate
    sim.admin.reset_counters()
    capfd.readouterr()
    state, tasks = run_dag(NIGHTLY, _conf(sim, **conf))
    assert state == "failed" and tasks["resolve_config"] == "failed", tasks
    assert message in capfd.readouterr().out
    assert sim.admin.counters() == {} or not any(op.startswith("Create") for op in sim.admin.counters())
    assert mailbox.mails == []  # a refused configuration sends nothing


def test_watchdog_mails_a_breach_once_and_its_clearing_once_and_the_summary_in_between(estate, mailbox,
                                                                                      monkeypatch, caplog):
    """No verified backup yet: the hourly watchdog mails the breach once (a second hour: nothing new). A good
    nightly with notify_summary mails one summary (plain text and HTML, the report's table) while its webhook
    answers 500, which is logged and leaves the run a success. The next hour the watchdog mails "cleared" once.
    The watchdog and the nightly read the same Variable: the nightly's configuration."""
    from tests.airflow_helpers import variable

    sim = estate
    conf = _conf(sim, verification_level="api", notify_to=TO, notify_summary=True, notify_webhook_conn_id="chat")
    names = sorted(v["display_name"] for v in sim.admin.resources("volume") + sim.admin.resources("bootvolume")
                   if (v.get("freeform_tags") or {}).get("backup-policy") is not None)
    with variable(NIGHTLY, conf), variable("oci_freshness_watchdog_state", {}), \
            webhook_server(status=500) as hook:
        monkeypatch.setenv("AIRFLOW_CONN_CHAT", hook.connection_json())
        state, tasks = run_dag(WATCHDOG)
        assert state == "success", tasks
        [breach] = mailbox.mails
        assert breach.subject == f"[OCI] RPO breached: {len(names)} volume(s)"
        assert all(f"- {name} (" in breach.part("plain") for name in names) and "no verified backup" in breach.part(
            "plain")
        assert run_dag(WATCHDOG)[0] == "success" and len(mailbox.mails) == 1  # still breached: no second mail

        state, tasks = run_dag(NIGHTLY)
        assert state == "success", tasks
        assert len(hook.posts) == 2  # the breach and the summary each went to the webhook too (and got a 500)
        summary = mailbox.mails[1]
        report = xcom(NIGHTLY, last_run_id(NIGHTLY), "report")
        assert summary.subject == (f"[OCI] {NIGHTLY} summary: {len(report['volumes'])} protected, 0 failed, "
                                   f"0 unprotected, 0 RPO breaches")
        text, html = summary.part("plain"), summary.part("html")
        assert "RPO breaches: 0" in text and "OCI nightly backup report" in text
        assert all(f"- {r['display_name']} (" in text for r in report["volumes"])  # the report's table
        assert "<table" in html and all(f"<td>{r['display_name']}</td>" in html for r in report["volumes"])
        assert "webhook 'chat' NOT delivered: HTTP 500" in caplog.text and "s3cr3t-token" not in caplog.text

        assert run_dag(WATCHDOG)[0] == "success"
        assert run_dag(WATCHDOG)[0] == "success"
    assert [m.subject for m in mailbox.mails[2:]] == [f"[OCI] RPO cleared: {len(names)} volume(s)"]
    assert all(m.recipients == TO for m in mailbox.mails)


def test_smtp_down_is_reported_not_raised_and_keeps_the_password_out(airflow_db, monkeypatch):
    from notify.deliver import send_mail
    from notify.message import plain_mail

    from tests.mailbox import free_port

    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DOWN", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": free_port(), "password": "pa55word", "login": "ops",
        "extra": {"disable_ssl": True, "disable_tls": True, "retry_limit": 0}}))
    outcome = send_mail(plain_mail("[OCI] test", ["x"]), ["ops@example.com"], "smtp_down")
    assert outcome.startswith("mail '[OCI] test' NOT sent through 'smtp_down': ConnectionRefusedError")
    assert "pa55word" not in outcome
