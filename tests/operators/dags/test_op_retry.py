"""Operator test DAGs for the retry policy: tasks with Airflow retries, so a test can count how often a call that
cannot succeed was made, and see a retried import make a new attempt after its first work request FAILED."""

from __future__ import annotations

import datetime

from airflow.sdk import DAG
from operators.image_transfer import OciExportImageOperator, OciImportImageOperator

FAST = {"poll_interval": 0.2, "max_interval": 1, "timeout": 120}
RETRIED = {"retries": 2, "retry_delay": datetime.timedelta(seconds=0)}

with DAG("test_op_retry_export", schedule=None, start_date=datetime.datetime(2026, 1, 1), catchup=False,
         params={"image_id": "", "namespace": "", "bucket": ""}, tags=["test"], default_args=RETRIED) as export_dag:
    OciExportImageOperator(task_id="export", image_id="{{ params.image_id }}", namespace="{{ params.namespace }}",
                           bucket="{{ params.bucket }}", object_name="retry/export.vmdk", **FAST)

with DAG("test_op_retry_import", schedule=None, start_date=datetime.datetime(2026, 1, 1), catchup=False,
         params={"namespace": "", "bucket": "", "object_name": ""}, tags=["test"], default_args=RETRIED) as import_dag:
    OciImportImageOperator(task_id="import_image", display_name="retried-import", source_image_type="QCOW2",
                           namespace="{{ params.namespace }}", bucket="{{ params.bucket }}",
                           object_name="{{ params.object_name }}", **FAST)
