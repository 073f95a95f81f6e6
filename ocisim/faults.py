"""Injected faults by operation and count, and request counters by operation (admin API).

`Faults.apply` is the one place a request meets its armed faults: errors are raised there, latency slept, and
what the call itself must do differently (drop its answer, fail its work request, corrupt its backup) comes
back as an `Injected` the handler hands to the backend as an argument.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass

from .errors import OciError

KINDS = {"429", "500", "latency", "drop", "fail_work_request", "incorrect_state", "corrupt_backup"}


@dataclass
class Fault:
    operation: str
    kind: str
    count: int = 1
    latency_seconds: float = 0.0
    message: str = ""


@dataclass
class Injected:
    """The faults one request carries into the backend. Each effect is used once: the first work request the
    call starts fails, the first backup it makes is corrupted."""

    fail_work_request: str | None = None
    corrupt_backup: bool = False
    drop: bool = False

    def take_work_request_failure(self) -> tuple[str, str] | None:
        """(code, message) for the work request being started, once."""
        message, self.fail_work_request = self.fail_work_request, None
        return ("InternalError", message) if message else None

    def take_corrupt_backup(self) -> bool:
        wanted, self.corrupt_backup = self.corrupt_backup, False
        return wanted


class Faults:
    def __init__(self):
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self.counters: Counter[str] = Counter()

    def add(self, fault: Fault) -> None:
        if fault.kind not in KINDS:
            raise ValueError(f"fault kind {fault.kind!r}: must be one of {sorted(KINDS)}")
        with self._lock:
            self._faults.append(fault)

    def take(self, operation: str) -> list[Fault]:
        """Consume one count of every fault armed for this operation."""
        taken = []
        with self._lock:
            for fault in self._faults:
                if fault.operation in (operation, "*") and fault.count > 0:
                    fault.count -= 1
                    taken.append(fault)
            self._faults = [f for f in self._faults if f.count > 0]
        return taken

    def apply(self, operation: str) -> Injected:
        """Count the call, consume its armed faults and act on them: raise OCI's error for 429, 500 and
        incorrect_state, sleep for latency, and return what the handler and backend must do."""
        self.count(operation)
        injected = Injected()
        for fault in self.take(operation):
            if fault.kind == "429":
                raise OciError(429, "TooManyRequests", "Too many requests for the tenancy.")
            if fault.kind == "500":
                raise OciError(500, "InternalServerError", "Internal server error.")
            if fault.kind == "incorrect_state":
                raise OciError(409, "IncorrectState", fault.message or "The resource is in a state that does not "
                                                                       "allow this operation (injected fault).")
            if fault.kind == "latency":
                time.sleep(fault.latency_seconds)
            elif fault.kind == "drop":
                injected.drop = True
            elif fault.kind == "fail_work_request":
                injected.fail_work_request = fault.message or "The work request failed (injected fault)."
            elif fault.kind == "corrupt_backup":  # the backup this call makes has a damaged block from the start
                injected.corrupt_backup = True
        return injected

    def count(self, operation: str) -> None:
        with self._lock:
            self.counters[operation] += 1

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.counters.clear()
