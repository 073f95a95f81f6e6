"""VMDK/QCOW2 migration: a disk image from another platform becomes an OCI custom image and, optionally, a fleet.

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
from operators.image_transfer import OciImportImageOperator
from operators.images import OciCheckImageShapeOperator
from operators.object_storage import OciUploadFileOperator
from operators.on_demand import OciCheckFleetOperator, OciRunReportOperator, OciValidateRequestOperator
from reports.fleet import IMAGE_ASSET_ALIAS
from workflows import vmdk_migration as workflow  # its form, request and report

DAG_ID = "oci_vmdk_migration"
# How often waits look at OCI (backoff from the first to the second); tests shorten them.
WAIT = wait_settings()

DOC = """
### VMDK migration

Turns a VMDK or QCOW2 disk image (an Object Storage object, or a file on the worker uploaded first) into an OCI
custom image, and optionally launches a fleet from it, each instance with its own hostname. Every field, the
object's header and the fleet's hostnames are checked before anything is made; the image and instances are kept.
More: docs/dags.md in the repository.
"""


with DAG(
    DAG_ID,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=8,
    dagrun_timeout=timedelta(hours=12),
    doc_md=DOC,
    tags=["oci", "migration", "image", "on-demand"],
    # one mail (and webhook message) per failed run, naming what failed (docs/notifications.md)
    on_failure_callback=on_run_failure,
    default_args={"owner": "platform", **RETRY_BUDGET.task_args(),
                  "on_failure_callback": record_error,  # the error line for the run's mail
                  "execution_timeout": timedelta(hours=2)},
    params=workflow.params(),
) as dag:

    request = OciValidateRequestOperator(task_id="validate_request", request=workflow.check_request).output
    fleet = OciCheckFleetOperator(task_id="check_fleet_hostnames", fleet=request["fleet"]).output
    upload_disk = OciUploadFileOperator(
        task_id="upload_disk", enabled=request["upload_enabled"], local_path=request["upload_local_path"],
        bucket=request["upload_bucket"], object_name=request["upload_object_name"],
        namespace=request["upload_namespace"], part_size_mb=request["upload_part_size_mb"],
        disk_image_type=request["source_image_type"],
        execution_timeout=timedelta(hours=8))
    import_image = OciImportImageOperator(
        task_id="import_image", trigger_rule="none_failed",  # runs after a skipped upload too
        display_name=request["image_name"],
        # the object the upload made when a local file went up (else None), or the one the request names
        uploaded=upload_disk.output, source_uri=request["source_uri"],
        namespace=request["namespace"], bucket=request["bucket"], object_name=request["object_name"],
        source_image_type=request["source_image_type"], launch_mode=request["launch_mode"],
        operating_system=request["operating_system"], operating_system_version=request["operating_system_version"],
        compartment_id=request["compartment_id"], timeout=8 * 3600, execution_timeout=timedelta(hours=8), **WAIT)
    check_shape = OciCheckImageShapeOperator(
        task_id="check_image_shape", image_id=import_image.output["image_id"],
        shape_compatibility=request["shape_compatibility"])
    launch = OciLaunchInstanceOperator.partial(
        task_id="launch_instance", image_id=import_image.output["image_id"],
        map_index_template="{{ task.hostname }}", **WAIT,
    ).expand_kwargs(fleet)

    report = OciRunReportOperator(task_id="report", report=workflow.REPORT, outlets=[AssetAlias(IMAGE_ASSET_ALIAS)],
                                  values={"request": request, "uploaded": upload_disk.output,
                                          "image": import_image.output, "instances": launch.output})
    fleet >> upload_disk >> import_image >> check_shape >> launch >> report
