"""Configuration in one place: the deployment settings, the defaults of the nightly DAG's Params, and the one
order in which a DAG run's configuration is resolved (docs/architecture.md, "Configuration").

Deployment settings are environment variables of the Airflow processes (how this installation polls, pools and
uploads); this module is the only place the library reads the environment. Each `Setting` is read when asked
for, so a test or a process that sets it first sees its value.

What a DAG run works on (compartments, policies, a restore's backup, ...) is not deployment: it is the DAG's
Params, resolved in this order, later wins, the same for every DAG:

1. the Params defaults the DAG declares (the nightly's are `NIGHTLY_DEFAULTS` here; the on-demand DAGs' are empty);
2. the Airflow Variable named after the DAG (a JSON object with the same keys as the Params);
3. the trigger's conf (the form, the CLI's `-c`, the REST API's `conf`).

A key of the Variable or the conf that the DAG has no Param for is refused, naming the key.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.errors import OciInputError

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class Setting:
    """One deployment setting: its environment variable, its default (whose type is the setting's type) and why
    it exists. An unset or empty variable means the default. `parsed`: read when a DAG file is parsed, so every
    process that parses DAGs (scheduler, dag-processor, workers) needs the same value."""

    name: str
    default: Any
    why: str
    parsed: bool = False

    def raw(self) -> str | None:
        value = os.environ.get(self.name)
        return None if value is None or not value.strip() else value.strip()

    def value(self) -> Any:
        raw = self.raw()
        if raw is None:
            return self.default
        kind = type(self.default)
        if kind is bool:
            if raw.lower() not in _TRUE + _FALSE:
                raise OciInputError(f"{self.name} {raw!r}: 1 or 0 (true or false)")
            return raw.lower() in _TRUE
        if kind in (int, float):
            try:
                number = kind(raw)
            except ValueError:
                raise OciInputError(f"{self.name} {raw!r}: {'a whole' if kind is int else 'a'} number, "
                                    f"default {self.default}") from None
            if number < 0:
                raise OciInputError(f"{self.name} {raw!r}: not negative")
            return number
        return raw


# -- deployment settings ----------------------------------------------------------------------------------------
POLL_INTERVAL = Setting("OCI_POLL_INTERVAL", 10.0,
                        "seconds to a wait's first poll of OCI; bounds the restore time's (RTO) resolution",
                        parsed=True)
POLL_MAX_INTERVAL = Setting("OCI_POLL_MAX_INTERVAL", 60.0,
                            "seconds the polls of a long wait back off to, so a slow operation costs few calls",
                            parsed=True)
TRIGGER_MIN_EVENT_AGE = Setting("OCI_TRIGGER_MIN_EVENT_AGE", 5.0,
                                "seconds a deferral lives before its trigger sends an event (0 where triggers "
                                "run inline, as in dag.test()): an earlier event can race the task's deferral")
TRIGGER_BATCH_FROM = Setting("OCI_TRIGGER_BATCH_FROM", 10,
                             "waits on one kind of resource in one compartment that share one list call per poll")
TRIGGER_END_TASK = Setting("OCI_TRIGGER_END_TASK", True,
                           "the trigger ends a finished task itself (no worker slot to resume it); 0 where "
                           "triggers run inline and resume the task anyway")
UPLOAD_ROOTS = Setting("OCI_UPLOAD_ROOTS", "",
                       "directories (separated by the OS path separator) a worker may upload files from; empty: "
                       "uploads are off, so whoever may trigger a DAG cannot copy the worker's files out")
API_POOL = Setting("OCI_API_POOL", "oci_api",
                   "the Airflow pool every OCI task runs in, so all DAGs together stay under OCI's throttling",
                   parsed=True)
API_POOL_SLOTS = Setting("OCI_API_POOL_SLOTS", 16, "the pool's size, where a stack creates it (make up, compose)")
INCLUDE_DIR = Setting("OCI_AIRFLOW_INCLUDE_DIR", "",
                      "the folder of the user-data and verification templates; empty: the repository's include/")
NIGHTLY_SCHEDULE = Setting("OCI_BACKUP_SCHEDULE", "0 2 * * *",
                           "the nightly backup's cron (UTC)", parsed=True)
NIGHTLY_MAX_ACTIVE_TASKS = Setting("OCI_BACKUP_MAX_ACTIVE_TASKS", 32,
                                   "queued and running tasks of one nightly run (deferred waits do not count)",
                                   parsed=True)
PROTECTION_DAG = Setting("OCI_PROTECTION_DAG", "oci_nightly_backup",
                         "the DAG whose runs, reports and configuration the OCI Protection page shows")
PROTECTION_CONN_ID = Setting("OCI_PROTECTION_CONN_ID", "oci_default", "the connection the page reads OCI with")
PROTECTION_CACHE_SECONDS = Setting("OCI_PROTECTION_CACHE_SECONDS", 60.0,
                                   "seconds the page serves one read of OCI before reading again")
PROTECTION_WAIT_SECONDS = Setting("OCI_PROTECTION_WAIT_SECONDS", 1.5,
                                  "seconds a page request waits for a running read before showing the last one")
RPO_DEADLINE_HOURS = Setting("OCI_RPO_DEADLINE_HOURS", 0.0,
                             "hours after its logical date a nightly run that is still running mails \"RPO at "
                             "risk\"; 0: the smallest verify_every_days of the default policies", parsed=True)
RPO_DEADLINE = Setting("OCI_RPO_DEADLINE", True,
                       "the nightly carries its RPO DeadlineAlert; 0 where DAGs run in dag.test() (Airflow 3.3.2 "
                       "fails a successful dag.test() run of a DAG with a deadline)", parsed=True)
PROTECTION_FIRST_WAIT_SECONDS = Setting("OCI_PROTECTION_FIRST_WAIT_SECONDS", 10.0,
                                        "seconds the very first request waits, having nothing to show yet")
APPROVAL_IN_PLACE = Setting("OCI_APPROVAL_IN_PLACE", True,
                            "an in-place restore waits for a person's approval before it stops the instance")
APPROVAL_CLONE_LAUNCH = Setting("OCI_APPROVAL_CLONE_LAUNCH", False,
                                "an emergency clone waits for a person's approval before it launches an instance")
APPROVAL_RETENTION_OVER = Setting("OCI_APPROVAL_RETENTION_OVER", 0,
                                  "a nightly run whose retention would delete more than this many backups waits "
                                  "for a person's approval first; 0: never asks (the DAG has no approval task)",
                                  parsed=True)

SETTINGS: tuple[Setting, ...] = (
    POLL_INTERVAL, POLL_MAX_INTERVAL, TRIGGER_MIN_EVENT_AGE, TRIGGER_BATCH_FROM, TRIGGER_END_TASK, UPLOAD_ROOTS,
    API_POOL, API_POOL_SLOTS, INCLUDE_DIR, NIGHTLY_SCHEDULE, NIGHTLY_MAX_ACTIVE_TASKS, PROTECTION_DAG,
    PROTECTION_CONN_ID, PROTECTION_CACHE_SECONDS, PROTECTION_WAIT_SECONDS, PROTECTION_FIRST_WAIT_SECONDS,
    APPROVAL_IN_PLACE, APPROVAL_CLONE_LAUNCH, APPROVAL_RETENTION_OVER, RPO_DEADLINE_HOURS, RPO_DEADLINE)


def include_dir() -> Path:
    """`OCI_AIRFLOW_INCLUDE_DIR`, else the repo's include/ (plugins/../include)."""
    override = INCLUDE_DIR.value()
    return Path(override) if override else Path(__file__).resolve().parents[2] / "include"


def settings_table() -> str:
    """The settings as a Markdown table (docs/architecture.md holds a copy; a unit test keeps them equal)."""
    rows = ["| Environment variable | Default | Why |", "|---|---|---|"]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default != "" else "(empty)"
        rows.append(f"| `{s.name}` | {default} | {s.why}{' (read when DAG files are parsed)' if s.parsed else ''} |")
    return "\n".join(rows)


# -- the nightly backup's Params defaults -------------------------------------------------------------------------
NIGHTLY_DAG_ID = "oci_nightly_backup"
DEFAULT_POLICIES = {"default": {"full_interval_days": 7, "retention_days": 30, "verify": "all"}}
NIGHTLY_DEFAULTS: dict[str, Any] = {
    "compartment_ids": None, "include_subcompartments": False, "tag_key": "backup-policy",
    "policies": DEFAULT_POLICIES, "verification_level": "script", "verifier_instance_id": None, "subnet_id": None,
    "canary_path": "/canary.txt", "heartbeat_path": "/.heartbeat", "dry_run": False,
    "plan_only": False,
    # who may approve retention, and how long it waits, where OCI_APPROVAL_RETENTION_OVER asks (docs/approvals.md)
    "approvers": None, "approval_timeout_minutes": 60}
# notifications (docs/notifications.md): every DAG takes these keys, the nightly as Params, the others from their
# Variable or conf; notify/config.py checks them
NOTIFY_DEFAULTS: dict[str, Any] = {"notify_to": [], "notify_smtp_conn_id": "smtp_default", "notify_summary": False,
                                   "notify_webhook_conn_id": None}
NIGHTLY_DEFAULTS.update(NOTIFY_DEFAULTS)


# -- the order ----------------------------------------------------------------------------------------------------
def layered(defaults: Mapping[str, Any], variable: Any = None, conf: Any = None, *, dag_id: str = "") -> dict:
    """Params defaults, then the Variable named after the DAG, then the trigger conf (later wins). A source that
    is not a JSON object, or has a key the defaults do not, is refused naming the source and the key.

    A conf value equal to its Param's default does not override the Variable: the UI's Trigger form sends every
    field it shows, defaults included, and a run triggered there must still get what the Variable configures."""
    sources = ((f"Variable {dag_id!r}", variable), ("trigger conf", conf))
    for where, values in sources:
        if values is None:
            continue
        if not isinstance(values, Mapping):
            raise OciInputError(f"{where}: a JSON object with the DAG's Params as keys, not {type(values).__name__}")
        unknown = sorted(set(values) - set(defaults) - set(NOTIFY_DEFAULTS))  # every DAG takes these
        if unknown:
            raise OciInputError(f"{where}: unknown key {unknown[0]!r}" + (f" (and {unknown[1:]})" if unknown[1:]
                                else "") + f"; the Params are {sorted(defaults)}")
    given = {key: value for key, value in (conf or {}).items() if value != defaults.get(key, NOTIFY_DEFAULTS.get(key))}
    return {**copy.deepcopy(dict(defaults)), **(variable or {}), **given}


def parse_variable(dag_id: str, raw: str | None) -> dict | None:
    """The Variable's text as a JSON object (None when it is not set)."""
    if raw is None or not str(raw).strip():
        return None
    try:
        value = json.loads(raw)
    except ValueError as err:
        raise OciInputError(f"Variable {dag_id!r}: not JSON ({err})") from None
    if not isinstance(value, dict):
        raise OciInputError(f"Variable {dag_id!r}: a JSON object with the DAG's Params as keys, not "
                            f"{type(value).__name__}")
    return value
