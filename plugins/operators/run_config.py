"""A DAG run's configuration as one task, so every DAG resolves it the same way and later tasks take it as
XComArgs (`config.output["compartment_ids"]`). The order is common/config.py's `layered`."""

from __future__ import annotations

from collections.abc import Callable

from common.config import layered, parse_variable
from common.errors import OciInputError
from notify.config import check_notify

from operators.base import OciBaseOperator, oci_template_fields


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


class OciRunConfigOperator(OciBaseOperator):
    """The run's configuration in the documented order: the DAG's Params defaults, then the Variable named after
    the DAG (JSON, the same keys as the Params), then the trigger conf; a key no Param has is refused, naming it.
    No OCI call (the hook is never made).

    :param check: optional function that takes the resolved configuration and returns it checked (raising
        OciInputError naming the field), e.g. `workflows.nightly.validate`.

    XCom: the configuration dict, and each of its keys under its own key."""

    multiple_outputs = True  # each key of the XCom on its own (`task.output["compartment_ids"]`)
    template_fields = oci_template_fields()
    ui_color = "#f0e4d0"
    ui_fgcolor = "#000000"

    def __init__(self, *, check: Callable[[dict], dict] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.check = check

    def validate_inputs(self) -> None:
        if self.check is not None and not callable(self.check):
            raise OciInputError(f"check {self.check!r}: a function (configuration) -> configuration, or None")

    def execute(self, context) -> dict:
        self.validate()
        config = run_config(context)
        if self.check is not None:
            config = self.check(config)
        self.log.info("run configuration (Params defaults < Variable %r < trigger conf): %s", self.dag_id, config)
        return config
