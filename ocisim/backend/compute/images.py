"""Images: taken of an instance, imported from and exported to Object Storage.

OCI rules honoured here (docs/architecture.md): an image of an instance needs every iSCSI attachment
disconnected first; the instance is unavailable (CREATING_IMAGE) while its image is taken, then restarts; one
image per instance at a time, with a 20-minute window before the same instance can be imaged again; image import
and export are limited to 400 GB, import reads only VMDK and QCOW2, and a refused import ends in a FAILED work
request with OCI-style text, not in a synchronous error.
"""

from __future__ import annotations

import math
import re
import tempfile
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

from ... import formats
from ...clock import iso
from ...errors import OciError, conflict, incorrect_state, invalid, missing, not_found
from ...faults import Injected
from ...formats import partitions
from ..base import GB, MIB, one_of
from . import compatibility
from .common import ACTIVE_ATTACHMENT, ComputeBase, default_name, launch_options

# OCI's "GB" for disks and images is binary (block volume sizes are GiB under that name), so the 400 GB
# import/export ceiling is 400 * 2**30 bytes.
IMAGE_LIMIT_GB = 400
IMAGE_LIMIT_BYTES = IMAGE_LIMIT_GB * GB
IMAGE_WINDOW_SECONDS = 20 * 60
LAUNCH_MODES = ("NATIVE", "EMULATED", "PARAVIRTUALIZED", "ACCELERATEDPV", "CUSTOM")
IMPORT_LAUNCH_MODES = ("NATIVE", "EMULATED", "PARAVIRTUALIZED", "CUSTOM")
IMPORT_FORMATS = ("VMDK", "QCOW2")
EXPORT_FORMATS = ("QCOW2", "VMDK", "OCI", "VHD", "VDI")
OBJECT_PATH_RE = re.compile(r"/n/([^/]+)/b/([^/]+)/o/(.+)$")


class ImageBackend(ComputeBase):
    # -- images: internal ------------------------------------------------------------------------------
    def make_image(self, region: str, compartment_id: str, display_name: str, operating_system: str,
                   operating_system_version: str, blocks: dict, size_in_gbs: int = 47) -> dict:
        """A platform-like image holding `blocks`, AVAILABLE at once (seeding)."""
        image = self._new_image(region, compartment_id, display_name, operating_system,
                                operating_system_version, "NATIVE", None, {}, blocks, size_in_gbs * GB)
        image["lifecycle_state"] = "AVAILABLE"
        image["_shapes"] = compatibility.defaults("platform", "NATIVE")
        return self.store.put(image)

    def _new_image(self, region: str, compartment_id: str, display_name: str, operating_system: str,
                   operating_system_version: str, launch_mode: str, base_image_id: str | None,
                   freeform_tags: dict, blocks: dict, size: int) -> dict:
        return self.new(
            "image", "image", region, base_image_id=base_image_id, compartment_id=compartment_id,
            create_image_allowed=True, defined_tags={}, display_name=display_name,
            freeform_tags=freeform_tags or {}, launch_mode=launch_mode,
            launch_options=launch_options(launch_mode), lifecycle_state="PROVISIONING",
            operating_system=operating_system, operating_system_version=operating_system_version,
            agent_features=None, listing_type="NONE", size_in_mbs=math.ceil(size / MIB),
            billable_size_in_gbs=math.ceil(self.content.stored_bytes(blocks) / GB), _blocks=blocks, _size=size)

    def content_of(self, resource_id: str) -> tuple[dict, int] | None:
        """(block map, size in bytes) of an image; None for other ids."""
        res = self.store.find(resource_id)
        if res is None or res["_kind"] != "image" or res.get("_blocks") is None:
            return None
        return res["_blocks"], res["_size"]

    # -- images: API -----------------------------------------------------------------------------------
    def create_image(self, region: str, details: dict, injected: Injected | None = None) -> tuple[dict, dict]:
        """CreateImage from an instance or from Object Storage; returns (image, work request)."""
        compartment_id = self.compartment(details.get("compartment_id"))
        self.check_references(details)
        launch_mode = details.get("launch_mode")
        if launch_mode is not None:
            one_of("launchMode", launch_mode, LAUNCH_MODES)
        source = details.get("image_source_details")
        instance_id = details.get("instance_id")
        if instance_id and source:
            raise invalid("Specify either instanceId or imageSourceDetails, not both.")
        if instance_id:
            return self._image_from_instance(region, compartment_id, instance_id, details, injected)
        if source:
            return self._import_image(region, compartment_id, source, details, injected)
        raise missing("instanceId")

    def _image_from_instance(self, region: str, compartment_id: str, instance_id: str,
                             details: dict, injected: Injected | None = None) -> tuple[dict, dict]:
        """The instance's boot volume as it is now, under OCI's imaging rules (see the module docstring)."""
        with self.state.lock:
            instance = self.get("instance", instance_id, region)
            now = self.state.now()
            allowed_after = instance.get("_image_allowed_after") or 0.0
            if now < allowed_after:  # Conflict, which the SDK does not retry: the caller waits for the window
                raise conflict(
                    f"An image of instance {instance_id} was started at {iso(instance['_image_started'])}; OCI "
                    f"creates one image per instance at a time, and another image of this instance is allowed "
                    f"after {iso(allowed_after)} (in {math.ceil((allowed_after - now) / 60)} minute(s)).")
            state = instance["lifecycle_state"]
            if state not in ("RUNNING", "STOPPED"):
                raise incorrect_state(f"Instance {instance_id} is {state}; an image can be created only of a "
                                      f"RUNNING or STOPPED instance.")
            iscsi = [a for a in self._volume_attachments(instance_id)
                     if a["attachment_type"] == "iscsi" and a["lifecycle_state"] in ACTIVE_ATTACHMENT]
            if iscsi:
                names = "; ".join(f"{a['id']} (volume {a['volume_id']}, device {a.get('device') or 'none'})"
                                  for a in iscsi)
                raise conflict(f"Instance {instance_id} has iSCSI volume attachments that must be disconnected "
                               f"and detached before an image is created: {names}.")
            boot_id = instance["_boot_volume_id"]
            if not boot_id:
                raise incorrect_state(f"Instance {instance_id} has no boot volume attached; an image is taken of "
                                      f"an instance's boot volume.")
            blocks, size = self.blockstorage.content_of(boot_id)
            base = self.store.find(instance.get("image_id") or "") or {}
            image = self._new_image(
                region, compartment_id, details.get("display_name") or default_name("image", now),
                base.get("operating_system") or instance.get("_os") or "Custom",
                base.get("operating_system_version") or "", details.get("launch_mode") or instance["launch_mode"],
                instance.get("image_id"), details.get("freeform_tags") or {}, dict(blocks), size)
            image["defined_tags"] = details.get("defined_tags") or {}
            image["_shapes"] = compatibility.defaults("instance", image["launch_mode"], base or None)
            took = self.duration(420, self.content.stored_bytes(blocks), 60)
            wr = self._work_request("CreateImage", image, took, injected=injected)
            failed = self.workrequests.failed(wr)
            self.store.schedule(image, [(took, {"lifecycle_state": "DELETED" if failed else "AVAILABLE"})])
            instance["_image_started"] = now
            instance["_image_allowed_after"] = now + IMAGE_WINDOW_SECONDS
            back = [(took, {"lifecycle_state": "STARTING"}), (took + 30, {"lifecycle_state": "RUNNING"})] \
                if state == "RUNNING" else [(took, {"lifecycle_state": "STOPPED"})]
            self.store.schedule(instance, [(0, {"lifecycle_state": "CREATING_IMAGE"}), *back])
            return image, wr

    def _import_image(self, region: str, compartment_id: str, source: dict, details: dict,
                      injected: Injected | None = None) -> tuple[dict, dict]:
        """Import a VMDK or QCOW2 object. OCI checks the object asynchronously, so a missing object, an
        unsupported format or a virtual size over 400 GB all end in a FAILED work request (and the image
        DELETED), never in a synchronous error. The file is decoded now; the outcome shows at completion."""
        obj_region, namespace, bucket, name = self._object_location(
            source, region, source.get("source_type"), "source_uri", "imageSourceDetails.",
            "imageSourceDetails.sourceType")
        wanted = source.get("source_image_type")
        if wanted is not None:
            one_of("sourceImageType", wanted, IMPORT_FORMATS)
        launch_mode = one_of("launchMode", details.get("launch_mode") or "PARAVIRTUALIZED", IMPORT_LAUNCH_MODES)
        blocks, size, stored_size, reason = self._decode_object(obj_region, namespace, bucket, name, wanted)
        now = self.state.now()
        image = self._new_image(
            region, compartment_id, details.get("display_name") or default_name("image", now),
            source.get("operating_system") or "Custom", source.get("operating_system_version") or "",
            launch_mode, None, details.get("freeform_tags") or {}, blocks or {}, size)
        image["lifecycle_state"] = "IMPORTING"
        image["defined_tags"] = details.get("defined_tags") or {}
        image["_shapes"] = compatibility.defaults("import", launch_mode)
        if blocks:  # the firmware capability, from the disk's partition table (formats/partitions.py)
            image["launch_options"]["firmware"] = partitions.firmware(
                lambda offset, length: self.content.read(blocks, offset, length))
        if reason:
            image["_blocks"] = None
        took = self.duration(600, stored_size, 120)
        fail = ("ImageImportFailed", f"The image could not be imported: {reason}") if reason else None
        with self.state.lock:
            wr = self._work_request("CreateImage", image, took, fail=fail, injected=injected)
            failed = self.workrequests.failed(wr)
            self.store.schedule(image, [(took, {"lifecycle_state": "DELETED" if failed else "AVAILABLE"})])
        return image, wr

    def _decode_object(self, region: str, namespace: str, bucket: str, name: str,
                       wanted: str | None) -> tuple[dict | None, int, int, str | None]:
        """(blocks, virtual size, file size, failure reason) of an object holding a disk image."""
        objects = self.objectstorage
        try:
            info = objects.object_info(region, namespace, bucket, name)
        except OciError:
            return None, 0, 0, (f"the object '{name}' was not found in bucket '{bucket}' of namespace "
                                f"'{namespace}', or you are not authorized to read it.")
        file_size = info["size"]

        def read_at(offset: int, length: int) -> bytes:
            return objects.read_object(region, namespace, bucket, name, offset, length)

        try:
            fmt, virtual_size = formats.probe(read_at(0, min(file_size, 4096)))
        except formats.ImageFormatError as exc:
            return None, 0, file_size, f"object '{name}': {exc}"
        if wanted and wanted != fmt:
            return None, virtual_size, file_size, (
                f"object '{name}' is a {fmt} file but sourceImageType is {wanted}.")
        if virtual_size > IMAGE_LIMIT_BYTES:
            return None, virtual_size, file_size, (
                f"object '{name}' has a virtual disk size of {virtual_size / GB:.1f} GB "
                f"({virtual_size} bytes), over the {IMAGE_LIMIT_GB} GB maximum for imported images.")
        try:
            blocks = self.content.from_blocks(
                formats.iter_blocks(read_at, file_size, self.content.block_size))
        except ValueError as exc:  # ImageFormatError, or a table that breaks the block order
            return None, virtual_size, file_size, f"object '{name}': {exc}"
        except Exception as exc:  # a damaged file fails the import, never the API call
            return None, virtual_size, file_size, f"object '{name}': the image file could not be read ({exc})."
        return blocks, virtual_size, file_size, None

    def _object_location(self, details: dict, region: str, kind: str | None, uri_field: str, prefix: str,
                         kind_field: str) -> tuple[str, str, str, str]:
        """(region, namespace, bucket, object) of an image import source or export destination, given as an
        objectStorageTuple or an objectStorageUri."""
        if kind == "objectStorageTuple":
            namespace, bucket, name = (details.get("namespace_name"), details.get("bucket_name"),
                                       details.get("object_name"))
            for field, value in (("namespaceName", namespace), ("bucketName", bucket), ("objectName", name)):
                if not value:
                    raise missing(prefix + field)
            return region, namespace, bucket, name
        if kind == "objectStorageUri":
            uri = details.get(uri_field)
            wire = "sourceUri" if uri_field == "source_uri" else "destinationUri"
            if not uri:
                raise missing(prefix + wire)
            return self._parse_object_uri(uri, region, wire)
        raise invalid(f"Invalid {kind_field} '{kind}'; must be one of objectStorageTuple, objectStorageUri.")

    def _parse_object_uri(self, uri: str, region: str, field: str) -> tuple[str, str, str, str]:
        """(region, namespace, bucket, object) from any Object Storage URI, including a PAR's
        https://objectstorage.<region>.oraclecloud.com/p/<token>/n/<ns>/b/<bucket>/o/<object>."""
        parts = urlsplit(uri)
        m = OBJECT_PATH_RE.search(parts.path)
        if parts.scheme not in ("https", "http") or not m:
            raise invalid(f"{field} '{uri}' is not an Object Storage URI of the form "
                          f"https://objectstorage.<region>.oraclecloud.com/n/<namespace>/b/<bucket>/o/<object>.")
        host = parts.hostname or ""
        host_region = re.match(r"^objectstorage\.([a-z0-9-]+)\.oraclecloud\.com$", host)
        known = {r.name for r in self.state.regions}
        if host_region and host_region.group(1) in known:
            region = host_region.group(1)
        return region, unquote(m.group(1)), unquote(m.group(2)), unquote(m.group(3))

    def get_image(self, image_id: str, region: str) -> dict:
        return self.get("image", image_id, region)

    def list_images(self, region: str, compartment_id: str) -> list[dict]:
        """A compartment's images; DELETED ones only when asked for by lifecycleState (OCI hides them)."""
        self.compartment(compartment_id)
        return self.store.list("image", region, where=lambda i: i["compartment_id"] == compartment_id)

    # -- image shape compatibility (compatibility.py holds OCI's rules and ocisim's assumptions) --------------
    def list_image_shapes(self, image_id: str, region: str) -> list[dict]:
        image = self.get("image", image_id, region)
        return [compatibility.shown(image, name, entry)
                for name, entry in sorted(compatibility.entries_of(image).items())]

    def get_image_shape(self, image_id: str, shape_name: str, region: str) -> dict:
        image = self.get("image", image_id, region)
        entry = compatibility.entries_of(image).get(shape_name)
        if entry is None:
            raise not_found(f"image shape compatibility entry for {shape_name}")
        return compatibility.shown(image, shape_name, entry)

    def add_image_shape(self, image_id: str, shape_name: str, region: str, details: dict) -> dict:
        """AddImageShapeCompatibilityEntry (PUT): adds the shape or replaces its entry."""
        entry = compatibility.added(shape_name, details)
        with self.state.lock:
            image = self.get("image", image_id, region)
            if image["lifecycle_state"] == "DELETED":
                raise incorrect_state(f"Image {image_id} is DELETED; its compatible shapes cannot change.")
            image["_shapes"] = {**compatibility.entries_of(image), shape_name: entry}
            self.store.put(image)
            return compatibility.shown(image, shape_name, entry)

    def remove_image_shape(self, image_id: str, shape_name: str, region: str) -> None:
        with self.state.lock:
            image = self.get("image", image_id, region)
            entries = dict(compatibility.entries_of(image))
            if entries.pop(shape_name, None) is None:
                raise not_found(f"image shape compatibility entry for {shape_name}")
            image["_shapes"] = entries
            self.store.put(image)

    def update_image(self, image_id: str, region: str, details: dict) -> dict:
        """UpdateImage: name, tags and the operating system labels; a DELETED image cannot change."""
        self.check_references(details)
        with self.state.lock:
            image = self.get("image", image_id, region)
            if image["lifecycle_state"] == "DELETED":
                raise incorrect_state(f"Image {image_id} is DELETED; it cannot be updated.")
            for field in ("display_name", "freeform_tags", "defined_tags", "operating_system",
                          "operating_system_version"):
                if details.get(field) is not None:
                    image[field] = details[field]
            return self.store.put(image)

    def delete_image(self, image_id: str, region: str) -> None:
        with self.state.lock:
            image = self.get("image", image_id, region)
            state = image["lifecycle_state"]
            if state in ("PROVISIONING", "IMPORTING", "EXPORTING"):
                raise incorrect_state(f"Image {image_id} is {state}; wait until it is AVAILABLE to delete it.")
            if state != "DELETED":
                image["lifecycle_state"] = "DELETED"
                self.store.schedule(image, [])

    def export_image(self, image_id: str, region: str, details: dict,
                     injected: Injected | None = None) -> tuple[dict, dict]:
        """ExportImage as VMDK (streamOptimized) or QCOW2, written now, shown done at completion; 400 for
        images over OCI's 400 GB export limit and for formats ocisim does not write (OCI, VHD, VDI)."""
        image = self.get("image", image_id, region)
        fmt = details.get("export_format")
        if fmt is None:
            raise invalid("exportFormat: OCI exports in its own OCI format when none is given, which ocisim "
                          "does not write; set exportFormat to VMDK or QCOW2.")
        one_of("exportFormat", fmt, EXPORT_FORMATS)
        if fmt not in IMPORT_FORMATS:
            raise invalid(f"exportFormat '{fmt}' is not supported by ocisim; use VMDK or QCOW2.")
        obj_region, namespace, bucket, name = self._object_location(
            details, region, details.get("destination_type"), "destination_uri", "", "destinationType")
        if image["lifecycle_state"] != "AVAILABLE":
            raise incorrect_state(f"Image {image_id} is {image['lifecycle_state']}; only an AVAILABLE image "
                                  f"can be exported.")
        if image["_size"] > IMAGE_LIMIT_BYTES:
            raise invalid(f"Image {image_id} is {image['_size'] / GB:.0f} GB; images over "
                          f"{IMAGE_LIMIT_GB} GB cannot be exported.")
        took = self.duration(300, self.content.stored_bytes(image["_blocks"]), 60)
        self.objectstorage.get_bucket(obj_region, namespace, bucket)  # 404 now, before any work starts
        with self.state.lock:
            wr = self._work_request("ExportImage", image, took, injected=injected)
            failed = self.workrequests.failed(wr)
        if not failed:
            self.objectstorage.write_object(obj_region, namespace, bucket, name,
                                                self._exported_chunks(image, fmt))
        with self.state.lock:
            image = self.get("image", image_id, region)
            image["lifecycle_state"] = "EXPORTING"
            self.store.schedule(image, [(took, {"lifecycle_state": "AVAILABLE"})])
        return image, wr

    def _exported_chunks(self, image: dict, fmt: str) -> Iterator[bytes]:
        """The image file, made in a scratch file (QCOW2 needs to seek back) and streamed out in pieces."""
        scratch = self.state.state_dir / "tmp"
        scratch.mkdir(exist_ok=True)
        with tempfile.TemporaryFile(dir=scratch) as out:
            formats.write_image(out, fmt, image["_size"], self.content.iter_blocks(image["_blocks"]),
                                self.content.block_size, "streamOptimized" if fmt == "VMDK" else None)
            out.seek(0)
            while piece := out.read(8 * MIB):
                yield piece
