"""Run Command: run a script on an instance through the Oracle Cloud Agent and report its exit code and output.

`OciHook.run_command` (hooks/compute.py) is the one way to do it; other operators (the golden image's iscsid
cleanup, restore verification) call it with their own hook and poll. The operator adds Airflow's side: the log,
XCom, failing on a non-zero exit or a timeout, deferring while the script runs.
"""

from __future__ import annotations

from airflow.exceptions import AirflowException
from common.errors import OciInputError
from common.ids import validate_ocid
from forms.params import flag
from hooks.compute import OciComputeHook, command_failure, command_spec

from operators.base import OciWaitingOperator, oci_template_fields

XCOM_OUTPUT_LIMIT = 64 * 1024  # characters of output kept in XCom (the end of it)
MAX_TIMEOUT_SECONDS = 86_400
WAIT_MARGIN_SECONDS = 120  # beyond the script's own timeout: delivery to the agent and the final report


class OciCommandError(AirflowException):
    """A script that ran and failed (non-zero exit), timed out or was canceled."""


class OciRunCommandOperator(OciWaitingOperator):
    """Run a script on an instance through the instance agent; log its exit code and output; fail on a
    non-zero exit (unless `fail_on_nonzero=False`), a timeout or a cancel. Deferrable: the trigger waits for
    the execution, `finish` fetches the output.

    XCom: command_id, instance_id, state, exit_code, output (the last 64 KiB), output_truncated, output_chars,
    message, region. On failure the same dict is pushed under key `command_result` before the task fails.

    :param instance_id: the instance to run the script on (its Run Command plugin must be enabled) (templated)
    :param script: the shell script to run (templated)
    :param script_timeout: seconds the script may run on the instance before OCI stops it (templated)
    :param fail_on_nonzero: fail the task when the script exits non-zero (a timeout or a cancel always fails it)
    :param display_name: the command's display name; None: ``<dag_id>.<task_id>``
    :param compartment_id: the compartment to create the command in; None: the instance's (templated)
    """

    hook_class = OciComputeHook
    plan_operation = "CreateInstanceAgentCommand"
    template_fields = oci_template_fields("instance_id", "script", "script_timeout", "compartment_id")
    template_fields_renderers = {"script": "bash"}

    def __init__(self, *, instance_id: str, script: str, script_timeout: int = 600, fail_on_nonzero: bool = True,
                 display_name: str | None = None, compartment_id: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.compartment_id = compartment_id
        self.instance_id = instance_id
        self.script = script
        self.script_timeout = script_timeout
        self.fail_on_nonzero = fail_on_nonzero
        self.display_name = display_name
        self._command: tuple[str, str] | None = None

    def validate_inputs(self) -> None:
        validate_ocid(self.instance_id, "instance_id", "instance")
        self.fail_on_nonzero = flag(self.fail_on_nonzero, "fail_on_nonzero")
        if not isinstance(self.script, str) or not self.script.strip():
            raise OciInputError("script: a non-empty script text")
        timeout = self.script_timeout
        if isinstance(timeout, str) and timeout.isdigit():  # rendered from a template
            self.script_timeout = timeout = int(timeout)
        if not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= MAX_TIMEOUT_SECONDS:
            raise OciInputError(f"script_timeout {timeout!r}: a whole number of seconds from 1 to "
                                f"{MAX_TIMEOUT_SECONDS}")

    def execute_step(self, context) -> dict:
        ti = context["ti"]
        # A task retry runs the script again (a new command); retries of one API call within a try reuse it.
        token = self.retry_token(context, f"run-command-try-{ti.try_number}")
        self.timeout = max(self.timeout, self.script_timeout + WAIT_MARGIN_SECONDS)
        command_id = self.hook.create_command(self.instance_id, self.compartment_id, self.script,
                                    self.script_timeout, self.region, token,
                                    self.display_name or f"{ti.dag_id}.{ti.task_id}"[:255])
        self._command = (command_id, self.hook.region)
        self.link(context, command_id, instance_id=self.instance_id)
        self.log.info("Run Command %s on %s accepted (timeout %ss)", command_id, self.instance_id,
                      self.script_timeout)
        result = {"command_id": command_id, "instance_id": self.instance_id, "region": self.hook.region}
        return self.wait_or_defer(context, command_spec(command_id, self.instance_id, self.hook.region), result)

    def finish(self, context, result: dict) -> dict:
        self._command = None
        found = self.hook.command_result(result["command_id"], self.instance_id, self.region)
        output = found["output"]
        self.log.info("Run Command %s on %s: %s, exit code %s%s\n----- output -----\n%s----- end of output -----",
                      found["command_id"], self.instance_id, found["state"], found["exit_code"],
                      f" ({found['message']})" if found["message"] else "", output)
        xcom = {**found, "output": output[-XCOM_OUTPUT_LIMIT:], "output_truncated": len(output) > XCOM_OUTPUT_LIMIT,
                "output_chars": len(output), "region": result["region"]}
        failure = command_failure(found)
        if failure and (self.fail_on_nonzero or found["state"] in ("TIMED_OUT", "CANCELED")):
            context["ti"].xcom_push(key="command_result", value=xcom)
            raise OciCommandError(failure)
        return xcom

    def on_kill(self) -> None:
        """Cancel the command this try started (OCI stops a running script best effort)."""
        if self._command:
            command_id, region = self._command
            try:
                self.hook.get_client("instance_agent", region).cancel_instance_agent_command(command_id)
                self.log.info("on_kill: canceled Run Command %s", command_id)
            except Exception as exc:
                self.log.warning("on_kill: could not cancel Run Command %s: %s", command_id, exc)
