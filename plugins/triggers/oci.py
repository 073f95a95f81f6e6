"""The one deferrable trigger: polls any OCI resource or work request described by a WaitSpec.

Every deferrable operator and sensor uses it. The SDK is synchronous, so each poll runs in a thread; the
backoff, deadline and failure rules are the hook's (`OciBaseHook.poll_once`, `Poll`), the same as the blocking path.

At scale (a triggerer holding many waits on one kind of resource in one compartment, as the nightly backup's
mapped tasks make), the waits share one paginated list call per interval instead of one get each with its own
backoff: the cost no longer grows with the number of waits, and an event arrives within one interval of the
resource being ready (see `Batch`). A wait alone polls on its own, as before.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TaskSuccessEvent, TriggerEvent
from common import config

# getter -> the list call of the same client that returns the same resources with their state
LISTERS = {"get_volume_backup": "list_volume_backups", "get_boot_volume_backup": "list_boot_volume_backups",
           "get_volume": "list_volumes", "get_boot_volume": "list_boot_volumes", "get_image": "list_images",
           "get_instance": "list_instances"}


class Batch:
    """Waits on resources of one kind in one compartment, answered by one list call per `interval`.

    Lives in the triggerer's event loop (only touched from it; the list call runs in a thread). A member waits
    on a future per resource: resolved with the state when the list shows a target state, or with None when
    the resource is missing from the list or in a failure state (the member then looks itself, so 404s and
    failure texts are the hook's)."""

    def __init__(self, key: tuple, hook, service: str, lister: str, compartment_id: str, interval: float):
        self.key, self.hook, self.service, self.lister = key, hook, service, lister
        self.compartment_id, self.interval = compartment_id, interval
        self.members = 0
        self.waiting: dict[str, list[tuple[asyncio.Future, list[str], list[str], str]]] = {}
        self.task: asyncio.Task | None = None

    async def until_changed(self, resource_id: str, targets: list[str], failures: list[str], field: str,
                            timeout: float) -> tuple[str, str | None, dict] | None:
        future = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(resource_id, []).append((future, targets, failures, field))
        loop = asyncio.get_running_loop()
        if self.task is None or self.task.done() or self.task.get_loop() is not loop:
            self.task = loop.create_task(self._run())
        try:
            return await asyncio.wait_for(future, max(0.0, timeout))
        except TimeoutError:
            return None
        finally:
            entries = [e for e in self.waiting.get(resource_id, []) if e[0] is not future]
            if entries:
                self.waiting[resource_id] = entries
            else:
                self.waiting.pop(resource_id, None)

    def _list(self) -> tuple[dict, str | None]:
        client = self.hook.get_client(self.service, self.key[1])
        responses = list(self.hook.pages(getattr(client, self.lister), compartment_id=self.compartment_id))
        return {item.id: item for r in responses for item in r.data}, responses[-1].headers.get("date")

    async def _run(self) -> None:
        import oci

        while self.waiting:
            await asyncio.sleep(self.interval)
            if not self.waiting:
                break
            try:
                items, observed = await asyncio.to_thread(self._list)
            except Exception:  # every member looks itself (and meets the error there)
                items, observed = {}, None
            for resource_id, entries in list(self.waiting.items()):
                item = items.get(resource_id)
                for future, targets, failures, field in entries:
                    if future.done():
                        continue
                    state = getattr(item, field, None) if item is not None else None
                    if item is None or state in failures:
                        future.set_result(None)
                    elif state in targets:
                        future.set_result((state, observed, oci.util.to_dict(item)))


_BATCHES: dict[tuple, Batch] = {}


class TaskEndedByTrigger(TaskSuccessEvent):
    """Ends the task with its XCom; logged like the events that resume one (status, resource, state)."""

    def __init__(self, resource_id: str = "", state: str = "", **kwargs):
        super().__init__(**kwargs)
        self._summary = {"status": "success", "resource_id": resource_id, "state": state, "ended_by_trigger": True}

    def __repr__(self) -> str:
        return f"TriggerEvent<{getattr(self, '_summary', self.payload)!r}>"

    __str__ = __repr__


class OciWaitTrigger(BaseTrigger):
    """Wait for one OCI resource or work request to reach a target state, with the hook's backoff and failure
    rules; fire one event: success with the state, or an error with OCI's text (a failure state, an API
    error, the timeout). Many waits on one kind of resource share a list call (see `Batch`).

    :param spec: what to poll, a ``WaitSpec`` as a dict (``WaitSpec.to_dict()``): getter, resource, target and
        failure states, region
    :param oci_conn_id: the Airflow connection to OCI (type ``oci``)
    :param poll_interval: seconds before the first look; later looks back off up to ``max_interval``
    :param max_interval: the longest pause between two looks, in seconds
    :param timeout: seconds until the trigger gives up with an error event
    :param result: the task's partial XCom; it comes back in the event, so resuming needs nothing else
    :param end_task: the name in ``triggers.results.RESULTS`` of the pure function building the task's XCom from the
        resource (the one the operator's ``finish`` uses too): on success the trigger ends the task itself instead
        of resuming it on a worker (not when that XCom carries a failed check: the task resumes to fail)
    :param multiple_outputs: with ``end_task``, also push each key of that XCom on its own, as a worker does for an
        operator with ``multiple_outputs`` (so ``task.output["backup_id"]`` reads the same either way)
    """

    def __init__(self, spec: dict, oci_conn_id: str = "oci_default", poll_interval: float = 5.0,
                 max_interval: float = 60.0, timeout: float = 3600.0, result: dict | None = None,
                 end_task: str | None = None, multiple_outputs: bool = False):
        super().__init__()
        # the name of the pure function (triggers/results.py) building the task's XCom from the resource: on success
        # the trigger ends the task (TaskSuccessEvent) instead of resuming it on a worker; an error (or a failed
        # check) still resumes it, to fail with the text.
        self.end_task = end_task
        # ... pushing each key of that XCom too, as a worker does for an operator with `multiple_outputs`
        self.multiple_outputs = multiple_outputs
        # The task's partial XCom dict rides along and comes back in the event (error events too, so a failing
        # task can undo what it did before deferring): resuming needs nothing else.
        self.result = result or {}
        self.spec = spec
        self.oci_conn_id = oci_conn_id
        self.poll_interval = poll_interval
        self.max_interval = max_interval
        self.timeout = timeout

    def serialize(self) -> tuple[str, dict[str, Any]]:
        kwargs = {"spec": self.spec, "oci_conn_id": self.oci_conn_id, "poll_interval": self.poll_interval,
                  "max_interval": self.max_interval, "timeout": self.timeout, "result": self.result}
        if self.end_task:
            kwargs["end_task"] = self.end_task
        if self.end_task and self.multiple_outputs:
            kwargs["multiple_outputs"] = True
        return f"{type(self).__module__}.{type(self).__qualname__}", kwargs

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from hooks.base import OciBaseHook
        from hooks.waiting import Poll, WaitSpec

        spec = WaitSpec(**self.spec)
        hook = OciBaseHook(self.oci_conn_id, region=spec.region)
        poll = Poll(self.poll_interval, self.max_interval, self.timeout)
        started = time.monotonic()
        event = await self._wait(hook, spec, poll)
        result = dict(self.result)
        observed, data = event.pop("observed_at", None), event.pop("data", None)
        if "ready_at" in result and event.get("status") == "success":
            # asked for by the task (a restore's RTO): OCI's clock when a look first saw the target state
            result["ready_at"] = observed
        # Airflow 3.3 can resume a task whose own "deferred" exit it has not processed yet and then mark the
        # resumed try up_for_retry (apache/airflow#71580, #72716). OCI never answers that fast; ocisim can: an
        # event is not sent before the deferral is a few seconds old.
        early = config.TRIGGER_MIN_EVENT_AGE.value() - (time.monotonic() - started)
        if early > 0:
            await asyncio.sleep(early)
        if self.end_task and event.get("status") == "success":
            from triggers.results import RESULTS, ends_task, verified

            try:
                if data is None:
                    data = (await asyncio.to_thread(hook.poll_once, spec)).data
                xcom = RESULTS[self.end_task](data, {"region": spec.region, **result})
                mark = verified(xcom) if ends_task(xcom) else None
                if mark:  # the check passed in this look: the backup is tagged as a resumed task would tag it
                    from hooks.block_storage import OciBlockStorageHook

                    storage = OciBlockStorageHook(self.oci_conn_id, region=spec.region)
                    await asyncio.to_thread(storage.mark_verified, *mark, spec.region)
                    self.log.info("verification of %s (%s level): PASS %s", mark[0], mark[1],
                                  xcom["verification"]["detail"])
            except Exception as exc:  # the task resumes on a worker instead, as without end_task
                self.log.warning("could not end the task from the trigger (%s: %s); it resumes on a worker",
                                 type(exc).__name__, exc)
            else:
                if ends_task(xcom):
                    keys = xcom if self.multiple_outputs and isinstance(xcom, dict) else {}
                    yield TaskEndedByTrigger(spec.resource_id, event["state"], xcoms={**keys, "return_value": xcom})
                    return
        yield TriggerEvent({"resource_id": spec.resource_id, "result": result, **event})

    def _batch(self, hook, spec, data: dict) -> Batch | None:
        """The batch this wait belongs to (joined once), or None when its kind has no list call."""
        lister, compartment = LISTERS.get(spec.getter), (data or {}).get("compartment_id")
        if not lister or not compartment or spec.getter_kwargs:
            return None
        key = (self.oci_conn_id, spec.region, spec.service, lister, compartment, spec.state_field)
        batch = _BATCHES.get(key)
        if batch is None:
            batch = _BATCHES[key] = Batch(key, hook, spec.service, lister, compartment, max(1.0, self.poll_interval))
        batch.members += 1
        return batch

    async def _wait(self, hook, spec, poll) -> dict:
        batch: Batch | None = None
        joined = False
        try:
            while True:
                try:
                    polled = await asyncio.to_thread(hook.poll_once, spec)
                except Exception as exc:  # a non-retryable API error ends the wait with its text
                    return {"status": "error", "message": f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"}
                self.log.info("%s %s: %s%s", spec.getter, spec.resource_id, polled.state,
                              f" ({polled.percent:.0f}%)" if polled.percent is not None else "")
                if polled.error:
                    return {"status": "error", "state": polled.state, "message": polled.error}
                if polled.done:
                    return {"status": "success", "state": polled.state, "observed_at": polled.observed_at,
                            "data": polled.data}
                if not joined:
                    batch, joined = self._batch(hook, spec, polled.data), True
                remaining = poll.timeout - (time.monotonic() - poll.started)
                if batch is not None and batch.members >= config.TRIGGER_BATCH_FROM.value() and remaining > 0:
                    seen = await batch.until_changed(spec.resource_id, spec.target_states, spec.failure_states,
                                                     spec.state_field, remaining)
                    if seen is not None:
                        self.log.info("%s %s: %s (listed)", spec.getter, spec.resource_id, seen[0])
                        return {"status": "success", "state": seen[0], "observed_at": seen[1], "data": seen[2]}
                    if time.monotonic() - poll.started < poll.timeout:
                        continue  # missing from the list or failed: a look of its own says why
                try:
                    delay = poll.next_delay()
                except TimeoutError:
                    return {"status": "error", "state": polled.state,
                            "message": f"{spec.resource_id} still {polled.state} after {self.timeout:.0f}s "
                                       f"(waiting for {spec.target_states})"}
                await asyncio.sleep(delay)
        finally:
            if batch is not None:
                batch.members -= 1
                if batch.members <= 0 and _BATCHES.get(batch.key) is batch:
                    del _BATCHES[batch.key]
