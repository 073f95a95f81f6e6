"""A report reads a mapped task's values by map index from the task itself (operators/task_values.py): in one
query when every index that may have left a value did, in two when some did not, never one per index for a
return value; None where an index left nothing."""

from __future__ import annotations

from types import SimpleNamespace

from operators.task_values import mapped, one, read, task_id_of


class Ti:
    """A task instance's XCom and state reads over a table {(task_id, map_index, key): value}, counting queries."""

    dag_id, run_id = "d", "r"

    def __init__(self, table: dict, states: dict | None = None):
        self.table, self.states, self.queries = table, states or {}, 0

    def xcom_pull(self, task_ids, key="return_value", map_indexes=None):
        self.queries += 1
        if isinstance(task_ids, list):  # every map index, in map index order
            return [v for (t, _, k), v in sorted(self.table.items(), key=lambda kv: kv[0][1])
                    if t == task_ids[0] and k == key] or [None]
        return self.table.get((task_ids, -1 if map_indexes is None else map_indexes, key))

    def get_task_states(self, dag_id, run_ids, task_ids):
        self.queries += 1
        return {self.run_id: {f"{task_ids[0]}_{i}": s for i, s in self.states.items()}}


def task(task_id: str, is_mapped: bool = True):
    return SimpleNamespace(task_id=task_id, is_mapped=is_mapped, get_closest_mapped_task_group=lambda: None)


def test_every_index_present_is_one_query():
    ti = Ti({("b", i, "return_value"): {"n": i} for i in range(1000)})
    assert mapped(ti, task("b"), 1000) == [{"n": i} for i in range(1000)] and ti.queries == 1


def test_a_missing_return_value_is_placed_by_the_states_in_two_queries():
    ti = Ti({("b", 0, "return_value"): "a", ("b", 2, "return_value"): "c"},
            {0: "success", 1: "failed", 2: "success"})
    assert mapped(ti, task("b"), 3) == ["a", None, "c"] and ti.queries == 2


def test_indexes_not_asked_for_leave_nothing_and_cost_nothing():
    ti = Ti({("v", 1, "verification"): {"passed": True}})
    assert mapped(ti, task("v"), 3, "verification", expected=[1]) == [None, {"passed": True}, None]
    assert ti.queries == 1
    assert mapped(Ti({}), task("v"), 3, "verification") == [None, None, None]


def test_another_key_with_one_missing_reads_each_index_asked_for():
    ti = Ti({("v", 0, "verification"): "x"})
    assert mapped(ti, task("v"), 2, "verification") == ["x", None]


def test_an_xcomarg_names_its_task_and_key_and_a_plain_value_reads_as_itself():
    gate = task("approve", is_mapped=False)
    arg = SimpleNamespace(operator=gate, key="decision")
    ti = Ti({("approve", -1, "decision"): '{"approved": true}'})  # pushed by a trigger: JSON text
    assert task_id_of(arg) == "approve" and one(ti, arg) == {"approved": True}
    assert read(ti, arg) == {"approved": True} and read(ti, {"plain": 1}) == {"plain": 1}
    assert one(Ti({}), gate) is None


def test_the_nightly_report_names_a_failed_closing_step_by_the_task_it_was_handed():
    from operators.report import OciBackupReportOperator

    class StepsTi(Ti):
        def get_task_states(self, dag_id, run_ids, task_ids):
            self.queries += 1
            return {self.run_id: {"delete_test_restores": "failed", "prune_backups": "success",
                                  "copy_to_dr_region_1": "failed", "copy_to_dr_region_0": "success"}}

    plan = [{"volume_id": "v0", "dr_region": "r2"}, {"volume_id": "v1", "dr_region": "r3"}]
    report = OciBackupReportOperator(
        task_id="report", plan=plan, volume_tasks={}, copies=task("copy_to_dr_region"),
        teardown=task("delete_test_restores", False), prune=task("prune_backups", False))
    ti = StepsTi({("delete_test_restores", -1, "teardown"): {"leftovers": [{"name": "t", "id": "i", "error": "500"}]}})
    assert report.failed_steps(ti) == [
        {"step": "copy_to_dr_region[1]", "state": "failed", "detail": "copy of the backup of v1 to r3"},
        {"step": "delete_test_restores", "state": "failed", "detail": "temporaries left: t (i): 500"}]
