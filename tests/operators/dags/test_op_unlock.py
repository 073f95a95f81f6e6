"""Test DAGs for what ocisim's newer operations unlock (tests/operators/test_unlock.py).

- test_op_unlock_shapes: one launch per shape rule (a shape the AD does not offer, Flex OCPUs or memory outside
  the shape's limits, OCPUs on a fixed shape); every one must fail before any mutating request.
- test_op_unlock_volume_group: two volumes backed up together as one volume group backup (twice: the second
  run keeps the group), the group backup restored as a new group.
- test_op_unlock_boot_shape: the nightly's `boot` check of a restored boot volume with a shape the AD does not
  offer; it must fail before the test instance is launched.
- test_op_unlock_subcompartments: discovery of the configured compartment alone, and with every compartment
  below it.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG
from operators.compute import OciLaunchInstanceOperator
from operators.discovery import OciDiscoverVolumesOperator
from operators.group_restore import OciRestoreVolumeGroupOperator
from operators.verify import OciVerifyRestoreOperator
from operators.volume_groups import OciBackupVolumeGroupOperator

START = datetime.datetime(2026, 1, 1)
PARAMS = {"image_id": "", "subnet_id": "", "availability_domain": ""}

with DAG("test_op_unlock_shapes", schedule=None, start_date=START, catchup=False, params=PARAMS,
         tags=["test"]) as shapes_dag:
    where = {"image_id": "{{ params.image_id }}", "subnet_id": "{{ params.subnet_id }}",
             "availability_domain": "{{ params.availability_domain }}"}
    OciLaunchInstanceOperator(task_id="shape_not_in_ad", hostname="shape-01", shape="VM.Standard.E2.1.Micro",
                              **where)
    OciLaunchInstanceOperator(task_id="flex_ocpus_too_many", hostname="shape-02", shape="VM.Standard.E4.Flex",
                              shape_config={"ocpus": 65, "memory_in_gbs": 128}, **where)
    OciLaunchInstanceOperator(task_id="flex_memory_per_ocpu", hostname="shape-03", shape="VM.Standard.E4.Flex",
                              shape_config={"ocpus": 1, "memory_in_gbs": 100}, **where)
    OciLaunchInstanceOperator(task_id="flex_memory_total", hostname="shape-04", shape="VM.Standard3.Flex",
                              shape_config={"ocpus": 32, "memory_in_gbs": 600}, **where)
    OciLaunchInstanceOperator(task_id="ocpus_on_fixed_shape", hostname="shape-05", shape="VM.Standard2.1",
                              shape_config={"ocpus": 2}, **where)

with DAG("test_op_unlock_subcompartments", schedule=None, start_date=START, catchup=False,
         params={"compartment_id": ""}, tags=["test"]) as subcompartments_dag:
    OciDiscoverVolumesOperator(task_id="configured_only", compartment_ids="{{ params.compartment_id }}")
    OciDiscoverVolumesOperator(task_id="with_subcompartments", compartment_ids="{{ params.compartment_id }}",
                               include_subcompartments="{{ true }}")

with DAG("test_op_unlock_volume_group", schedule=None, start_date=START, catchup=False,
         params={"volume_ids": []}, render_template_as_native_obj=True, tags=["test"]) as volume_group_dag:
    common = {"poll_interval": 0.2, "max_interval": 1, "timeout": 300}
    first = OciBackupVolumeGroupOperator(task_id="backup_group", volume_ids="{{ params.volume_ids }}",
                                         group_name="db", backup_type="FULL", **common)
    restore = OciRestoreVolumeGroupOperator(
        task_id="restore_group", volume_group_backup_id="{{ ti.xcom_pull(task_ids='backup_group')"
                                                        "['volume_group_backup_id'] }}",
        freeform_tags={"airflow-temporary": "true"}, **common)
    again = OciBackupVolumeGroupOperator(task_id="backup_group_again", volume_ids="{{ params.volume_ids }}",
                                         group_name="db", **common)
    first >> restore >> again

with DAG("test_op_unlock_boot_shape", schedule=None, start_date=START, catchup=False,
         params={"boot_volume_id": "", "backup_id": "", "subnet_id": ""}, tags=["test"]) as boot_shape_dag:
    OciVerifyRestoreOperator(task_id="verify_boot", level="boot", shape="VM.Standard.E2.1.Micro", retries=0,
                             restored={"volume_id": "{{ params.boot_volume_id }}"},
                             backup={"backup_id": "{{ params.backup_id }}"}, subnet_id="{{ params.subnet_id }}")
