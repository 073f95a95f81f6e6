"""VMDK and QCOW2 headers: the format and virtual size a disk image file states, read from its first bytes.

Image import (from Object Storage, and the local file a migration uploads) reads a header here before anything
is changed: OCI checks an import only asynchronously and fails its work request minutes later.

"GB" is OCI's: binary, as block volume and image sizes are (a 50 GB volume holds 50 x 2**30 bytes), so the
400 GB import and export limit is 400 x 2**30 bytes = 409,600 MB in an image's ``size_in_mbs``.
"""

from __future__ import annotations

import struct

from common.ids import GIB, MIB

IMAGE_FORMATS = ("VMDK", "QCOW2")
# how instances of an image boot: what an image of an instance may say, and what an imported one may
LAUNCH_MODES = ("NATIVE", "EMULATED", "PARAVIRTUALIZED", "CUSTOM")
IMPORT_LAUNCH_MODES = ("PARAVIRTUALIZED", "NATIVE", "EMULATED")
IMAGE_LIMIT_GB = 400
IMAGE_LIMIT_BYTES = IMAGE_LIMIT_GB * GIB
IMAGE_LIMIT_MBS = IMAGE_LIMIT_BYTES // MIB
HEADER_PROBE_BYTES = 64 * 1024  # one ranged GET: enough for any header and for telling other formats apart


class DiskImageError(ValueError):
    """The first bytes of an object are not a VMDK or QCOW2 that OCI can import; the text says what they are."""


def probe_disk_header(head: bytes) -> tuple[str, int]:
    """(format, virtual size in bytes) from the first bytes of a disk image file.

    VMDK: a sparse extent header (monolithicSparse or streamOptimized), magic "KDMV", capacity in 512-byte
    sectors as a little-endian u64 at offset 12. QCOW2: magic "QFI\\xfb", version 2 or 3, size as a big-endian u64
    at offset 24. A descriptor-only VMDK (text, data in separate extent files), a QCOW2 with a backing file or
    encryption, and other formats are refused with what they are and how to convert them.
    """
    head = bytes(head)
    if head[:4] == b"KDMV":
        if len(head) < 20:
            raise DiskImageError("a VMDK header, but truncated (fewer than 20 bytes)")
        version, _flags, capacity = struct.unpack_from("<IIQ", head, 4)
        if version not in (1, 2, 3):
            raise DiskImageError(f"a VMDK sparse extent of version {version}; OCI imports versions 1 to 3")
        if capacity <= 0:
            raise DiskImageError("a VMDK header with a capacity of 0 sectors")
        return "VMDK", capacity * 512
    if head[:4] == b"QFI\xfb":
        if len(head) < 72:
            raise DiskImageError("a QCOW2 header, but truncated (fewer than 72 bytes)")
        version, backing_offset = struct.unpack_from(">IQ", head, 4)
        size, crypt = struct.unpack_from(">QI", head, 24)
        if version == 1:
            raise DiskImageError("a QCOW version 1 image; convert it: qemu-img convert -O qcow2 in.qcow out.qcow2")
        if version not in (2, 3):
            raise DiskImageError(f"a QCOW2 image of version {version}; OCI imports versions 2 and 3")
        if backing_offset:
            raise DiskImageError("a QCOW2 image with a backing file; flatten it first: "
                                 "qemu-img convert -O qcow2 in.qcow2 flat.qcow2")
        if crypt:
            raise DiskImageError("an encrypted QCOW2 image; OCI imports unencrypted images only")
        if size <= 0:
            raise DiskImageError("a QCOW2 header with a virtual size of 0")
        return "QCOW2", size
    raise DiskImageError(_what_else(head))


def _what_else(head: bytes) -> str:
    convert = "; OCI imports VMDK (monolithicSparse or streamOptimized) and QCOW2: convert with qemu-img convert"
    text = head.lstrip()[:4096]
    if text.startswith(b"# Disk DescriptorFile") or b"createType" in text[:1024]:
        return ("a VMDK descriptor file (text) whose data lives in separate extent files; OCI imports a "
                "single-file VMDK: qemu-img convert -O vmdk -o subformat=streamOptimized disk.vmdk out.vmdk")
    if head[:4] == b"COWD":
        return "an ESXi vmfsSparse (COWD) VMDK extent" + convert
    if head[:8] == b"conectix":
        return "a VHD disk image" + convert
    if head[:8] == b"vhdxfile":
        return "a VHDX disk image" + convert
    if len(head) >= 68 and struct.unpack_from("<I", head, 64)[0] == 0xBEDA107F:
        return "a VirtualBox VDI disk image" + convert
    if len(head) >= 32774 and head[32769:32774] == b"CD001":
        return "an ISO 9660 image, not a disk image" + convert
    if not head:
        return "an empty object"
    if len(head) >= 512 and head[510:512] == b"\x55\xaa":
        return "a raw disk (boot sector found)" + convert
    sample = head[:4096]
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in sample)
    if printable >= 0.95 * len(sample):
        return "a text file, not a disk image"
    return "not a VMDK or QCOW2 header (unknown format)" + convert


def gb(size: int) -> str:
    """A byte count in OCI's (binary) GB, for messages."""
    return f"{size / GIB:.1f} GB"
