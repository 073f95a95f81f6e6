"""ocisim throughput, as figures (not a test): signed GETs per second, and create-and-wait cycles per second.

Run: make bench   (or: PYTHONPATH=. .venv/bin/python bench/ocisim_throughput.py [--seconds S] [--threads N])
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import oci

from ocisim.testing import ocisim_running


def _rate(fn, seconds: float, threads: int) -> float:
    """Calls per second of `fn` from `threads` threads for `seconds`."""
    count = [0] * threads
    stop = time.monotonic() + seconds

    def work(i):
        while time.monotonic() < stop:
            fn(i)
            count[i] += 1

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    start = time.monotonic()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(count) / (time.monotonic() - start)


def _report(name: str, rates: list[float], unit: str) -> None:
    spread = (max(rates) - min(rates)) / 2
    print(f"{name:<44} median {statistics.median(rates):8.1f} {unit}  "
          f"(min {min(rates):.1f}, max {max(rates):.1f}, ±{spread:.1f}, {len(rates)} rounds)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, \
            ocisim_running(Path(tmp) / "state", time_scale=1e6) as sim:
        comp = sim.tenancy["compartment_id"]
        ad = sim.tenancy["availability_domains"][0]
        identities = [sim.client(oci.identity.IdentityClient) for _ in range(args.threads)]
        storages = [sim.client(oci.core.BlockstorageClient) for _ in range(args.threads)]

        def signed_get(i):
            identities[i].get_compartment(comp)

        def create_and_wait(i):
            client = storages[i]
            vol = client.create_volume(oci.core.models.CreateVolumeDetails(
                compartment_id=comp, availability_domain=ad, size_in_gbs=50, display_name="bench")).data
            oci.wait_until(client, client.get_volume(vol.id), "lifecycle_state", "AVAILABLE",
                           max_interval_seconds=0.01, max_wait_seconds=30)

        print(f"ocisim throughput on this machine: {args.threads} client threads, "
              f"{args.rounds} rounds of {args.seconds:.0f} s")
        _report("signed GET (GetCompartment)", [_rate(signed_get, args.seconds, args.threads)
                                                 for _ in range(args.rounds)], "req/s")
        _report("create volume + wait AVAILABLE (time x1e6)", [_rate(create_and_wait, args.seconds, args.threads)
                                                              for _ in range(args.rounds)], "cycles/s")


if __name__ == "__main__":
    main()
