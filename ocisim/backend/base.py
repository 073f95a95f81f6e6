"""What every backend shares: making resources, reading them region-scoped, durations that grow with size."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..clock import iso
from ..errors import invalid, missing, not_found
from ..ids import new_ocid

if TYPE_CHECKING:
    from ..sim import Sim

GB = 1 << 30


class Backend:
    def __init__(self, sim: Sim):
        self.sim = sim
        self.store = sim.store
        self.content = sim.content

    def new(self, kind: str, ocid_type: str, region: str, **fields) -> dict:
        """A fresh resource dict (not yet stored): id, time_created, and the private kind/region."""
        res = {"id": new_ocid(ocid_type, self.sim.region(region).key), "time_created": iso(self.sim.now()),
               "_kind": kind, "_region": region}
        res.update(fields)
        return res

    def get(self, kind: str, resource_id: str, region: str) -> dict:
        return self.store.get(kind, resource_id, region)

    def compartment(self, compartment_id: str | None) -> str:
        """The compartment must exist: OCI answers 404 for an unknown one, 400 when it is missing."""
        if not compartment_id:
            raise missing("compartmentId")
        found = self.store.find(compartment_id)
        if found is None or found["_kind"] not in ("compartment", "tenancy"):
            raise not_found("compartment")
        return compartment_id

    def duration(self, base_seconds: float, size_bytes: int = 0, seconds_per_gb: float = 0.0) -> float:
        """Emulated seconds an operation takes: OCI's restores, backups and images grow with size."""
        return base_seconds + seconds_per_gb * size_bytes / GB

    def now_iso(self) -> str:
        return iso(self.sim.now())


def one_of(field: str, value, allowed) -> str:
    if value not in allowed:
        raise invalid(f"Invalid {field} '{value}'; must be one of {', '.join(sorted(allowed))}.")
    return value
