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
    # who may approve retention, and how long it waits, where OCI_APPROVAL_RETENTION_OVER asks (docs/approvals.md)
    "approvers": None, "approval_timeout_minutes": 60}
# notifications (docs/notifications.md): every DAG takes these keys, the nightly as Params, the others from their
# Variable or conf; notify/config.py checks them
NOTIFY_DEFAULTS: dict[str, Any] = {"notify_to": [], "notify_smtp_conn_id": "smtp_default", "notify_summary": False,
                                   "notify_webhook_conn_id": None}
NIGHTLY_DEFAULTS.update(NOTIFY_DEFAULTS)


def nightly_params() -> dict:
    """The nightly's trigger form: `NIGHTLY_DEFAULTS` with their schemas (no environment, no Variable here)."""
    from forms.params import OCID_SHAPES, choice_field, field, ocid_field, text_field

    what, verify, then = "What to protect", "How to verify", "Afterwards: retention"
    notify = "Who is told (optional)"
    d = copy.deepcopy(NIGHTLY_DEFAULTS)  # a Param's value is its own, not the module's
    return {
        "compartment_ids": text_field("Compartments", "Compartment OCIDs to scan, comma-separated (empty: the "
                                      f"Variable {NIGHTLY_DAG_ID}'s). Example: {OCID_SHAPES['compartment']}", what,
                                      pattern=r"^(\s*ocid1\.[a-z0-9]+\.oc[0-9]+\.[a-z0-9.,\s-]+)?$"),
        "include_subcompartments": field(d["include_subcompartments"], "boolean", "Include subcompartments",
                                         "Also scan every compartment below the configured ones", what),
        "tag_key": field(d["tag_key"], "string", "Tag key", "Freeform tag that marks a volume as protected; its "
                         "value names the policy. Example: backup-policy", what, minLength=1),
        "policies": field(d["policies"], "object", "Policies", "By tag value: full_interval_days, retention_days, "
                          "verify (all|sample), verify_sample, verify_every_days, dr_region, rto_minutes, "
                          "adopt_within_hours, quiesce, max_quiesce_seconds, on_quiesce_failure. Example: "
                          '{"default": {"full_interval_days": 7, "retention_days": 30, "verify": "all"}}', what),
        "verification_level": choice_field(d["verification_level"], ["api", "boot", "script"], "Verification level",
                                           "api: the restored volume is AVAILABLE; boot: an instance boots from it; "
                                           "script: e2fsck and a canary read on the verifier instance", verify,
                                           values_display={"api": "api (volume AVAILABLE)",
                                                           "boot": "boot (an instance boots)",
                                                           "script": "script (e2fsck and canary)"}),
        "verifier_instance_id": ocid_field("instance", "Verifier instance", "Attaches restored volumes (script "
                                           "level; required there)", verify),
        "subnet_id": ocid_field("subnet", "Subnet", "For boot-level test instances (required at boot level)", verify),
        "canary_path": field(d["canary_path"], "string", "Canary file", "Read on each restored volume (script "
                             "level). Example: /canary.txt", verify),
        "heartbeat_path": field(d["heartbeat_path"], "string", "Heartbeat file", "Its time shows how fresh the "
                                "restored data is (script level). Example: /.heartbeat", verify),
        "dry_run": field(d["dry_run"], "boolean", "Dry run", "Retention only reports what it would delete", then),
        "approvers": field(d["approvers"], "array", "Retention: approvers", "The Airflow user ids who may approve "
                           "retention that deletes more backups than the deployment allows unasked "
                           "(OCI_APPROVAL_RETENTION_OVER; empty: anyone who may answer). Example: alice", then,
                           items={"type": "string"}),
        "approval_timeout_minutes": field(d["approval_timeout_minutes"], "number", "Retention: approval timeout "
                                          "(minutes)", "Then retention deletes nothing and the run fails; 0.1 to "
                                          "10080", then, minimum=0.1, maximum=10080),
        "notify_to": field(d["notify_to"], ["array", "string"], "Mail to", "Addresses told of a failed run, one per "
                           "line (empty: no mail). Example: ops@example.com", notify, items={"type": "string"}),
        "notify_smtp_conn_id": field(d["notify_smtp_conn_id"], "string", "SMTP connection", "The connection the mails "
                                     "go through. Example: smtp_default", notify),
        "notify_summary": field(d["notify_summary"], "boolean", "Mail a summary", "Also mail a summary after every "
                                "run", notify),
        "notify_webhook_conn_id": text_field("Webhook connection", "An http connection of a chat webhook (empty: "
                                             "none). Example: ops_webhook", notify),
    }


def check_nightly(config: dict) -> dict:
    """The nightly's rules on its resolved configuration: compartments as a list, at least one, and a verifier
    instance for the `script` level."""
    from forms.params import listed

    config = {**config, "compartment_ids": listed(config.get("compartment_ids") or [])}
    if not isinstance(config["compartment_ids"], list) or not config["compartment_ids"]:
        raise OciInputError(f"compartment_ids: empty; set it in the Variable {NIGHTLY_DAG_ID!r} (JSON, same keys "
                            f"as the Params) or in the trigger's conf")
    if config.get("verification_level") == "script" and not config.get("verifier_instance_id"):
        raise OciInputError("verifier_instance_id: required for the script verification level")
    return config


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


def run_config(context) -> dict:
    """A running task's DAG run configuration in the documented order: its DAG's Params defaults, the Variable
    named after the DAG, the trigger conf. (Airflow checked the conf against the Params' schemas when the run
    was created; the operators check every value they take before their first call.)"""
    from airflow.sdk import Variable

    dag = context["dag"]
    variable = parse_variable(dag.dag_id, Variable.get(dag.dag_id, default=None))
    conf = dict(getattr(context.get("dag_run"), "conf", None) or {})
    config = layered(dag.params.dump(), variable, conf, dag_id=dag.dag_id)
    from notify.config import check_notify

    check_notify(config)  # a bad address or connection is refused here, by name, before any OCI call
    return config
