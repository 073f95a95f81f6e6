"""The notification keys of a run's configuration and their rules (docs/notifications.md).

They ride in the same layers as every other key (Params defaults < the Variable named after the DAG < the
trigger conf, common/config.py). The nightly declares them as Params; the on-demand DAGs take them from their
Variable or conf, so `layered()` accepts them for every DAG. `check_notify` refuses a bad value by name when
the run configuration is resolved, before any OCI call.
"""

from __future__ import annotations

import re

from common.config import NOTIFY_DEFAULTS
from common.errors import OciInputError

ADDRESS_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$")
WEBHOOK_CONN_TYPES = ("http", "https")


def notify_values(config: dict) -> dict:
    """The notification keys of a resolved configuration, defaults filled in, `notify_to` as a list."""
    from forms.params import flag, listed

    values = {**NOTIFY_DEFAULTS, **{k: v for k, v in config.items() if k in NOTIFY_DEFAULTS and v is not None}}
    values["notify_to"] = listed(values["notify_to"] or [])
    values["notify_summary"] = flag(values["notify_summary"], "notify_summary")
    return values


def _connection(conn_id: str):
    from airflow.sdk import BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except Exception:
        return None


def check_notify(config: dict, get_connection=_connection) -> dict:
    """The notification keys checked: addresses well formed, the SMTP connection known when mail is on, the
    webhook connection known and of type http. Raises OciInputError naming the key; returns the values."""
    values = notify_values(config)
    to = values["notify_to"]
    if not isinstance(to, list) or not all(isinstance(a, str) for a in to):
        raise OciInputError(f"notify_to {to!r}: a list of mail addresses (or one comma-separated string)")
    for address in to:
        if not ADDRESS_RE.match(address):
            raise OciInputError(f"notify_to {address!r}: not a mail address (like ops@example.com)")
    if to:
        conn_id = values["notify_smtp_conn_id"]
        if not isinstance(conn_id, str) or not conn_id.strip():
            raise OciInputError(f"notify_smtp_conn_id {conn_id!r}: a connection id (default smtp_default)")
        conn = get_connection(conn_id)
        if conn is None:
            raise OciInputError(f"notify_smtp_conn_id {conn_id!r}: no such Airflow connection")
        if (conn.conn_type or "").lower() not in ("smtp", "email"):
            raise OciInputError(f"notify_smtp_conn_id {conn_id!r}: connection of type {conn.conn_type!r}, must "
                                f"be smtp")
    hook_id = values["notify_webhook_conn_id"]
    if hook_id:
        conn = get_connection(hook_id)
        if conn is None:
            raise OciInputError(f"notify_webhook_conn_id {hook_id!r}: no such Airflow connection")
        if (conn.conn_type or "").lower() not in WEBHOOK_CONN_TYPES:
            raise OciInputError(f"notify_webhook_conn_id {hook_id!r}: connection of type {conn.conn_type!r}, "
                                f"must be http (a JSON webhook URL)")
    return values
