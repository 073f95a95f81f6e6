"""K concurrent OCI waits in one event loop, as a triggerer runs them: CPU seconds of the process and how long
after readiness each event arrived. A benchmark, not a test.

K backups are made in ocisim (a separate process, so its CPU is not counted) with its clock held, so none is
ready; K OciWaitTriggers start at once (poll every 1 s backing off to 60 s, the distributed stack's settings);
after `--ready-after` seconds the clock is advanced and every backup is AVAILABLE at that instant. Printed:

    triggers K=1000 cpu=…s p50_delay=…s max_delay=…s rss_growth=…MB events=1000/1000

    python bench/scale_triggers.py --k 1000 [--ready-after 60] [--root CHECKOUT]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def start_ocisim(state: Path) -> tuple[subprocess.Popen, dict]:
    from ocisim.testing import free_port

    port = free_port(pair=True)
    proc = subprocess.Popen([sys.executable, "-m", "ocisim", "--port", str(port), "--state-dir", str(state),
                             "--time-scale", "1", "--log-level", "WARNING"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    while "ocisim ready" not in (proc.stdout.readline() or "ocisim ready"):
        pass
    return proc, json.loads((state / "tenancy.json").read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--ready-after", type=float, default=60.0)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1],
                        help="the checkout whose plugins/ (hook and trigger) are measured")
    args = parser.parse_args()
    here = Path(__file__).resolve().parents[1]
    sys.path[:0] = [str(args.root / "plugins"), str(here)]
    work = Path(tempfile.mkdtemp(prefix="oci-bench-triggers-"))
    os.environ.update({"AIRFLOW_HOME": str(work / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                       "OCI_TRIGGER_MIN_EVENT_AGE": "0"})
    sim, tenancy = start_ocisim(work / "ocisim")
    try:
        return run(args, work, tenancy)
    finally:
        sim.terminate()
        sim.wait(timeout=30)


def run(args, work: Path, tenancy: dict) -> int:
    import oci

    from ocisim.testing import AdminClient

    home = tenancy["home_region"]
    admin = AdminClient(tenancy["regions"][home], (work / "ocisim" / "admin_token").read_text().strip())
    extra = {"auth": "api_key", "tenancy": tenancy["tenancy_id"], "user": tenancy["user_id"],
             "fingerprint": tenancy["fingerprint"], "key_file": str(work / "ocisim" / "oci_api_key.pem"),
             "region": home, "service_endpoints": tenancy["regions"]}
    os.environ["AIRFLOW_CONN_OCI_DEFAULT"] = json.dumps({"conn_type": "oci", "extra": extra})
    config = oci.config.from_file(str(work / "ocisim" / "config"))
    storage = oci.core.BlockstorageClient(config, service_endpoint=tenancy["regions"][home])
    admin.set_time_scale(0.000001)  # held: nothing made now is ready until the clock is advanced
    volume = next(iter(tenancy["volumes"].values()))
    backups = [storage.create_volume_backup(oci.core.models.CreateVolumeBackupDetails(
        volume_id=volume, type="INCREMENTAL")).data.id for _ in range(args.k)]

    from hooks.oci import OciHook
    from triggers.oci import OciWaitTrigger

    specs = [OciHook().lifecycle_spec(b, ["AVAILABLE"], region=home).to_dict() for b in backups]
    triggers = [OciWaitTrigger(spec, poll_interval=1.0, max_interval=60.0, timeout=3600) for spec in specs]
    arrived: list[float] = []
    ready_at: list[float] = []

    async def wait(trigger):
        async for event in trigger.run():
            arrived.append(time.monotonic())
            return event.payload

    async def release():
        await asyncio.sleep(args.ready_after)
        await asyncio.to_thread(admin.advance, 7 * 86400)
        ready_at.append(time.monotonic())

    async def everything():
        return await asyncio.gather(release(), *(wait(t) for t in triggers))

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu_before = time.process_time()
    results = asyncio.run(everything())[1:]
    cpu = time.process_time() - cpu_before
    rss_growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    ok = sum(1 for r in results if r and r.get("status") == "success")
    delays = sorted(max(0.0, t - ready_at[0]) for t in arrived)
    print(f"triggers K={args.k} cpu={cpu:.1f}s p50_delay={statistics.median(delays):.1f}s "
          f"max_delay={delays[-1]:.1f}s rss_growth={rss_growth:.0f}MB events={ok}/{args.k} "
          f"ready_after={args.ready_after:.0f}s", flush=True)
    return 0 if ok == args.k else 1


if __name__ == "__main__":
    sys.exit(main())
