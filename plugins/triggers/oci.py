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
                 max_interval: float = 60.0, timeout: float = 3600.0):
        super().__init__()
        self.spec = spec
        self.oci_conn_id = oci_conn_id
        self.poll_interval = poll_interval
        self.max_interval = max_interval
        self.timeout = timeout

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}", {
            "spec": self.spec, "oci_conn_id": self.oci_conn_id, "poll_interval": self.poll_interval,
            "max_interval": self.max_interval, "timeout": self.timeout})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from hooks.oci import OciHook, Poll, WaitSpec

        spec = WaitSpec(**self.spec)
        hook = OciHook(self.oci_conn_id, region=spec.region)
        poll = Poll(self.poll_interval, self.max_interval, self.timeout)
        while True:
            try:
                result = await asyncio.to_thread(hook.poll_once, spec)
            except Exception as exc:  # a non-retryable API error ends the wait with its text
                yield TriggerEvent({"status": "error", "resource_id": spec.resource_id,
                                    "message": f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"})
                return
            self.log.info("%s %s: %s%s", spec.getter, spec.resource_id, result.state,
                          f" ({result.percent:.0f}%)" if result.percent is not None else "")
            if result.error:
                yield TriggerEvent({"status": "error", "resource_id": spec.resource_id, "state": result.state,
                                    "message": result.error})
                return
            if result.done:
                yield TriggerEvent({"status": "success", "resource_id": spec.resource_id, "state": result.state})
                return
            try:
                delay = poll.next_delay()
            except TimeoutError:
                yield TriggerEvent({"status": "error", "resource_id": spec.resource_id, "state": result.state,
                                    "message": f"{spec.resource_id} still {result.state} after {self.timeout:.0f}s "
                                               f"(waiting for {spec.target_states})"})
                return
            await asyncio.sleep(delay)
