"""Object Storage: upload a local file (a VMDK or QCOW2 disk on its way to an image import, an export, a report).

OCI facts honoured: an object larger than one part goes up as a multipart upload (parts of at most 50 GiB, at most
10,000 of them, 10 TiB per object); an unfinished upload stays in the bucket until committed or aborted, so a
retried task resumes it instead of sending every part again; a multipart object's MD5 is not the file's MD5 but
the MD5 of its parts' MD5s with "-<part count>" (`opc-multipart-md5`), so that is what we recompute from the local
file and compare with what Object Storage reports.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import threading

from common.errors import OciInputError, OciWaitError
from common.ids import MIB
from forms.object_uri import object_uri
from forms.params import flag
from hooks.object_storage import OciObjectStorageHook

from operators.base import OciBaseOperator, oci_template_fields

MAX_PART_SIZE_MB = 50 * 1024  # 50 GiB
MAX_PARTS = 10_000
MAX_OBJECT_BYTES = 10 * 1024**4  # 10 TiB


def file_digests(path: str, part_size: int) -> tuple[str, list[str]]:
    """One read of the file: (base64 MD5 of the whole file, base64 MD5 of each `part_size` piece, as
    UploadManager cuts and sends them)."""
    whole = hashlib.md5()
    parts = []
    with open(path, "rb") as f:
        while True:
            md5 = hashlib.md5()
            left = part_size
            while left and (piece := f.read(min(left, 8 * MIB))):
                md5.update(piece)
                whole.update(piece)
                left -= len(piece)
            if left == part_size:
                break
            parts.append(base64.b64encode(md5.digest()).decode())
            if left:
                break
    return base64.b64encode(whole.digest()).decode(), parts


def multipart_md5(part_digests: list[str]) -> str:
    """Object Storage's MD5 of a multipart object: MD5 over the parts' raw MD5s, then "-<part count>"."""
    joined = b"".join(base64.b64decode(d) for d in part_digests)
    return f"{base64.b64encode(hashlib.md5(joined).digest()).decode()}-{len(part_digests)}"





class OciUploadFileOperator(OciBaseOperator):
    """Upload a local file to a bucket through the SDK's UploadManager: multipart when the file is larger than
    one part (parts in parallel unless `parallel=False`), resuming an unfinished upload of the same object left
    by an earlier try, and checking the stored object's MD5 against the local file's.

    A killed or failed try leaves its unfinished upload in the bucket on purpose: the retry resumes it. Uploads
    that are never retried stay until aborted (an Object Storage lifecycle rule can remove old ones).

    `local_path` must resolve (symlinks and `..` followed) to a regular file under one of the upload roots
    (`upload_roots`, else `OCI_UPLOAD_ROOTS`; none: uploads are off). With `disk_image_type` (VMDK or QCOW2) the
    file's header is checked first: that type, a virtual disk of at most 400 GB.

    Raises OciInputError before any API call for a file outside the roots, a missing or non-regular file, a
    bucket name outside OCI's rules, an empty or invalid object name, or a part size that OCI refuses;
    OciWaitError when the stored object's checksum does not match the file.

    XCom: namespace, bucket, object_name, size_bytes, md5, multipart_md5, multipart, parts, region, uri.

    :param local_path: the file to upload; it must resolve to a regular file under one of the upload roots
        (templated)
    :param bucket: the bucket to upload to (templated)
    :param object_name: the object's name in the bucket (templated)
    :param namespace: the Object Storage namespace; None: the tenancy's, looked up (templated)
    :param part_size_mb: the multipart part size in MiB (a file larger than one part is uploaded in parts)
        (templated)
    :param parallel: upload the parts in parallel
    :param content_type: the object's Content-Type; None: OCI's default (templated)
    :param disk_image_type: ``VMDK`` or ``QCOW2``: check the file's disk header (and the 400 GB limit) first
        (templated)
    :param upload_roots: the folders files may be uploaded from; None: ``OCI_UPLOAD_ROOTS`` (unset: uploads are off)
    """

    hook_class = OciObjectStorageHook

    multiple_outputs = True  # `task.output["uri"]`
    plan_operation = "CreateMultipartUpload"
    template_fields = oci_template_fields("local_path", "bucket", "object_name", "namespace", "content_type",
                                          "part_size_mb", "disk_image_type")

    def __init__(self, *, local_path: str, bucket: str, object_name: str, namespace: str | None = None,
                 part_size_mb: int = 128, parallel: bool = True, content_type: str | None = None,
                 disk_image_type: str | None = None, upload_roots: list[str] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.disk_image_type = disk_image_type
        self.upload_roots = upload_roots
        self.local_path = local_path
        self.bucket = bucket
        self.object_name = object_name
        self.namespace = namespace
        self.part_size_mb = part_size_mb
        self.parallel = parallel
        self.content_type = content_type

    # -- validation ------------------------------------------------------------------------------------
    def validate_inputs(self) -> None:
        from common.ids import check_bucket_name
        from forms.checks import check_local_disk, check_local_file, check_object_name

        self.parallel = flag(self.parallel, "parallel")
        self.local_path = path = check_local_file(self.local_path, "local_path", self.upload_roots)
        check_bucket_name(self.bucket)
        check_object_name(self.object_name)
        if self.disk_image_type:
            check_local_disk(path, self.disk_image_type)
        if self.namespace is not None and (not isinstance(self.namespace, str) or not self.namespace
                                           or "/" in self.namespace):
            raise OciInputError(f"namespace {self.namespace!r}: an Object Storage namespace name, or None to look "
                                f"it up")
        if isinstance(self.part_size_mb, str) and self.part_size_mb.isdigit():
            self.part_size_mb = int(self.part_size_mb)  # rendered from a template
        size_mb = self.part_size_mb
        if isinstance(size_mb, bool) or not isinstance(size_mb, int) or not 1 <= size_mb <= MAX_PART_SIZE_MB:
            raise OciInputError(f"part_size_mb {size_mb!r}: a whole number of MiB from 1 to {MAX_PART_SIZE_MB} "
                                f"(OCI parts are at most 50 GiB)")
        size = os.path.getsize(path)
        if size > MAX_OBJECT_BYTES:
            raise OciInputError(f"local_path {path!r}: {size} bytes is over OCI's 10 TiB object limit")
        if math.ceil(size / (size_mb * MIB)) > MAX_PARTS:
            need = math.ceil(size / MAX_PARTS / MIB)
            raise OciInputError(f"part_size_mb {size_mb}: {path!r} would need more than {MAX_PARTS} parts; use at "
                                f"least {need}")

    # -- upload ----------------------------------------------------------------------------------------
    def execute_step(self, context) -> dict:
        import oci

        client = self.hook.get_client("object_storage", self.region)
        namespace = self.namespace or client.get_namespace().data
        part_size = self.part_size_mb * MIB
        size = os.path.getsize(self.local_path)
        multipart = size > part_size
        self.link(context, kind="object", namespace=namespace, bucket=self.bucket)
        manager = oci.object_storage.UploadManager(client, allow_parallel_uploads=self.parallel)
        kwargs = {"part_size": part_size, "progress_callback": self._progress(size)}
        if self.content_type:
            kwargs["content_type"] = self.content_type
        md5, digests = file_digests(self.local_path, part_size)
        if multipart:
            expected = multipart_md5(digests)
            upload_id = self._resumable_upload(client, namespace, digests, part_size)
            if upload_id:
                self.log.info("resuming upload %s of %s (an earlier try's)", upload_id, self.object_name)
            else:
                self.log.info("uploading %s (%d bytes) in %d parts of %d MiB%s", self.local_path, size,
                              len(digests), self.part_size_mb, ", in parallel" if self.parallel else "")
            response = self._multipart(client, namespace, upload_id, part_size, kwargs["progress_callback"])
            reported = response.headers.get("opc-multipart-md5")
        else:
            expected = md5
            self.log.info("uploading %s (%d bytes) in one request", self.local_path, size)
            response = manager.upload_file(namespace, self.bucket, self.object_name, self.local_path,
                                           content_md5=md5, **kwargs)
            reported = response.headers.get("opc-content-md5")
        stored = self._check_md5(client, namespace, expected, reported, multipart)
        region = self.region or self.hook.region
        return {"namespace": namespace, "bucket": self.bucket, "object_name": self.object_name,
                "size_bytes": stored, "md5": md5, "multipart_md5": expected if multipart else None,
                "multipart": multipart, "parts": len(digests) if multipart else 1, "region": region,
                "uri": object_uri(region, namespace, self.bucket, self.object_name)}

    def _multipart(self, client, namespace: str, upload_id: str | None, part_size: int, progress):
        """A multipart upload whose parts are retried part by part, each attempt re-reading its bytes from the
        file (the SDK's own retry would re-send a body it has already read, and wait out a read timeout); create
        and commit go through the hook's retrying client. Unfinished uploads of the object left by dropped
        responses are aborted after the commit."""
        import copy

        import oci
        from oci.object_storage.transfer.internal.multipart_object_assembler import MultipartObjectAssembler

        parts_client = copy.copy(client)  # same connection and signer; no retry of its own around a part
        parts_client.retry_strategy = oci.retry.NoneRetryStrategy()
        kwargs = {"part_size": part_size, "allow_parallel_uploads": self.parallel}
        if self.content_type:
            kwargs["content_type"] = self.content_type
        assembler = MultipartObjectAssembler(client, namespace, self.bucket, self.object_name, **kwargs)
        assembler.add_parts_from_file(self.local_path)
        if upload_id:
            assembler.manifest["uploadId"] = upload_id
            done = self.hook.list_all(client.list_multipart_upload_parts, namespace,
                                      self.bucket, self.object_name, upload_id)
            for part in done:
                entry = assembler.manifest["parts"][part.part_number - 1]
                entry["etag"], entry["opc_md5"] = part.etag, part.md5
        else:
            assembler.new_upload()
        assembler.object_storage_client = parts_client
        assembler.upload(progress_callback=progress, retry_strategy=self.hook.retry_strategy)
        assembler.object_storage_client = client
        response = assembler.commit()
        mine = assembler.manifest["uploadId"]
        for upload in self.hook.list_all(client.list_multipart_uploads, namespace,
                                         self.bucket):
            if upload.object == self.object_name and upload.upload_id != mine:
                self.log.info("aborting unfinished upload %s of %s (a dropped response's)", upload.upload_id,
                              self.object_name)
                client.abort_multipart_upload(namespace, self.bucket, self.object_name, upload.upload_id)
        return response

    def _progress(self, total: int):
        """Progress in the log at every 10% (UploadManager reports bytes per part)."""
        seen = {"bytes": 0, "logged": -1}
        lock = threading.Lock()  # parts finish on UploadManager's worker threads

        def callback(sent: int) -> None:
            with lock:
                seen["bytes"] += sent
                tenth = int(10 * seen["bytes"] / total) if total else 10
                if tenth <= seen["logged"]:
                    return
                seen["logged"] = tenth
                done = seen["bytes"]
            self.log.info("uploaded %d of %d bytes (%d%%)", done, total, min(100, 10 * tenth))

        return callback

    def _resumable_upload(self, client, namespace: str, digests: list[str], part_size: int) -> str | None:
        """An unfinished upload of this object whose parts all match the local file, or None. Uploads whose
        parts do not match (the file changed, another part size) are aborted: committing them would store
        the wrong bytes."""

        uploads = self.hook.list_all(client.list_multipart_uploads, namespace,
                                     self.bucket)
        candidates = sorted((u for u in uploads if u.object == self.object_name), key=lambda u: u.time_created,
                            reverse=True)
        chosen = None
        for upload in candidates:
            parts = self.hook.list_all(client.list_multipart_upload_parts, namespace,
                                       self.bucket, self.object_name, upload.upload_id)
            last = len(digests)
            matches = all(1 <= p.part_number <= last and p.md5 == digests[p.part_number - 1]
                          and (p.size == part_size or p.part_number == last) for p in parts)
            if chosen is None and matches:
                chosen = upload.upload_id
                self.log.info("upload %s has %d of %d parts already", upload.upload_id, len(parts), last)
                continue
            self.log.info("aborting upload %s of %s: %s", upload.upload_id, self.object_name,
                          "superseded by a newer one" if matches else "its parts do not match the local file")
            client.abort_multipart_upload(namespace, self.bucket, self.object_name, upload.upload_id)
        return chosen

    def _check_md5(self, client, namespace: str, expected: str, reported: str | None, multipart: bool) -> int:
        """Compare the checksum Object Storage answered at commit and reports now with the local file's; the
        object's size in bytes when they match."""
        head = client.head_object(namespace, self.bucket, self.object_name)
        stored = head.headers.get("opc-multipart-md5") if multipart else head.headers.get("content-md5")
        for label, value in (("commit", reported), ("object", stored)):
            if value != expected:
                raise OciWaitError(f"object {self.object_name!r} in bucket {self.bucket!r}: the {label} MD5 "
                                   f"{value!r} does not match the local file's {'multipart ' if multipart else ''}"
                                   f"MD5 {expected!r}")
        self.log.info("%s stored, MD5 %s verified", self.object_name, expected)
        return int(head.headers.get("content-length") or 0)
