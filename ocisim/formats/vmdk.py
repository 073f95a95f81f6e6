"""VMDK hosted sparse extents: monolithicSparse and streamOptimized.

Written from VMware "Virtual Disk Format 1.1": a 512-byte little-endian
sparse extent header, an embedded text descriptor, a grain directory (GD) of
grain table (GT) sector numbers, and GTs of grain sector numbers. Grains are
`grainSize` sectors; streamOptimized grains are zlib-compressed, each behind a
(lba, size) grain marker, and tables carry markers too so the file can be
written front to back with the GD and a footer copy of the header at the end.
"""

from __future__ import annotations

import os
import struct
import zlib
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import BinaryIO

from .common import SECTOR, Source, corrupt, rechunk, unsupported

MAGIC = b"KDMV"
SUBFORMATS = ("streamOptimized", "monolithicSparse")

_HEADER = struct.Struct("<4sIIQQQQIQQQB4sH")  # followed by pad to one sector
_MARKER = struct.Struct("<QII")  # val (lba or sector count), size, type
_GRAIN_MARKER = struct.Struct("<QI")  # lba, compressed size; data follows

FLAG_NL_DETECT = 1 << 0  # newline test characters are valid
FLAG_COMPRESSED = 1 << 16
FLAG_MARKERS = 1 << 17
GD_AT_END = (1 << 64) - 1  # streamOptimized: real gdOffset lives in the footer
DEFLATE = 1
NL_TEST = b"\n \r\n"  # corrupted by a text-mode (FTP ASCII) transfer
MARKER_EOS, MARKER_GT, MARKER_GD, MARKER_FOOTER = 0, 1, 2, 3
GTE_ZERO = 1  # "zeroed grain": reads as zeros without data

GRAIN_SECTORS = 128  # 64 KiB grains, the size VMware and qemu use
GTES_PER_GT = 512  # the spec fixes numGTEsPerGT at 512
DESC_SECTORS = 20
MAX_CAPACITY = 1 << 37  # sectors (64 TiB); guards against absurd headers
MAX_SECTOR = (1 << 32) - 1  # GD/GT entries are 32-bit sector numbers


@dataclass(frozen=True)
class Header:
    """The SparseExtentHeader fields ocisim uses."""

    version: int
    flags: int
    capacity: int  # sectors
    grain_size: int  # sectors
    desc_offset: int
    desc_size: int
    gtes_per_gt: int
    gd_offset: int
    overhead: int
    compress: int

    @property
    def compressed(self) -> bool:
        return bool(self.flags & FLAG_COMPRESSED) or self.compress != 0

    @classmethod
    def parse(cls, raw: bytes) -> Header:
        """Decode and sanity-check a header sector."""
        if len(raw) < SECTOR:
            raise corrupt("the VMDK header is shorter than 512 bytes")
        (
            magic,
            version,
            flags,
            capacity,
            grain,
            desc_off,
            desc_size,
            gtes,
            _rgd,
            gd,
            overhead,
            _unclean,
            nl,
            compress,
        ) = _HEADER.unpack_from(raw)
        if magic != MAGIC:
            raise corrupt("the VMDK header magic is missing")
        if version not in (1, 2, 3):
            raise unsupported(f"VMDK sparse extent version {version}")
        if flags & FLAG_NL_DETECT and nl != NL_TEST:
            raise corrupt("VMDK newline test bytes are damaged (was it copied in text mode?)")
        if not 0 < capacity <= MAX_CAPACITY:
            raise corrupt(f"VMDK capacity of {capacity} sectors is out of range")
        if grain < 1 or grain & (grain - 1) or grain > 1 << 16:
            raise corrupt(f"VMDK grain size of {grain} sectors is not a power of two up to 32 MiB")
        if not 0 < gtes <= 1 << 16:
            raise corrupt(f"VMDK grain table size of {gtes} entries is out of range")
        header = cls(version, flags, capacity, grain, desc_off, desc_size, gtes, gd, overhead, compress)
        if header.compressed and compress != DEFLATE:
            raise unsupported(f"VMDK compression algorithm {compress}")
        return header

    def pack(self) -> bytes:
        """Encode as one sector; the redundant GD is never written (rgdOffset 0)."""
        raw = _HEADER.pack(
            MAGIC,
            self.version,
            self.flags,
            self.capacity,
            self.grain_size,
            self.desc_offset,
            self.desc_size,
            self.gtes_per_gt,
            0,
            self.gd_offset,
            self.overhead,
            0,
            NL_TEST,
            self.compress,
        )
        return raw.ljust(SECTOR, b"\0")


def probe(head: bytes) -> int:
    """Virtual size in bytes; capacity is valid even when the GD is at the end."""
    return Header.parse(head).capacity * SECTOR


# --- reading ---------------------------------------------------------------


def iter_blocks(src: Source, block_size: int) -> Iterator[tuple[int, bytes]]:
    """Non-zero blocks of the virtual disk, walking the GD and GTs in LBA order."""
    header = _read_header(src)
    _check_descriptor(src, header)
    grain_bytes = header.grain_size * SECTOR
    limit = header.capacity * SECTOR
    yield from rechunk(_iter_grains(src, header), grain_bytes, block_size, limit)


def _read_header(src: Source) -> Header:
    """The header, or its footer copy when gdOffset is GD_AT_END.

    A stream ends with: footer marker sector, footer (a header copy holding the
    real gdOffset), end-of-stream marker sector.
    """
    header = Header.parse(src.read(0, SECTOR, "VMDK header"))
    if header.gd_offset != GD_AT_END:
        return header
    if src.size < 4 * SECTOR:
        raise corrupt("the streamOptimized VMDK footer is missing")
    _, size, kind = _MARKER.unpack_from(src.read(src.size - 3 * SECTOR, SECTOR, "footer marker"))
    eos = src.read(src.size - SECTOR, SECTOR, "end-of-stream marker")
    if size != 0 or kind != MARKER_FOOTER or _MARKER.unpack_from(eos) != (0, 0, MARKER_EOS):
        raise corrupt("the streamOptimized VMDK footer is missing")
    footer = Header.parse(src.read(src.size - 2 * SECTOR, SECTOR, "VMDK footer"))
    if footer.gd_offset == GD_AT_END or footer.capacity != header.capacity:
        raise corrupt("the streamOptimized VMDK footer does not match its header")
    return footer


def _check_descriptor(src: Source, header: Header) -> None:
    """Refuse split, flat and delta disks, which need files we do not have."""
    if not header.desc_offset or not header.desc_size:
        return
    if header.desc_size > 2048:
        raise corrupt("the VMDK descriptor is larger than 1 MiB")
    raw = src.read(header.desc_offset * SECTOR, header.desc_size * SECTOR, "VMDK descriptor")
    fields = {}
    for line in raw.split(b"\0", 1)[0].decode("latin-1").splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            fields[key.strip()] = value.strip().strip('"')
    create_type = fields.get("createType", "monolithicSparse")
    if create_type not in SUBFORMATS:
        raise unsupported(
            f"VMDK createType {create_type}; use a single-file monolithicSparse or streamOptimized VMDK"
        )
    if fields.get("parentCID", "ffffffff").lower() != "ffffffff":
        raise unsupported("VMDK delta disks that need a parent disk")


def _iter_grains(src: Source, h: Header) -> Iterator[tuple[int, bytes]]:
    """(grain_index, data) for every grain with stored data, in LBA order."""
    grains = -(-h.capacity // h.grain_size)
    n_gts = -(-grains // h.gtes_per_gt)
    gd = src.read(h.gd_offset * SECTOR, 4 * n_gts, "grain directory")
    for t, (gt_sector,) in enumerate(struct.iter_unpack("<I", gd)):
        if gt_sector == 0:
            continue  # whole table unallocated: no parent, so zeros
        first = t * h.gtes_per_gt
        count = min(h.gtes_per_gt, grains - first)
        gt = src.read(gt_sector * SECTOR, 4 * count, "grain table")
        for k, (gte,) in enumerate(struct.iter_unpack("<I", gt)):
            if gte in (0, GTE_ZERO):
                continue
            yield first + k, _read_grain(src, h, first + k, gte)


def _read_grain(src: Source, h: Header, index: int, sector: int) -> bytes:
    grain_bytes = h.grain_size * SECTOR
    wanted = min(grain_bytes, (h.capacity - index * h.grain_size) * SECTOR)
    offset = sector * SECTOR
    if not h.compressed:
        return src.read_padded(offset, wanted, "grain")
    lba, size = _GRAIN_MARKER.unpack(src.read(offset, _GRAIN_MARKER.size, "grain marker"))
    if lba == index * h.grain_size and 0 < size <= 2 * grain_bytes:
        payload = src.read(offset + _GRAIN_MARKER.size, size, "compressed grain")
    elif h.flags & FLAG_MARKERS:
        raise corrupt(f"the grain marker at sector {sector} does not belong to LBA {index * h.grain_size}")
    else:  # compressed without markers: qemu stores a bare zlib stream
        payload = src.read(offset, min(2 * grain_bytes, src.size - offset), "compressed grain")
    return _inflate(payload, grain_bytes, sector)


def _inflate(payload: bytes, limit: int, sector: int) -> bytes:
    """zlib per the spec in practice; raw deflate (RFC 1951) is accepted too."""
    for wbits in (zlib.MAX_WBITS, -zlib.MAX_WBITS):
        inflater = zlib.decompressobj(wbits)
        try:
            data = inflater.decompress(payload, limit)
        except zlib.error:
            continue
        if inflater.eof and not inflater.unconsumed_tail:
            return data
        break
    raise corrupt(f"the compressed grain at sector {sector} cannot be decompressed")


# --- writing ---------------------------------------------------------------


class _Counted:
    """Tracks the write position so a stream needs no tell() or seek()."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.pos = 0

    def write(self, data: bytes) -> None:
        self.out.write(data)
        self.pos += len(data)

    @property
    def sector(self) -> int:
        sector = self.pos // SECTOR
        if sector > MAX_SECTOR:
            raise ValueError("a VMDK sparse extent cannot grow beyond 2 TiB")
        return sector


def write(
    out: BinaryIO, virtual_size: int, blocks: Iterable[tuple[int, bytes]], block_size: int, subformat: str
) -> None:
    """Write a single-extent VMDK of `subformat` with 64 KiB grains."""
    capacity = -(-virtual_size // SECTOR)
    if capacity > MAX_CAPACITY:
        raise ValueError("virtual_size is too large for VMDK")
    grains = rechunk(blocks, block_size, GRAIN_SECTORS * SECTOR, capacity * SECTOR)
    if subformat == "streamOptimized":
        _write_stream(_Counted(out), capacity, grains)
    else:
        _write_sparse(out, capacity, grains)


def _descriptor(create_type: str, capacity: int) -> bytes:
    """Embedded descriptor: one SPARSE extent, no parent, IDE geometry."""
    cylinders = min(capacity // (16 * 63), 16383)
    text = (
        "# Disk DescriptorFile\n"
        "version=1\n"
        f"CID={os.urandom(4).hex()}\n"
        "parentCID=ffffffff\n"
        f'createType="{create_type}"\n'
        "\n"
        "# Extent description\n"
        f'RW {capacity} SPARSE "disk.vmdk"\n'
        "\n"
        "# The Disk Data Base\n"
        "#DDB\n"
        "\n"
        'ddb.virtualHWVersion = "4"\n'
        f'ddb.geometry.cylinders = "{cylinders}"\n'
        'ddb.geometry.heads = "16"\n'
        'ddb.geometry.sectors = "63"\n'
        'ddb.adapterType = "ide"\n'
    )
    return text.encode("ascii").ljust(DESC_SECTORS * SECTOR, b"\0")


def _table_count(capacity: int) -> int:
    return -(-capacity // (GRAIN_SECTORS * GTES_PER_GT))


def _marker(val: int, kind: int) -> bytes:
    return _MARKER.pack(val, 0, kind).ljust(SECTOR, b"\0")


def _le32(values: array) -> bytes:
    """GD/GT entries are little-endian uint32 whatever the host order."""
    table = array("I", values)
    if table.itemsize != 4:
        raise RuntimeError("array('I') is not 32-bit on this platform")
    if struct.pack("=I", 1) != struct.pack("<I", 1):
        table.byteswap()
    return table.tobytes()


def _write_stream(w: _Counted, capacity: int, grains: Iterator[tuple[int, bytes]]) -> None:
    """Front-to-back layout: header(gdOffset=-1), descriptor, marked grains and
    GTs, GD marker + GD, footer marker + footer, end-of-stream marker.

    All-zero grains and all-empty GTs are omitted (GTE/GD entry 0), so an
    empty 500 GB disk is a few hundred KiB.
    """
    header = Header(
        version=3,
        flags=FLAG_NL_DETECT | FLAG_COMPRESSED | FLAG_MARKERS,
        capacity=capacity,
        grain_size=GRAIN_SECTORS,
        desc_offset=1,
        desc_size=DESC_SECTORS,
        gtes_per_gt=GTES_PER_GT,
        gd_offset=GD_AT_END,
        overhead=GRAIN_SECTORS,
        compress=DEFLATE,
    )
    w.write(header.pack())
    w.write(_descriptor("streamOptimized", capacity))
    w.write(bytes((header.overhead - 1 - DESC_SECTORS) * SECTOR))
    gd = array("I", bytes(4 * _table_count(capacity)))
    gt_index, gt = -1, array("I")

    def flush_gt() -> None:
        if gt_index >= 0:
            w.write(_marker(GTES_PER_GT * 4 // SECTOR, MARKER_GT))
            gd[gt_index] = w.sector
            w.write(_le32(gt))

    for index, data in grains:
        if index // GTES_PER_GT != gt_index:
            flush_gt()
            gt_index, gt = index // GTES_PER_GT, array("I", bytes(4 * GTES_PER_GT))
        packed = zlib.compress(data)
        gt[index % GTES_PER_GT] = w.sector
        record = _GRAIN_MARKER.pack(index * GRAIN_SECTORS, len(packed)) + packed
        w.write(record + bytes(-len(record) % SECTOR))
    flush_gt()
    gd_bytes = _le32(gd)
    gd_bytes += bytes(-len(gd_bytes) % SECTOR)
    w.write(_marker(len(gd_bytes) // SECTOR, MARKER_GD))
    gd_sector = w.sector
    w.write(gd_bytes)
    w.write(_marker(1, MARKER_FOOTER))
    w.write(replace(header, gd_offset=gd_sector).pack())
    w.write(_marker(0, MARKER_EOS))


def _write_sparse(out: BinaryIO, capacity: int, grains: Iterator[tuple[int, bytes]]) -> None:
    """Classic hosted layout: header, descriptor, GD, every GT preallocated,
    then raw grains. GTs are filled in by seeking back once each is complete,
    so only one GT is held in memory; `out` must be seekable.
    """
    n_gts = _table_count(capacity)
    gt_sectors = GTES_PER_GT * 4 // SECTOR
    gd_offset = 1 + DESC_SECTORS
    first_gt = gd_offset + -(-4 * n_gts // SECTOR)
    overhead = -(-(first_gt + n_gts * gt_sectors) // GRAIN_SECTORS) * GRAIN_SECTORS
    if overhead > MAX_SECTOR:
        raise ValueError("virtual_size is too large for a monolithicSparse VMDK")
    header = Header(
        version=1,
        flags=FLAG_NL_DETECT,
        capacity=capacity,
        grain_size=GRAIN_SECTORS,
        desc_offset=1,
        desc_size=DESC_SECTORS,
        gtes_per_gt=GTES_PER_GT,
        gd_offset=gd_offset,
        overhead=overhead,
        compress=0,
    )
    base = out.tell()
    out.write(header.pack())
    out.write(_descriptor("monolithicSparse", capacity))
    gd = array("I", range(first_gt, first_gt + n_gts * gt_sectors, gt_sectors))
    out.write(_le32(gd))
    # Extend the file over the (zero, i.e. empty) GT area without writing it all.
    out.seek(base + (overhead - 1) * SECTOR)
    out.write(bytes(SECTOR))
    w = _Counted(out)
    w.pos = overhead * SECTOR
    gt_index, gt = -1, array("I")

    def flush_gt() -> None:
        if gt_index >= 0:
            out.seek(base + (first_gt + gt_index * gt_sectors) * SECTOR)
            out.write(_le32(gt))
            out.seek(base + w.pos)

    for index, data in grains:
        if index // GTES_PER_GT != gt_index:
            flush_gt()
            gt_index, gt = index // GTES_PER_GT, array("I", bytes(4 * GTES_PER_GT))
        gt[index % GTES_PER_GT] = w.sector
        w.write(data)
    flush_gt()
