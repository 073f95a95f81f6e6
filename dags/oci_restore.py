"""Restore a volume from a backup (a chosen one, or a volume's newest verified one), optionally attached or booted.

Parse-time cost: this file imports only Airflow and the project's operator and hook modules (they import the
OCI SDK inside their methods). Nothing here calls an API; the request is read and checked at run time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param
from forms.params import DEFAULT_SHAPE, DEVICE_PATTERN, OPTIONAL_HOSTNAME, OPTIONAL_OCID
from hooks.oci import RETRY_BUDGET
from notify.callbacks import on_run_failure, record_error
from operators.base import wait_settings
from operators.boot_swap import OciSwapBootVolumeOperator
from operators.compute import OciLaunchInstanceOperator
from operators.on_demand import OciChooseBackupOperator, OciRunReportOperator, OciValidateRequestOperator
from operators.volumes import OciAttachVolumeOperator, OciRestoreVolumeOperator

DAG_ID = "oci_restore"
# How often waits look at OCI (backoff from the first to the second); tests shorten them.
WAIT = wait_settings()

DOC = """
### Restore from a backup

Restores a **block volume backup** (to a new block volume) or a **boot volume backup** (to a new boot volume).
The source volume is never touched.

**Which backup** (give one):
- `backup_id`: exactly this backup (it must be AVAILABLE);
- `volume_id`: that volume's **newest verified backup**, the newest one carrying the `verified-at` tag that a
  passed test restore of the nightly DAG sets. With no verified backup the run **fails** and says so, unless
  `allow_unverified` is on: then the newest AVAILABLE backup is used, with a warning in the log and the report.

**Where**: `availability_domain` (empty: the source volume's), `compartment_id` (empty: the backup's),
`display_name` (empty: `<backup name>-restore`).

**Then, optionally**:
- a restored **block volume** is attached to `attach_instance_id` (paravirtualized, at `device` if given);
- on a restored **boot volume** an instance is launched (`launch_instance`) with `hostname`, `shape`,
  `ocpus`/`memory_in_gbs` (Flex shapes), `subnet_id` and `os_type` (Windows gets cloudbase-init to rename the
  computer, since OCI does not apply a custom hostname to a Windows instance launched from a restore);
- or a restored **boot volume** is swapped **in place** (`in_place`) into the instance booted from the backup's
  source boot volume (or `instance_id`): stop, detach the old boot volume, attach the restored one, start. The
  instance keeps its OCID, IPs and hostname; the old boot volume is **kept** (reported) for you to delete.

Tasks: `validate_request` (every field checked before any API call) → `choose_backup` → `restore_volume`
(deferrable; its time to AVAILABLE is the restore time, the RTO) → `attach_restored_volume` /
`launch_on_restored_boot_volume` / `swap_boot_volume` → `report`. The restored volume gets the backup's tags back
(so a restore of a protected volume is protected by the nightly DAG), plus `restored-from-backup`; it is **kept**.
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
        "backup_id": Param("", type="string", pattern=OPTIONAL_OCID,
                           description="Restore exactly this volume backup or boot volume backup"),
        "volume_id": Param("", type="string", pattern=OPTIONAL_OCID,
                           description="Or: restore this volume's newest verified backup"),
        "allow_unverified": Param(False, type="boolean",
                                  description="With volume_id: use the newest AVAILABLE backup when none is "
                                              "verified"),
        "availability_domain": Param("", type="string", description="AD of the new volume (empty: the source's)"),
        "compartment_id": Param("", type="string", pattern=OPTIONAL_OCID,
                                description="Compartment of the new volume (empty: the backup's)"),
        "display_name": Param("", type="string", maxLength=255,
                              description="Name of the new volume (empty: <backup name>-restore)"),
        "attach_instance_id": Param("", type="string", pattern=OPTIONAL_OCID,
                                    description="Attach a restored block volume to this instance"),
        "device": Param("", type="string", pattern=DEVICE_PATTERN,
                        description="Device path for the attachment, like /dev/oracleoci/oraclevdd (empty: none)"),
        "launch_instance": Param(False, type="boolean",
                                 description="Launch an instance on a restored boot volume"),
        "hostname": Param("", type="string", pattern=OPTIONAL_HOSTNAME, maxLength=63,
                          description="Hostname of the new instance (required to launch; unique in the subnet)"),
        "os_type": Param("linux", enum=["linux", "windows"]),
        "shape": Param(DEFAULT_SHAPE, type="string", pattern=r"^(VM|BM)\.[A-Za-z0-9.]+$"),
        "ocpus": Param(1, type="number", minimum=1, maximum=64, description="OCPUs for a Flex shape"),
        "memory_in_gbs": Param(16, type="number", minimum=1, maximum=1024, description="Memory for a Flex shape"),
        "subnet_id": Param("", type="string", pattern=OPTIONAL_OCID,
                           description="Subnet of the new instance (required to launch)"),
        "in_place": Param(False, type="boolean",
                          description="Instead of a new instance: swap the restored boot volume into the existing "
                                      "instance (it keeps its OCID, IPs and hostname; the old boot volume is kept)"),
        "instance_id": Param("", type="string", pattern=OPTIONAL_OCID,
                             description="In place: this instance (empty: the one booted from the backup's source "
                                         "boot volume)"),
    },
) as dag:

    request = OciValidateRequestOperator(task_id="validate_request", request="restore").output
    chosen = OciChooseBackupOperator(task_id="choose_backup", request=request).output
    restore = OciRestoreVolumeOperator(
        task_id="restore_volume", backup_id=chosen["backup_id"], availability_domain=request["availability_domain"],
        compartment_id=request["compartment_id"], display_name=request["display_name"],
        freeform_tags=chosen["restore_tags"], **WAIT)
    restored_id = restore.output["volume_id"]
    attach = OciAttachVolumeOperator(
        task_id="attach_restored_volume", instance_id=request["attach_instance_id"], volume_id=restored_id,
        device=request["device"], enabled=request["attach"], **WAIT)
    launch = OciLaunchInstanceOperator(
        task_id="launch_on_restored_boot_volume", boot_volume_id=restored_id, hostname=request["hostname"],
        os_type=request["os_type"], shape=request["shape"], shape_config=request["shape_config"],
        subnet_id=request["subnet_id"], compartment_id=restore.output["compartment_id"],
        enabled=request["launch"], **WAIT)

    swap = OciSwapBootVolumeOperator(
        task_id="swap_boot_volume", instance_id=request["instance_id"], boot_volume_id=restored_id,
        enabled=request["in_place"], **WAIT)

    restore >> [attach, launch, swap] >> OciRunReportOperator(task_id="report", report="restore")
