"""Plan mode (`plan_only`): a run that checks everything and changes nothing, and says what it would have done.

One mechanism for every DAG. The run's configuration task (`resolve_config` of the nightly, `validate_request` of
the on-demand DAGs) reads and checks `plan_only` like any other key, and makes every read-only check as always:
references, the permission preflight, the nightly's backup plan. Each operator that changes something in OCI
names its first mutating call (`OciBaseOperator.plan_operation`); in a plan run it records that call and what it
would act on under XCom key `plan` and skips itself instead of making it, so the tasks after it skip too.
Retention runs as a dry run instead (it lists each deletion and why it is allowed). The report reads the recorded
calls, names the mutating tasks that were not reached, and writes the run's note as the plan.
"""

from __future__ import annotations

from typing import Any

PLAN_KEY = "plan_only"  # the run-configuration key
PLAN_XCOM_KEY = "plan"  # what a skipped mutating task would have done
CONFIG_TASKS = ("resolve_config", "validate_request")  # the tasks whose XCom holds the checked configuration


def plan_run(context: Any) -> bool:
    """Whether this task runs in a plan run: the checked configuration of its DAG run says `plan_only`. A task
    outside a DAG with a configuration task (your own DAG) is never in a plan run."""
    if not context:
        return False
    ti, dag = context.get("ti"), context.get("dag")
    tasks = getattr(dag, "task_dict", {}) or {}
    for task_id in CONFIG_TASKS:
        if task_id in tasks and ti is not None:
            from common.xcom import xcom_value

            return bool(xcom_value(ti.xcom_pull(task_ids=task_id, key=PLAN_KEY, map_indexes=-1)))
    return False


def current_context() -> Any:
    """The running task's context, or None outside a task (a unit test calling `validate()` on its own)."""
    try:
        from airflow.sdk import get_current_context

        return get_current_context()
    except Exception:
        return None


def record_and_skip(context: Any, operation: str, detail: str) -> None:
    """Record the call a plan run does not make, then skip this task (AirflowSkipException)."""
    from airflow.sdk.exceptions import AirflowSkipException

    ti = context["ti"]
    intent = {"task_id": ti.task_id, "map_index": getattr(ti, "map_index", -1), "operation": operation,
              "detail": detail}
    ti.xcom_push(key=PLAN_XCOM_KEY, value=intent)
    raise AirflowSkipException(f"plan_only: would call {operation}: {detail}")


def describe(values: dict[str, Any], limit: int = 240) -> str:
    """`key value, ...` of the given values that are set: what a call would act on, for the plan."""
    parts = [f"{k} {v}" for k, v in values.items() if v not in (None, "", [], {}, False)]
    text = ", ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def recorded(ti: Any, dag: Any) -> list[dict]:
    """Every call a plan run's tasks recorded, in the DAG's task order (mapped tasks by map index)."""
    from common.xcom import xcom_value

    order = {task_id: i for i, task_id in enumerate(dag.task_dict)}
    found = ti.xcom_pull(task_ids=list(dag.task_dict), key=PLAN_XCOM_KEY) or []
    found = [xcom_value(x) for x in (found if isinstance(found, list) else [found])]
    found = [x for x in found if isinstance(x, dict)]
    return sorted(found, key=lambda x: (order.get(x["task_id"], 0), x.get("map_index", -1)))


def not_reached(dag: Any, intents: list[dict]) -> list[dict]:
    """The mutating tasks of the DAG that recorded nothing: they come after a call the plan did not make (or
    were not asked for). Each with its operation, for the plan's "then" lines."""
    seen = {x["task_id"] for x in intents}
    rows = []
    for task_id, task in dag.task_dict.items():
        operation = getattr(task, "plan_operation", None)
        if operation and task_id not in seen:
            rows.append({"task_id": task_id, "operation": operation})
    return rows


def launches(request: dict) -> list[dict]:
    """The instances an on-demand request would launch: its fleet, or its one launch (restore, clone)."""
    fleet = request.get("fleet") or []
    if fleet:
        return [{"hostname": f.get("hostname"), "shape": f.get("shape"), "os_type": f.get("os_type"),
                 "subnet_id": f.get("subnet_id")} for f in fleet]
    if request.get("launch"):
        return [{"hostname": request.get("hostname"), "shape": request.get("shape") or "the source instance's",
                 "os_type": request.get("os_type"), "subnet_id": request.get("subnet_id")}]
    return []


def checked_references(request: dict) -> list[str]:
    """The OCIDs a checked request names: each was read before the plan (validate_request reads every
    reference it names)."""
    refs: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str) and value.startswith("ocid1."):
            refs.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)

    walk(request)
    return list(dict.fromkeys(refs))
