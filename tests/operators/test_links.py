"""Console links: one URL table, every resource kind, always with the resource's region; the links a real run
stores (a backup in the home region, its copy and the sensor on the copy in the DR region) and how the UI reads
them back from the serialized DAG; and the plugin that registers the link."""

from __future__ import annotations

import re

from links.oci import OciConsoleLink

from tests.airflow_helpers import last_run_id, run_dag, xcom

DAG_ID = "test_op_misc_links"


def test_run_stores_links_with_the_right_region_and_the_ui_reads_them(airflow_oci):
    sim = airflow_oci
    state, tasks = run_dag(DAG_ID, {"volume_id": sim.tenancy["volumes"]["data1"]})
    assert state == "success", tasks
    run_id = last_run_id(DAG_ID)
    backup = xcom(DAG_ID, run_id, "backup_volume")
    copy = xcom(DAG_ID, run_id, "copy_backup_to_dr")
    key = OciConsoleLink().xcom_key

    links = {task: xcom(DAG_ID, run_id, task, key=key) for task in tasks}
    assert links == {
        "backup_volume": f"https://cloud.oracle.com/block-storage/backups/{backup['backup_id']}?region=us-ashburn-1",
        "copy_backup_to_dr": f"https://cloud.oracle.com/block-storage/backups/{copy['backup_id']}"
                             f"?region=us-phoenix-1",
        "wait_for_dr_copy": f"https://cloud.oracle.com/block-storage/backups/{copy['backup_id']}"
                            f"?region=us-phoenix-1"}
    assert re.search(r"\.phx\.", copy["backup_id"]) and copy["region"] == "us-phoenix-1"

    # What the UI does: the serialized DAG of the run resolves the link by name from the task instance
    from airflow import settings
    from airflow.models import DagRun, TaskInstance
    from airflow.models.dagbag import DBDagBag

    with settings.Session() as session:
        dag_run = session.query(DagRun).filter_by(dag_id=DAG_ID, run_id=run_id).one()
        serialized = DBDagBag().get_dag_for_run(dag_run, session)
        for task_id, url in links.items():
            task = serialized.get_task(task_id)
            assert "OCI Console" in task.extra_links
            ti = session.query(TaskInstance).filter_by(dag_id=DAG_ID, run_id=run_id, task_id=task_id).one()
            assert task.get_extra_links(ti, "OCI Console") == url


def test_plugin_registers_the_console_link():
    import oci_plugin
    from airflow import plugins_manager
    from airflow.plugins_manager import AirflowPlugin

    # Airflow itself finds it in the plugins folder (only oci_plugin.py: see plugins/.airflowignore)
    assert "oci" in {info["name"] for info in plugins_manager.get_plugin_info()}
    assert not plugins_manager.get_import_errors()
    assert [type(link) for link in plugins_manager.get_operator_extra_links()] == [OciConsoleLink]
    assert issubclass(oci_plugin.OciPlugin, AirflowPlugin)
    links = oci_plugin.OciPlugin.operator_extra_links
    assert [type(link) for link in links] == [OciConsoleLink]
    assert links[0].name == "OCI Console" and links[0].xcom_key == "_link_OciConsoleLink"
    from operators.base import OciBaseOperator
    from sensors.oci import OciLifecycleStateSensor, OciWorkRequestSensor

    for cls in (OciBaseOperator, OciWorkRequestSensor, OciLifecycleStateSensor):
        assert [type(link) for link in cls.operator_extra_links] == [OciConsoleLink]
