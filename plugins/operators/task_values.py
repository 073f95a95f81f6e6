"""What upstream tasks left, read by a report given the tasks themselves: a task, or an XComArg (`task.output`,
`task.output["key"]`), never a task id written as a string. A renamed task is renamed for its readers too, and a
task that is gone fails the DAG's parse instead of turning into a "problem" in a report.

A task that left nothing reads as None. A mapped task (or a task in a mapped task group) reads as a list by map
index, None where an index left nothing, in one XCom query for all of its map indexes (Airflow returns a task's
values in map index order) and, when some index left nothing, one more for the task's states to tell which: a
report over 1000 volumes reads each of its mapped outputs in one or two queries, not one per volume.
"""

from __future__ import annotations

from typing import Any

from common.xcom import xcom_value

RETURN_KEY = "return_value"


def task_of(arg: Any) -> Any:
    """The task behind an XComArg, or the task itself."""
    return getattr(arg, "operator", arg)


def task_id_of(arg: Any) -> str:
    """The task id of a task or of the task behind an XComArg."""
    return task_of(arg).task_id


def is_task(arg: Any) -> bool:
    """A task or an XComArg (what `read` reads), not a plain value."""
    return hasattr(task_of(arg), "task_id")


def is_mapped(arg: Any) -> bool:
    """Whether the task has a value per map index: it is mapped, or it is in a mapped task group."""
    task = task_of(arg)
    return bool(getattr(task, "is_mapped", False)) or task.get_closest_mapped_task_group() is not None


def one(ti, arg: Any, key: str | None = None, index: int | None = None) -> Any:
    """The XCom a task (or one map index of it) left under `key` (default: the XComArg's key, else its return
    value), as the task pushed it (common/xcom.py); None when it left none."""
    key = key or getattr(arg, "key", RETURN_KEY)
    try:
        if index is None:
            return xcom_value(ti.xcom_pull(task_ids=task_id_of(arg), key=key))
        return xcom_value(ti.xcom_pull(task_ids=task_id_of(arg), map_indexes=index, key=key))
    except Exception:  # a task that never ran has no XCom
        return None


def states(ti, tasks: list) -> dict[str, str]:
    """The states of these tasks (or XComArgs) in this run, in one query, by task id (`<task id>_<map index>`
    for each map index of a mapped task)."""
    task_ids = [task_id_of(task) for task in tasks]
    return ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id], task_ids=task_ids).get(ti.run_id, {})


def map_states(ti, arg: Any) -> dict[int, str]:
    """The state of each map index of a mapped task, in one query."""
    task_id = task_id_of(arg)
    by_index = {}
    for name, state in states(ti, [arg]).items():
        head, _, index = name.rpartition("_")
        if head == task_id and index.isdigit():
            by_index[int(index)] = state
    return by_index


def mapped(ti, arg: Any, count: int | None = None, key: str | None = None,
           expected: list[int] | None = None) -> list:
    """The XCom of each map index of a mapped task, in map index order (None where an index left none): `count`
    map indexes (None: as many as the task has), of which `expected` may have left one (None: all; a task skipped
    for an item leaves none, so a DAG that maps over items some of which are not asked for says which are)."""
    key = key or getattr(arg, "key", RETURN_KEY)
    try:
        values = [v for v in ti.xcom_pull(task_ids=[task_id_of(arg)], key=key) or [] if v is not None]
    except Exception:  # a task that never ran has no XCom
        values = []
    by_index = None
    if count is None:
        by_index = map_states(ti, arg)
        count = max(by_index, default=-1) + 1
    expected = list(range(count)) if expected is None else sorted(i for i in expected if 0 <= i < count)
    out: list = [None] * count
    if not values:
        return out
    if len(values) == len(expected):  # every index that may have left one did
        for index, value in zip(expected, values, strict=True):
            out[index] = xcom_value(value)
        return out
    if key == RETURN_KEY:  # some did not: a return value is there exactly for the indexes that succeeded
        by_index = map_states(ti, arg) if by_index is None else by_index
        done = [i for i in sorted(by_index) if by_index[i] == "success" and i < count]
        if len(done) == len(values):
            for index, value in zip(done, values, strict=True):
                out[index] = xcom_value(value)
            return out
    return [one(ti, arg, key, i) if i in set(expected) else None for i in range(count)]  # each on its own


def read(ti, arg: Any, count: int | None = None) -> Any:
    """What a task or XComArg left (a list by map index for a mapped one); a plain value as it is."""
    if not is_task(arg):
        return arg
    return mapped(ti, arg, count) if is_mapped(arg) else one(ti, arg)

