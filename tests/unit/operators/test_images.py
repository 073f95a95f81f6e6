"""The image operators' pure parts: disk-header probing and validation before any API call."""

from __future__ import annotations

import io
import struct

import pytest
from hooks.oci import GIB, MIB

from ocisim import formats


# ------------------------------------------------------------------------------------------------
def _image_bytes(fmt: str, size: int, subformat: str | None = None) -> bytes:
    out = io.BytesIO()
    formats.write_image(out, fmt, size, [(0, b"x" * MIB)], MIB, subformat)
    return out.getvalue()


@pytest.mark.parametrize(("fmt", "subformat"), [("VMDK", "streamOptimized"), ("VMDK", "monolithicSparse"),
                                                ("QCOW2", None)])
def test_probe_reads_format_and_virtual_size(fmt, subformat):
    from operators.images import probe_disk_header

    data = _image_bytes(fmt, 10 * GIB + 512 * 7, subformat)
    assert probe_disk_header(data[:65536]) == (fmt, 10 * GIB + 512 * 7)
    assert probe_disk_header(data[:65536]) == formats.probe(data[:512])  # agrees with ocisim's reader


def test_probe_refuses_what_oci_does_not_import():
    from operators.images import DiskImageError, probe_disk_header

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


def test_operator_validation_without_api_calls():
    from common.errors import OciInputError
    from operators.images import OciCreateImageFromInstanceOperator, OciImportImageOperator

    instance = "ocid1.instance.oc1.iad.aaaaaaaabbbbbbbb"
    cases = [
        (OciCreateImageFromInstanceOperator(task_id="a", instance_id=instance, launch_mode="FAST"), "launch_mode"),
        (OciCreateImageFromInstanceOperator(task_id="b", instance_id=instance, detach_iscsi=True,
                                            wait_for_completion=False), "wait_for_completion=True"),
        (OciCreateImageFromInstanceOperator(task_id="c", instance_id=instance, detach_iscsi=True,
                                            iscsi_cleanup_script="logout {target}"), "iscsi_cleanup_script"),
        (OciImportImageOperator(task_id="d", display_name="x", object_name="o"), "missing ['namespace', 'bucket']"),
        (OciImportImageOperator(task_id="e", display_name="x", namespace="n", bucket="b", object_name="o",
                                launch_mode="ACCELERATEDPV"), "launch_mode 'ACCELERATEDPV'"),
    ]
    for op, fragment in cases:
        with pytest.raises(OciInputError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
            op.validate()
