"""tools/system-packages, which `make test` runs before any test: silent when the tools are there, and on a
machine where it cannot install (no apt-get on PATH here) one line naming the command to run, and a failure.
The tools' presence is simulated with a PATH of stand-ins, so nothing is installed or removed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "tools" / "system-packages"
TEST_TOOLS = ("qemu-img", "mkfs.ext4", "e2fsck", "debugfs")


def run(tmp_path: Path, present: tuple[str, ...], *args: str) -> subprocess.CompletedProcess[str]:
    """The script with a PATH of only bash, id and stand-ins for `present` (it appends /usr/sbin and /sbin,
    so e2fsprogs may be found there on this machine; qemu-img and apt-get never are)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for real in ("bash", "id"):
        (bin_dir / real).symlink_to(shutil.which(real))
    for tool in present:
        (bin_dir / tool).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / tool).chmod(0o755)
    return subprocess.run([str(SCRIPT), *args], env={"PATH": str(bin_dir)}, capture_output=True, text=True,
                          timeout=60)


def test_silent_when_every_tool_is_there(tmp_path):
    proc = run(tmp_path, TEST_TOOLS, "test")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_a_missing_tool_without_apt_get_names_the_one_command_to_run(tmp_path):
    proc = run(tmp_path, ("mkfs.ext4", "e2fsck", "debugfs"), "test")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == ("[system-packages] the tests need qemu-utils: run `sudo apt-get install -y qemu-utils` "
                           "(Debian/Ubuntu), then make again\n")


@pytest.mark.skipif(Path("/usr/bin/chromium").exists(), reason="Debian's chromium is installed here")
def test_the_browser_target_asks_for_chromium(tmp_path):
    proc = run(tmp_path, TEST_TOOLS, "browser")
    assert proc.returncode == 1 and "run `sudo apt-get install -y chromium`" in proc.stderr


def test_an_unknown_target_is_refused(tmp_path):
    proc = run(tmp_path, TEST_TOOLS, "docs")
    assert proc.returncode == 2 and "usage:" in proc.stderr
