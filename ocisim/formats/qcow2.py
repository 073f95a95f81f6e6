"""QCOW2 images, versions 2 and 3.

Written from QEMU's docs/interop/qcow2.txt: a big-endian header, a
two-level L1/L2 map from guest clusters to host clusters, and refcount
tables that count references to every host cluster. Reading honours
unallocated and (v3) zero clusters; compression, encryption, backing files,
external data files and extended L2 entries are refused, since an imported
image must be self-contained and plain.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from .common import SECTOR, Source, corrupt, rechunk, unsupported

MAGIC = b"QFI\xfb"

_HEADER_V2 = struct.Struct(">4sIQIIQIIQQIIQ")  # 72 bytes
_HEADER_V3 = struct.Struct(">QQQII")  # features, refcount_order, header_length

OFFSET_MASK = 0x00FF_FFFF_FFFF_FE00  # bits 9-55: host offset in L1/L2 entries
COPIED = 1 << 63  # refcount is exactly one
COMPRESSED = 1 << 62
ZERO = 1 << 0  # v3: cluster reads as zeros

INCOMPAT_DIRTY = 1 << 0  # refcounts may be stale; mapping is still valid
INCOMPAT_CORRUPT = 1 << 1
INCOMPAT_DATA_FILE = 1 << 2
INCOMPAT_COMPRESSION = 1 << 3  # non-zlib compression type; only matters for compressed clusters
INCOMPAT_EXTL2 = 1 << 4

CLUSTER_BITS = 16  # the writer's 64 KiB clusters, qemu's default
MAX_L1_BYTES = 32 << 20  # qemu's own limit on L1 table size


@dataclass(frozen=True)
class Header:
    """The header fields ocisim uses."""

    version: int
    cluster_bits: int
    size: int
    l1_size: int
    l1_offset: int

    @property
    def cluster_size(self) -> int:
        return 1 << self.cluster_bits

    @classmethod
    def parse(cls, raw: bytes) -> Header:
        """Decode the header and refuse features an import cannot honour."""
        if len(raw) < _HEADER_V2.size:
            raise corrupt("the QCOW2 header is truncated")
        (
            magic,
            version,
            backing_offset,
            _backing_len,
            cluster_bits,
            size,
            crypt,
            l1_size,
            l1_offset,
            _rt_offset,
            _rt_clusters,
            _snapshots,
            _snap_offset,
        ) = _HEADER_V2.unpack_from(raw)
        if magic != MAGIC:
            raise corrupt("the QCOW2 header magic is missing")
        if version == 1:
            raise unsupported("QCOW version 1; convert the image to QCOW2")
        if version not in (2, 3):
            raise unsupported(f"QCOW2 version {version}")
        if version == 3:
            if len(raw) < _HEADER_V2.size + _HEADER_V3.size:
                raise corrupt("the QCOW2 version 3 header is truncated")
            incompat = _HEADER_V3.unpack_from(raw, _HEADER_V2.size)[0]
            _check_incompatible(incompat)
        if not 9 <= cluster_bits <= 21:
            raise corrupt(f"QCOW2 cluster_bits {cluster_bits} is outside 9..21")
        if crypt:
            raise unsupported("encrypted QCOW2 images")
        if backing_offset:
            raise unsupported("QCOW2 images with a backing file; flatten the image first")
        return cls(version, cluster_bits, size, l1_size, l1_offset)


def _check_incompatible(bits: int) -> None:
    if bits & INCOMPAT_CORRUPT:
        raise corrupt("the QCOW2 image is marked corrupt")
    if bits & INCOMPAT_DATA_FILE:
        raise unsupported("QCOW2 images with an external data file")
    if bits & INCOMPAT_EXTL2:
        raise unsupported("QCOW2 extended L2 entries (subclusters)")
    unknown = bits & ~(INCOMPAT_DIRTY | INCOMPAT_COMPRESSION)
    if unknown:
        raise unsupported(f"QCOW2 incompatible feature bits {unknown:#x}")


def probe(head: bytes) -> int:
    """Virtual size in bytes, from the header's `size` field."""
    return Header.parse(head).size


# --- reading ---------------------------------------------------------------


def iter_blocks(src: Source, block_size: int) -> Iterator[tuple[int, bytes]]:
    """Non-zero blocks of the virtual disk, walking L1 and L2 in guest order."""
    header = Header.parse(src.read(0, min(src.size, 512), "QCOW2 header"))
    yield from rechunk(_iter_clusters(src, header), header.cluster_size, block_size, header.size)


def _iter_clusters(src: Source, h: Header) -> Iterator[tuple[int, bytes]]:
    """(guest_cluster, data) for every cluster with data; the rest read as zero."""
    cs = h.cluster_size
    per_l2 = cs // 8
    clusters = -(-h.size // cs)
    l1_needed = -(-clusters // per_l2)
    if h.l1_size < l1_needed:
        raise corrupt("the QCOW2 L1 table is too small for the virtual size")
    if l1_needed * 8 > MAX_L1_BYTES:
        raise unsupported("QCOW2 virtual sizes this large")
    if h.l1_offset % cs:
        raise corrupt("the QCOW2 L1 table is not cluster aligned")
    l1 = src.read(h.l1_offset, l1_needed * 8, "L1 table")
    for i, (l1_entry,) in enumerate(struct.iter_unpack(">Q", l1)):
        l2_offset = l1_entry & OFFSET_MASK
        if not l2_offset:
            continue
        if l2_offset % cs:
            raise corrupt(f"L2 table offset {l2_offset:#x} is not cluster aligned")
        first = i * per_l2
        count = min(per_l2, clusters - first)
        l2 = src.read(l2_offset, count * 8, "L2 table")
        for k, (entry,) in enumerate(struct.iter_unpack(">Q", l2)):
            if entry & COMPRESSED:
                raise unsupported(
                    "QCOW2 compressed clusters; convert the image without compression "
                    "(qemu-img convert -O qcow2 without -c)"
                )
            if h.version >= 3 and entry & ZERO:
                continue
            host = entry & OFFSET_MASK
            if not host:
                continue  # unallocated and no backing file: zeros
            if host % cs:
                raise corrupt(f"data cluster offset {host:#x} is not cluster aligned")
            wanted = min(cs, h.size - (first + k) * cs)
            yield first + k, src.read_padded(host, wanted, "data cluster")


# --- writing ---------------------------------------------------------------


def write(out: BinaryIO, virtual_size: int, blocks: Iterable[tuple[int, bytes]], block_size: int) -> None:
    """Write a version 3 image with 64 KiB clusters; `out` must be seekable.

    Layout: header cluster, L1 table, then data clusters with each L2 table
    appended once its range is complete, then refcount blocks and table.
    Every cluster is written once and referenced once, so all refcounts are
    1 with no gaps, and the COPIED flag is set on every L1/L2 entry.
    """
    cs = 1 << CLUSTER_BITS
    per_l2 = cs // 8
    size = -(-virtual_size // SECTOR) * SECTOR
    l1_size = -(-size // (cs * per_l2))
    l1_clusters = max(1, -(-l1_size * 8 // cs))
    if l1_size * 8 > MAX_L1_BYTES:
        raise ValueError("virtual_size is too large for QCOW2")
    base = out.tell()
    next_cluster = 1 + l1_clusters
    out.seek(base + next_cluster * cs)
    l1 = [0] * l1_size
    l2_index, l2 = -1, [0] * per_l2

    def flush_l2() -> None:
        nonlocal next_cluster
        if l2_index >= 0:
            out.write(struct.pack(f">{per_l2}Q", *l2))
            l1[l2_index] = next_cluster * cs | COPIED
            next_cluster += 1

    for index, data in rechunk(blocks, block_size, cs, size):
        if index // per_l2 != l2_index:
            flush_l2()
            l2_index, l2 = index // per_l2, [0] * per_l2
        l2[index % per_l2] = next_cluster * cs | COPIED
        out.write(data)
        next_cluster += 1
    flush_l2()

    rt_offset, rt_clusters = _write_refcounts(out, next_cluster, cs)
    out.seek(base)
    out.write(_pack_header(size, l1_size, rt_offset, rt_clusters).ljust(cs, b"\0"))
    out.write(struct.pack(f">{l1_size}Q", *l1).ljust(l1_clusters * cs, b"\0"))
    out.seek(0, 2)


def _write_refcounts(out: BinaryIO, used: int, cs: int) -> tuple[int, int]:
    """Append 16-bit refcount blocks and the table; return the table's place.

    The refcount metadata counts itself, so grow its size to a fixed point.
    """
    per_block = cs // 2
    blocks = table = 0
    while True:
        total = used + blocks + table
        need_blocks = -(-total // per_block)
        need_table = -(-need_blocks * 8 // cs)
        if (need_blocks, need_table) == (blocks, table):
            break
        blocks, table = need_blocks, need_table
    for j in range(blocks):
        count = min(per_block, total - j * per_block)
        out.write((b"\0\1" * count).ljust(cs, b"\0"))
    entries = [(used + j) * cs for j in range(blocks)]
    out.write(struct.pack(f">{blocks}Q", *entries).ljust(table * cs, b"\0"))
    return (used + blocks) * cs, table


def _pack_header(size: int, l1_size: int, rt_offset: int, rt_clusters: int) -> bytes:
    """Version 3 header, no features, refcount_order 4, no header extensions."""
    fixed = _HEADER_V2.pack(
        MAGIC,
        3,
        0,
        0,
        CLUSTER_BITS,
        size,
        0,
        l1_size,
        1 << CLUSTER_BITS,
        rt_offset,
        rt_clusters,
        0,
        0,
    )
    return fixed + _HEADER_V3.pack(0, 0, 0, 4, _HEADER_V2.size + _HEADER_V3.size)
