"""Operator test DAGs for volumes and backups, one blocking and one deferrable; parameters come from run conf."""

from __future__ import annotations

import datetime

from airflow.sdk import DAG
from operators.backups import OciCopyBackupOperator, OciCreateBackupOperator, OciDeleteBackupOperator
from operators.volumes import (
    OciAttachVolumeOperator,
    OciCloneVolumeOperator,
    OciDeleteVolumeOperator,
    OciDetachVolumeOperator,
    OciRestoreVolumeOperator,
)


def _pull(task_id: str, field: str) -> str:
    return "{{ ti.xcom_pull(task_ids='%s')['%s'] }}" % (task_id, field)  # noqa: UP031 (Jinja braces)


for mode in ("blocking", "deferrable"):
    with DAG(f"test_op_volumes_{mode}", schedule=None, start_date=datetime.datetime(2026, 1, 1), catchup=False,
             params={"volume_id": "", "instance_id": "", "dr_region": "us-phoenix-1"}, tags=["test"]) as dag:
        common = {"deferrable": mode == "deferrable", "poll_interval": 0.2, "max_interval": 1, "timeout": 300}
        backup = OciCreateBackupOperator(task_id="backup_volume", volume_id="{{ params.volume_id }}",
                                         backup_type="FULL", **common)
        restore = OciRestoreVolumeOperator(task_id="restore_for_test", backup_id=_pull("backup_volume", "backup_id"),
                                           verification_level="api", **common)
        clone = OciCloneVolumeOperator(task_id="clone_volume", volume_id="{{ params.volume_id }}",
                                       display_name="clone-{{ params.volume_id[-6:] }}", **common)
        attach = OciAttachVolumeOperator(task_id="attach_clone", instance_id="{{ params.instance_id }}",
                                         volume_id=_pull("clone_volume", "volume_id"),
                                         device="/dev/oracleoci/oraclevdk", **common)
        detach = OciDetachVolumeOperator(task_id="detach_clone", attachment_id=_pull("attach_clone", "attachment_id"),
                                         **common)
        copy = OciCopyBackupOperator(task_id="copy_backup_to_dr", backup_id=_pull("backup_volume", "backup_id"),
                                     destination_region="{{ params.dr_region }}", **common)
        delete_copy = OciDeleteBackupOperator(task_id="delete_dr_copy", backup_id=_pull("copy_backup_to_dr",
                                                                                         "backup_id"),
                                              region="{{ params.dr_region }}", **common)
        delete_restore = OciDeleteVolumeOperator(task_id="delete_test_restore",
                                                 volume_id=_pull("restore_for_test", "volume_id"), **common)
        delete_clone = OciDeleteVolumeOperator(task_id="delete_clone", volume_id=_pull("clone_volume", "volume_id"),
                                               **common)
        backup >> [restore, copy]
        restore >> delete_restore
        copy >> delete_copy
        clone >> attach >> detach >> delete_clone
    globals()[dag.dag_id] = dag
