"""Operator test DAGs for compute and Run Command; ids and names come from run conf.

- test_op_compute_{blocking,deferrable}: launch Linux (image), Windows (image) and a fleet (mapped launch with
  names from `fleet_hostnames`) and an instance on a cloned boot volume; stop and start; terminate.
- test_op_compute_bad_inputs: one task per bad input; every one must fail before any mutating request.
- test_op_compute_hostname_taken: a launch OCI accepts and then fails (hostname taken in the subnet).
- test_op_compute_run_command_{blocking,deferrable}: a filesystem check that passes, a script that fails,
  output too large for XCom, and a script that times out.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, task
from guest.user_data import fleet_hostnames
from operators.compute import OciInstanceActionOperator, OciLaunchInstanceOperator, OciTerminateInstanceOperator
from operators.run_command import OciRunCommandOperator

START = datetime.datetime(2026, 1, 1)
SHAPE = "VM.Standard.E4.Flex"
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk0aXJmbG93LW9jaS10ZXN0LWtleS1vbmx5 test@airflow"
PARAMS = {"image_id": "", "windows_image_id": "", "subnet_id": "", "availability_domain": "", "boot_volume_id": "",
          "instance_id": ""}


def _pull(task_id: str, field: str) -> str:
    return "{{ ti.xcom_pull(task_ids='%s')['%s'] }}" % (task_id, field)  # noqa: UP031 (Jinja braces)


def _where() -> dict:
    return {"subnet_id": "{{ params.subnet_id }}", "availability_domain": "{{ params.availability_domain }}",
            "shape": SHAPE}


def compute_dag(mode: str) -> DAG:
    with DAG(f"test_op_compute_{mode}", schedule=None, start_date=START, catchup=False, params=PARAMS,
             tags=["test"]) as dag:
        common = {"deferrable": mode == "deferrable", "poll_interval": 0.2, "max_interval": 1, "timeout": 300}
        launch_linux = OciLaunchInstanceOperator(
            task_id="launch_linux", image_id="{{ params.image_id }}", hostname="web-01", **_where(),
            shape_config={"ocpus": 1, "memory_in_gbs": 16}, ssh_authorized_keys=SSH_KEY,
            extra_user_data=["echo provisioned-by-airflow > /var/tmp/airflow-oci"], freeform_tags={"role": "web"},
            **common)
        stop_linux = OciInstanceActionOperator(task_id="stop_linux",
                                               instance_id=_pull("launch_linux", "instance_id"), action="STOP",
                                               **common)
        start_linux = OciInstanceActionOperator(task_id="start_linux",
                                                instance_id=_pull("launch_linux", "instance_id"), action="START",
                                                **common)
        terminate_linux = OciTerminateInstanceOperator(task_id="terminate_linux",
                                                       instance_id=_pull("launch_linux", "instance_id"), **common)
        terminate_linux_again = OciTerminateInstanceOperator(
            task_id="terminate_linux_again", instance_id=_pull("launch_linux", "instance_id"), **common)
        launch_linux >> stop_linux >> start_linux >> terminate_linux >> terminate_linux_again

        launch_windows = OciLaunchInstanceOperator(
            task_id="launch_windows", image_id="{{ params.windows_image_id }}", hostname="WIN-APP-01",
            os_type="windows", extra_user_data="Set-TimeZone -Id 'UTC'", **_where(), **common)
        terminate_windows = OciTerminateInstanceOperator(
            task_id="terminate_windows", instance_id=_pull("launch_windows", "instance_id"),
            preserve_boot_volume=True, **common)
        launch_windows >> terminate_windows

        launch_restored = OciLaunchInstanceOperator(
            task_id="launch_on_cloned_boot_volume", boot_volume_id="{{ params.boot_volume_id }}",
            hostname="restored-01", subnet_id="{{ params.subnet_id }}", shape=SHAPE, **common)
        terminate_restored = OciTerminateInstanceOperator(
            task_id="terminate_restored", instance_id=_pull("launch_on_cloned_boot_volume", "instance_id"),
            preserve_boot_volume=True, **common)
        launch_restored >> terminate_restored

        @task
        def fleet_names() -> list[str]:
            return fleet_hostnames("app-{index:02d}", 2)

        launch_fleet = OciLaunchInstanceOperator.partial(
            task_id="launch_fleet", image_id="{{ params.image_id }}", **_where(), **common,
        ).expand(hostname=fleet_names())
        OciTerminateInstanceOperator.partial(task_id="terminate_fleet", **common).expand(
            instance_id=launch_fleet.output.map(lambda launched: launched["instance_id"]))
    return dag


def bad_inputs_dag() -> DAG:
    with DAG("test_op_compute_bad_inputs", schedule=None, start_date=START, catchup=False, params=PARAMS,
             tags=["test"]) as dag:
        image = {"image_id": "{{ params.image_id }}", **_where()}
        OciLaunchInstanceOperator(task_id="invalid_hostname", hostname="web_01", **image)
        OciLaunchInstanceOperator(task_id="windows_name_too_long", hostname="WINDOWS-SERVER-01", os_type="windows",
                                  **image)
        OciLaunchInstanceOperator(task_id="windows_name_all_digits", hostname="12345", os_type="windows", **image)
        OciLaunchInstanceOperator(task_id="hostname_taken_in_subnet", hostname="LINUX1", **image)
        OciLaunchInstanceOperator(task_id="user_data_too_large", hostname="big-01",
                                  extra_user_data=["echo " + "x" * 30_000], **image)
        OciLaunchInstanceOperator(task_id="malformed_ocid", hostname="web-02", image_id="ocid1.image.oc1..bad",
                                  **_where())
        OciLaunchInstanceOperator(task_id="both_image_and_boot_volume", hostname="web-03",
                                  boot_volume_id="{{ params.boot_volume_id }}", **image)
        OciLaunchInstanceOperator(task_id="neither_image_nor_boot_volume", hostname="web-04", **_where())
        OciLaunchInstanceOperator(task_id="unknown_region", hostname="web-05", region="us-nowhere-9", **image)

        @task
        def duplicate_fleet_names() -> list[str]:
            return fleet_hostnames("web", 3)

        duplicate_fleet_names()
        OciTerminateInstanceOperator(task_id="terminate_malformed_ocid", instance_id="ocid1.instance.oc1.iad.x")
        OciInstanceActionOperator(task_id="unknown_action", instance_id="{{ params.instance_id }}", action="REBOOT")
        OciRunCommandOperator(task_id="run_command_zero_timeout", instance_id="{{ params.instance_id }}",
                              script="true", script_timeout=0)
    return dag


def run_command_dag(mode: str) -> DAG:
    with DAG(f"test_op_compute_run_command_{mode}", schedule=None, start_date=START, catchup=False, params=PARAMS,
             tags=["test"]) as dag:
        common = {"deferrable": mode == "deferrable", "poll_interval": 0.2, "max_interval": 1, "timeout": 300}
        OciRunCommandOperator(task_id="check_data_filesystem", instance_id="{{ params.instance_id }}",
                              script="e2fsck -fn /dev/oracleoci/oraclevdb", script_timeout=120, **common)
        OciRunCommandOperator(task_id="failing_script", instance_id="{{ params.instance_id }}",
                              script="echo 'about to fail'\necho 'disk check: 3 errors' >&2\nexit 3",
                              script_timeout=60, **common)
        OciRunCommandOperator(task_id="large_output", instance_id="{{ params.instance_id }}",
                              script="yes 0123456789abcdef | head -n 10000", script_timeout=60, **common)
        OciRunCommandOperator(task_id="slow_script", instance_id="{{ params.instance_id }}",
                              script="echo started\nsleep 30", script_timeout=1, fail_on_nonzero=False, **common)
    return dag


def launch_retry_dag() -> DAG:
    """A launch whose response is lost (ocisim drops it, SDK retries off): Airflow's retry adopts the instance."""
    with DAG("test_op_compute_launch_retry", schedule=None, start_date=START, catchup=False,
             params={**PARAMS, "conn_id": "oci_default"}, tags=["test"]) as dag:
        OciLaunchInstanceOperator(task_id="launch_linux", image_id="{{ params.image_id }}", hostname="retry-01",
                                  oci_conn_id="{{ params.conn_id }}", retries=1,
                                  retry_delay=datetime.timedelta(seconds=0), poll_interval=0.2, max_interval=1,
                                  timeout=300, **_where())
    return dag


def hostname_taken_dag() -> DAG:
    """The subnet check skipped: OCI accepts the launch, then fails its work request; the task says why."""
    with DAG("test_op_compute_hostname_taken", schedule=None, start_date=START, catchup=False, params=PARAMS,
             tags=["test"]) as dag:
        for mode in ("blocking", "deferrable"):
            OciLaunchInstanceOperator(task_id=f"launch_{mode}", image_id="{{ params.image_id }}", hostname="linux1",
                                      check_hostname_in_subnet=False, deferrable=mode == "deferrable",
                                      poll_interval=0.2, max_interval=1, timeout=300, **_where())
    return dag


for _mode in ("blocking", "deferrable"):
    for _dag in (compute_dag(_mode), run_command_dag(_mode)):
        globals()[_dag.dag_id] = _dag
test_op_compute_bad_inputs = bad_inputs_dag()
test_op_compute_hostname_taken = hostname_taken_dag()
test_op_compute_launch_retry = launch_retry_dag()
