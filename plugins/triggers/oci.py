"""The one deferrable trigger: polls any OCI resource or work request described by a WaitSpec.

Every deferrable operator and sensor uses it. The SDK is synchronous, so each poll runs in a thread; the
backoff, deadline and failure rules are the hook's (`OciHook.poll_once`, `Poll`), the same as the blocking path.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

MIN_EVENT_AGE_SECONDS = float(os.environ.get("OCI_TRIGGER_MIN_EVENT_AGE", "5"))


class OciWaitTrigger(BaseTrigger):
    def __init__(self, spec: dict, oci_conn_id: str = "oci_default", poll_interval: float = 5.0,
                 max_interval: float = 60.0, timeout: float = 3600.0, result: dict | None = None):
        super().__init__()
        # The task's partial XCom dict rides along and comes back in the event (error events too, so a failing
        # task can undo what it did before deferring): resuming needs nothing else.
        self.result = result or {}
        self.spec = spec
        self.oci_conn_id = oci_conn_id
        self.poll_interval = poll_interval
        self.max_interval = max_interval
        self.timeout = timeout

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}", {
            "spec": self.spec, "oci_conn_id": self.oci_conn_id, "poll_interval": self.poll_interval,
            "max_interval": self.max_interval, "timeout": self.timeout, "result": self.result})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from hooks.oci import OciHook, Poll, WaitSpec

        spec = WaitSpec(**self.spec)
        hook = OciHook(self.oci_conn_id, region=spec.region)
        poll = Poll(self.poll_interval, self.max_interval, self.timeout)
        started = time.monotonic()
        event = await self._wait(hook, spec, poll)
        result = dict(self.result)
        if "ready_at" in result and event.get("status") == "success":
            # asked for by the task (a restore's RTO): OCI's clock when a look first saw the target state
            result["ready_at"] = event.pop("observed_at", None)
        event.pop("observed_at", None)
        # Airflow 3.3 can resume a task whose own "deferred" exit it has not processed yet and then mark the
        # resumed try up_for_retry (apache/airflow#71580, #72716). OCI never answers that fast; ocisim can: an
        # event is not sent before the deferral is a few seconds old.
        early = MIN_EVENT_AGE_SECONDS - (time.monotonic() - started)
        if early > 0:
            await asyncio.sleep(early)
        yield TriggerEvent({"resource_id": spec.resource_id, "result": result, **event})

    async def _wait(self, hook, spec, poll) -> dict:
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
                return {"status": "success", "state": polled.state, "observed_at": polled.observed_at}
            try:
                delay = poll.next_delay()
            except TimeoutError:
                return {"status": "error", "state": polled.state,
                        "message": f"{spec.resource_id} still {polled.state} after {self.timeout:.0f}s "
                                   f"(waiting for {spec.target_states})"}
            await asyncio.sleep(delay)
