"""The one deferrable trigger: polls any OCI resource or work request described by a WaitSpec.

Every deferrable operator and sensor uses it. The SDK is synchronous, so each poll runs in a thread; the
backoff, deadline and failure rules are the hook's (`OciHook.poll_once`, `Poll`), the same as the blocking path.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


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
        while True:
            try:
                polled = await asyncio.to_thread(hook.poll_once, spec)
            except Exception as exc:  # a non-retryable API error ends the wait with its text
                yield TriggerEvent({"status": "error", "resource_id": spec.resource_id,
                                    "message": f"{type(exc).__name__}: {getattr(exc, 'message', exc)}",
                                    "result": self.result})
                return
            self.log.info("%s %s: %s%s", spec.getter, spec.resource_id, polled.state,
                          f" ({polled.percent:.0f}%)" if polled.percent is not None else "")
            if polled.error:
                yield TriggerEvent({"status": "error", "resource_id": spec.resource_id, "state": polled.state,
                                    "message": polled.error, "result": self.result})
                return
            if polled.done:
                yield TriggerEvent({"status": "success", "resource_id": spec.resource_id, "state": polled.state,
                                    "result": self.result})
                return
            try:
                delay = poll.next_delay()
            except TimeoutError:
                yield TriggerEvent({"status": "error", "resource_id": spec.resource_id, "state": polled.state,
                                    "message": f"{spec.resource_id} still {polled.state} after {self.timeout:.0f}s "
                                               f"(waiting for {spec.target_states})", "result": self.result})
                return
            await asyncio.sleep(delay)
