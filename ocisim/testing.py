"""ocisim for tests and scripts: start it in threads on free ports, get configured SDK clients and the admin API.

Only this module imports `oci`; the emulator itself does not need the SDK.
"""

from __future__ import annotations

import contextlib
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .bootstrap import ensure_identity, read_tenancy, write_client_files
from .seed import apply_seed, default_seed_applied
from .server import ADMIN_TOKEN_HEADER, Running
from .sim import Sim
from .state import DEFAULT_REGIONS


def free_port(pair: bool = False) -> int:
    """A free loopback port; with `pair`, P+1 is free too (ocisim serves its second region there)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not pair:
            return port
        try:
            with socket.socket() as s2:
                s2.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port on 127.0.0.1")


class AdminError(Exception):
    def __init__(self, status: int, body: str):
        super().__init__(f"ocisim admin API answered {status}: {body}")
        self.status = status
        self.body = body


class AdminClient:
    """The `/_ocisim/` admin API over HTTP with the admin token."""

    def __init__(self, url: str, token: str):
        self.url = url.rstrip("/")
        self.token = token

    def call(self, method: str, path: str, body=None, raw: bool = False):
        data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(f"{self.url}/_ocisim/{path.lstrip('/')}", data=data, method=method,
                                     headers={ADMIN_TOKEN_HEADER: self.token,
                                              "content-type": "application/octet-stream" if raw
                                              else "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as exc:
            raise AdminError(exc.code, exc.read().decode(errors="replace")) from exc
        if raw:
            return payload
        return json.loads(payload) if payload else None

    def seed(self, seed: dict) -> dict:
        return self.call("POST", "seed", seed)

    def write(self, volume_id: str, offset: int, data: bytes) -> dict:
        return self.call("PUT", f"volumes/{volume_id}/content?offset={offset}", data, raw=False)

    def read(self, volume_id: str, offset: int = 0, length: int | None = None) -> bytes:
        query = f"offset={offset}" + (f"&length={length}" if length is not None else "")
        return self.call("GET", f"volumes/{volume_id}/content?{query}", raw=True)

    def sha256(self, resource_id: str, length: int | None = None) -> dict:
        """{'sha256', 'size'} of a volume's, boot volume's, backup's or image's content: the first `length`
        bytes, by default up to the end of its last non-zero block."""
        query = f"?length={length}" if length is not None else ""
        return self.call("GET", f"content/{resource_id}/sha256{query}")

    def corrupt_backup(self, backup_id: str, block_index: int | None = None) -> dict:
        return self.call("POST", f"backups/{backup_id}/corrupt", {"block_index": block_index})

    def advance(self, seconds: float) -> dict:
        return self.call("POST", "time/advance", {"seconds": seconds})

    def time(self) -> dict:
        return self.call("GET", "time")

    def set_time_scale(self, scale: float) -> dict:
        return self.call("PUT", "time/scale", {"scale": scale})

    def fault(self, operation: str, kind: str, count: int = 1, latency_seconds: float = 0.0,
              message: str = "") -> dict:
        return self.call("POST", "faults", {"operation": operation, "kind": kind, "count": count,
                                             "latency_seconds": latency_seconds, "message": message})

    def clear_faults(self) -> None:
        self.call("DELETE", "faults")

    def counters(self) -> dict[str, int]:
        return self.call("GET", "counters")

    def reset_counters(self) -> None:
        self.call("DELETE", "counters")

    def resources(self, kind: str) -> list[dict]:
        """Every resource of a kind in every region, with `_region` and private fields (for assertions)."""
        return self.call("GET", f"resources?kind={kind}")

    def reset(self) -> None:
        self.call("POST", "reset")

    def deny(self, user_id: str, verb: str, family: str) -> dict:
        """Take a permission away (ocisim/policy.py): the user keeps only the verbs below `verb` on `family`."""
        return self.call("POST", "policies/denials", {"user_id": user_id, "verb": verb, "family": family})

    def clear_denials(self) -> None:
        self.call("DELETE", "policies/denials")

    def hold_backups(self, milliseconds: float | None = None, count: int | None = 1) -> dict:
        """Keep the next `count` backups REQUEST_RECEIVED for `milliseconds` of real time (None: until
        `release_backups`)."""
        return self.call("PUT", "backup-hold", {"milliseconds": milliseconds, "count": count})

    def backup_holds(self) -> dict:
        return self.call("GET", "backup-hold")

    def release_backups(self) -> dict:
        return self.call("DELETE", "backup-hold")

    def guest_log(self, instance_id: str) -> list[str]:
        """The emulated guest tools' log on an instance (fsfreeze's freezes and thaws), oldest first."""
        return self.call("GET", f"instances/{instance_id}/guest-log")["lines"]


@dataclass
class SimHandle:
    running: Running
    state_dir: Path
    tenancy: dict
    admin: AdminClient

    @property
    def sim(self) -> Sim:
        return self.running.sim

    @property
    def endpoints(self) -> dict[str, str]:
        return self.running.endpoints

    @property
    def home_region(self) -> str:
        return self.sim.regions[0].name

    @property
    def config_file(self) -> Path:
        return self.state_dir / "config"

    def config(self, region: str | None = None) -> dict:
        import oci

        config = oci.config.from_file(str(self.config_file))
        if region:
            config["region"] = region
        return config

    def client(self, cls, region: str | None = None, **kwargs):
        """An SDK client (e.g. oci.core.BlockstorageClient) pointed at a region's ocisim endpoint."""
        region = region or self.home_region
        return cls(self.config(region), service_endpoint=self.endpoints[region], **kwargs)


@contextlib.contextmanager
def ocisim_running(state_dir: Path, time_scale: float = 1.0, seed: dict | None = None,
                   guest_exec: bool = False, regions=DEFAULT_REGIONS, port: int = 0) -> Iterator[SimHandle]:
    """ocisim in this process on free ports (or `port`, `port+1`...), seeded on first start."""
    sim = Sim(state_dir, time_scale=time_scale, regions=regions, guest_exec=guest_exec)
    ensure_identity(sim)
    running = Running(sim, port=port)
    try:
        summary = default_seed_applied(sim) or apply_seed(sim, seed)
        write_client_files(sim, running.endpoints, summary)
        yield SimHandle(running, Path(state_dir), read_tenancy(state_dir),
                        AdminClient(running.home, running.admin_token))
    finally:
        running.stop()
