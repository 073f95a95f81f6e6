"""What a finished run left, read where a DAG callback runs: in the DAG processor through the Task SDK (direct
database access is blocked there), in `dag.test()` through the ORM (no Task SDK channel outside a task)."""

from __future__ import annotations

from notify.message import RunFacts

ERROR_XCOM_KEY = "notify_error"
REPORT_TASK, REPORT_XCOM_KEY = "report", "report"


def _sdk():
    try:
        from airflow.sdk.execution_time import task_runner
    except ImportError:  # pragma: no cover
        return False
    return getattr(task_runner, "SUPERVISOR_COMMS", None) is not None


def _key(task_id: str, map_index: int) -> str:
    return task_id if map_index < 0 else f"{task_id}[{map_index}]"


def _states_sdk(dag_id: str, run_id: str, task_ids: set[str]) -> dict[str, tuple[str, int, str]]:
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    raw = RuntimeTaskInstance.get_task_states(dag_id=dag_id, run_ids=[run_id]).get(run_id, {})
    found = {}
    for name, state in raw.items():
        task_id, index = name, -1
        if name not in task_ids:  # a mapped task's key is `<task_id>_<map_index>`
            head, _, tail = name.rpartition("_")
            if tail.isdigit() and head in task_ids:
                task_id, index = head, int(tail)
        found[_key(task_id, index)] = (task_id, index, str(state))
    return found


def _xcom_sdk(dag_id: str, run_id: str, task_id: str, key: str, map_index: int):
    from airflow.sdk.bases.xcom import BaseXCom

    return BaseXCom.get_one(key=key, dag_id=dag_id, task_id=task_id, run_id=run_id, map_index=map_index)


def _states_orm(dag_id: str, run_id: str) -> dict[str, tuple[str, int, str]]:
    from airflow import settings
    from airflow.models import TaskInstance

    with settings.Session() as session:
        rows = session.query(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state).filter_by(
            dag_id=dag_id, run_id=run_id).all()
    return {_key(t, m): (t, m, str(s)) for t, m, s in rows}


def _xcom_orm(dag_id: str, run_id: str, task_id: str, key: str, map_index: int):
    from airflow import settings
    from airflow.models.xcom import XComModel

    with settings.Session() as session:
        row = session.query(XComModel).filter_by(dag_id=dag_id, run_id=run_id, task_id=task_id, key=key,
                                                 map_index=map_index).first()
        return None if row is None else XComModel.deserialize_value(row)


def read_run(dag, run_id: str) -> RunFacts:
    """The run's task states (in the DAG's task order), the error line of each failed task, and its report."""
    from common.xcom import xcom_value

    sdk = _sdk()
    order = {task_id: i for i, task_id in enumerate(dag.task_ids)}
    states = _states_sdk(dag.dag_id, run_id, set(order)) if sdk else _states_orm(dag.dag_id, run_id)
    xcom = _xcom_sdk if sdk else _xcom_orm

    def pull(task_id: str, key: str, map_index: int = -1):
        try:
            return xcom_value(xcom(dag.dag_id, run_id, task_id, key, map_index))
        except Exception:
            return None

    ordered = sorted(states.items(), key=lambda kv: (order.get(kv[1][0], 10**6), kv[1][1]))
    facts = RunFacts(dag.dag_id, run_id, {k: v[2] for k, v in ordered})
    for key, (task_id, index, state) in ordered:
        if state == "failed":
            error = pull(task_id, ERROR_XCOM_KEY, index)
            if error:
                facts.errors[key] = str(error)
    report = pull(REPORT_TASK, REPORT_XCOM_KEY)
    facts.report = report if isinstance(report, dict) else None
    return facts
