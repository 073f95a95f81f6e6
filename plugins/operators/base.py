"""The bases of every OCI operator, generic over its hook (the amazon provider's pattern).

`OciBaseOperator` owns what all of them share: `oci_conn_id`, `region`, `enabled`, the retry token, the console
link, plan mode, and input validation before any API call. `execute` is the same for every operator (and every
OCI sensor: OciTaskMixin's): `validate()`, then the operator's own `execute_step(context)`; a subclass writes the
step, never `execute`.
`OciWaitingOperator` adds waiting (blocking or deferred on one trigger) and its arguments, for the operators
that wait; the others do not take them. Subclasses say only what is theirs: `validate_inputs`, `execute_step`
(with `wait_or_defer` where they wait), and `finish`. `compartment_id` is not shared: only the operators that
make or list resources in a compartment take it (an explicit argument, in their template fields); the base
validates it where it is set, and any other operator refuses it as an unknown argument, as Airflow does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import cached_property
from typing import Any, ClassVar, Generic, TypeVar

from airflow.sdk import BaseOperator, conf
from common.errors import OciInputError, OciWaitError
from common.ids import console_url, validate_ocid, validate_region
from common.tags import MANAGED_TAG, MANAGED_VALUE
from common.xcom import xcom_value
from forms.params import flag
from hooks.base import OciBaseHook
from hooks.oci import OciHook
from hooks.retries import next_token, retry_token
from hooks.waiting import Poll, WaitSpec
from links.oci import OciConsoleLink

HookT = TypeVar("HookT", bound=OciBaseHook)

DEFER_MARGIN_SECONDS = 60  # Airflow's deferral deadline beyond the trigger's own `timeout`
BASE_TEMPLATE_FIELDS = ("oci_conn_id", "region", "enabled")


def oci_template_fields(*fields: str) -> tuple[str, ...]:
    return (*BASE_TEMPLATE_FIELDS, *fields)


def renamed(new: str, value: Any, old: str, old_value: Any) -> Any:
    """The value of argument `new`, taken from its old name `old` (with a DeprecationWarning) when only that is
    given. The old name stays an explicit argument of `__init__` (listed in the class's `renamed_arguments`), so
    `partial()` and `expand()` accept it too and user DAGs keep working."""
    if old_value is None:
        return value
    import warnings

    warnings.warn(f"{old}: renamed {new}", DeprecationWarning, stacklevel=3)
    if value is not None:
        raise TypeError(f"{new}, {old}: give one ({old} is the old name of {new})")
    return old_value


class OciTaskMixin:
    """What OCI operators, OCI sensors and the approval gates share: the one `execute` (`validate()`, then the
    class's `execute_step`), the hook (built once, after templating), the console link, and the one deferral:
    defer on OciWaitTrigger, resume in `execute_complete`, raise with OCI's text on an error event, else
    `finish`. The class using it provides `oci_conn_id`, `region`, `validate` and Airflow's `defer`."""

    # the hook of the operator's OCI service (hooks/compute.py, block_storage.py, ...); OciHook, all of them, for
    # an operator whose work spans services
    hook_class: ClassVar[type[OciBaseHook]] = OciHook
    # "module.function" that turns the waited-for resource (a dict), the partial result and OCI's time of the
    # look into the task's XCom: the trigger then ends the task itself and no process starts to resume it
    # (OCI_TRIGGER_END_TASK=0 where triggers run inline, as in dag.test()).
    end_task: ClassVar[str | None] = None
    # Old argument names still taken (each with a DeprecationWarning): {old: new}. See `renamed`.
    renamed_arguments: ClassVar[dict[str, str]] = {}
    # Arguments `validate_inputs` requires though their signature defaults to None (so that their old name, in
    # `renamed_arguments`, may give them instead): docs/operators.md's table shows them as required.
    required_arguments: ClassVar[tuple[str, ...]] = ()
    oci_conn_id: str
    region: str | None

    @cached_property
    def hook(self) -> OciBaseHook:
        return self.hook_class(self.oci_conn_id, region=self.region)

    def execute(self, context) -> Any:
        """Airflow's entry point, the same for every OCI task: `validate()` (the arguments after templating,
        before any call to OCI; it may skip the task), then the task's own `execute_step`. A deferred task
        resumes in `execute_complete` instead, without a second validation."""
        self.validate()
        return self.execute_step(context)

    def validate(self) -> None:
        """The checks before any call (each base says which: OciBaseOperator, _OciSensor, OciApprovalOperator)."""

    def execute_step(self, context) -> Any:
        """What the task does once its arguments are checked: each operator's own."""
        raise NotImplementedError(f"{type(self).__name__}: implement execute_step(context)")

    def render_template(self, content: Any, context, jinja_env=None, seen_oids: set[int] | None = None) -> Any:
        """Airflow's, except that a value resolved from an XComArg that a trigger pushed when it ended its task
        (JSON text, see common/xcom.py) comes out as the task pushed it: `task.output` then gives the same value
        whether that task ended on a worker or in the triggerer."""
        rendered = super().render_template(content, context, jinja_env, seen_oids)  # type: ignore[misc]
        resolved = not isinstance(content, (str, os.PathLike)) and callable(getattr(content, "resolve", None))
        return xcom_value(rendered) if resolved else rendered

    def link(self, context, resource_id: str | None = None, kind: str | None = None, region: str | None = None,
             **parts: str) -> str:
        url = console_url(region or self.hook.region, resource_id, kind, **parts)
        OciConsoleLink.persist(context, url)
        return url

    def defer_wait(self, spec: WaitSpec, result: dict, *, interval: float, max_interval: float, timeout: float,
                   method_name: str = "execute_complete") -> None:
        """Hand the wait to the triggerer; the partial result rides in the trigger and comes back in the event."""
        from common import config
        from triggers.oci import OciWaitTrigger

        spec.region = spec.region or self.hook.region
        end_task = self.end_task if config.TRIGGER_END_TASK.value() else None
        # Airflow's own deadline for the deferral too, a minute after the trigger's: a trigger that never fires
        # (a lost triggerer) still ends the task
        self.defer(trigger=OciWaitTrigger(spec.to_dict(), self.oci_conn_id, interval, max_interval, timeout, result,
                                          end_task=end_task, multiple_outputs=bool(self.multiple_outputs)),
                   method_name=method_name,
                   timeout=timedelta(seconds=float(timeout) + DEFER_MARGIN_SECONDS))

    def execute_complete(self, context, event: dict[str, Any]) -> Any:
        """Resume after the trigger: the partial result travels inside the event (see OciWaitTrigger)."""
        if not event or event.get("status") != "success":
            raise OciWaitError((event or {}).get("message", "the trigger ended without an event"))
        return self.finish(context, event.get("result") or {})

    def finish(self, context, result: dict) -> Any:
        """After the wait: subclasses re-read what they need (sizes, final states) into the XCom dict."""
        return result


class OciBaseOperator(OciTaskMixin, BaseOperator, Generic[HookT]):
    """The arguments every OCI operator takes, documented here once (each operator documents only its own):
    where to work, and whether to run at all. An operator that waits takes more (OciWaitingOperator).

    :param oci_conn_id: the Airflow connection to OCI (type ``oci``) (templated)
    :param region: the OCI region to work in, such as ``us-ashburn-1``; None: the connection's (templated)
    :param enabled: per mapped item on or off: a falsy value skips the task (for example an empty DR region)
        (templated)
    """

    template_fields: Sequence[str] = BASE_TEMPLATE_FIELDS
    operator_extra_links = (OciConsoleLink(),)
    ui_color = "#f80000"
    ui_fgcolor = "#ffffff"

    # The OCI operation of the operator's first mutating call (None: it only reads). In a plan run (`plan_only`,
    # common/plan.py) the operator records it with `plan_detail()` and skips instead of making it.
    plan_operation: ClassVar[str | None] = None

    # Set by the operators that take a `compartment_id` argument (where to make or list, default the source's);
    # validated here once for all of them.
    compartment_id: str | None = None

    def __init__(self, *, oci_conn_id: str = OciBaseHook.default_conn_name, region: str | None = None,
                 enabled=True, **kwargs):
        # subclasses whose XCom dict is read key by key (`task.output["backup_id"]`) set the class attribute
        kwargs.setdefault("multiple_outputs", type(self).multiple_outputs)
        super().__init__(**kwargs)
        # Per mapped item on/off (e.g. "this volume's policy has no DR region"): a falsy value skips the task.
        self.enabled = enabled
        self.oci_conn_id = oci_conn_id
        self.region = region
        self._made: list[tuple[str, str | None]] = []  # (id, region) this try created, for on_kill

    hook: HookT  # OciTaskMixin.hook, typed by the subclass's hook_class

    # -- validation ------------------------------------------------------------------------------------
    def validate_common(self) -> None:
        if self.region is not None:
            validate_region(self.region)
        if self.compartment_id is not None:
            validate_ocid(self.compartment_id, "compartment_id")

    def validate_inputs(self) -> None:
        """Subclasses check their own fields here; called after templating, before any API call."""

    def validate(self) -> None:
        """Run by `execute` before the step: skip a task whose `enabled` is falsy, check the shared arguments
        (`validate_common`) and the operator's own (`validate_inputs`), and in a plan run record the first
        mutating call and skip (common/plan.py)."""
        if not self.enabled:
            from airflow.sdk.exceptions import AirflowSkipException

            raise AirflowSkipException(f"{self.task_id}: not enabled for this item ({self.enabled!r})")
        self.validate_common()
        self.validate_inputs()
        if self.plan_operation:
            from common import plan

            context = plan.current_context()
            if plan.plan_run(context):
                self.plan_instead(context)

    # -- plan mode -------------------------------------------------------------------------------------
    def plan_detail(self) -> str:
        """What the mutating call would act on, for a plan run's note: the operator's own templated fields that
        are set (subclasses say it better where a field alone does not)."""
        from common.plan import describe

        own = [f for f in self.template_fields if f not in BASE_TEMPLATE_FIELDS]
        return describe({f: getattr(self, f, None) for f in own})

    def plan_instead(self, context) -> None:
        """A plan run: record the call and skip (common/plan.py). Retention overrides it with a dry run."""
        from common.plan import record_and_skip

        record_and_skip(context, self.plan_operation or "", self.plan_detail())

    # -- identity, tags and links ----------------------------------------------------------------------
    def retry_token(self, context, purpose: str = "", request: Any = None) -> str:
        """The task instance's token (see hooks.retries.retry_token); the hook folds each create's body into it."""
        ti = context["ti"]
        return retry_token(ti.dag_id, ti.run_id, ti.task_id, getattr(ti, "map_index", -1), purpose, request)

    def create_unless_failed(self, token: str, create: Callable[[str], Any], region: str | None = None,
                             attempts: int = 5) -> Any:
        """`create(token)`, unless what it answers is an earlier try's work request that FAILED (the token
        adopted it): then again with the next token, so a task retry makes a new attempt instead of replaying
        the failure. Returns the SDK response."""
        for _ in range(attempts):
            response = create(token)
            failed = self.hook.failed_work_request(response, region or self.region)
            if not failed:
                return response
            self.log.warning("an earlier try's work request %s FAILED; requesting again with a new retry token",
                             failed)
            token = next_token(token, failed)
        raise OciWaitError(f"{attempts} work requests in a row FAILED; not trying again")

    def managed_tags(self, context, extra: dict | None = None) -> dict[str, str]:
        """Freeform tags that name the managing DAG and run: how retention and cleanup know what is ours."""
        ti = context["ti"]
        return {**(extra or {}), MANAGED_TAG: MANAGED_VALUE, "airflow-dag": ti.dag_id,
                "airflow-run": ti.run_id[:250], "airflow-task": ti.task_id}

    def what_follows(self, context) -> str:
        """What comes after this try fails, for error texts that must not promise a try that will not come."""
        ti = context["ti"]
        max_tries = getattr(ti, "max_tries", None)  # Airflow's: the retries, so max_tries + 1 tries in all
        tries = int(max_tries if max_tries is not None else self.retries or 0) + 1
        if ti.try_number < tries:
            return f"Airflow tries this task again (try {ti.try_number + 1} of {tries})"
        return f"this was the last try ({ti.try_number} of {tries}): no try of this task follows"

    # -- cleanup ---------------------------------------------------------------------------------------
    def remember(self, resource_id: str, region: str | None = None) -> None:
        self._made.append((resource_id, region or self.region))

    def on_kill(self) -> None:
        """Remove what this try made: a killed task must not leave half-made resources behind."""
        for resource_id, region in reversed(self._made):
            try:
                self.hook.delete_resource(resource_id, region)
                self.log.info("on_kill: deleted %s", resource_id)
            except Exception as exc:  # best effort: report and continue with the rest
                self.log.warning("on_kill: could not delete %s: %s", resource_id, exc)


class OciWaitingOperator(OciBaseOperator[HookT]):
    """An operator that waits for what it asked OCI to do: blocking on a worker, or deferred to the triggerer
    (OciWaitTrigger), with one backoff. The wait arguments are documented here once.

    :param wait_for_completion: wait until the resource reaches its final state (True, the default), or end the task
        as soon as OCI accepted the request
    :param deferrable: wait in the triggerer (OciWaitTrigger) rather than on a worker; default: Airflow's
        ``[operators] default_deferrable``
    :param poll_interval: seconds before the first look at OCI; later looks back off up to ``max_interval``
    :param max_interval: the longest pause between two looks, in seconds
    :param timeout: seconds a wait may take before the task fails (a deferral's own deadline is a minute later)
    :param max_wait: deprecated: the old name of ``timeout``
    """

    renamed_arguments: ClassVar[dict[str, str]] = {"max_wait": "timeout"}

    def __init__(self, *, wait_for_completion: bool = True,
                 deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
                 poll_interval: float = 10.0, max_interval: float = 60.0, timeout: float = 3600.0,
                 max_wait: float | None = None, **kwargs):
        # max_wait: the name before `timeout` (a sensor's max_wait is another thing), still taken
        if max_wait is not None:
            timeout = renamed("timeout", None, "max_wait", max_wait)
        super().__init__(**kwargs)
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.max_interval = max_interval
        self.timeout = timeout

    def validate_common(self) -> None:
        super().validate_common()
        self.wait_for_completion = flag(self.wait_for_completion, "wait_for_completion")
        self.deferrable = flag(self.deferrable, "deferrable")
        if self.poll_interval <= 0 or self.timeout <= 0:
            raise OciInputError("poll_interval and timeout: must be greater than 0")

    def poll(self) -> Poll:
        return Poll(self.poll_interval, self.max_interval, self.timeout)

    def wait_or_defer(self, context, spec: WaitSpec, result: dict, method_name: str = "execute_complete") -> Any:
        """Wait (blocking or deferred, by `deferrable`) for `spec`; then `finish(context, result)`."""
        if not self.wait_for_completion:
            return result
        spec.region = spec.region or self.hook.region
        if self.deferrable:
            self.defer_wait(spec, result, interval=self.poll_interval, max_interval=self.max_interval,
                            timeout=self.timeout, method_name=method_name)
        self.hook.wait(spec, self.poll())
        return self.finish(context, result)


def wait_settings(deferrable: bool = True) -> dict:
    """How DAG tasks wait on OCI: `OCI_POLL_INTERVAL` (first poll, seconds, default 10) backing off to
    `OCI_POLL_MAX_INTERVAL` (default 60). Read when a DAG file is parsed (an environment lookup, no I/O).
    Restore times (RTO) are read on OCI's clock (the volume's `time_created` to the Date of the first poll that
    saw it AVAILABLE), so they are bounded by the poll interval in force at that moment, not by task resumes;
    many waits of one kind share a list call per `OCI_POLL_INTERVAL` (triggers/oci.py), which keeps that bound
    at the first interval."""
    from common import config

    return {"poll_interval": config.POLL_INTERVAL.value(), "max_interval": config.POLL_MAX_INTERVAL.value(),
            "deferrable": deferrable}
