"""Checks of request values that need no API call: fields that exclude each other, the OCIDs a restore or clone
starts from, local files and disks to upload, and bucket, object and display names. One function per rule; each
raises OciInputError naming the field, the value (cut short) and the rule.

The checks of what a request refers to (instances, subnets, buckets, free hostnames) make read-only calls and
are OciHook methods (hooks/references.py).
"""

from __future__ import annotations

import os
import stat
from typing import Any

from common import config
from common.errors import OciInputError, shown
from common.ids import ocid_kind, validate_ocid
from disks.headers import HEADER_PROBE_BYTES, IMAGE_LIMIT_BYTES, IMAGE_LIMIT_GB, DiskImageError, gb, probe_disk_header

UPLOAD_ROOTS_ENV = config.UPLOAD_ROOTS.name
BACKUP_TYPES = ("FULL", "INCREMENTAL")


# -- local files --------------------------------------------------------------------------------------------
def upload_roots(value: str | None = None) -> list[str]:
    """The directories a worker may upload files from: `OCI_UPLOAD_ROOTS` (paths separated by `os.pathsep`),
    resolved. Empty (the default) means uploads are off: a user who may trigger a DAG must not be able to copy
    the worker's files (Airflow's config, keys) to Object Storage."""
    raw = config.UPLOAD_ROOTS.value() if value is None else value
    return [os.path.realpath(p) for p in raw.split(os.pathsep) if p.strip()]


def check_local_file(path: Any, field: str = "local_path", roots: list[str] | None = None) -> str:
    """The real path of a regular, readable file under one of the upload roots (symlinks and `..` resolved
    before the check)."""
    if not isinstance(path, str) or not path:
        raise OciInputError(f"{field} {shown(path)}: a path to a local file is required")
    if "\0" in path:
        raise OciInputError(f"{field} {shown(path)}: must not contain NUL")
    roots = upload_roots() if roots is None else [os.path.realpath(r) for r in roots]
    if not roots:
        raise OciInputError(f"{field} {shown(path)}: uploads from this worker are off ({UPLOAD_ROOTS_ENV} is "
                            f"empty); an administrator sets {UPLOAD_ROOTS_ENV} to the directories files may be "
                            f"uploaded from")
    real = os.path.realpath(path)
    if not any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in roots):
        raise OciInputError(f"{field} {shown(path)}: resolves to {shown(real)}, outside the upload roots "
                            f"({UPLOAD_ROOTS_ENV}: {os.pathsep.join(roots)})")
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        raise OciInputError(f"{field} {shown(path)}: no such file") from None
    except OSError as exc:
        raise OciInputError(f"{field} {shown(path)}: cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        raise OciInputError(f"{field} {shown(path)}: not a regular file (a directory, device or pipe cannot be "
                            f"uploaded)")
    if not os.access(real, os.R_OK):
        raise OciInputError(f"{field} {shown(path)}: not readable by this worker")
    return real


def check_local_disk(path: str, image_type: str | None = None, field: str = "local_path") -> tuple[str, int]:
    """(format, virtual size) of a local VMDK or QCOW2, read from its header before a byte is uploaded: the
    type must be `image_type` (when given) and the virtual disk at most 400 GB (OCI's import limit)."""
    with open(path, "rb") as f:
        head = f.read(HEADER_PROBE_BYTES)
    try:
        fmt, size = probe_disk_header(head)
    except DiskImageError as exc:
        raise OciInputError(f"{field} {shown(path)}: is {exc}") from None
    if image_type and fmt != image_type:
        raise OciInputError(f"source_image_type {image_type!r}: {field} {shown(path)} is a {fmt} image")
    if size > IMAGE_LIMIT_BYTES:
        raise OciInputError(f"{field} {shown(path)}: has a virtual disk size of {gb(size)} ({size} bytes), "
                            f"over OCI's {IMAGE_LIMIT_GB} GB import limit")
    return fmt, size


# -- fields that exclude each other ---------------------------------------------------------------------------
def both_given(first: tuple[str, Any], second: tuple[str, Any], hint: str = "give exactly one") -> None:
    """Two fields that exclude each other, both set (a form shows both, a person may fill both): refused, naming
    the two fields and their values, before anything else is read."""
    (name, value), (other, other_value) = first, second
    if value not in (None, "", []) and other_value not in (None, "", []):
        raise OciInputError(f"{name} {value!r} and {other} {other_value!r}: both given, but they exclude each other; "
                            f"{hint}")


# -- names ----------------------------------------------------------------------------------------------------
def check_object_name(name: Any, field: str = "object_name") -> str:
    """OCI's object name rules, plus what makes a name a path trick: 1 to 1024 bytes of UTF-8, no control
    characters (line feed, carriage return, NUL, ...), no `.` or `..` segment, no leading `/`."""
    if not isinstance(name, str) or not name:
        raise OciInputError(f"{field} {shown(name)}: must not be empty")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise OciInputError(f"{field} {shown(name)}: must not contain line feed, carriage return or NUL (nor "
                            f"other control characters)")
    if len(name.encode()) > 1024:
        raise OciInputError(f"{field} {shown(name[:40])}...: at most 1024 bytes in UTF-8")
    if name.startswith("/") or any(part in (".", "..") for part in name.split("/")):
        raise OciInputError(f"{field} {shown(name)}: no leading '/' and no '.' or '..' path segment")
    return name


def check_display_name(name: Any, field: str = "display_name") -> str:
    if not isinstance(name, str) or not 0 < len(name) <= 255 or any(ord(c) < 32 for c in name):
        raise OciInputError(f"{field} {shown(name)}: 1 to 255 characters, no control characters")
    return name


# -- what a restore or a clone starts from -----------------------------------------------------------------------
def check_backup_id(value: Any, field: str = "backup_id") -> str:
    """A volume backup or boot volume backup OCID: what a restore makes a volume from."""
    validate_ocid(value, field)
    if ocid_kind(value) not in ("volumebackup", "bootvolumebackup"):
        raise OciInputError(f"{field} {value!r}: must be a volume backup or boot volume backup OCID")
    return value


def check_volume_id(value: Any, field: str = "volume_id") -> str:
    """A block volume or boot volume OCID: what a clone copies, or whose newest verified backup a restore uses."""
    validate_ocid(value, field)
    if ocid_kind(value) not in ("volume", "bootvolume"):
        raise OciInputError(f"{field} {value!r}: must be a block volume or boot volume OCID")
    return value


# -- backups ---------------------------------------------------------------------------------------------------
def validate_backup_type(value) -> str:
    if value not in BACKUP_TYPES:
        raise OciInputError(f"backup_type {value!r}: OCI backups are FULL or INCREMENTAL")
    return value
