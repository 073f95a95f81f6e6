"""The emulated cloud: one state shared by every region's endpoint, the backends that hold OCI's rules, and
the faults and policy denials the admin API arms (only the HTTP front door applies them)."""

from __future__ import annotations

from pathlib import Path

from .backend.agent import AgentBackend
from .backend.blockstorage import BlockStorageBackend
from .backend.compute import ComputeBackend
from .backend.identity import IdentityBackend
from .backend.objectstorage import ObjectStorageBackend
from .backend.workrequests import WorkRequestBackend
from .faults import Faults
from .policy import Policies
from .state import DEFAULT_REGIONS, State


class Sim(State):
    def __init__(self, state_dir: Path, time_scale: float = 1.0, regions=DEFAULT_REGIONS,
                 guest_exec: bool = False):
        super().__init__(state_dir, time_scale, regions, guest_exec)
        self.faults = Faults()
        self.policies = Policies()
        # Each backend gets the services it calls; the order follows the backend layers in pyproject.toml.
        self.identity = IdentityBackend(self)
        self.workrequests = WorkRequestBackend(self)
        self.blockstorage = BlockStorageBackend(self, self.identity, self.workrequests)
        self.objectstorage = ObjectStorageBackend(self)
        self.compute = ComputeBackend(self, self.identity, self.workrequests, self.blockstorage, self.objectstorage)
        self.agent = AgentBackend(self, self.compute, self.blockstorage, self.objectstorage)

    def reset(self) -> None:
        """Forget every resource but the tenancy and its keys, and every fault and counter."""
        tenancy = self.identity.tenancy()
        self.store.reset()
        if tenancy:
            self.store.put(tenancy)
        self.store.meta_set("seed_summary", None)
        self.faults.clear()
        self.policies.clear()
