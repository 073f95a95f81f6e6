"""The nightly's graph where the scheduler, not a task, decides: at `api` level no verify task starts, and the
closing steps still wait for every test restore."""

from __future__ import annotations

from tests.unit.dags.test_params import DAG_MAP

NIGHTLY = DAG_MAP["oci_nightly_backup"]


def test_the_verify_tasks_hang_on_the_once_per_run_gate():
    for group in ("protect_volume", "protect_group"):
        assert "verify_on_worker" in NIGHTLY.get_task(f"{group}.verify_restore").upstream_task_ids


def test_teardown_and_retention_wait_for_each_test_restore_itself():
    """The gate skips the verify tasks at once at `api` level: were the restores reached only through them, the
    teardown would delete restores still being made."""
    for closing in ("delete_test_restores", "prune_backups"):
        upstream = NIGHTLY.get_task(closing).upstream_task_ids
        assert {"protect_volume.restore_for_test", "protect_group.restore_for_test"} <= upstream, upstream
