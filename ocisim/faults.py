"""Injected faults by operation and count, and request counters by operation (admin API)."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

KINDS = {"429", "500", "latency", "drop", "fail_work_request", "incorrect_state", "corrupt_backup"}


@dataclass
class Fault:
    operation: str
    kind: str
    count: int = 1
    latency_seconds: float = 0.0
    message: str = ""


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
