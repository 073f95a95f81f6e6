"""Golden image: a custom image of a configured instance, optionally exported, optionally rolled out as a fleet.

Parse-time cost: this file imports only Airflow, the project's operator and hook modules and its workflow module
(they import the OCI SDK inside their methods). Nothing here calls an API; the request is read and checked at run time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, AssetAlias
from hooks.retries import RETRY_BUDGET
from notify.callbacks import on_run_failure, record_error
from operators.base import wait_settings
from operators.compute import OciLaunchInstanceOperator
from operators.image_transfer import OciExportImageOperator
from operators.images import OciCheckImageShapeOperator, OciCreateImageFromInstanceOperator
from operators.on_demand import OciCheckFleetOperator, OciRunReportOperator, OciValidateRequestOperator
from reports.fleet import IMAGE_ASSET_ALIAS
from workflows import golden_image as workflow  # its form, request and report

DAG_ID = "oci_golden_image"
# How often waits look at OCI (backoff from the first to the second); tests shorten them.
WAIT = wait_settings()

DOC = """
### Golden image

Makes a custom image of an instance you configured, optionally exports it to Object Storage and launches a
fleet from it, each instance with its own hostname. iSCSI volumes are refused, or detached and re-attached
(`iscsi_policy`); runs for one instance wait for OCI's image window, runs for different instances run side by
side. Everything made is kept. More: docs/dags.md in the repository.
"""


with DAG(
    DAG_ID,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=16,  # different instances image in parallel; the same instance waits in create_golden_image
    dagrun_timeout=timedelta(hours=8),
    doc_md=DOC,
    tags=["oci", "image", "golden-image", "on-demand"],
    # one mail (and webhook message) per failed run, naming what failed (docs/notifications.md)
    on_failure_callback=on_run_failure,
    default_args={"owner": "platform", **RETRY_BUDGET.task_args(),
                  "on_failure_callback": record_error,  # the error line for the run's mail
                  "execution_timeout": timedelta(hours=2)},
    params=workflow.params(),
) as dag:

    request = OciValidateRequestOperator(task_id="validate_request", request=workflow.check_request).output
    fleet = OciCheckFleetOperator(task_id="check_fleet_hostnames", fleet=request["fleet"]).output
    create = OciCreateImageFromInstanceOperator(
        task_id="create_golden_image", instance_id=request["instance_id"], display_name=request["image_name"],
        detach_iscsi=request["detach_iscsi"], launch_mode=request["launch_mode"],
        compartment_id=request["compartment_id"], freeform_tags=request["image_tags"],
        # the wait for the 20-minute window and the imaging itself both count against timeout
        timeout=3 * 3600, execution_timeout=timedelta(hours=4), **WAIT)
    image_id = create.output["image_id"]
    check_shape = OciCheckImageShapeOperator(
        task_id="check_image_shape", image_id=image_id, shape_compatibility=request["shape_compatibility"])
    export = OciExportImageOperator(
        task_id="export_image", image_id=image_id, enabled=request["export"], namespace=request["export_namespace"],
        bucket=request["export_bucket"], object_name=request["export_object_name"],
        export_format=request["export_format"], timeout=6 * 3600, execution_timeout=timedelta(hours=6), **WAIT)
    launch = OciLaunchInstanceOperator.partial(
        task_id="launch_fleet", image_id=image_id, trigger_rule="none_failed",  # runs after a skipped export too
        map_index_template="{{ task.hostname }}", **WAIT,
    ).expand_kwargs(fleet)

    report = OciRunReportOperator(task_id="report", report=workflow.REPORT, outlets=[AssetAlias(IMAGE_ASSET_ALIAS)],
                                  values={"request": request, "image": create.output,
                                          "not_reattached": create.output["not_reattached"],
                                          "exported": export.output, "instances": launch.output})
    fleet >> create >> check_shape >> export >> launch >> report
