"""Restore a volume from a backup (a chosen one, or a volume's newest verified one), optionally attached or booted.

Parse-time cost: this file imports only Airflow, the project's operator and hook modules and its workflow module
(they import the OCI SDK inside their methods). Nothing here calls an API; the request is read and checked at run time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG
from hooks.retries import RETRY_BUDGET
from notify.callbacks import on_run_failure, record_error
from operators.approval import OciApproveSwapOperator
from operators.base import wait_settings
from operators.boot_swap import OciSwapBootVolumeOperator
from operators.compute import OciLaunchInstanceOperator
from operators.on_demand import OciChooseBackupOperator, OciRunReportOperator, OciValidateRequestOperator
from operators.volumes import OciAttachVolumeOperator, OciRestoreVolumeOperator
from workflows import restore as workflow  # its form, request and report

DAG_ID = "oci_restore"
# How often waits look at OCI (backoff from the first to the second); tests shorten them.
WAIT = wait_settings()

DOC = """
### Restore from a backup

Restores a block or boot volume backup (`backup_id`, or a `volume_id`'s newest verified backup) to a new volume;
the source is never touched. Then, optionally, the volume is attached, an instance launched on it, or (after a
person approves) it is swapped in place as an instance's boot volume. Every field is checked before any API
call; what is made is kept. More: docs/dags.md in the repository.
"""

with DAG(
    DAG_ID,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    dagrun_timeout=timedelta(hours=12),
    doc_md=DOC,
    tags=["oci", "restore", "on-demand"],
    # one mail (and webhook message) per failed run, naming what failed (docs/notifications.md)
    on_failure_callback=on_run_failure,
    default_args={"owner": "platform", **RETRY_BUDGET.task_args(),
                  "on_failure_callback": record_error,  # the error line for the run's mail
                  "execution_timeout": timedelta(hours=8)},
    params=workflow.params(),
) as dag:

    request = OciValidateRequestOperator(task_id="validate_request", request=workflow.check_request).output
    chosen = OciChooseBackupOperator(task_id="choose_backup", request=request).output
    restore = OciRestoreVolumeOperator(
        task_id="restore_volume", backup_id=chosen["backup_id"], availability_domain=request["availability_domain"],
        compartment_id=request["compartment_id"], display_name=request["display_name"],
        freeform_tags=chosen["restore_tags"], enabled=request["restore"], **WAIT)
    restored_id = restore.output["volume_id"]
    attach = OciAttachVolumeOperator(
        task_id="attach_restored_volume", instance_id=request["attach_instance_id"], volume_id=restored_id,
        device=request["device"], enabled=request["attach"], **WAIT)
    launch = OciLaunchInstanceOperator(
        task_id="launch_on_restored_boot_volume", boot_volume_id=restored_id, hostname=request["hostname"],
        os_type=request["os_type"], shape=request["shape"], shape_config=request["shape_config"],
        subnet_id=request["subnet_id"], compartment_id=restore.output["compartment_id"],
        enabled=request["launch"], **WAIT)

    # a person approves before the instance stops (OCI_APPROVAL_IN_PLACE); no answer in time: nothing changes
    approve = OciApproveSwapOperator(
        task_id="approve_swap", instance_id=request["instance_id"], boot_volume_id=restored_id, backup=chosen,
        approvers=request["approvers"], timeout_minutes=request["approval_timeout_minutes"],
        enabled=request["in_place"])
    # an unfinished swap of this request (a killed run's, approved then) is finished with its own restored boot
    # volume: restore_volume and the approval are skipped then, so the swap runs when its upstream was skipped
    # too (none_failed); a rejected approval skips the swap, a timed-out one fails it upstream
    swap = OciSwapBootVolumeOperator(
        task_id="swap_boot_volume", instance_id=request["instance_id"], boot_volume_id=restored_id,
        unfinished_swap=request["unfinished_swap"], enabled=request["in_place"], trigger_rule="none_failed",
        **WAIT)
    approve >> swap

    report = OciRunReportOperator(task_id="report", report=workflow.REPORT, values={
        "request": request, "backup": chosen, "restored": restore.output, "attached": attach.output,
        "instance": launch.output, "swapped": swap.output, "swap_state": swap.output["swap_state"],
        "asked": approve.output["asked"], "decision": approve.output["decision"]})
    restore >> [attach, launch, swap] >> report
