"""Pure-Python disk image formats for custom image import and export.

OCI accepts QCOW2 and VMDK images; this package detects them, decodes them
into fixed-size blocks of the virtual disk and writes them back out. Memory
stays bounded by one block or one grain/L2 table, never the whole disk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

__all__ = [
    "BLOCK_SIZE",
    "ImageFormatError",
    "iter_blocks",
    "probe",
    "write_image",
]

BLOCK_SIZE = 1 << 20  # default block size callers use
SECTOR = 512

UNSUPPORTED = "The image file format is not supported. Supported formats are QCOW2 and VMDK."


class ImageFormatError(ValueError):
    """The file is not a usable QCOW2/VMDK image; the message is shown to API users."""


def corrupt(detail: str) -> ImageFormatError:
    """Error for a file that claims a supported format but breaks its rules."""
    return ImageFormatError(f"The image file is corrupt or truncated: {detail}.")


def unsupported(detail: str) -> ImageFormatError:
    """Error for a valid image that uses a feature OCI does not import."""
    return ImageFormatError(f"The image file uses a feature that is not supported: {detail}.")


class Source:
    """Bounds-checked random access, so a lying table entry becomes a clear error."""

    def __init__(self, read_at: Callable[[int, int], bytes], size: int) -> None:
        self._read_at = read_at
        self.size = size

    def read(self, offset: int, length: int, what: str) -> bytes:
        """Exactly `length` bytes at `offset`, or ImageFormatError if outside the file."""
        if offset < 0 or length < 0 or offset + length > self.size:
            raise corrupt(f"{what} at offset {offset} lies beyond the end of the file")
        data = bytes(self._read_at(offset, length))
        if len(data) != length:
            raise corrupt(f"short read of {what} at offset {offset}")
        return data

    def read_padded(self, offset: int, length: int, what: str) -> bytes:
        """Like read(), but a tail past end of file reads as zeros.

        Writers may leave the final cluster of a file short; the spec says
        unwritten bytes of an allocated cluster read as zero.
        """
        if offset < 0 or offset >= self.size:
            raise corrupt(f"{what} at offset {offset} lies beyond the end of the file")
        avail = min(length, self.size - offset)
        return self.read(offset, avail, what) + bytes(length - avail)


def rechunk(
    chunks: Iterable[tuple[int, bytes]], in_size: int, out_size: int, limit: int
) -> Iterator[tuple[int, bytes]]:
    """Regroup (index, data) runs of `in_size` units into `out_size` units.

    Input must ascend; bytes at or past `limit` (the virtual size) are dropped.
    Only output units holding a non-zero byte are yielded, each exactly
    `out_size` bytes, so a sparse image stays sparse whatever its cluster size.
    """
    zero = bytes(out_size)
    cur = -1
    buf = bytearray()
    next_start = 0
    for index, data in chunks:
        if index < 0 or len(data) > in_size:
            raise ValueError(f"block {index} is malformed (length {len(data)}, expected {in_size})")
        start = index * in_size
        if start < next_start:
            raise ValueError("blocks must be given once each, in ascending block_index order")
        next_start = start + in_size
        end = min(start + len(data), limit)
        pos = start
        while pos < end:
            unit = pos // out_size
            if unit != cur:
                if cur >= 0 and buf != zero:
                    yield cur, bytes(buf)
                cur, buf = unit, bytearray(out_size)
            base = unit * out_size
            n = min(end, base + out_size) - pos
            buf[pos - base : pos - base + n] = data[pos - start : pos - start + n]
            pos += n
    if cur >= 0 and buf != zero:
        yield cur, bytes(buf)


def _check_block_size(block_size: int) -> None:
    if block_size <= 0 or block_size % SECTOR:
        raise ValueError("block_size must be a positive multiple of 512")


def probe(head: bytes) -> tuple[str, int]:
    """Return (format, virtual_size_bytes) from the first bytes of a file.

    512 bytes hold both the VMDK sparse extent header and the QCOW2 header.
    """
    head = bytes(head)
    if head[:4] == vmdk.MAGIC:
        return "VMDK", vmdk.probe(head)
    if head[:4] == qcow2.MAGIC:
        return "QCOW2", qcow2.probe(head)
    raise ImageFormatError(UNSUPPORTED)


def iter_blocks(
    read_at: Callable[[int, int], bytes], size: int, block_size: int = BLOCK_SIZE
) -> Iterator[tuple[int, bytes]]:
    """Yield (block_index, data) for every non-zero block of the virtual disk.

    Blocks ascend and are exactly `block_size` bytes (the last one
    zero-padded). Raises ImageFormatError on malformed input.
    """
    _check_block_size(block_size)
    src = Source(read_at, size)
    fmt, _ = probe(src.read(0, min(size, SECTOR), "header") if size > 0 else b"")
    module = vmdk if fmt == "VMDK" else qcow2
    yield from module.iter_blocks(src, block_size)


def write_image(
    out: BinaryIO,
    fmt: str,
    virtual_size: int,
    blocks: Iterable[tuple[int, bytes]],
    block_size: int = BLOCK_SIZE,
    subformat: str | None = None,
) -> None:
    """Write an image of `virtual_size` bytes whose content is `blocks`.

    `blocks` ascend, each `block_size` bytes; absent blocks are zero. fmt is
    "VMDK" (subformat "streamOptimized", the default, or "monolithicSparse")
    or "QCOW2" (version 3). streamOptimized only calls out.write(), so a pipe
    works; monolithicSparse and QCOW2 need a seekable `out` because their
    headers point at tables that are only known at the end.
    """
    _check_block_size(block_size)
    if virtual_size <= 0:
        raise ValueError("virtual_size must be positive")
    kind = fmt.upper()
    if kind == "VMDK":
        sub = subformat or "streamOptimized"
        if sub not in vmdk.SUBFORMATS:
            raise ImageFormatError(
                f"The VMDK subformat {sub} is not supported. "
                "Supported subformats are streamOptimized and monolithicSparse."
            )
        vmdk.write(out, virtual_size, blocks, block_size, sub)
    elif kind == "QCOW2":
        if subformat is not None:
            raise ImageFormatError("QCOW2 images have no subformat.")
        qcow2.write(out, virtual_size, blocks, block_size)
    else:
        raise ImageFormatError(UNSUPPORTED)


# The format modules import the helpers above, so they must load last.
from . import qcow2, vmdk  # noqa: E402
