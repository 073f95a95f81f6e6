"""A person's approval before a step that no retry can undo: Airflow's human-in-the-loop `ApprovalOperator`
(apache-airflow-providers-standard), with what the step will do read from OCI and shown to the approver.

The task waits in Airflow 3.3's AWAITING_INPUT state (no worker slot, no trigger); the person answers under
Browse → Required Actions, or through the REST API's hitlDetails endpoint. Approve: the step runs. Reject: the step
is skipped, nothing is changed, and the run's report fails the run with the reason. No answer within the
response timeout: the scheduler fails this task, so the step never runs (fail closed).

Whether a gate is on is a deployment setting (common/config.py: `OCI_APPROVAL_IN_PLACE`, on by default;
`OCI_APPROVAL_CLONE_LAUNCH`, off by default), never a field of the request: whoever may trigger a run must not be
able to skip its approval.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import Param
from common.ids import validate_ocid, validate_region
from forms.approval import REASON, approval_timeout, approval_users, decision
from hooks.block_storage import OciBlockStorageHook
from hooks.compute import OciComputeHook

from operators.base import OciTaskMixin


def gate_on(setting_name: str) -> bool:
    from common import config

    [setting] = [s for s in config.SETTINGS if s.name == setting_name]
    return bool(setting.value())


class OciApprovalOperator(OciTaskMixin, ApprovalOperator):
    """Wait for a person to approve a step. Skipped (the step goes on) when `enabled` is falsy or the deployment
    setting `gate` is off. The body is a Markdown table of `describe(context)`'s rows.

    XCom: Airflow's HITL result (``chosen_options``, ``params_input`` with ``reason``, ``responded_by_user``,
    ``responded_at``); key ``asked``: what was asked (subject, timeout, approvers); key ``decision``: approved,
    by, at, reason (see forms.approval.decision).

    :param subject: the headline the approver sees (templated)
    :param gate: the deployment setting (environment variable name in common/config.py) that switches it on
    :param approvers: the Airflow user ids who may answer; empty: anyone allowed to answer required actions
        (templated)
    :param timeout_minutes: minutes to wait for an answer; then the task fails and the step never runs (templated)
    :param oci_conn_id: the Airflow connection to OCI, for reading what the step will do (templated)
    :param region: the OCI region; None: the connection's (templated)
    :param enabled: a falsy value skips the gate (templated)
    """

    hook_class = OciComputeHook

    template_fields: Sequence[str] = ("subject", "body", "approvers", "timeout_minutes", "oci_conn_id", "region",
                                      "enabled")

    def __init__(self, *, subject: str, gate: str, approvers: Any = None, timeout_minutes: Any = None,
                 oci_conn_id: str = OciComputeHook.default_conn_name, region: str | None = None, enabled: Any = True,
                 **kwargs):
        kwargs.setdefault("retries", 0)  # an answer is final; a new try would ask again
        kwargs.pop("params", None)  # the DAG's Params are the run's, not fields of the approver's form
        # Airflow's HITL would turn an execution_timeout into the response timeout: that comes from the request
        kwargs.pop("execution_timeout", None)
        super().__init__(subject=subject, params={REASON: Param(None, type=["null", "string"], title="Reason",
                                                                maxLength=500,
                                                                description="Why (shown in the run's report)")},
                         **kwargs)
        self.execution_timeout = timedelta(minutes=10)  # the reads before the wait (the wait has its own)
        self.gate = gate
        self.approvers = approvers
        self.timeout_minutes = timeout_minutes
        self.oci_conn_id = oci_conn_id
        self.region = region
        self.enabled = enabled

    def validate(self) -> None:
        """Run by `execute` before the step: skip a gate whose `enabled` is falsy, then check the arguments after
        templating and before any call: region, approvers, timeout (`validate_inputs`)."""
        if not self.enabled:
            from airflow.sdk.exceptions import AirflowSkipException

            raise AirflowSkipException(f"{self.task_id}: not asked for ({self.enabled!r})")
        self.validate_inputs()

    def validate_inputs(self) -> None:
        """The gate's own arguments: region, approvers, timeout."""
        if self.region is not None:
            validate_region(self.region)
        self.assigned_users = approval_users(self.approvers) or None
        self.response_timeout = timedelta(minutes=approval_timeout(self.timeout_minutes))

    def describe(self, context) -> list[tuple[str, str]]:
        """(label, value) rows of what the step will do; subclasses read them from OCI."""
        return []

    def execute_complete(self, context, event: dict[str, Any]) -> Any:
        """The person's answer (not an OCI wait's event: the mixin's resume is not this task's). The decision is
        pushed first under key `decision`: on Reject Airflow skips the step by raising, so no return value lands."""
        if "error" not in event:
            context["ti"].xcom_push(key="decision", value=decision(event))
        return ApprovalOperator.execute_complete(self, context, event)

    def execute_step(self, context):
        from airflow.sdk.exceptions import AirflowSkipException

        if not gate_on(self.gate):
            raise AirflowSkipException(f"{self.task_id}: approval gate off ({self.gate}=0 in this deployment)")
        from common import plan

        if plan.plan_run(context):  # nobody is asked in a plan run: the step it guards is not made either
            plan.record_and_skip(context, "approval", f"{self.subject} (asked before the change it guards)")
        minutes = approval_timeout(self.timeout_minutes)
        rows = self.describe(context)
        who = ", ".join(u["id"] for u in self.assigned_users or []) or "anyone allowed to answer required actions"
        rows += [("May answer", who), ("Answer within", f"{minutes:g} min; then the run fails, nothing changed")]
        self.body = "\n".join(["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])
        self.log.info("waiting for approval: %s\n%s", self.subject, self.body)
        # what was asked, for the report (an answer arrives in this same try's XCom; none: the gate timed out)
        context["ti"].xcom_push(key="asked", value={"subject": self.subject, "timeout_minutes": minutes,
                                                    "approvers": [u["id"] for u in self.assigned_users or []]})
        # Airflow's HITL wait: named, since OciTaskMixin.execute (validate, then this step) comes first in the MRO
        return ApprovalOperator.execute(self, context)


class OciApproveSwapOperator(OciApprovalOperator):
    """Approval before an in-place restore stops an instance: the instance, its current and its new boot volume,
    the backup (time and verification) and the expected downtime, read from OCI (read-only calls).

    :param instance_id: the instance the swap stops (templated)
    :param boot_volume_id: the restored boot volume the swap attaches (templated)
    :param backup: the chosen backup, the choose_backup task's XCom (templated)
    :param subject: the headline; the instance's name is filled in when it is read (templated)
    :param gate: the deployment setting that switches it on, ``OCI_APPROVAL_IN_PLACE`` by default
    """

    template_fields: Sequence[str] = (*OciApprovalOperator.template_fields, "instance_id", "boot_volume_id",
                                      "backup")

    def __init__(self, *, instance_id: Any, boot_volume_id: Any, backup: Any = None,
                 subject: str = "Approve the in-place restore (the instance is stopped)",
                 gate: str = "OCI_APPROVAL_IN_PLACE", **kwargs):
        super().__init__(subject=subject, gate=gate, **kwargs)
        self.instance_id = instance_id
        self.boot_volume_id = boot_volume_id
        self.backup = backup

    def describe(self, context) -> list[tuple[str, str]]:
        from hooks.compute import LIVE_ATTACHMENT

        validate_ocid(self.instance_id, "instance_id", "instance")
        validate_ocid(self.boot_volume_id, "boot_volume_id", "bootvolume")
        instance = self.hook.get_client("compute", self.region).get_instance(self.instance_id).data
        storage = self.hook.get_client("blockstorage", self.region)
        live = [a for a in self.hook.boot_attachments(instance, self.region) if a.lifecycle_state in LIVE_ATTACHMENT]
        current = [storage.get_boot_volume(a.boot_volume_id).data for a in live]
        new = storage.get_boot_volume(self.boot_volume_id).data
        backup = self.backup or {}
        self.subject = f"Approve the in-place restore of {instance.display_name} (the instance is stopped)"
        rows = [("Instance", f"{instance.display_name} `{instance.id}` ({instance.lifecycle_state})"),
                ("Current boot volume",
                 (", ".join(f"{b.display_name} `{b.id}`" for b in current) or "none attached") + " (kept, detached)"),
                ("New boot volume", f"{new.display_name} `{new.id}` ({new.size_in_gbs} GB)"),
                ("Backup", f"{backup.get('display_name', '-')} `{backup.get('backup_id', '-')}`, made "
                           f"{str(backup.get('time_created', '-')).replace('+00:00', '')} UTC"),
                ("Verified", f"{str(backup['verified_at']).replace('+00:00', '')} UTC" if backup.get("verified_at")
                 else "NOT verified by a test restore"),
                ("Expected downtime", "a few minutes: stop, detach the boot volume, attach the new one, start "
                                      "(OCI takes about 1 minute for each)")]
        return rows


class OciApproveLaunchOperator(OciApprovalOperator):
    """Approval before an emergency clone launches an instance on its cloned boot volume (off unless
    `OCI_APPROVAL_CLONE_LAUNCH` is on): the hostname, shape, subnet and boot volume, read from OCI (read-only).

    :param plan: the launch plan, the plan_launch task's XCom (``boot_volume_id``, ``shape``, ``shape_config``,
        ``subnet_id``) (templated)
    :param hostname: the new instance's hostname (templated)
    :param subject: the headline (templated)
    :param gate: the deployment setting that switches it on, ``OCI_APPROVAL_CLONE_LAUNCH`` by default
    """

    template_fields: Sequence[str] = (*OciApprovalOperator.template_fields, "plan", "hostname")

    def __init__(self, *, plan: Any, hostname: Any, subject: str = "Approve the launch of an instance on the clone",
                 gate: str = "OCI_APPROVAL_CLONE_LAUNCH", **kwargs):
        super().__init__(subject=subject, gate=gate, **kwargs)
        self.plan = plan
        self.hostname = hostname

    def describe(self, context) -> list[tuple[str, str]]:
        plan = self.plan or {}
        validate_ocid(plan.get("boot_volume_id"), "plan.boot_volume_id", "bootvolume")
        boot = self.hook.get_client("blockstorage", self.region).get_boot_volume(plan["boot_volume_id"]).data
        self.subject = f"Approve the launch of {self.hostname} on the clone {boot.display_name}"
        config = plan.get("shape_config") or {}
        return [("Hostname", str(self.hostname)),
                ("Shape", f"{plan.get('shape')}" + (f" ({config.get('ocpus')} OCPU, {config.get('memory_in_gbs')} GB)"
                                                   if config else "")),
                ("Subnet", f"`{plan.get('subnet_id')}`"),
                ("Boot volume", f"{boot.display_name} `{boot.id}` ({boot.size_in_gbs} GB, a clone)")]



class OciApprovePruneOperator(OciApprovalOperator):
    """Approval before the nightly's retention deletes more backups than the deployment lets it delete unasked
    (`OCI_APPROVAL_RETENTION_OVER`; the DAG has this task only when it is above 0): which backups of which volumes,
    read from OCI (list calls only). With no more than that many, or a dry run, it asks nobody and skips itself.
    Either way retention (``OciPruneBackupsOperator``) deletes only the backups listed here.

    XCom key ``retention_plan``: ``backup_ids`` (what retention may delete), ``asked`` (whether a person decides),
    ``over`` (the limit).

    :param volumes: the discovered volumes (``OciDiscoverVolumesOperator``'s XCom) (templated)
    :param policies: backup policies by name, as retention reads them (templated)
    :param dry_run: retention only reports: nothing to approve (templated)
    :param over: ask when more than this many backups would be deleted; None: the setting
        ``OCI_APPROVAL_RETENTION_OVER`` (templated)
    :param subject: the headline; the count is filled in when it is read (templated)
    :param gate: the deployment setting that switches it on, ``OCI_APPROVAL_RETENTION_OVER`` by default
    """

    hook_class = OciBlockStorageHook  # retention reads the backups

    template_fields: Sequence[str] = (*OciApprovalOperator.template_fields, "volumes", "policies", "dry_run", "over")
    SHOWN = 20  # backups listed by name in the approval; the rest are counted

    def __init__(self, *, volumes: Any, policies: Any, dry_run: Any = False, over: Any = None,
                 subject: str = "Approve retention deleting backups", gate: str = "OCI_APPROVAL_RETENTION_OVER",
                 **kwargs):
        super().__init__(subject=subject, gate=gate, **kwargs)
        self.volumes = volumes
        self.policies = policies
        self.dry_run = dry_run
        self.over = over

    def validate_inputs(self) -> None:
        from common import config
        from common.errors import OciInputError
        from forms.params import flag

        from operators.backup_policy import load_policies

        super().validate_inputs()
        self._policies = load_policies(self.policies)
        self.dry_run = flag(self.dry_run, "dry_run")
        over = config.APPROVAL_RETENTION_OVER.value() if self.over in (None, "") else self.over
        if isinstance(over, bool) or not isinstance(over, int) or over < 0:
            raise OciInputError(f"over {over!r}: a whole number of backups, not negative")
        self.over = over

    def describe(self, context) -> list[tuple[str, str]]:
        from airflow.sdk.exceptions import AirflowSkipException
        from common.xcom import RETENTION_PLAN_KEY

        from operators.retention import retention_plan

        doomed, kept, _ = retention_plan(self.hook, self.volumes, self._policies, self.hook.server_time(),
                                         context["ti"].dag_id, self.region)
        asked = not self.dry_run and len(doomed) > self.over
        context["ti"].xcom_push(key=RETENTION_PLAN_KEY, value={
            "backup_ids": [b["backup_id"] for b in doomed], "asked": asked, "over": self.over})
        if not asked:
            why = "a dry run deletes nothing" if self.dry_run else f"not more than {self.over}"
            raise AirflowSkipException(f"retention deletes {len(doomed)} backups ({why}): no approval needed")
        self.subject = f"Approve retention deleting {len(doomed)} backups (more than {self.over})"
        rows = [(b["name"], f"{b['type']} `{b['backup_id']}`, made {str(b['time_created']).replace('+00:00', '')} "
                            f"UTC") for b in doomed[:self.SHOWN]]
        if len(doomed) > self.SHOWN:
            rows.append(("…", f"{len(doomed) - self.SHOWN} more (the task's log lists them all)"))
            self.log.info("all backups retention would delete:\n%s", "\n".join(
                f"{b['name']}: {b['backup_id']} ({b['type']}, {b['time_created']})" for b in doomed))
        return [("Deletes", f"{len(doomed)} backups (the limit without approval: {self.over}); keeps {kept}"),
                *rows, ("Reject", "deletes nothing tonight; the next run asks again")]
