"""Custom images to and from Object Storage: import a VMDK or QCOW2 object, export an image as one.

OCI rules honoured (docs/architecture.md, "OCI rules"): import and export are limited to 400 GB; import reads
VMDK and QCOW2. OCI checks an import asynchronously and fails its work request minutes later, so the object, its
format and its virtual size are checked here first (headers and the binary "GB" of the limit: disks/headers.py;
ocisim applies the same rule).
"""

from __future__ import annotations

from typing import Any

from common.errors import OciInputError
from common.ids import validate_ocid
from disks.headers import (
    HEADER_PROBE_BYTES,
    IMAGE_FORMATS,
    IMAGE_LIMIT_BYTES,
    IMAGE_LIMIT_GB,
    IMAGE_LIMIT_MBS,
    IMPORT_LAUNCH_MODES,
    DiskImageError,
    gb,
    probe_disk_header,
)
from forms.object_uri import object_target, object_uri
from forms.params import blank_to_none
from hooks.compute import OciComputeHook
from hooks.waiting import WaitSpec

from operators.base import OciWaitingOperator, oci_template_fields
from operators.images import image_fields


# -- import -----------------------------------------------------------------------------------------------
class OciImportImageOperator(OciWaitingOperator):
    """Import a VMDK or QCOW2 object from Object Storage as a custom image; wait for the work request.

    Before CreateImage: the object must exist (head), its first 64 KiB must be a VMDK or QCOW2 header of
    ``source_image_type`` (one ranged GET), and its virtual size at most 400 GB (binary, see the module docstring):
    OCI itself would fail the import only minutes later. The compartment defaults to the bucket's. Raises
    OciInputError for each of those, OciWaitError with OCI's text when the work request FAILS.

    XCom: image_id, display_name, size_in_mbs, lifecycle_state, source, virtual_size_bytes, source_image_type,
    work_request_id, region.

    Name the object by ``source_uri``, by ``namespace``, ``bucket`` and ``object_name``, or by ``uploaded``; one.

    :param display_name: the image's name (1 to 255 characters) (templated)
    :param source_uri: the object's native URI,
        https://objectstorage.<region>.oraclecloud.com/n/<namespace>/b/<bucket>/o/<object> (not a
        pre-authenticated request URI: the object is checked first) (templated)
    :param namespace: the Object Storage namespace of the object (templated)
    :param bucket: the bucket that holds the object (templated)
    :param object_name: the object's name in the bucket (templated)
    :param source_image_type: VMDK or QCOW2; the object's header must say the same (templated)
    :param launch_mode: PARAVIRTUALIZED, NATIVE or EMULATED: how instances of the image boot (templated)
    :param operating_system: the image's operating system, as the console shows it (e.g. "Oracle Linux") (templated)
    :param operating_system_version: the operating system's version (e.g. "9") (templated)
    :param freeform_tags: tags for the image, besides the managed-by tag every made resource carries (templated)
    :param compartment_id: OCID of the compartment for the image; None: the bucket's (templated)
    :param uploaded: the XCom of an OciUploadFileOperator (``upload.output``): import the object it uploaded, by
        its ``uri``; None (the upload was skipped): the object named by the other arguments (templated)
    """

    hook_class = OciComputeHook

    multiple_outputs = True  # `task.output["image_id"]`
    plan_operation = "CreateImage"
    template_fields = oci_template_fields("display_name", "source_uri", "namespace", "bucket", "object_name",
                                          "source_image_type", "launch_mode", "operating_system",
                                          "operating_system_version", "freeform_tags", "compartment_id", "uploaded")

    def __init__(self, *, display_name: str, source_uri: str | None = None, namespace: str | None = None,
                 bucket: str | None = None, object_name: str | None = None, source_image_type: str = "VMDK",
                 launch_mode: str = "PARAVIRTUALIZED", operating_system: str | None = None,
                 operating_system_version: str | None = None, freeform_tags: dict | None = None,
                 compartment_id: str | None = None, uploaded: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        self.compartment_id = compartment_id
        self.display_name = display_name
        self.source_uri = source_uri
        self.namespace = namespace
        self.bucket = bucket
        self.object_name = object_name
        self.source_image_type = source_image_type
        self.launch_mode = launch_mode
        self.operating_system = operating_system
        self.operating_system_version = operating_system_version
        self.freeform_tags = freeform_tags
        self.uploaded = uploaded

    def validate_inputs(self) -> None:
        blank_to_none(self, "source_uri", "namespace", "bucket", "object_name", "operating_system",
                       "operating_system_version")
        if self.uploaded is not None:
            if not isinstance(self.uploaded, dict) or not self.uploaded.get("uri"):
                raise OciInputError(f"uploaded {str(self.uploaded)[:80]!r}: an upload task's XCom (with its uri)")
            if self.source_uri or self.namespace or self.bucket or self.object_name:
                raise OciInputError("uploaded and source_uri or namespace/bucket/object_name: give one source")
            self.source_uri = self.uploaded["uri"]
        if not isinstance(self.display_name, str) or not 0 < len(self.display_name) <= 255:
            raise OciInputError(f"display_name {self.display_name!r}: 1 to 255 characters")
        if self.source_image_type not in IMAGE_FORMATS:
            raise OciInputError(f"source_image_type {self.source_image_type!r}: OCI imports {IMAGE_FORMATS}")
        if self.launch_mode not in IMPORT_LAUNCH_MODES:
            raise OciInputError(f"launch_mode {self.launch_mode!r}: an imported image launches in one of "
                                f"{IMPORT_LAUNCH_MODES}")
        self._target = object_target(self.source_uri, "source_uri", self.namespace, self.bucket, self.object_name,
                                     self.region)

    def execute_step(self, context) -> Any:
        import oci

        target = self._target
        region = target["region"] or self.hook.region
        where = f"object {target['object']!r} in bucket {target['bucket']!r} of namespace {target['namespace']!r} " \
                f"({region})"
        field = "source_uri" if self.source_uri else "object_name"
        objects = self.hook.get_client("object_storage", region)
        try:
            head = objects.head_object(target["namespace"], target["bucket"], target["object"])
        except oci.exceptions.ServiceError as err:
            if err.status == 404:
                raise OciInputError(f"{field}: {where} not found; upload it first or fix the name") from None
            raise
        size = int(head.headers.get("content-length") or 0)
        first = b""
        if size:
            first = objects.get_object(target["namespace"], target["bucket"], target["object"],
                                       range=f"bytes=0-{min(size, HEADER_PROBE_BYTES) - 1}").data.content
        try:
            fmt, virtual_size = probe_disk_header(first)
        except DiskImageError as exc:
            raise OciInputError(f"{field}: {where} is {exc}") from None
        if fmt != self.source_image_type:
            raise OciInputError(f"source_image_type {self.source_image_type!r}: {where} is a {fmt} image; set "
                                f"source_image_type={fmt!r} or upload a {self.source_image_type} file")
        if virtual_size > IMAGE_LIMIT_BYTES:
            raise OciInputError(f"{field}: {where} has a virtual disk size of {gb(virtual_size)} ({virtual_size} "
                                f"bytes), over OCI's {IMAGE_LIMIT_GB} GB ({IMAGE_LIMIT_BYTES} bytes) import limit")
        self.log.info("%s: %s, virtual size %s (%d bytes), file %d bytes", where, fmt, gb(virtual_size),
                      virtual_size, size)
        compartment_id = self.compartment_id or objects.get_bucket(target["namespace"], target["bucket"]).data \
            .compartment_id
        uri = self.source_uri or object_uri(region, target["namespace"], target["bucket"], target["object"])
        m = oci.core.models
        common = {"source_image_type": self.source_image_type, "operating_system": self.operating_system,
                  "operating_system_version": self.operating_system_version}
        source = m.ImageSourceViaObjectStorageUriDetails(source_uri=self.source_uri, **common) if self.source_uri \
            else m.ImageSourceViaObjectStorageTupleDetails(namespace_name=target["namespace"],
                                                           bucket_name=target["bucket"],
                                                           object_name=target["object"], **common)
        details = m.CreateImageDetails(compartment_id=compartment_id, display_name=self.display_name,
                                       launch_mode=self.launch_mode, image_source_details=source,
                                       freeform_tags=self.managed_tags(context, self.freeform_tags))
        compute = self.hook.get_client("compute", self.region)
        resp = self.create_unless_failed(self.retry_token(context, "import"),
                                         lambda token: compute.create_image(details, opc_retry_token=token))
        image, wr_id = resp.data, resp.headers.get("opc-work-request-id")
        self.remember(image.id)
        self.link(context, image.id)
        self.log.info("importing %s as image %s (work request %s)", uri, image.id, wr_id)
        result = {**image_fields(image), "source": uri, "virtual_size_bytes": virtual_size,
                  "source_image_type": fmt, "work_request_id": wr_id, "region": self.hook.region}
        spec = WaitSpec.work_request(wr_id) if wr_id else self.hook.lifecycle_spec(image.id, ["AVAILABLE"])
        return self.wait_or_defer(context, spec, result)

    def finish(self, context, result: dict) -> dict:
        image = self.hook.wait(self.hook.lifecycle_spec(result["image_id"], ["AVAILABLE"]), self.poll())
        self._made.clear()
        return {**result, "lifecycle_state": image["lifecycle_state"], "size_in_mbs": image["size_in_mbs"],
                "display_name": image["display_name"]}


# -- export -----------------------------------------------------------------------------------------------
class OciExportImageOperator(OciWaitingOperator):
    """Export an image to Object Storage as VMDK or QCOW2; wait for the work request and the image AVAILABLE.

    Refuses, before ExportImage: an image over OCI's 400 GB export limit (``size_in_mbs``), one not AVAILABLE, a
    missing bucket. Raises OciInputError for those, OciWaitError with OCI's text when the work request fails.

    XCom: image_id, export_format, work_request_id, object ({namespace, bucket, name}), object_region, size_bytes,
    lifecycle_state, region.

    Name the object to write by ``destination_uri`` or by ``namespace``, ``bucket`` and ``object_name``, not both.

    :param image_id: OCID of the image to export (AVAILABLE, at most 400 GB) (templated)
    :param destination_uri: the object's native URI,
        https://objectstorage.<region>.oraclecloud.com/n/<namespace>/b/<bucket>/o/<object> (templated)
    :param namespace: the Object Storage namespace of the bucket (templated)
    :param bucket: the bucket to write to (it must exist) (templated)
    :param object_name: the object's name in the bucket (templated)
    :param export_format: VMDK or QCOW2 (templated)
    """

    hook_class = OciComputeHook
    plan_operation = "ExportImage"
    template_fields = oci_template_fields("image_id", "destination_uri", "namespace", "bucket", "object_name",
                                          "export_format")

    def __init__(self, *, image_id: str, destination_uri: str | None = None, namespace: str | None = None,
                 bucket: str | None = None, object_name: str | None = None, export_format: str = "VMDK", **kwargs):
        super().__init__(**kwargs)
        self.image_id = image_id
        self.destination_uri = destination_uri
        self.namespace = namespace
        self.bucket = bucket
        self.object_name = object_name
        self.export_format = export_format

    def validate_inputs(self) -> None:
        blank_to_none(self, "destination_uri", "namespace", "bucket", "object_name")
        validate_ocid(self.image_id, "image_id", "image")
        if self.export_format not in IMAGE_FORMATS:
            raise OciInputError(f"export_format {self.export_format!r}: one of {IMAGE_FORMATS}")
        self._target = object_target(self.destination_uri, "destination_uri", self.namespace, self.bucket,
                                     self.object_name, self.region)

    def execute_step(self, context) -> Any:
        import oci

        target = self._target
        region = target["region"] or self.hook.region
        compute = self.hook.get_client("compute", self.region)
        image = compute.get_image(self.image_id).data
        if image.size_in_mbs and image.size_in_mbs > IMAGE_LIMIT_MBS:
            raise OciInputError(f"image_id {self.image_id!r}: the image is {image.size_in_mbs} MB "
                                f"({image.size_in_mbs / 1024:.1f} GB), over OCI's {IMAGE_LIMIT_GB} GB export limit")
        if image.lifecycle_state != "AVAILABLE":
            raise OciInputError(f"image_id {self.image_id!r}: is {image.lifecycle_state}; only an AVAILABLE image "
                                f"can be exported")
        try:
            self.hook.get_client("object_storage", region).head_bucket(target["namespace"], target["bucket"])
        except oci.exceptions.ServiceError as err:
            if err.status == 404:
                raise OciInputError(f"bucket {target['bucket']!r} of namespace {target['namespace']!r} ({region}): "
                                    f"not found") from None
            raise
        m = oci.core.models
        details = m.ExportImageViaObjectStorageUriDetails(destination_uri=self.destination_uri,
                                                          export_format=self.export_format) \
            if self.destination_uri else m.ExportImageViaObjectStorageTupleDetails(
                namespace_name=target["namespace"], bucket_name=target["bucket"], object_name=target["object"],
                export_format=self.export_format)
        resp = self.create_unless_failed(self.retry_token(context, "export"), lambda token: compute.export_image(
            self.image_id, details, opc_retry_token=token))
        wr_id = resp.headers.get("opc-work-request-id")
        self.link(context, target["object"], kind="object", namespace=target["namespace"], bucket=target["bucket"],
                  region=region)
        self.log.info("exporting image %s as %s to %s/%s/%s (work request %s)", self.image_id, self.export_format,
                      target["namespace"], target["bucket"], target["object"], wr_id)
        result = {"image_id": self.image_id, "export_format": self.export_format, "work_request_id": wr_id,
                  "object": {"namespace": target["namespace"], "bucket": target["bucket"], "name": target["object"]},
                  "object_region": region, "region": self.hook.region}
        spec = WaitSpec.work_request(wr_id) if wr_id else self.hook.lifecycle_spec(self.image_id, ["AVAILABLE"])
        return self.wait_or_defer(context, spec, result)

    def finish(self, context, result: dict) -> dict:
        image = self.hook.wait(self.hook.lifecycle_spec(result["image_id"], ["AVAILABLE"]), self.poll())
        obj = result["object"]
        head = self.hook.get_client("object_storage", result["object_region"]).head_object(
            obj["namespace"], obj["bucket"], obj["name"])
        return {**result, "size_bytes": int(head.headers.get("content-length") or 0),
                "lifecycle_state": image["lifecycle_state"]}
