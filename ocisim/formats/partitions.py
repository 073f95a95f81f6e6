"""The firmware a disk boots with, read from its partition table: the fact OCI's image import sets the image's
firmware capability from.

A disk whose GPT (UEFI spec, chapter 5: "EFI PART" header at LBA 1, 128-byte partition entries at the LBA the
header names) holds an EFI System Partition (type C12A7328-F81F-11D2-BA4B-00A0C93EC93B) boots with UEFI; any
other disk (MBR, a GPT without an ESP, no table at all) with BIOS. OCI's global image capability schema lists
`Compute.Firmware` as BIOS or UEFI_64 (docs: Content/Compute/Tasks/configuringimagecapabilities.htm).
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable

SECTOR = 512
GPT_SIGNATURE = b"EFI PART"
ESP_TYPE = uuid.UUID("C12A7328-F81F-11D2-BA4B-00A0C93EC93B")
MAX_ENTRIES = 1024  # far above the 128 every tool writes; bounds what a hostile header can make us read


def has_efi_system_partition(read_at: Callable[[int, int], bytes]) -> bool:
    """True when the disk has a GPT with an EFI System Partition; `read_at(offset, length)` reads the disk."""
    header = read_at(SECTOR, 92)
    if len(header) < 92 or header[:8] != GPT_SIGNATURE:
        return False
    entries_lba, count, size = struct.unpack_from("<QII", header, 72)
    if not 0 < count <= MAX_ENTRIES or size < 128 or size > 4096:
        return False
    table = read_at(entries_lba * SECTOR, count * size)
    return any(uuid.UUID(bytes_le=table[i * size:i * size + 16]) == ESP_TYPE for i in range(len(table) // size))


def firmware(read_at: Callable[[int, int], bytes]) -> str:
    """UEFI_64 for a GPT disk with an EFI System Partition, else BIOS (see the module docstring)."""
    return "UEFI_64" if has_efi_system_partition(read_at) else "BIOS"


def gpt_with_esp(size: int, esp: bool = True) -> bytes:
    """The first 34 sectors of a `size`-byte GPT disk with one partition: an EFI System Partition, or (esp=False)
    a Linux filesystem partition. For tests and the seed: enough for `firmware` and for tools that read GPTs."""
    import zlib

    last_lba = size // SECTOR - 1
    linux = uuid.UUID("0FC63DAF-8483-4772-8E79-3D69D8477DE4")
    entry = struct.pack("<16s16sQQQ72s", (ESP_TYPE if esp else linux).bytes_le, uuid.uuid4().bytes_le, 2048,
                        min(last_lba - 34, 2048 + 2047), 0, "EFI System".encode("utf-16-le") if esp else b"")
    entries = entry + bytes(128 * 128 - len(entry))
    header = bytearray(struct.pack("<8sIIIIQQQQ16sQIII", GPT_SIGNATURE, 0x00010000, 92, 0, 0, 1, last_lba, 34,
                                   last_lba - 33, uuid.uuid4().bytes_le, 2, 128, 128, zlib.crc32(entries)))
    struct.pack_into("<I", header, 16, zlib.crc32(bytes(header)))
    mbr = bytearray(SECTOR)
    mbr[446:462] = struct.pack("<B3sB3sII", 0, b"\x00\x02\x00", 0xEE, b"\xff\xff\xff", 1, min(last_lba, 0xFFFFFFFF))
    mbr[510:512] = b"\x55\xaa"
    return bytes(mbr) + bytes(header) + bytes(SECTOR - len(header)) + entries
