"""Disk content the seed and tests make: real ext4 filesystems built with mkfs.ext4 -d from a dict of files."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from .backend.base import MIB
from .content import ContentStore


def make_ext4(path: Path, files: dict[str, str | bytes], size_mib: int = 64, label: str = "data") -> None:
    """A raw ext4 image at `path` holding `files` (relative paths → content)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, data in files.items():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data.encode() if isinstance(data, str) else data)
        with open(path, "wb") as f:
            f.truncate(size_mib * MIB)
        subprocess.run(
            ["mkfs.ext4", "-q", "-F", "-L", label, "-E", "lazy_itable_init=1,lazy_journal_init=1",
             "-d", str(root), str(path)],
            check=True, capture_output=True)


def ext4_blocks(content: ContentStore, files: dict[str, str | bytes], size_mib: int = 64,
                label: str = "data") -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "disk.raw"
        make_ext4(raw, files, size_mib, label)
        return content.from_raw_file(raw)
