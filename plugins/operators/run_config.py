"""A DAG run's configuration as one task, so every DAG resolves it the same way and later tasks take it as
XComArgs (`config.output["compartment_ids"]`). The order and the rules are common/config.py's."""

from __future__ import annotations

from collections.abc import Callable

from common.errors import OciInputError

from operators.base import OciBaseOperator, oci_template_fields


class OciRunConfigOperator(OciBaseOperator):
    """The run's configuration in the documented order: the DAG's Params defaults, then the Variable named after
    the DAG (JSON, the same keys as the Params), then the trigger conf; a key no Param has is refused, naming it.
    No OCI call (the hook is never made).

    :param check: optional function that takes the resolved configuration and returns it checked (raising
        OciInputError naming the field), e.g. `common.config.check_nightly`.

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
        from common.config import run_config

        self.validate()
        config = run_config(context)
        if self.check is not None:
            config = self.check(config)
        self.log.info("run configuration (Params defaults < Variable %r < trigger conf): %s", self.dag_id, config)
        return config
