"""python -m ocisim --port P --state-dir DIR [--time-scale X] [--seed FILE] [--guest-exec]"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from .bootstrap import ensure_identity, write_client_files
from .seed import apply_seed, default_seed_applied, load_seed_file, regions_of
from .server import Running
from .sim import Sim


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ocisim", description="Local emulator of the OCI APIs.")
    parser.add_argument("--port", type=int, default=12000, help="home region port; other regions P+1, P+2...")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="emulated seconds per real second (60: a one-minute operation takes one second)")
    parser.add_argument("--seed", type=Path, help="seed file (JSON) for a fresh state directory")
    parser.add_argument("--guest-exec", action="store_true",
                        help="let Run Command execute scripts on this machine (loopback only)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s ocisim %(levelname)s %(message)s")
    if args.guest_exec and args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("--guest-exec runs scripts on this machine: it is only allowed on a loopback address")

    seed = load_seed_file(args.seed) if args.seed else None
    sim = Sim(args.state_dir, time_scale=args.time_scale, regions=regions_of(seed), guest_exec=args.guest_exec)
    ensure_identity(sim)
    running = Running(sim, host=args.host, port=args.port)
    summary = default_seed_applied(sim) or apply_seed(sim, seed)
    write_client_files(sim, running.endpoints, summary)
    for region, url in running.endpoints.items():
        logging.info("region %s on %s", region, url)
    logging.info("config: %s  tenancy: %s", args.state_dir / "config", args.state_dir / "tenancy.json")
    print(f"ocisim ready on {running.home}", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    running.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
