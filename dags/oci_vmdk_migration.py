"""VMDK/QCOW2 migration: a disk image from another platform becomes an OCI custom image and, optionally, a fleet.

Parse-time cost: this file imports only Airflow and the project's operator and hook modules (they import the
OCI SDK inside their methods). Nothing here calls an API; the request is read and checked at run time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, AssetAlias
from forms.fleet import fleet_params
from forms.params import choice_field, exclusive, field, ocid_field, plan_field, text_field
from hooks.retries import RETRY_BUDGET
from notify.callbacks import on_run_failure, record_error
from operators.base import wait_settings
from operators.compute import OciLaunchInstanceOperator
from operators.image_transfer import OciImportImageOperator
from operators.images import OciCheckImageShapeOperator
from operators.object_storage import OciUploadFileOperator
from operators.on_demand import OciCheckFleetOperator, OciRunReportOperator, OciValidateRequestOperator
from reports.fleet import IMAGE_ASSET_ALIAS

DAG_ID = "oci_vmdk_migration"
# How often waits look at OCI (backoff from the first to the second); tests shorten them.
WAIT = wait_settings()
# the form's sections, in the order a person decides
WHICH, IMAGE = "Which disk image", "The image"

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
    params={
        # Which disk image: a URI, or namespace + bucket + object name, or a local file (uploaded to the bucket)
        "source_uri": text_field("Object Storage URI", "Of the disk image. Example: https://objectstorage.us-ashburn-"
                                 "1.oraclecloud.com/n/<namespace>/b/<bucket>/o/disk.vmdk. "
                                 + exclusive("namespace/bucket/object_name", "local_path"), WHICH,
                                 pattern=r"^(https://([a-z0-9-]+\.)?objectstorage\..+/n/.+/b/.+/o/.+)?$"),
        "namespace": text_field("Or: namespace", "Object Storage namespace of the object (or of the bucket a local "
                                "file goes to). Example: axaxnpcrorw5", WHICH),
        "bucket": text_field("Bucket", "Of the object, or where local_path is uploaded to. Example: migrations. "
                             + exclusive("source_uri"), WHICH, pattern=r"^[A-Za-z0-9._-]{0,256}$"),
        "object_name": text_field("Object name", "Example: disks/app1.vmdk (for local_path: default "
                                  "migrations/<file name>)", WHICH, maxLength=1024),
        "local_path": text_field("Or: file on the worker", "Absolute path of a disk image on the Airflow worker, "
                                 "uploaded to the bucket first (under OCI_UPLOAD_ROOTS). Example: /data/app1.vmdk. "
                                 + exclusive("source_uri"), WHICH, pattern=r"^(/.*)?$"),
        "part_size_mb": field(128, "integer", "Upload part size (MiB)", "Multipart upload parts for local_path, 1 to "
                              "51200", WHICH, minimum=1, maximum=51200),
        # The image
        "image_name": text_field("Image name", "Empty: the object's file name. Example: app1-migrated", IMAGE,
                                 maxLength=255),
        "source_image_type": choice_field("VMDK", ["VMDK", "QCOW2"], "Disk format", "VMDK (monolithicSparse or "
                                          "streamOptimized) or QCOW2", IMAGE),
        "launch_mode": choice_field("PARAVIRTUALIZED", ["PARAVIRTUALIZED", "NATIVE", "EMULATED"], "Launch mode",
                                    "PARAVIRTUALIZED for modern guests; EMULATED for old ones without virtio drivers",
                                    IMAGE),
        "operating_system": text_field("Operating system", "Example: Oracle Linux, Windows", IMAGE,
                                       examples=["Oracle Linux", "Ubuntu", "Windows"]),
        "operating_system_version": text_field("OS version", "Example: 9, Server 2022 Standard", IMAGE),
        "compartment_id": ocid_field("compartment", "Compartment", "Of the image (empty: the bucket's)", IMAGE),
        **fleet_params(),
        "plan_only": plan_field(),  # check everything, change nothing (common/plan.py)
    },
) as dag:

    request = OciValidateRequestOperator(task_id="validate_request", request="vmdk_migration").output
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

    report = OciRunReportOperator(task_id="report", report="vmdk_migration", outlets=[AssetAlias(IMAGE_ASSET_ALIAS)])
    fleet >> upload_disk >> import_image >> check_shape >> launch >> report
