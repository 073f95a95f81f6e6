"""A DAG run's configuration as one task, so every DAG resolves it the same way and later tasks take it as
XComArgs (`config["compartment_ids"]`). The order is common/config.py's `layered`. The task makes no OCI call
and needs no hook, so it is a plain function run with `@task`, not an operator."""

from __future__ import annotations

import logging
from collections.abc import Callable

from common.config import layered, parse_variable
from common.errors import OciInputError
from notify.config import check_notify

log = logging.getLogger(__name__)


def run_config(context) -> dict:
    """A running task's DAG run configuration in the documented order: its DAG's Params defaults, the Variable
    named after the DAG, the trigger conf. (Airflow checked the conf against the Params' schemas when the run
    was created; the operators check every value they take before their first call.)"""
    from airflow.sdk import Variable

    dag = context["dag"]
    variable = parse_variable(dag.dag_id, Variable.get(dag.dag_id, default=None))
    conf = dict(getattr(context.get("dag_run"), "conf", None) or {})
    config = layered(dag.params.dump(), variable, conf, dag_id=dag.dag_id)
    check_notify(config)  # a bad address or connection is refused here, by name, before any OCI call
    return config


def config_task(check: Callable[[dict], dict] | None = None) -> Callable[[], dict]:
    """The function of a DAG's configuration task, for
    `task(config_task(check), task_id="resolve_config", multiple_outputs=True)()`: the run's configuration in the
    documented order (the DAG's Params defaults, then the Variable named after the DAG, JSON with the same keys
    as the Params, then the trigger conf; a key no Param has is refused, naming it), checked by `check` when
    given: a function that takes the configuration and returns it checked, raising OciInputError naming the
    field (e.g. `workflows.nightly.validate`). XCom: the configuration dict, and each of its keys under its own
    key. `check` is bound here, not passed as a task argument: a function is no value to template or
    serialize."""
    if check is not None and not callable(check):
        raise OciInputError(f"check {check!r}: a function (configuration) -> configuration, or None")

    def resolve_config() -> dict:
        from airflow.sdk import get_current_context

        context = get_current_context()
        config = run_config(context)
        if check is not None:
            config = check(config)
        log.info("run configuration (Params defaults < Variable %r < trigger conf): %s", context["dag"].dag_id,
                 config)
        return config

    return resolve_config
