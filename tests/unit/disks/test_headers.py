"""Disk-image headers: format and virtual size read from the first bytes, and what OCI cannot import refused."""

from __future__ import annotations

import io
import struct

import pytest
from common.ids import GIB, MIB
from disks.headers import DiskImageError, probe_disk_header

from ocisim import formats


# ------------------------------------------------------------------------------------------------
def _image_bytes(fmt: str, size: int, subformat: str | None = None) -> bytes:
    out = io.BytesIO()
    formats.write_image(out, fmt, size, [(0, b"x" * MIB)], MIB, subformat)
    return out.getvalue()


@pytest.mark.parametrize(("fmt", "subformat"), [("VMDK", "streamOptimized"), ("VMDK", "monolithicSparse"),
                                                ("QCOW2", None)])
def test_probe_reads_format_and_virtual_size(fmt, subformat):
    data = _image_bytes(fmt, 10 * GIB + 512 * 7, subformat)
    assert probe_disk_header(data[:65536]) == (fmt, 10 * GIB + 512 * 7)
    assert probe_disk_header(data[:65536]) == formats.probe(data[:512])  # agrees with ocisim's reader


def test_probe_refuses_what_oci_does_not_import():
    qcow2 = bytearray(_image_bytes("QCOW2", GIB))
    backing = bytearray(qcow2)
    struct.pack_into(">Q", backing, 8, 4096)
    v1 = bytearray(qcow2)
    struct.pack_into(">I", v1, 4, 1)
    refusals = {
        b"# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\n": "VMDK descriptor file",
        bytes(backing[:512]): "backing file",
        bytes(v1[:512]): "QCOW version 1",
        b"conectix" + bytes(504): "VHD",
        b"hello, world\n" * 40: "text file",
        bytes(510) + b"\x55\xaa": "raw disk",
        b"": "empty",
        b"KDMV\x01": "truncated",
        bytes(range(256)) * 2: "not a VMDK or QCOW2",
    }
    for head, fragment in refusals.items():
        with pytest.raises(DiskImageError, match=fragment):
            probe_disk_header(head)
