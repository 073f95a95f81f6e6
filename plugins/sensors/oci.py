"""Sensors: a work request, and any resource's lifecycle state. Both poke, reschedule or defer.

Every look goes through the hook's `poll_once` and every deferral through the one trigger (OciWaitTrigger, via
OciTaskMixin), so a sensor and an operator waiting on the same thing decide alike: the same failure states, the
same OCI error text (a FAILED work request reports its errors), the same 404 handling.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue, conf
from common.errors import OciInputError, OciWaitError
from common.ids import ocid_kind, validate_ocid, validate_region
from forms.params import flag
from hooks.base import RESOURCE_API, OciBaseHook
from hooks.waiting import PollResult, WaitSpec
from links.oci import OciConsoleLink
from operators.base import OciTaskMixin

STATE_RE_HINT = "upper-case OCI lifecycle state names such as AVAILABLE"


def _states(value: Any, field_name: str, required: bool) -> list[str]:
    """A list of lifecycle state names; one name may be given as a string."""
    states = [value] if isinstance(value, str) else value
    if states is None and not required:
        return []
    if not isinstance(states, list | tuple) or (required and not states) \
            or not all(isinstance(s, str) and s and s == s.upper() and s.replace("_", "").isalnum() for s in states):
        raise OciInputError(f"{field_name} {value!r}: {'a non-empty list of ' if required else 'a list of '}"
                            f"{STATE_RE_HINT}")
    return list(states)


class _OciSensor(OciTaskMixin, BaseSensorOperator):
    """Poke with `hook.poll_once`; with `deferrable=True` look once, then defer on OciWaitTrigger (backoff from
    `poll_interval` (or Airflow's `poke_interval`) up to `max_interval`, deadline `timeout`). A failure state
    raises OciWaitError with OCI's text in every mode. Inputs are checked by `validate_inputs`, as on operators.

    :param oci_conn_id: the Airflow connection to OCI (type ``oci``) (templated)
    :param region: the OCI region to work in, such as ``us-ashburn-1``; None: the connection's (templated)
    :param deferrable: after one look, wait in the triggerer (OciWaitTrigger) rather than poke; default: Airflow's
        ``[operators] default_deferrable``
    :param max_interval: deferred: the longest pause between two looks, in seconds
    :param poll_interval: seconds between pokes (Airflow's ``poke_interval``, still taken); deferred, the first
        pause of the backoff
    """

    hook_class = OciBaseHook  # a look at a resource or a work request: the base's poll_once
    template_fields: Sequence[str] = ("oci_conn_id", "region")
    operator_extra_links = (OciConsoleLink(),)
    ui_color = "#f80000"
    ui_fgcolor = "#ffffff"

    def __init__(self, *, oci_conn_id: str = OciBaseHook.default_conn_name, region: str | None = None,
                 deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
                 max_interval: float = 60.0, poll_interval: float | None = None, **kwargs):
        if poll_interval is not None:  # the operators' name; Airflow's poke_interval is still taken
            kwargs["poke_interval"] = poll_interval
        super().__init__(**kwargs)
        self.oci_conn_id = oci_conn_id
        self.region = region
        self.deferrable = deferrable
        self.max_interval = max_interval

    def validate(self) -> None:
        """Run by `execute` before the step, as on the operators: the shared fields (`validate_common`), then the
        sensor's own (`validate_inputs`)."""
        self.validate_common()
        self.validate_inputs()

    def validate_common(self) -> None:
        if self.region is not None:
            validate_region(self.region)
        self.deferrable = flag(self.deferrable, "deferrable")
        if self.max_interval <= 0:
            raise OciInputError(f"max_interval {self.max_interval!r}: must be greater than 0")

    def validate_inputs(self) -> None:
        """Subclasses check their own fields here, before any API call."""

    def wait_spec(self) -> WaitSpec:
        raise NotImplementedError

    def xcom_value(self, polled: PollResult) -> dict:
        raise NotImplementedError

    def link_resource(self, context) -> None:
        """Persist the console link of what is watched."""

    def poke(self, context) -> PokeReturnValue:
        polled = self.hook.poll_once(self.wait_spec())
        self.log.info("%s: %s%s", self._watched, polled.state,
                      f" ({polled.percent:.0f}%)" if polled.percent is not None else "")
        if polled.error:
            raise OciWaitError(polled.error)
        return PokeReturnValue(polled.done, self.xcom_value(polled) if polled.done else None)

    def execute_step(self, context) -> Any:
        self.link_resource(context)
        if not self.deferrable:
            # Airflow's poke loop: named, since OciTaskMixin.execute (validate, then this step) comes first
            return BaseSensorOperator.execute(self, context)
        first = self.poke(context)
        if first:
            return first.xcom_value
        spec = self.wait_spec()
        self.defer_wait(spec, {}, interval=max(self.poke_interval, 0.1), max_interval=self.max_interval,
                        timeout=self.timeout)
        return None

    def finish(self, context, result: dict) -> dict:
        """After the trigger's success event: one more look, for the XCom (the same shape in every mode)."""
        polled = self.hook.poll_once(self.wait_spec())
        if polled.error:
            raise OciWaitError(polled.error)
        return self.xcom_value(polled)

    @property
    def _watched(self) -> str:
        spec = self.wait_spec()
        return f"{spec.getter} {spec.resource_id}"


class OciWorkRequestSensor(_OciSensor):
    """Wait for a work request to SUCCEED; FAILED or CANCELED fails the task with the work request's errors.

    XCom: work_request_id, operation_type, status, percent_complete, resources ([{entity_type, action_type,
    identifier}]), region.

    :param work_request_id: the work request to wait for (templated)
    """

    template_fields = (*_OciSensor.template_fields, "work_request_id")

    def __init__(self, *, work_request_id: str, **kwargs):
        super().__init__(**kwargs)
        self.work_request_id = work_request_id

    def validate_inputs(self) -> None:
        validate_ocid(self.work_request_id, "work_request_id")

    def wait_spec(self) -> WaitSpec:
        return WaitSpec.work_request(self.work_request_id, self.region or self.hook.region)

    def link_resource(self, context) -> None:
        self.link(context, self.work_request_id, kind="workrequest")

    def xcom_value(self, polled: PollResult) -> dict:
        data = polled.data
        return {"work_request_id": self.work_request_id, "operation_type": data.get("operation_type"),
                "status": data.get("status"), "percent_complete": data.get("percent_complete"),
                "resources": [{k: r.get(k) for k in ("entity_type", "action_type", "identifier")}
                              for r in data.get("resources") or []],
                "region": self.region or self.hook.region}


class OciLifecycleStateSensor(_OciSensor):
    """Wait for any resource the hook knows (volumes, backups, images, instances, attachments...) to reach one of
    `target_states`; one of `failure_states` fails the task (default: the terminal states that cannot lead to
    the targets). Waiting for a deletion state (TERMINATED, DELETED, DETACHED) also ends well on a 404.

    XCom: resource_id, kind, lifecycle_state, display_name, region.

    :param resource_id: the resource to watch, of any kind the hook knows (volume, backup, image, instance,
        attachment...) (templated)
    :param target_states: the lifecycle states that end the wait: a list, or one name (templated)
    :param failure_states: the states that fail the task; None: the terminal states that cannot lead to a target
        (templated)
    """

    template_fields = (*_OciSensor.template_fields, "resource_id", "target_states", "failure_states")

    def __init__(self, *, resource_id: str, target_states: Sequence[str] | str,
                 failure_states: Sequence[str] | str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.resource_id = resource_id
        self.target_states = target_states
        self.failure_states = failure_states

    def validate_inputs(self) -> None:
        validate_ocid(self.resource_id, "resource_id")
        if ocid_kind(self.resource_id) not in RESOURCE_API:
            raise OciInputError(f"resource_id {self.resource_id!r}: type '{ocid_kind(self.resource_id)}' is not "
                                f"one of {sorted(RESOURCE_API)}")
        targets = _states(self.target_states, "target_states", required=True)
        failures = _states(self.failure_states, "failure_states", required=False)
        overlap = sorted(set(targets) & set(failures))
        if overlap:
            raise OciInputError(f"failure_states {self.failure_states!r}: {overlap} also in target_states")

    def wait_spec(self) -> WaitSpec:
        failures = None if self.failure_states is None else _states(self.failure_states, "failure_states", False)
        return self.hook.lifecycle_spec(self.resource_id, _states(self.target_states, "target_states", True),
                                        failures, self.region or self.hook.region)

    def link_resource(self, context) -> None:
        if ocid_kind(self.resource_id) not in ("volumeattachment",):  # its console page needs the instance
            self.link(context, self.resource_id)

    def xcom_value(self, polled: PollResult) -> dict:
        return {"resource_id": self.resource_id, "kind": ocid_kind(self.resource_id),
                "lifecycle_state": polled.state, "display_name": polled.data.get("display_name"),
                "region": self.region or self.hook.region}
