"""Pure-Python disk image formats for custom image import and export.

OCI accepts QCOW2 and VMDK images; this package detects them, decodes them
into fixed-size blocks of the virtual disk and writes them back out. Memory
stays bounded by one block or one grain/L2 table, never the whole disk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from . import qcow2, vmdk
from .common import SECTOR, UNSUPPORTED, ImageFormatError, Source

__all__ = [
    "BLOCK_SIZE",
    "ImageFormatError",
    "iter_blocks",
    "probe",
    "write_image",
]

BLOCK_SIZE = 1 << 20  # default block size callers use


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
