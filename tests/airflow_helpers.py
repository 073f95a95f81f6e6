"""Running DAGs for real in tests: `dag.test()` (triggers run inline) and reading back what the run left."""

from __future__ import annotations

import contextlib
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_dag(dag_id: str, folder: Path | None = None):
    """The DAG object from the file that defines it (a file whose name starts the dag_id), as the bundle has it."""
    for base in ([folder] if folder else [ROOT / "tests" / "operators" / "dags", ROOT / "dags"]):
        for path in sorted(base.glob("*.py"), key=lambda p: -len(p.stem)):
            if not dag_id.startswith(path.stem):
                continue
            spec = importlib.util.spec_from_file_location(f"_dag_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            from airflow.sdk import DAG

            for value in vars(module).values():
                if isinstance(value, DAG) and value.dag_id == dag_id:
                    return value
    raise LookupError(f"no DAG {dag_id!r} in tests/operators/dags or dags")


def run_dag(dag_id: str, conf: dict | None = None, **kwargs):
    """Run once with dag.test(); return (dag run state, {task_id or task_id[map]: state})."""
    dag = load_dag(dag_id)
    run = dag.test(run_conf=conf or {}, **kwargs)
    return run.state, task_states(dag_id, run.run_id)


def task_states(dag_id: str, run_id: str) -> dict[str, str]:
    from airflow import settings
    from airflow.models import TaskInstance

    with settings.Session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run_id).all()
        return {(ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"): str(ti.state) for ti in tis}


def rendered_map_indexes(dag_id: str, run_id: str, task_id: str) -> list[str | None]:
    """What the grid shows for each mapped task instance of `task_id` (its rendered map_index_template), by index."""
    from airflow import settings
    from airflow.models import TaskInstance

    with settings.Session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run_id, task_id=task_id).all()
        return [ti.rendered_map_index for ti in sorted(tis, key=lambda ti: ti.map_index)]


def xcom(dag_id: str, run_id: str | None, task_id: str, key: str = "return_value", map_index: int = -1):
    from airflow import settings
    from airflow.models import DagRun
    from airflow.models.xcom import XComModel

    with settings.Session() as session:
        if run_id is None:
            run_id = session.query(DagRun).filter_by(dag_id=dag_id).order_by(DagRun.id.desc()).first().run_id
        row = session.query(XComModel).filter_by(dag_id=dag_id, run_id=run_id, task_id=task_id, key=key,
                                                 map_index=map_index).first()
        return None if row is None else XComModel.deserialize_value(row)


def last_run_id(dag_id: str) -> str:
    from airflow import settings
    from airflow.models import DagRun

    with settings.Session() as session:
        return session.query(DagRun).filter_by(dag_id=dag_id).order_by(DagRun.id.desc()).first().run_id


@contextlib.contextmanager
def variable(key: str, value):
    """The Airflow Variable `key` set to `value` (JSON) for the block, then removed: the metadata database is
    shared by the whole session."""
    from airflow.models.variable import Variable

    Variable.set(key, value, serialize_json=True)
    try:
        yield
    finally:
        Variable.delete(key)
