"""Test DAGs for the nightly backup's closing steps on their own: the teardown, with a deadline per wait short
enough that waiting for its removals one after another could not finish within it."""

from __future__ import annotations

import datetime

from airflow.sdk import DAG
from operators.verify import OciCleanupTestResourcesOperator, OciVerifyRestoreOperator

START = datetime.datetime(2026, 1, 1)

with DAG("test_op_nightly_teardown", schedule=None, start_date=START, catchup=False, tags=["test"],
         params={"compartment_id": "", "conn_id": "oci_default"}) as teardown_dag:
    OciCleanupTestResourcesOperator(task_id="delete_test_restores", compartment_ids="{{ params.compartment_id }}",
                                    oci_conn_id="{{ params.conn_id }}", poll_interval=0.5, max_interval=1,
                                    timeout=5, retries=0)

# One verification, fed by run conf: a test can leave what an earlier (killed) try made before it runs.
with DAG("test_op_nightly_verify", schedule=None, start_date=START, catchup=False, tags=["test"],
         render_template_as_native_obj=True,
         params={"restored": {}, "backup": {}, "verifier_instance_id": ""}) as verify_dag:
    OciVerifyRestoreOperator(task_id="verify_restore", restored="{{ params.restored }}", backup="{{ params.backup }}",
                             level="script", verifier_instance_id="{{ params.verifier_instance_id }}",
                             poll_interval=0.5, max_interval=1, retries=0)
