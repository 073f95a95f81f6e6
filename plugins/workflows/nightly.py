"""The nightly backup workflow (dags/oci_nightly_backup.py): its trigger form and its rules on the resolved
configuration (the defaults are deployment configuration: common/config.py's `NIGHTLY_DEFAULTS`).

The DAG wires these: `params()` is its form, `validate` the check of resolve_config (`config_task(validate)`).
The references the run names (the verifier, the subnet, the DR regions, the policies) are checked by its preflight,
plan_backups (OciPlanBackupsOperator), before the first backup. Its report is OciBackupReportOperator
(operators/report.py), which the DAG hands the tasks it reads; the rows and text are reports/nightly.py's, which
the failure mail (notify/) shares.
"""

from __future__ import annotations

import copy

from common.config import NIGHTLY_DAG_ID, NIGHTLY_DEFAULTS
from common.errors import OciInputError
from common.verification import check_level_inputs
from forms.params import OCID_SHAPES, choice_field, field, flag, listed, ocid_field, plan_field, text_field


def params() -> dict:
    """The nightly's trigger form: `NIGHTLY_DEFAULTS` with their schemas (no environment, no Variable here)."""
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
        "plan_only": plan_field(),
    }


def validate(config: dict) -> dict:
    """The nightly's rules on its resolved configuration: compartments as a list, at least one, a verifier
    instance for the `script` level, and `plan_only` true or false."""
    config = {**config, "compartment_ids": listed(config.get("compartment_ids") or [])}
    if not isinstance(config["compartment_ids"], list) or not config["compartment_ids"]:
        raise OciInputError(f"compartment_ids: empty; set it in the Variable {NIGHTLY_DAG_ID!r} (JSON, same keys "
                            f"as the Params) or in the trigger's conf")
    config["plan_only"] = flag(config.get("plan_only", False), "plan_only")
    # the verifier's OCID, the subnet (needed only when a boot volume is protected) and whether both exist and are
    # usable are checked by the preflight (plan_backups), after discovery
    check_level_inputs(config.get("verification_level"), config.get("verifier_instance_id"), config.get("subnet_id"),
                       boots=False, ids=False)
    return config
