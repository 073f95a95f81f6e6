"""The emulated cloud: one state shared by every region's endpoint, and the backends that hold OCI's rules."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .clock import Clock
from .content import ContentStore
from .faults import Faults
from .policy import Policies
from .store import Store


@dataclass(frozen=True)
class Region:
    name: str
    key: str


DEFAULT_REGIONS = (Region("us-ashburn-1", "IAD"), Region("us-phoenix-1", "PHX"))


class Sim:
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
        self.faults = Faults()
        self.policies = Policies()
        self.lock = self.store.lock
        # Imported here: backends import Sim for typing only.
        from .backend.agent import AgentBackend
        from .backend.blockstorage import BlockStorageBackend
        from .backend.compute import ComputeBackend
        from .backend.identity import IdentityBackend
        from .backend.objectstorage import ObjectStorageBackend
        from .backend.workrequests import WorkRequestBackend

        self.identity = IdentityBackend(self)
        self.workrequests = WorkRequestBackend(self)
        self.blockstorage = BlockStorageBackend(self)
        self.objectstorage = ObjectStorageBackend(self)
        self.compute = ComputeBackend(self)
        self.agent = AgentBackend(self)

    def region(self, name: str) -> Region:
        for r in self.regions:
            if r.name == name:
                return r
        raise KeyError(name)

    def now(self) -> float:
        return self.clock.now()

    def reset(self) -> None:
        """Forget every resource but the tenancy and its keys, and every fault and counter."""
        tenancy = self.identity.tenancy()
        self.store.reset()
        if tenancy:
            self.store.put(tenancy)
        self.store.meta_set("seed_summary", None)
        self.faults.clear()
        self.policies.clear()
