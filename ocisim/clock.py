"""Emulated time: OCI operations take minutes; tests and demos run them faster by a scale factor or by steps.

emulated_now = anchor_emulated + (wall_now - anchor_wall) * scale. The anchor is persisted, so a restart keeps
the emulated clock where it was (time while stopped counts, scaled) and a manual step survives too.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class Clock:
    def __init__(self, scale: float = 1.0, anchor: tuple[float, float] | None = None,
                 on_change=None):
        self._lock = threading.Lock()
        self.scale = float(scale)
        wall = time.time()
        self._anchor_wall, self._anchor_emulated = anchor if anchor else (wall, wall)
        self._on_change = on_change
        self._reanchor()

    def _reanchor(self) -> None:
        wall = time.time()
        self._anchor_emulated = self._anchor_emulated + (wall - self._anchor_wall) * self.scale
        self._anchor_wall = wall
        if self._on_change:
            self._on_change(self._anchor_wall, self._anchor_emulated)

    def now(self) -> float:
        """Emulated seconds since the epoch."""
        with self._lock:
            return self._anchor_emulated + (time.time() - self._anchor_wall) * self.scale

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._reanchor()
            self._anchor_emulated += seconds
            if self._on_change:
                self._on_change(self._anchor_wall, self._anchor_emulated)
            return self._anchor_emulated

    def set_scale(self, scale: float) -> None:
        with self._lock:
            self._reanchor()
            self.scale = float(scale)


def iso(ts: float) -> str:
    """OCI's datetime format: RFC 3339, UTC, milliseconds."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}Z"


def parse_iso(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
