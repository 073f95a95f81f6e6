"""CRC32C (Castagnoli), as Object Storage reports it: base64 of the 4 big-endian bytes.

The C `crc32c` package (a dependency of the `oci` SDK) does the bytes when it is installed; a table-driven
fallback keeps ocisim on the standard library. `combine` joins the CRCs of consecutive pieces without reading
them again (zlib's crc32_combine method over GF(2)), which is how a multipart object gets its whole-object CRC.
"""

from __future__ import annotations

import base64
import struct

try:
    from crc32c import crc32c as _fast
except ImportError:  # pragma: no cover - the lock installs crc32c
    _fast = None

POLY = 0x82F63B78  # reflected Castagnoli polynomial


def _table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ POLY if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _table()


def update(data: bytes, value: int = 0) -> int:
    """The CRC32C of everything so far, continued over `data`."""
    if _fast is not None:
        return _fast(data, value)
    crc = value ^ 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _times(matrix: list[int], vector: int) -> int:
    total, i = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[i]
        vector >>= 1
        i += 1
    return total


def _square(matrix: list[int]) -> list[int]:
    return [_times(matrix, row) for row in matrix]


def combine(crc1: int, crc2: int, length2: int) -> int:
    """CRC32C of A+B from CRC32C(A), CRC32C(B) and len(B)."""
    if length2 <= 0:
        return crc1
    matrix = _square(_square([POLY] + [1 << i for i in range(31)]))  # one zero bit, squared twice: four
    while length2:
        matrix = _square(matrix)  # 8, 16, 32 ... zero bits: one zero byte, two, four ...
        if length2 & 1:
            crc1 = _times(matrix, crc1)
        length2 >>= 1
    return crc1 ^ crc2


def b64(value: int) -> str:
    return base64.b64encode(struct.pack(">I", value & 0xFFFFFFFF)).decode()
