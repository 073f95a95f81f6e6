"""Request checks: one function per rule a request must pass before anything is changed in OCI.

Each raises OciInputError naming the field, the value (cut short) and the rule. The pure ones take values; the
live ones take an OciHook and make read-only calls (Get/List/Head), so a DAG or operator can run every one of
them before its first mutating call. The on-demand DAGs' request operators use them, and so can your own DAGs.
"""

from __future__ import annotations

import os
import stat
from typing import Any

from common.errors import OciInputError
from disks.headers import HEADER_PROBE_BYTES, IMAGE_LIMIT_BYTES, IMAGE_LIMIT_GB, DiskImageError, gb, probe_disk_header
from hooks.oci import validate_ocid, validate_region

UPLOAD_ROOTS_ENV = "OCI_UPLOAD_ROOTS"


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


# -- local files --------------------------------------------------------------------------------------------
def upload_roots(value: str | None = None) -> list[str]:
    """The directories a worker may upload files from: `OCI_UPLOAD_ROOTS` (paths separated by `os.pathsep`),
    resolved. Empty (the default) means uploads are off: a user who may trigger a DAG must not be able to copy
    the worker's files (Airflow's config, keys) to Object Storage."""
    raw = os.environ.get(UPLOAD_ROOTS_ENV, "") if value is None else value
    return [os.path.realpath(p) for p in raw.split(os.pathsep) if p.strip()]


def check_local_file(path: Any, field: str = "local_path", roots: list[str] | None = None) -> str:
    """The real path of a regular, readable file under one of the upload roots (symlinks and `..` resolved
    before the check)."""
    if not isinstance(path, str) or not path:
        raise OciInputError(f"{field} {_short(path)}: a path to a local file is required")
    if "\0" in path:
        raise OciInputError(f"{field} {_short(path)}: must not contain NUL")
    roots = upload_roots() if roots is None else [os.path.realpath(r) for r in roots]
    if not roots:
        raise OciInputError(f"{field} {_short(path)}: uploads from this worker are off ({UPLOAD_ROOTS_ENV} is "
                            f"empty); an administrator sets {UPLOAD_ROOTS_ENV} to the directories files may be "
                            f"uploaded from")
    real = os.path.realpath(path)
    if not any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in roots):
        raise OciInputError(f"{field} {_short(path)}: resolves to {_short(real)}, outside the upload roots "
                            f"({UPLOAD_ROOTS_ENV}: {os.pathsep.join(roots)})")
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        raise OciInputError(f"{field} {_short(path)}: no such file") from None
    except OSError as exc:
        raise OciInputError(f"{field} {_short(path)}: cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        raise OciInputError(f"{field} {_short(path)}: not a regular file (a directory, device or pipe cannot be "
                            f"uploaded)")
    if not os.access(real, os.R_OK):
        raise OciInputError(f"{field} {_short(path)}: not readable by this worker")
    return real


def check_local_disk(path: str, image_type: str | None = None, field: str = "local_path") -> tuple[str, int]:
    """(format, virtual size) of a local VMDK or QCOW2, read from its header before a byte is uploaded: the
    type must be `image_type` (when given) and the virtual disk at most 400 GB (OCI's import limit)."""
    with open(path, "rb") as f:
        head = f.read(HEADER_PROBE_BYTES)
    try:
        fmt, size = probe_disk_header(head)
    except DiskImageError as exc:
        raise OciInputError(f"{field} {_short(path)}: is {exc}") from None
    if image_type and fmt != image_type:
        raise OciInputError(f"source_image_type {image_type!r}: {field} {_short(path)} is a {fmt} image")
    if size > IMAGE_LIMIT_BYTES:
        raise OciInputError(f"{field} {_short(path)}: has a virtual disk size of {gb(size)} ({size} bytes), "
                            f"over OCI's {IMAGE_LIMIT_GB} GB import limit")
    return fmt, size


# -- names ----------------------------------------------------------------------------------------------------
def check_bucket_name(name: Any, field: str = "bucket") -> str:
    import re

    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9._-]{1,256}", name):
        raise OciInputError(f"{field} {_short(name)}: a bucket name is 1-256 letters, digits, hyphens, underscores "
                            f"and periods")
    return name


def check_object_name(name: Any, field: str = "object_name") -> str:
    """OCI's object name rules, plus what makes a name a path trick: 1 to 1024 bytes of UTF-8, no control
    characters (line feed, carriage return, NUL, ...), no `.` or `..` segment, no leading `/`."""
    if not isinstance(name, str) or not name:
        raise OciInputError(f"{field} {_short(name)}: must not be empty")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise OciInputError(f"{field} {_short(name)}: must not contain line feed, carriage return or NUL (nor "
                            f"other control characters)")
    if len(name.encode()) > 1024:
        raise OciInputError(f"{field} {_short(name[:40])}...: at most 1024 bytes in UTF-8")
    if name.startswith("/") or any(part in (".", "..") for part in name.split("/")):
        raise OciInputError(f"{field} {_short(name)}: no leading '/' and no '.' or '..' path segment")
    return name


def check_display_name(name: Any, field: str = "display_name") -> str:
    if not isinstance(name, str) or not 0 < len(name) <= 255 or any(ord(c) < 32 for c in name):
        raise OciInputError(f"{field} {_short(name)}: 1 to 255 characters, no control characters")
    return name


# -- references (read-only calls) -----------------------------------------------------------------------------
def _not_found(err) -> bool:
    return getattr(err, "status", None) == 404


def check_region(hook, region: Any, field: str = "region") -> str:
    """A region identifier this connection can reach (an endpoint for it, or one the SDK knows)."""
    validate_region(region, field)
    try:
        hook.get_client("identity", region)
    except OciInputError as exc:
        raise OciInputError(f"{field} {region!r}: not reachable with this connection ({exc})") from None
    return region


def _get(hook, field: str, value: str, kind: str, service: str, getter: str, region: str | None = None):
    import oci

    validate_ocid(value, field, kind)
    try:
        return getattr(hook.get_client(service, region), getter)(value).data
    except oci.exceptions.ServiceError as err:
        if _not_found(err):
            raise OciInputError(f"{field} {value!r}: no such {kind} in {region or hook.region} (or no access to "
                                f"it)") from None
        raise


def check_instance(hook, instance_id: Any, field: str = "instance_id",
                   states: tuple[str, ...] = ("RUNNING", "STOPPED"), region: str | None = None):
    """The instance, which must exist and be in one of `states`."""
    instance = _get(hook, field, instance_id, "instance", "compute", "get_instance", region)
    if states and instance.lifecycle_state not in states:
        raise OciInputError(f"{field} {instance_id!r}: is {instance.lifecycle_state}; must be one of {states}")
    return instance


def check_subnet(hook, subnet_id: Any, field: str = "subnet_id", needs_dns_label: bool = True,
                 region: str | None = None):
    """The subnet, which must exist and (to give VNICs hostnames) have a DNS label."""
    subnet = _get(hook, field, subnet_id, "subnet", "network", "get_subnet", region)
    if needs_dns_label and not subnet.dns_label:
        raise OciInputError(f"{field} {subnet_id!r}: the subnet has no DNS label, so its VNICs cannot have "
                            f"hostnames")
    return subnet


def check_volume(hook, volume_id: Any, field: str = "volume_id", region: str | None = None):
    from hooks.oci import ocid_kind

    kind = ocid_kind(volume_id) if isinstance(volume_id, str) else ""
    getter = "get_boot_volume" if kind == "bootvolume" else "get_volume"
    return _get(hook, field, volume_id, kind if kind in ("volume", "bootvolume") else "volume", "blockstorage",
                getter, region)


def check_backup(hook, backup_id: Any, field: str = "backup_id", region: str | None = None):
    """A volume backup or boot volume backup, which must exist."""
    from hooks.oci import ocid_kind

    kind = ocid_kind(backup_id) if isinstance(backup_id, str) else ""
    getter = "get_boot_volume_backup" if kind == "bootvolumebackup" else "get_volume_backup"
    return _get(hook, field, backup_id, kind if kind == "bootvolumebackup" else "volumebackup", "blockstorage",
                getter, region)


def availability_domains(hook, compartment_id: str | None = None, region: str | None = None) -> list[str]:
    return [ad.name for ad in hook.get_client("identity", region).list_availability_domains(
        compartment_id or hook.tenancy_id).data]


def check_availability_domain(hook, name: Any, field: str = "availability_domain", region: str | None = None) -> str:
    """An availability domain of the region, by its full name (like Uocm:US-ASHBURN-AD-1)."""
    if not isinstance(name, str) or not name.strip():
        raise OciInputError(f"{field} {_short(name)}: an availability domain name like Uocm:US-ASHBURN-AD-1")
    known = availability_domains(hook, region=region)
    if name.strip() not in known:
        raise OciInputError(f"{field} {_short(name)}: not an availability domain of {region or hook.region}; one of "
                            f"{known}")
    return name.strip()


def check_bucket(hook, namespace: str | None, bucket: Any, field: str = "bucket", region: str | None = None) -> str:
    """The bucket exists in the namespace (the tenancy's when None); returns the namespace."""
    import oci

    check_bucket_name(bucket, field)
    client = hook.get_client("object_storage", region)
    namespace = namespace or client.get_namespace().data
    try:
        client.head_bucket(namespace, bucket)
    except oci.exceptions.ServiceError as err:
        if _not_found(err):
            raise OciInputError(f"{field} {bucket!r}: no such bucket in namespace {namespace!r} "
                                f"({region or hook.region})") from None
        raise
    return namespace


def check_hostnames_free(hook, fleet: list[dict], field: str = "fleet") -> None:
    """Refuse hostnames already used in their subnet, and subnets without a DNS label (read-only: the subnet,
    the VNIC attachments of its compartment, their VNICs). OCI would accept such a launch and fail it later."""

    if not fleet:
        return
    taken = []
    for subnet_id in sorted({f["subnet_id"] for f in fleet}):
        wanted = {f["hostname"].lower(): f["hostname"] for f in fleet if f["subnet_id"] == subnet_id}
        subnet = check_subnet(hook, subnet_id, "subnet_id")
        attachments = hook.list_all(hook.get_client("compute").list_vnic_attachments,
                                    subnet.compartment_id)
        for att in attachments:
            if att.subnet_id != subnet_id or att.lifecycle_state not in ("ATTACHING", "ATTACHED"):
                continue
            label = (hook.get_client("network").get_vnic(att.vnic_id).data.hostname_label or "").lower()
            if label in wanted:
                taken.append(f"{wanted[label]} (VNIC {att.vnic_id} of instance {att.instance_id})")
    if taken:
        raise OciInputError(f"{field}: hostname(s) already used in the subnet: {'; '.join(taken)}; hostnames must be "
                            f"unique in a subnet")


def check_fleet(hook, fleet: list[dict], field: str = "fleet") -> list[dict]:
    """Every reference of a planned fleet: availability domains, subnets (with a DNS label), free hostnames."""
    for ad in sorted({f["availability_domain"] for f in fleet if f.get("availability_domain")}):
        check_availability_domain(hook, ad)
    check_hostnames_free(hook, fleet, field)
    return fleet
