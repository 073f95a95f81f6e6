"""Run Command's guest: a script run on this machine as if inside the instance (opt-in, loopback only).

Each attached volume's device path (e.g. `/dev/oracleoci/oraclevdb`) in the script is bound to a sparse raw
file of that volume's bytes, so `e2fsck -fn`, `debugfs` or `sha256sum` read real data, and what the script writes
goes back to the volume, as writes to an attached block device would. The script runs as the Oracle Cloud
Agent runs it on Linux: with bash unless its first line is a `#!` interpreter, or, when a command string is
given, that command runs with the source saved in the working directory. It gets a fresh temporary directory
as working directory, a minimal environment, stdin from /dev/null and a real-time limit (a script takes the
time it takes; emulated time does not speed it up). stdout and stderr are captured together.

This module knows the content store but not the resource store: the backend passes the disks in and writes
the changed block maps back.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .content import BlockMap, ContentStore

# How much combined stdout+stderr a TEXT output keeps (the first bytes; the rest is dropped and the execution
# message says so). OCI documents a limit on plain-text output; ocisim uses 1 MiB.
OUTPUT_LIMIT = 1 << 20
GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Tools whose real version would act on this machine instead of the instance (fsfreeze would freeze the host's
# filesystems): the guest finds these emulations first; they keep their state and a log in the instance's
# directory (OCISIM_INSTANCE_DIR), which the admin API reads.
GUEST_TOOLS = Path(__file__).parent / "guest_tools"
KILL_GRACE_SECONDS = 1.0


@dataclass
class Disk:
    """An attached volume as the guest sees it: its device path and its content."""

    device: str
    volume_id: str
    blocks: BlockMap
    size: int  # bytes


@dataclass
class GuestResult:
    exit_code: int
    output: bytes
    truncated: bool = False
    timed_out: bool = False
    canceled: bool = False
    # volume id -> block map after the run, only for volumes the script changed
    written: dict[str, BlockMap] = field(default_factory=dict)


def bind_devices(text: str, paths: dict[str, str]) -> str:
    """Replace every device path by its raw file in one pass, longest first, so `/dev/sdb1` is not read as
    `/dev/sdb` followed by `1` and an inserted path is never rewritten again."""
    if not paths:
        return text
    pattern = re.compile("|".join(re.escape(d) for d in sorted(paths, key=len, reverse=True)))
    return pattern.sub(lambda m: paths[m.group(0)], text)


def exit_status(returncode: int) -> int:
    """The shell's view of a process status: 128+N when killed by signal N (a timed-out script shows 143)."""
    return 128 - returncode if returncode < 0 else returncode


class _OutputReader(threading.Thread):
    """Drain the pipe so the script never blocks on a full pipe, keeping only the first `limit` bytes."""

    def __init__(self, stream, limit: int):
        super().__init__(daemon=True, name="ocisim-guest-output")
        self.stream = stream
        self.limit = limit
        self.data = bytearray()
        self.dropped = 0

    def run(self) -> None:
        try:
            while chunk := self.stream.read1(65536):
                room = self.limit - len(self.data)
                if room > 0:
                    self.data += chunk[:room]
                self.dropped += max(0, len(chunk) - max(room, 0))
        except (OSError, ValueError):
            pass


def _kill_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _stop(proc: subprocess.Popen) -> None:
    """TERM the whole process group, then KILL what is left after a short grace."""
    _kill_group(proc, signal.SIGTERM)
    try:
        proc.wait(KILL_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        _kill_group(proc, signal.SIGKILL)
        proc.wait()


def run_script(content: ContentStore, source: str, disks: list[Disk], timeout_seconds: float,
               cancel: threading.Event | None = None, command_string: str | None = None,
               source_name: str = "script.sh", output_limit: int = OUTPUT_LIMIT,
               workdir_root: Path | None = None, instance_dir: Path | None = None) -> GuestResult:
    """Run `source` (or `command_string` next to it) with the disks bound; always remove the working dir.

    `timeout_seconds` is real time from the start of the script; 0 means no limit, as OCI's
    executionTimeOutInSeconds. Setting `cancel` kills the script (OCI's CancelInstanceAgentCommand).
    The working directory is made under `workdir_root` (default: the system's temporary directory);
    `instance_dir` keeps what the emulated guest tools remember of the instance (its frozen filesystems)."""
    if workdir_root is not None:
        workdir_root.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="ocisim-guest-", dir=workdir_root))
    try:
        devices_dir = workdir / "devices"
        devices_dir.mkdir()
        raw: dict[str, Path] = {}
        for i, disk in enumerate(disks):
            path = devices_dir / f"vol{i}-{Path(disk.device).name}.raw"
            content.to_raw_file(disk.blocks, path, disk.size)
            raw[disk.device] = path
        paths = {device: str(path) for device, path in raw.items()}
        script = workdir / (Path(source_name).name or "script.sh")
        script.write_text(bind_devices(source, paths))
        script.chmod(0o700)
        if command_string:
            argv = ["bash", "-c", bind_devices(command_string, paths)]
        elif source.startswith("#!"):
            argv = [str(script)]
        else:
            argv = ["bash", str(script)]
        env = {"PATH": f"{GUEST_TOOLS}:{GUEST_PATH}", "HOME": str(workdir), "TMPDIR": str(workdir), "LANG": "C",
               "SHELL": "/bin/bash"}
        if instance_dir is not None:
            instance_dir.mkdir(parents=True, exist_ok=True)
            env["OCISIM_INSTANCE_DIR"] = str(instance_dir)
        result = _execute(argv, workdir, env, timeout_seconds, cancel, output_limit)
        for disk in disks:
            after = content.from_raw_file(raw[disk.device])
            if after != disk.blocks:
                result.written[disk.volume_id] = after
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _execute(argv: list[str], cwd: Path, env: dict, timeout_seconds: float, cancel: threading.Event | None,
             output_limit: int) -> GuestResult:
    with open(os.devnull, "rb") as devnull:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=devnull, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
    reader = _OutputReader(proc.stdout, output_limit)
    reader.start()
    deadline = time.monotonic() + timeout_seconds if timeout_seconds and timeout_seconds > 0 else None
    timed_out = canceled = False
    while True:
        try:
            proc.wait(0.05)
            break
        except subprocess.TimeoutExpired:
            pass
        if cancel is not None and cancel.is_set():
            canceled = True
        elif deadline is not None and time.monotonic() >= deadline:
            timed_out = True
        if canceled or timed_out:
            _stop(proc)
            break
    code = exit_status(proc.returncode)
    _kill_group(proc, signal.SIGKILL)  # background children the script left behind would hold the pipe open
    reader.join(5)
    proc.stdout.close()
    return GuestResult(exit_code=code, output=bytes(reader.data), truncated=reader.dropped > 0,
                       timed_out=timed_out, canceled=canceled)
