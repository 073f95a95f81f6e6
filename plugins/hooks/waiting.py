"""Waiting as plain data: what to wait for (a trigger serialises it), the backoff of one wait and one look's result.
The looking itself is the base hook's (hooks/base.py), the same for a worker's wait and the trigger's."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field


@dataclass
class WaitSpec:
    """What to wait for, as plain data so a trigger can serialise it: a getter on a client kind, the field
    that holds the state, the states that end the wait well or badly."""

    service: str
    getter: str
    resource_id: str
    target_states: list[str]
    failure_states: list[str] = field(default_factory=list)
    state_field: str = "lifecycle_state"
    region: str | None = None
    getter_kwargs: dict = field(default_factory=dict)
    not_found_ok: bool = False  # waiting for a delete: a 404 means done

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def work_request(cls, wr_id: str, region: str | None = None) -> WaitSpec:
        return cls("work_requests", "get_work_request", wr_id, ["SUCCEEDED"], ["FAILED", "CANCELED"],
                   "status", region)


@dataclass
class Poll:
    """The state of one wait: exponential backoff from `interval` capped at `max_interval`, within `timeout`."""

    interval: float = 5.0
    max_interval: float = 60.0
    timeout: float = 3600.0
    factor: float = 1.5
    started: float = field(default_factory=time.monotonic)

    def next_delay(self) -> float:
        delay = self.interval
        self.interval = min(self.interval * self.factor, self.max_interval)
        remaining = self.timeout - (time.monotonic() - self.started)
        if remaining <= 0:
            raise TimeoutError
        return min(delay, remaining)


@dataclass
class PollResult:
    done: bool
    state: str | None
    data: dict
    error: str | None = None
    percent: float | None = None
    observed_at: str | None = None  # OCI's clock (the response's Date) when this look was answered
