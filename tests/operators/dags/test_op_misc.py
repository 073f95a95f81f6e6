"""Test DAGs for the object storage upload, the sensors and the cross-cutting proofs (triggers, idempotency,
secrets, links). Parameters come from run conf; `conn_id` lets a test pick a connection (e.g. one without
SDK retries, so that a fault fails the try and Airflow's retry takes over)."""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, task
from operators.backups import OciCopyBackupOperator, OciCreateBackupOperator
from operators.object_storage import OciUploadFileOperator
from sensors.oci import OciLifecycleStateSensor, OciWorkRequestSensor

START = datetime.datetime(2026, 1, 1)
FAST = {"poll_interval": 0.2, "max_interval": 1, "timeout": 300}
RETRY_ONCE = {"retries": 1, "retry_delay": datetime.timedelta(seconds=1)}


def _pull(task_id: str, field: str) -> str:
    return "{{ ti.xcom_pull(task_ids='%s')['%s'] }}" % (task_id, field)  # noqa: UP031 (Jinja braces)


# -- object storage ------------------------------------------------------------------------------------------
with DAG("test_op_misc_upload", schedule=None, start_date=START, catchup=False, tags=["test"],
         params={"local_path": "", "small_path": "", "bucket": "ocisim-bucket", "object_name": "disks/disk.vmdk",
                 "conn_id": "oci_default"}) as upload_dag:
    upload_parallel = OciUploadFileOperator(
        task_id="upload_disk", local_path="{{ params.local_path }}", bucket="{{ params.bucket }}",
        object_name="{{ params.object_name }}", part_size_mb=1, parallel=True, oci_conn_id="{{ params.conn_id }}")
    upload_sequential = OciUploadFileOperator(
        task_id="upload_disk_sequentially", local_path="{{ params.local_path }}", bucket="{{ params.bucket }}",
        object_name="{{ params.object_name }}.seq", part_size_mb=2, parallel=False,
        oci_conn_id="{{ params.conn_id }}")
    upload_small = OciUploadFileOperator(
        task_id="upload_small_file", local_path="{{ params.small_path }}", bucket="{{ params.bucket }}",
        object_name="notes/{{ run_id | replace(':', '-') }}.txt", content_type="text/plain",
        oci_conn_id="{{ params.conn_id }}")
    upload_parallel >> upload_sequential

# One task, retried once: a try that fails mid-upload leaves the multipart upload behind for the retry to resume.
with DAG("test_op_misc_upload_resume", schedule=None, start_date=START, catchup=False, tags=["test"],
         params={"local_path": "", "bucket": "ocisim-bucket", "object_name": "disks/resumed.vmdk",
                 "conn_id": "oci_default"}) as upload_resume_dag:
    OciUploadFileOperator(task_id="upload_disk", local_path="{{ params.local_path }}", bucket="{{ params.bucket }}",
                          object_name="{{ params.object_name }}", part_size_mb=1, parallel=False,
                          oci_conn_id="{{ params.conn_id }}", **RETRY_ONCE)

with DAG("test_op_misc_upload_bad", schedule=None, start_date=START, catchup=False, tags=["test"],
         params={"local_path": "", "bucket": "ocisim-bucket", "object_name": "x"}) as upload_bad_dag:
    OciUploadFileOperator(task_id="upload_bad_input", local_path="{{ params.local_path }}",
                          bucket="{{ params.bucket }}", object_name="{{ params.object_name }}")

# -- sensors, in each mode --------------------------------------------------------------------------------
for mode in ("poke", "reschedule", "deferrable"):
    sensing = {"poll_interval": 0.2, "max_interval": 1, "timeout": 120,
               "mode": "reschedule" if mode == "reschedule" else "poke", "deferrable": mode == "deferrable"}
    with DAG(f"test_op_misc_sensors_{mode}", schedule=None, start_date=START, catchup=False, tags=["test"],
             params={"work_request_id": "", "backup_id": "", "attachment_id": ""}) as dag:
        OciWorkRequestSensor(task_id="wait_for_detach_work_request", work_request_id="{{ params.work_request_id }}",
                             **sensing)
        OciLifecycleStateSensor(task_id="wait_for_backup", resource_id="{{ params.backup_id }}",
                                target_states=["AVAILABLE"], **sensing)
        OciLifecycleStateSensor(task_id="wait_for_detach", resource_id="{{ params.attachment_id }}",
                                target_states="DETACHED", **sensing)
    globals()[dag.dag_id] = dag

    with DAG(f"test_op_misc_sensors_fail_{mode}", schedule=None, start_date=START, catchup=False, tags=["test"],
             params={"work_request_id": "", "copy_id": ""}) as dag:
        OciWorkRequestSensor(task_id="wait_for_failed_work_request", work_request_id="{{ params.work_request_id }}",
                             **sensing)
        OciLifecycleStateSensor(task_id="wait_for_faulty_copy", resource_id="{{ params.copy_id }}",
                                region="us-phoenix-1", target_states=["AVAILABLE"], **sensing)
    globals()[dag.dag_id] = dag

with DAG("test_op_misc_sensors_bad", schedule=None, start_date=START, catchup=False, tags=["test"],
         params={"resource_id": ""}) as sensors_bad_dag:
    OciLifecycleStateSensor(task_id="wait_for_bad_input", resource_id="{{ params.resource_id }}",
                            target_states=["AVAILABLE"], poll_interval=0.2, timeout=30)

# -- triggers: a deferrable backup (the trigger it defers on is read back from the metadata database), and a
# deferrable copy whose work request fails ------------------------------------------------------------------
with DAG("test_op_misc_trigger_backup", schedule=None, start_date=START, catchup=False, tags=["test"],
         params={"volume_id": ""}) as trigger_backup_dag:
    OciCreateBackupOperator(task_id="backup_volume", volume_id="{{ params.volume_id }}", backup_type="FULL",
                            deferrable=True, **FAST)

with DAG("test_op_misc_trigger_error", schedule=None, start_date=START, catchup=False, tags=["test"],
         params={"backup_id": ""}) as trigger_error_dag:
    OciCopyBackupOperator(task_id="copy_backup_to_dr", backup_id="{{ params.backup_id }}",
                          destination_region="us-phoenix-1", deferrable=True, **FAST)

# -- idempotency: a create whose response is lost, then the task's retry -------------------------------------
with DAG("test_op_misc_idempotent", schedule=None, start_date=START, catchup=False, tags=["test"],
         params={"volume_id": "", "conn_id": "oci_default", "display_name": "idempotent-backup"}) as idem_dag:
    OciCreateBackupOperator(task_id="backup_volume", volume_id="{{ params.volume_id }}", backup_type="FULL",
                            display_name="{{ params.display_name }}", oci_conn_id="{{ params.conn_id }}",
                            **FAST, **RETRY_ONCE)

# -- links: a backup in the home region and its copy in the DR region ----------------------------------------
with DAG("test_op_misc_links", schedule=None, start_date=START, catchup=False, tags=["test"],
         params={"volume_id": ""}) as links_dag:
    backup = OciCreateBackupOperator(task_id="backup_volume", volume_id="{{ params.volume_id }}",
                                     backup_type="FULL", **FAST)
    copy = OciCopyBackupOperator(task_id="copy_backup_to_dr", backup_id=_pull("backup_volume", "backup_id"),
                                 destination_region="us-phoenix-1", **FAST)
    watch = OciLifecycleStateSensor(task_id="wait_for_dr_copy", resource_id=_pull("copy_backup_to_dr", "backup_id"),
                                    region="us-phoenix-1", target_states=["AVAILABLE"], poll_interval=0.2)
    backup >> copy >> watch


# -- secrets: tasks that log (INFO, and DEBUG when the test asks for it) and fail after the hook was built -----
@task
def check_connection() -> dict:
    """A hook used directly: auth built (so the key is registered with the masker), a client made, logged."""
    from hooks.oci import OciHook

    hook = OciHook()
    ok, message = hook.test_connection()
    hook.log.info("connection test: %s %s", ok, message)
    hook.log.debug("clients made: %s", sorted(hook._clients))
    return {"ok": ok, "message": message, "region": hook.region}


with DAG("test_op_misc_secrets", schedule=None, start_date=START, catchup=False, tags=["test"],
         params={"volume_id": "", "missing_volume_id": ""}) as secrets_dag:
    good = OciCreateBackupOperator(task_id="backup_volume", volume_id="{{ params.volume_id }}", backup_type="FULL",
                                   **FAST)
    checked = check_connection()
    missing = OciCreateBackupOperator(task_id="backup_missing_volume", volume_id="{{ params.missing_volume_id }}",
                                      backup_type="FULL", **FAST)
    same_region = OciCopyBackupOperator(task_id="copy_to_the_same_region", backup_id=_pull("backup_volume",
                                                                                         "backup_id"),
                                        destination_region="us-ashburn-1", **FAST)
    good >> checked >> [missing, same_region]
