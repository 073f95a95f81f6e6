"""Sending: mail through Airflow's SMTP hook (the connection `notify_smtp_conn_id`), the chat message as a JSON
POST to the URL of the connection `notify_webhook_conn_id`. Neither ever raises: a notifier that cannot
deliver must not change a run's outcome, so each returns a one-line outcome for the log, with the reason and
nothing secret (no password, no full webhook URL: its path is the secret of an incoming webhook)."""

from __future__ import annotations

import json
import logging
from email.message import EmailMessage

from notify.message import Mail, webhook_payload

log = logging.getLogger(__name__)
FROM_DEFAULT = "airflow-oci@localhost"


def build_message(mail: Mail, to: list[str], sender: str) -> EmailMessage:
    """multipart/alternative: the plain text first, the HTML second (mail clients show the last they can)."""
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = mail.subject, sender, ", ".join(to)
    msg.set_content(mail.text)
    msg.add_alternative(mail.html, subtype="html")
    return msg


def send_mail(mail: Mail, to: list[str], conn_id: str = "smtp_default") -> str:
    """Send one mail; the outcome as one line (never raises)."""
    if not to:
        return "mail: off (notify_to is empty)"
    try:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        with SmtpHook(smtp_conn_id=conn_id) as hook:
            sender = hook.from_email or FROM_DEFAULT
            refused = hook._smtp_client.send_message(build_message(mail, to, sender), sender, to)
        if refused:
            return f"mail {mail.subject!r}: refused for {sorted(refused)}"
        return f"mail {mail.subject!r} sent to {len(to)} recipient(s) through {conn_id!r}"
    except Exception as err:  # SMTP down, refused, TLS: reported, never raised
        return f"mail {mail.subject!r} NOT sent through {conn_id!r}: {type(err).__name__}: {_safe(err)}"


def post_webhook(mail: Mail, conn_id: str, timeout: float = 10.0) -> str:
    """POST the JSON payload to the connection's URL; the outcome as one line (never raises)."""
    if not conn_id:
        return "webhook: off (notify_webhook_conn_id is empty)"
    import urllib.error
    import urllib.request

    try:
        url = webhook_url(conn_id)
        req = urllib.request.Request(url, data=json.dumps(webhook_payload(mail)).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return f"webhook {conn_id!r}: {resp.status}"
    except urllib.error.HTTPError as err:
        return f"webhook {conn_id!r} NOT delivered: HTTP {err.code}"
    except Exception as err:
        return f"webhook {conn_id!r} NOT delivered: {type(err).__name__}: {_safe(err)}"


def webhook_url(conn_id: str) -> str:
    """The connection's URL: host (with or without a scheme), port, schema as the path; https unless the
    connection says http (conn type http) and its host gives no scheme."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    host = (conn.host or "").rstrip("/")
    if "://" not in host:
        host = f"{'https' if conn.conn_type == 'https' else 'http'}://{host}"
    if conn.port and f":{conn.port}" not in host.split("://", 1)[1]:
        host = f"{host}:{conn.port}"
    path = (conn.schema or "").strip("/")
    return f"{host}/{path}" if path else host


def _safe(err: Exception) -> str:
    """An exception's first line without anything URL-like (a webhook URL's path is its secret)."""
    import re

    text = str(err).splitlines()[0] if str(err) else ""
    return re.sub(r"https?://\S+", "<url>", text)[:300]


def deliver(mail: Mail, values: dict) -> list[str]:
    """Mail and webhook per the resolved notification keys; every outcome is logged and returned."""
    outcomes = [send_mail(mail, values.get("notify_to") or [], values.get("notify_smtp_conn_id") or "smtp_default")]
    if values.get("notify_webhook_conn_id"):
        outcomes.append(post_webhook(mail, values["notify_webhook_conn_id"]))
    for line in outcomes:
        log.warning(line) if "NOT" in line or "refused" in line else log.info(line)
    return outcomes
