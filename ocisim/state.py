"""What every backend reads and writes: the store, the emulated clock, the block content and the regions.

It knows no backend, so backends can take it (and the services they call) as constructor arguments and the
imports run one way: sim → backend → state → store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .clock import Clock
from .content import ContentStore
from .store import Store


@dataclass(frozen=True)
class Region:
    name: str
    key: str


DEFAULT_REGIONS = (Region("us-ashburn-1", "IAD"), Region("us-phoenix-1", "PHX"))


class State:
    def __init__(self, state_dir: Path, time_scale: float = 1.0, regions=DEFAULT_REGIONS,
                 guest_exec: bool = False):
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.state_dir, now=lambda: self.clock.now())
        saved = self.store.meta_get("clock")
        self.clock = Clock(scale=time_scale, anchor=tuple(saved) if saved else None,
                           on_change=lambda wall, emu: self.store.meta_set("clock", [wall, emu]))
        self.content = ContentStore(self.state_dir / "chunks")
        self.regions = list(regions)
        self.guest_exec = guest_exec
        self.lock = self.store.lock

    def region(self, name: str) -> Region:
        for r in self.regions:
            if r.name == name:
                return r
        raise KeyError(name)

    def now(self) -> float:
        return self.clock.now()
