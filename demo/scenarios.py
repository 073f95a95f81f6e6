"""What the demo runs, in order: (dag_id, conf builder from the seeded tenancy)."""

from __future__ import annotations

from pathlib import Path


def nightly(tenancy: dict, out: Path) -> dict:
    return {"compartment_ids": tenancy["compartments"]["prod"], "verification_level": "script",
            "verifier_instance_id": tenancy["instances"]["verifier"],
            "policies": {"default": {"full_interval_days": 7, "retention_days": 30},
                         "gold": {"full_interval_days": 7, "retention_days": 90, "dr_region": "us-phoenix-1"}}}


SCENARIOS = [
    ("oci_nightly_backup", nightly),
]
