"""Volume bytes: sparse, content-addressed blocks on disk.

A disk's content is a block map {block_index: sha256} (as a JSON dict with string keys); absent blocks are
zeros. Clones, backups, restores and images copy maps, not bytes, so they are point-in-time and cheap, and an
INCREMENTAL backup is the difference of two maps. Chunk files are immutable: corrupting a backup writes a new
chunk and repoints only that backup's map, leaving the volume and other backups intact.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

BLOCK_SIZE = 1 << 20
BlockMap = dict[str, str]


class ContentStore:
    def __init__(self, root: Path, block_size: int = BLOCK_SIZE):
        self.root = root
        self.block_size = block_size
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest

    def put_chunk(self, data: bytes) -> str | None:
        """Store one block; None for an all-zero block, which sparse maps leave out."""
        if not data.strip(b"\0"):
            return None
        if len(data) < self.block_size:
            data = data + bytes(self.block_size - len(data))
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.{id(data)}.tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        return digest

    def get_chunk(self, digest: str) -> bytes:
        return self._path(digest).read_bytes()

    # -- maps ------------------------------------------------------------------------------------------
    def read(self, blocks: BlockMap, offset: int, length: int) -> bytes:
        out = bytearray()
        bs = self.block_size
        while length > 0:
            index, within = divmod(offset, bs)
            take = min(length, bs - within)
            digest = blocks.get(str(index))
            out += self.get_chunk(digest)[within:within + take] if digest else bytes(take)
            offset += take
            length -= take
        return bytes(out)

    def write(self, blocks: BlockMap, offset: int, data: bytes) -> BlockMap:
        """A new map with `data` written at `offset` (read-modify-write of the touched blocks)."""
        new = dict(blocks)
        bs = self.block_size
        pos = 0
        while pos < len(data):
            index, within = divmod(offset + pos, bs)
            take = min(len(data) - pos, bs - within)
            digest = new.get(str(index))
            block = bytearray(self.get_chunk(digest) if digest else bytes(bs))
            block[within:within + take] = data[pos:pos + take]
            stored = self.put_chunk(bytes(block))
            if stored:
                new[str(index)] = stored
            else:
                new.pop(str(index), None)
            pos += take
        return new

    def from_blocks(self, items: Iterator[tuple[int, bytes]]) -> BlockMap:
        blocks: BlockMap = {}
        for index, data in items:
            digest = self.put_chunk(data)
            if digest:
                blocks[str(index)] = digest
        return blocks

    def iter_blocks(self, blocks: BlockMap) -> Iterator[tuple[int, bytes]]:
        for index in sorted(blocks, key=int):
            yield int(index), self.get_chunk(blocks[index])

    def stored_bytes(self, blocks: BlockMap) -> int:
        return len(blocks) * self.block_size

    # -- raw files for the guest -----------------------------------------------------------------------
    def to_raw_file(self, blocks: BlockMap, path: Path, size: int) -> None:
        """A sparse raw image of the disk, as a guest's block device would show it."""
        with open(path, "wb") as f:
            f.truncate(size)
            for index, data in self.iter_blocks(blocks):
                start = index * self.block_size
                if start < size:
                    f.seek(start)
                    f.write(data[: size - start])

    def from_raw_file(self, path: Path) -> BlockMap:
        """Read a raw file back, visiting only its data extents (SEEK_DATA/SEEK_HOLE)."""
        bs = self.block_size
        blocks: BlockMap = {}
        size = path.stat().st_size
        with open(path, "rb") as f:
            fd = f.fileno()
            pos = 0
            while pos < size:
                try:
                    start = os.lseek(fd, pos, os.SEEK_DATA)
                except OSError:
                    break
                end = os.lseek(fd, start, os.SEEK_HOLE)
                index = start // bs
                while index * bs < end:
                    f.seek(index * bs)
                    digest = self.put_chunk(f.read(bs))
                    if digest:
                        blocks[str(index)] = digest
                    index += 1
                pos = index * bs
        return blocks


def diff(base: BlockMap, new: BlockMap) -> dict[str, str | None]:
    """Blocks of `new` that differ from `base`; None marks a block that became zero."""
    delta: dict[str, str | None] = {k: v for k, v in new.items() if base.get(k) != v}
    delta.update({k: None for k in base if k not in new})
    return delta


def apply(base: BlockMap, delta: dict[str, str | None]) -> BlockMap:
    out = dict(base)
    for k, v in delta.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out
