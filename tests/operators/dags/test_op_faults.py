"""One-task DAGs for the fault matrix (tests/test_safety_matrix.py): each makes one thing named by the run's `name`,
with one task retry, so a case can count what exists of that name after faults injected through ocisim."""

from __future__ import annotations

import datetime

from airflow.sdk import DAG
from operators.backups import OciCreateBackupOperator
from operators.compute import OciLaunchInstanceOperator
from operators.image_transfer import OciExportImageOperator, OciImportImageOperator
from operators.object_storage import OciUploadFileOperator
from operators.volumes import OciAttachVolumeOperator, OciCloneVolumeOperator, OciRestoreVolumeOperator

FAST = {"poll_interval": 0.2, "max_interval": 1, "timeout": 120}
RETRIED = {"retries": 1, "retry_delay": datetime.timedelta(seconds=0)}
P = "{{ params.%s }}"
PARAMS = {"name": "", "volume_id": "", "backup_id": "", "instance_id": "", "image_id": "", "subnet_id": "",
          "availability_domain": "", "namespace": "", "bucket": "", "object_name": "", "local_path": ""}


def _dag(kind: str) -> DAG:
    return DAG(f"test_op_faults_{kind}", schedule=None, start_date=datetime.datetime(2026, 1, 1), catchup=False,
               params=PARAMS, tags=["test"], default_args=RETRIED)


with _dag("clone") as clone_dag:
    OciCloneVolumeOperator(task_id="op", volume_id=P % "volume_id", display_name=P % "name", **FAST)
with _dag("backup") as backup_dag:
    OciCreateBackupOperator(task_id="op", volume_id=P % "volume_id", backup_type="FULL", display_name=P % "name",
                            **FAST)
with _dag("restore") as restore_dag:
    OciRestoreVolumeOperator(task_id="op", backup_id=P % "backup_id", display_name=P % "name", **FAST)
with _dag("launch") as launch_dag:
    OciLaunchInstanceOperator(task_id="op", image_id=P % "image_id", subnet_id=P % "subnet_id",
                              availability_domain=P % "availability_domain", shape="VM.Standard.E4.Flex",
                              shape_config={"ocpus": 1, "memory_in_gbs": 16}, hostname=P % "name", **FAST)
with _dag("attach") as attach_dag:
    OciAttachVolumeOperator(task_id="op", instance_id=P % "instance_id", volume_id=P % "volume_id", **FAST)
with _dag("upload") as upload_dag:
    OciUploadFileOperator(task_id="op", local_path=P % "local_path", bucket=P % "bucket", object_name=P % "name",
                          part_size_mb=1, disk_image_type="QCOW2")
with _dag("import") as import_dag:
    OciImportImageOperator(task_id="op", display_name=P % "name", namespace=P % "namespace", bucket=P % "bucket",
                           object_name=P % "object_name", source_image_type="QCOW2", **FAST)
with _dag("export") as export_dag:
    OciExportImageOperator(task_id="op", image_id=P % "image_id", namespace=P % "namespace", bucket=P % "bucket",
                           object_name=P % "name", export_format="QCOW2", **FAST)
