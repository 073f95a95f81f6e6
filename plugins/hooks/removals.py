"""OciHook's bulk removal (mixed into OciHook): delete, terminate or detach many resources at once and wait for
each to be gone, so a teardown of N temporaries costs one delete plus one wait, not N of each."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Removal:
    """One resource on its way out: its own poll state and deadline, so N removals never share one."""

    resource_id: str
    name: str
    poll: Any  # hooks.waiting.Poll
    due: float = 0.0
    error: str | None = None
    done: bool = False


def describe_error(exc: Exception) -> str:
    """An SDK or wait error in one line (type, HTTP status, OCI's message), cut to 500 characters."""
    status = getattr(exc, "status", None)
    text = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}{f' {status}' if status else ''}: {text}"[:500]


class OciRemovalMethods:
    """Bulk removal for OciHook (which provides delete_resource, resource_api, poll_once, lifecycle_spec)."""

    def remove_all(self, items: list[tuple[str, str]], region: str | None, make_poll: Callable[[], Any],
                   threads: int, start: Callable[[str], Any] | None = None) -> list[Removal]:
        """Remove every item at once and wait for each with its own backoff and deadline.

        The calls are issued concurrently, then one loop polls only the removals whose next look is due. A
        failed call or wait is recorded on its item and the others go on; nothing raises here.

        :param items: (resource OCID, name for messages) pairs
        :param region: the region of the resources (None: the connection's)
        :param make_poll: makes one `Poll` per item (its backoff and deadline)
        :param threads: at most this many calls at a time
        :param start: replaces the plain delete (`delete_resource`), e.g. a terminate that keeps no boot volume
        """
        from concurrent.futures import ThreadPoolExecutor

        removals = [Removal(rid, name, make_poll()) for rid, name in items]
        if not removals:
            return removals

        def begin(item: Removal) -> None:
            try:
                existed = start(item.resource_id) if start else self.delete_resource(item.resource_id, region)
                item.done = existed is False  # already gone
            except Exception as exc:  # recorded on the item; the others go on
                item.error, item.done = describe_error(exc), True

        def look(item: Removal) -> None:
            _, _, _, gone = self.resource_api(item.resource_id)
            try:
                polled = self.poll_once(self.lifecycle_spec(item.resource_id, [gone], [], region))
            except Exception as exc:
                item.error, item.done = describe_error(exc), True
                return
            if polled.error or polled.done:
                item.error, item.done = polled.error, True
                return
            try:
                item.due = time.monotonic() + item.poll.next_delay()
            except TimeoutError:
                item.error = f"still {polled.state} after {item.poll.timeout:.0f}s (waiting for {gone})"
                item.done = True

        with ThreadPoolExecutor(max_workers=max(1, min(threads, len(removals)))) as pool:
            list(pool.map(begin, removals))
            while pending := [r for r in removals if not r.done]:
                now = time.monotonic()
                due = [r for r in pending if r.due <= now]
                if due:
                    list(pool.map(look, due))
                    continue
                time.sleep(max(0.0, min(r.due for r in pending) - now))
        return removals
