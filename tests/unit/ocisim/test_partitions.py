"""The firmware an imported disk gets from its partition table (ocisim/formats/partitions.py)."""

from __future__ import annotations

import struct

from ocisim.formats.partitions import firmware, gpt_with_esp

SIZE = 64 << 20


def reader(disk: bytes):
    return lambda offset, length: disk[offset:offset + length]


def test_gpt_with_an_efi_system_partition_is_uefi_and_others_bios():
    assert firmware(reader(gpt_with_esp(SIZE))) == "UEFI_64"
    assert firmware(reader(gpt_with_esp(SIZE, esp=False))) == "BIOS"
    mbr_only = bytearray(gpt_with_esp(SIZE))
    mbr_only[512:520] = b"NOTAGPT!"
    assert firmware(reader(bytes(mbr_only))) == "BIOS"
    assert firmware(reader(bytes(4096))) == "BIOS"


def test_a_header_claiming_huge_tables_is_bios_not_a_huge_read():
    disk = bytearray(gpt_with_esp(SIZE))
    struct.pack_into("<I", disk, 512 + 80, 10_000_000)
    reads = []
    assert firmware(lambda offset, length: reads.append(length) or bytes(disk[offset:offset + length])) == "BIOS"
    assert max(reads) < 1 << 20
