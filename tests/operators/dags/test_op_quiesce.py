"""Test DAG: the backup operator with a quiesce bracket, as a user's own DAG would use it
(tests/quiesce/test_nightly_quiesce.py)."""

from __future__ import annotations

import datetime

from airflow.sdk import DAG
from operators.backups import OciCreateBackupOperator

with DAG("test_op_quiesce_backup", schedule=None, start_date=datetime.datetime(2026, 1, 1), catchup=False,
         tags=["test"], params={"volume_id": "", "quiesce": "", "max_quiesce_seconds": 30}) as quiesce_backup_dag:
    OciCreateBackupOperator(task_id="backup_volume", volume_id="{{ params.volume_id }}", backup_type="FULL",
                            quiesce="{{ params.quiesce }}", max_quiesce_seconds=1, retries=0,
                            poll_interval=0.2, max_interval=1, timeout=300)
