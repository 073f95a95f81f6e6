"""Test DAGs for the nightly backup's closing steps on their own: the teardown, with a deadline per wait short
enough that waiting for its removals one after another could not finish within it."""

from __future__ import annotations

import datetime

from airflow.sdk import DAG
from operators.verify import OciCleanupTestResourcesOperator

START = datetime.datetime(2026, 1, 1)

with DAG("test_op_nightly_teardown", schedule=None, start_date=START, catchup=False, tags=["test"],
         params={"compartment_id": "", "conn_id": "oci_default"}) as teardown_dag:
    OciCleanupTestResourcesOperator(task_id="delete_test_restores", compartment_ids="{{ params.compartment_id }}",
                                    oci_conn_id="{{ params.conn_id }}", poll_interval=0.5, max_interval=1,
                                    timeout=5, retries=0)
