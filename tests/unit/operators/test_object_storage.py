"""OciUploadFileOperator's validation (the field and the rule, before any request) and its digests."""

from __future__ import annotations

import base64
import hashlib

import pytest
from common.errors import OciInputError
from common.ids import MIB
from operators.object_storage import OciUploadFileOperator, file_digests, multipart_md5

from ocisim.backend.objectstorage import multipart_md5 as ocisim_multipart_md5


def write_disk(path, size: int, seed: int = 1) -> bytes:
    """Pseudo-random bytes with a zero run in the middle (like a sparse disk), not a multiple of 1 MiB."""
    data = bytearray(hashlib.sha256(str(seed).encode()).digest() * (size // 32 + 1))[:size]
    data[2 * MIB:3 * MIB] = bytes(MIB)
    path.write_bytes(bytes(data))
    return bytes(data)


def b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()

@pytest.mark.parametrize(("field", "value", "rule"), [
    ("local_path", "{dir}", "not a regular file"),
    ("bucket", "my/bucket", "1-256 letters, digits, hyphens, underscores and periods"),
    ("bucket", "", "1-256 letters"),
    ("object_name", "", "must not be empty"),
    ("object_name", "a\nb", "line feed, carriage return or NUL"),
    ("object_name", "é" * 513, "at most 1024 bytes"),
    ("namespace", "a/b", "an Object Storage namespace name"),
    ("part_size_mb", 0, "a whole number of MiB from 1 to 51200"),
    ("part_size_mb", 51201, "a whole number of MiB from 1 to 51200"),
    ("part_size_mb", 1.5, "a whole number of MiB"),
    ("region", "moon-base-1", "not an OCI region identifier"),
])
def test_bad_input_names_the_field_and_the_rule(tmp_path, field, value, rule):
    disk = tmp_path / "disk.vmdk"
    disk.write_bytes(b"x")
    kwargs = {"local_path": str(disk), "bucket": "b", "object_name": "o"}
    kwargs[field] = str(tmp_path) if value == "{dir}" else value
    op = OciUploadFileOperator(task_id="upload", **kwargs)
    with pytest.raises(OciInputError) as err:
        op.validate()
    assert str(err.value).startswith(f"{field} ") and rule in str(err.value)


def test_too_many_parts_names_the_smallest_part_size(tmp_path):
    disk = tmp_path / "big.vmdk"
    with open(disk, "wb") as f:  # sparse: 10,001 MiB without writing them
        f.truncate(10_001 * MIB)
    op = OciUploadFileOperator(task_id="upload", local_path=str(disk), bucket="b", object_name="o", part_size_mb=1)
    with pytest.raises(OciInputError, match=r"part_size_mb 1: .* more than 10000 parts; use at least 2"):
        op.validate()


def test_multipart_md5_matches_object_storage_formula(tmp_path):
    disk = tmp_path / "disk.vmdk"
    data = write_disk(disk, 3 * MIB + 1, seed=4)
    whole, parts = file_digests(str(disk), MIB)
    assert whole == b64md5(data)
    assert parts == [b64md5(data[i:i + MIB]) for i in range(0, len(data), MIB)]
    assert multipart_md5(parts) == ocisim_multipart_md5(parts)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert file_digests(str(empty), MIB) == (b64md5(b""), [])
