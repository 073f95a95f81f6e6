"""Emergency clone: point-in-time deep copies of boot and block volumes, optionally brought up on a new instance.

Parse-time cost: this file imports only Airflow, the project's operator and hook modules and its workflow module
(they import the OCI SDK inside their methods). Nothing here calls an API; the request is read and checked at run time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, task
from hooks.retries import RETRY_BUDGET
from notify.callbacks import on_run_failure, record_error
from operators.approval import OciApproveLaunchOperator
from operators.base import wait_settings
from operators.compute import OciLaunchInstanceOperator
from operators.on_demand import OciResolveCloneSourcesOperator, OciRunReportOperator, OciValidateRequestOperator
from operators.volumes import OciAttachVolumeOperator, OciCloneVolumeOperator
from reports.names import item_name
from workflows import emergency_clone as workflow  # its form, request, steps and report

DAG_ID = "oci_emergency_clone"
# How often waits look at OCI (backoff from the first to the second); tests shorten them.
WAIT = wait_settings()
NAME = item_name("resolve_volumes")  # a clone's or attachment's map index: its source volume's name

DOC = """
### Emergency clone

Point-in-time deep copies (OCI clones) of an instance's boot and block volumes (`instance_id`) or of
`volume_ids`, with no backup/restore round-trip; optionally an instance is launched on the cloned boot volume,
the cloned block volumes attached at the source's device paths. Every field is checked before any API call.
Clones and the instance are kept: delete them yourself when done. More: docs/dags.md in the repository.
"""


with DAG(
    DAG_ID,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    dagrun_timeout=timedelta(hours=6),
    doc_md=DOC,
    tags=["oci", "clone", "on-demand"],
    # one mail (and webhook message) per failed run, naming what failed (docs/notifications.md)
    on_failure_callback=on_run_failure,
    default_args={"owner": "platform", **RETRY_BUDGET.task_args(),
                  "on_failure_callback": record_error,  # the error line for the run's mail
                  "execution_timeout": timedelta(hours=2)},
    params=workflow.params(),
) as dag:

    request = OciValidateRequestOperator(task_id="validate_request", request=workflow.check_request)
    resolved = OciResolveCloneSourcesOperator(task_id="resolve_volumes", request=request.output).output
    # each mapped task shows its source volume's display name in the grid
    clones = OciCloneVolumeOperator.partial(task_id="clone_volume", map_index_template=NAME, **WAIT).expand_kwargs(
        resolved.map(lambda item: item["clone"]))

    plan = task(workflow.launch_plan, task_id="plan_launch", multiple_outputs=True)(resolved, clones.output)
    # a person approves before the launch, where the deployment asks for it (OCI_APPROVAL_CLONE_LAUNCH)
    approve = OciApproveLaunchOperator(
        task_id="approve_launch", plan=plan, hostname=request.output["hostname"],
        approvers=request.output["approvers"], timeout_minutes=request.output["approval_timeout_minutes"],
        enabled=request.output["launch"])
    launch = OciLaunchInstanceOperator(
        task_id="launch_on_clone", boot_volume_id=plan["boot_volume_id"], hostname=request.output["hostname"],
        os_type=request.output["os_type"], shape=plan["shape"], shape_config=plan["shape_config"],
        subnet_id=plan["subnet_id"], compartment_id=plan["compartment_id"], enabled=request.output["launch"],
        trigger_rule="none_failed_min_one_success", **WAIT)
    approve >> launch
    # clone i is the clone of volume i: attach each with its own source's type and device
    attach = OciAttachVolumeOperator.partial(
        task_id="attach_cloned_volume", instance_id=launch.output["instance_id"], map_index_template=NAME, **WAIT,
    ).expand_kwargs(resolved.zip(clones.output).map(workflow.attach_arguments))

    report = OciRunReportOperator(task_id="report", report=workflow.REPORT, values={
        "request": request.output, "resolved": resolved, "clones": clones.output, "attachments": attach.output,
        "instance": launch.output, "asked": approve.output["asked"], "decision": approve.output["decision"]})
    resolved >> clones >> launch >> attach >> report
