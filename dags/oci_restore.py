"""Restore a volume from a backup (a chosen one, or a volume's newest verified one), optionally attached or booted.

Parse-time cost: this file imports only Airflow and the project's operator and hook modules (they import the
OCI SDK inside their methods). Nothing here calls an API; the request is read and checked at run time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG
from forms.params import (
    AD_EXAMPLES,
    DEFAULT_SHAPE,
    DEVICE_PATTERN,
    OPTIONAL_HOSTNAME,
    SHAPE_EXAMPLES,
    choice_field,
    exclusive,
    field,
    ocid_field,
    plan_field,
    text_field,
)
from hooks.retries import RETRY_BUDGET
from notify.callbacks import on_run_failure, record_error
from operators.approval import OciApproveSwapOperator
from operators.base import wait_settings
from operators.boot_swap import OciSwapBootVolumeOperator
from operators.compute import OciLaunchInstanceOperator
from operators.on_demand import OciChooseBackupOperator, OciRunReportOperator, OciValidateRequestOperator
from operators.volumes import OciAttachVolumeOperator, OciRestoreVolumeOperator

DAG_ID = "oci_restore"
# How often waits look at OCI (backoff from the first to the second); tests shorten them.
WAIT = wait_settings()
# the form's sections, in the order a person decides
WHICH, WHERE, THEN = "Which backup", "Where to", "Afterwards (optional): attach, launch, or swap in place"

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
    params={
        # Which backup: one of backup_id and volume_id
        "backup_id": ocid_field("volumebackup", "Backup", "Restore exactly this volume backup or boot volume backup "
                                "(AVAILABLE). " + exclusive("volume_id"), WHICH),
        "volume_id": ocid_field("volume", "Or: the newest verified backup of volume", "A block or boot volume: its "
                                "newest backup that passed a test restore. " + exclusive("backup_id"), WHICH),
        "allow_unverified": field(False, "boolean", "Allow an unverified backup", "With a volume: use its newest "
                                  "AVAILABLE backup when none is verified (a warning in the report)", WHICH),
        # Where to
        "availability_domain": text_field("Availability domain", "Of the new volume (empty: the source volume's). "
                                          f"Example: {AD_EXAMPLES[0]}", WHERE, examples=AD_EXAMPLES),
        "compartment_id": ocid_field("compartment", "Compartment", "Of the new volume (empty: the backup's)", WHERE),
        "display_name": text_field("Name of the new volume", "Empty: <backup name>-restore. Example: db-data-restore",
                                   WHERE, maxLength=255),
        # Afterwards: attach, launch, or swap in place (one of them, or nothing)
        "attach_instance_id": ocid_field("instance", "Attach to instance", "Attach a restored block volume to this "
                                         "instance (paravirtualized). " + exclusive("launch_instance", "in_place"),
                                         THEN),
        "device": text_field("Device path", "For the attachment (empty: none). Example: /dev/oracleoci/oraclevdd",
                             THEN, pattern=DEVICE_PATTERN, examples=["/dev/oracleoci/oraclevdb",
                                                                     "/dev/oracleoci/oraclevdc"]),
        "launch_instance": field(False, "boolean", "Launch an instance on it", "Boot a new instance from a restored "
                                 "boot volume. " + exclusive("attach_instance_id", "in_place"), THEN),
        "hostname": text_field("Hostname", "Of the new instance (required to launch; unique in the subnet; Windows: "
                               "at most 15 characters). Example: app1-restored", THEN, pattern=OPTIONAL_HOSTNAME,
                               maxLength=63),
        "os_type": choice_field("linux", ["linux", "windows"], "Guest OS", "Windows gets cloudbase-init to rename "
                                "the computer", THEN),
        "shape": field(DEFAULT_SHAPE, "string", "Shape", f"Of the new instance. Example: {DEFAULT_SHAPE}", THEN,
                       pattern=r"^(VM|BM)\.[A-Za-z0-9.]+$", examples=SHAPE_EXAMPLES),
        "ocpus": field(1, "number", "OCPUs", "For a Flex shape, 1 to 64", THEN, minimum=1, maximum=64),
        "memory_in_gbs": field(16, "number", "Memory (GB)", "For a Flex shape, 1 to 1024", THEN, minimum=1,
                               maximum=1024),
        "subnet_id": ocid_field("subnet", "Subnet", "Of the new instance (required to launch)", THEN),
        "in_place": field(False, "boolean", "Swap in place", "Instead of a new instance: swap the restored boot "
                          "volume into the existing instance (it keeps its OCID, IPs and hostname; the old boot volume "
                          "is kept). " + exclusive("launch_instance", "attach_instance_id"), THEN),
        "instance_id": ocid_field("instance", "In place: instance", "Empty: the one booted from the backup's source "
                                  "boot volume", THEN),
        "approvers": field(None, "array", "In place: approvers", "The Airflow user ids who may approve the swap "
                           "before the instance stops (empty: anyone who may answer required actions). Example: alice",
                           THEN, items={"type": "string"}),
        "approval_timeout_minutes": field(60, "number", "In place: approval timeout (minutes)", "Then the run fails "
                                          "with nothing changed; 0.1 to 10080", THEN, minimum=0.1, maximum=10080),
        "plan_only": plan_field(),  # check everything, change nothing (common/plan.py)
    },
) as dag:

    request = OciValidateRequestOperator(task_id="validate_request", request="restore").output
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

    restore >> [attach, launch, swap] >> OciRunReportOperator(task_id="report", report="restore")
