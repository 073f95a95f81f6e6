"""Object Storage API: no version prefix, every path starts with `/n`.

Paths, query parameters and headers follow oci/object_storage/object_storage_client.py. Object names may
hold slashes and are read once-decoded from the raw request target, as OCI sees them. Object bodies are raw
bytes (the SDK does not sign them: OCI checks them with Content-MD5 instead); JSON bodies are camelCase.
"""

from __future__ import annotations

import re
from email.utils import formatdate
from urllib.parse import unquote, urlsplit

from ..clock import parse_iso
from ..errors import OciError, invalid
from ..routing import Request, Response, Route, page

N = "/n/{namespaceName}"
OBJECT_FIELDS = {"name": "name", "size": "size", "etag": "etag", "md5": "md5",
                 "timeCreated": "time_created", "timeModified": "time_modified",
                 "storageTier": "storage_tier", "archivalState": "archival_state"}
LIST_OBJECTS_MAX = 1000


class ObjectRoute(Route):
    """A route whose last `{objectName}` spans slashes (OCI object names are paths: `exports/disk.vmdk`)."""

    @property
    def pattern(self) -> re.Pattern:
        regex = self.template.replace("{objectName}", "(?P<objectName>.+)")
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
        return re.compile(f"^{regex}$")


def _names(req) -> tuple[str, str, str | None]:
    """(namespace, bucket, object name) decoded once from the raw target: a name may hold '/', '%' or '+'."""
    parts = urlsplit(req.target).path.split("/", 6)
    namespace = unquote(parts[2]) if len(parts) > 2 else ""
    bucket = unquote(parts[4]) if len(parts) > 4 else ""
    name = unquote(parts[6]) if len(parts) > 6 else None
    return namespace, bucket, name


def _http_date(iso_time: str) -> str:
    return formatdate(parse_iso(iso_time), usegmt=True)


def _metadata_in(headers: dict) -> dict:
    return {k[len("opc-meta-"):]: v for k, v in headers.items() if k.startswith("opc-meta-")}


# -- namespace ---------------------------------------------------------------------------------------------
def get_namespace(sim, req):
    """A JSON string; with compartmentId, that compartment must exist (404 otherwise)."""
    if req.q("compartmentId"):
        sim.objectstorage.compartment(req.q("compartmentId"))
    return Response(200, sim.objectstorage.namespace(), {"content-type": "application/json"})


# -- buckets -----------------------------------------------------------------------------------------------
def _bucket_response(bucket: dict, status: int = 200, extra: dict | None = None) -> Response:
    body = {**bucket, **(extra or {})}
    return Response(status, body, {"etag": bucket["etag"]})


def create_bucket(sim, req):
    namespace, _, _ = _names(req)
    bucket = sim.objectstorage.create_bucket(req.region, namespace, req.json())
    resp = _bucket_response(bucket)
    resp.headers["location"] = f"/n/{namespace}/b/{bucket['name']}"
    return resp


def get_bucket(sim, req):
    """fields=approximateCount,approximateSize adds the bucket's usage, as OCI does on request only."""
    namespace, name, _ = _names(req)
    bucket = sim.objectstorage.get_bucket(req.region, namespace, name)
    _check_match(req, bucket["etag"])
    fields = {f for value in req.q_all("fields") for f in value.split(",") if f}
    unknown = fields - {"approximateCount", "approximateSize", "autoTiering"}
    if unknown:
        raise invalid(f"Invalid fields value '{','.join(sorted(unknown))}'; allowed: approximateCount, "
                      f"approximateSize, autoTiering.")
    extra = {}
    if fields & {"approximateCount", "approximateSize"}:
        count, size = sim.objectstorage.bucket_usage(bucket)
        if "approximateCount" in fields:
            extra["approximate_count"] = count
        if "approximateSize" in fields:
            extra["approximate_size"] = size
    return _bucket_response(bucket, extra=extra)


def update_bucket(sim, req):
    namespace, name, _ = _names(req)
    if req.headers.get("if-match"):
        _check_match(req, sim.objectstorage.get_bucket(req.region, namespace, name)["etag"])
    return _bucket_response(sim.objectstorage.update_bucket(req.region, namespace, name, req.json()))


def head_bucket(sim, req):
    namespace, name, _ = _names(req)
    bucket = sim.objectstorage.get_bucket(req.region, namespace, name)
    _check_match(req, bucket["etag"])
    return Response(200, None, {"etag": bucket["etag"]})


def list_buckets(sim, req):
    """BucketSummary by name; tags only with fields=tags, as OCI lists them."""
    namespace, _, _ = _names(req)
    buckets = sim.objectstorage.list_buckets(req.region, namespace, req.q("compartmentId"))
    with_tags = "tags" in {f for value in req.q_all("fields") for f in value.split(",")}
    keys = ["namespace", "name", "compartment_id", "created_by", "time_created", "etag"]
    if with_tags:
        keys += ["freeform_tags", "defined_tags"]
    return page([{k: b.get(k) for k in keys} for b in buckets], req, default_limit=1000)


def delete_bucket(sim, req):
    namespace, name, _ = _names(req)
    if req.headers.get("if-match"):
        _check_match(req, sim.objectstorage.get_bucket(req.region, namespace, name)["etag"])
    sim.objectstorage.delete_bucket(req.region, namespace, name)


# -- objects -----------------------------------------------------------------------------------------------
def _check_match(req, etag: str | None) -> None:
    """If-Match must name the current ETag (412 IfMatchFailed); If-None-Match: * fails if it exists."""
    want = req.headers.get("if-match")
    if want and want != "*" and want != etag:
        raise OciError(412, "IfMatchFailed", f"The If-Match header is '{want}' but the current entity tag is "
                                             f"'{etag}'.")
    if want == "*" and etag is None:
        raise OciError(412, "IfMatchFailed", "The If-Match header is '*' but there is no existing entity.")
    if req.method in ("PUT", "POST") and req.headers.get("if-none-match") == "*" and etag is not None:
        raise OciError(412, "IfNoneMatchFailed", "The If-None-Match header is '*' but there is an existing "
                                                 "entity.")


def _existing_etag(sim, req, namespace: str, bucket: str, name: str) -> str | None:
    try:
        return sim.objectstorage.object_info(req.region, namespace, bucket, name)["etag"]
    except OciError as err:
        if err.code == "ObjectNotFound":
            return None
        raise


def put_object(sim, req):
    """Honours Content-MD5 (400 on mismatch, nothing stored); answers opc-content-md5, etag, last-modified."""
    namespace, bucket, name = _names(req)
    if req.headers.get("if-match") or req.headers.get("if-none-match"):
        _check_match(req, _existing_etag(sim, req, namespace, bucket, name))
    obj = sim.objectstorage.write_object(
        req.region, namespace, bucket, name, [req.body], content_type=req.headers.get("content-type"),
        metadata=_metadata_in(req.headers), expected_md5=req.headers.get("content-md5"),
        storage_tier=req.headers.get("storage-tier"), expected_crc32c=req.headers.get("opc-content-crc32c"),
        checksum_algorithm=req.headers.get("opc-checksum-algorithm"), expected_sha=_sha_headers(req))
    return Response(200, None, {"opc-content-md5": obj["md5"], "opc-content-crc32c": obj["crc32c"], "etag": obj["etag"],
                                "last-modified": _http_date(obj["time_modified"])})


def _sha_headers(req) -> dict[str, str]:
    """The SHA-256/384 digests a client sent to have its body checked ({"sha256": base64, ...})."""
    return {alg: req.headers[f"opc-content-{alg}"] for alg in ("sha256", "sha384")
            if req.headers.get(f"opc-content-{alg}")}


def _object_headers(obj: dict) -> dict:
    headers = {"etag": obj["etag"], "last-modified": _http_date(obj["time_modified"]),
               "content-type": obj.get("content_type") or "application/octet-stream",
               "accept-ranges": "bytes", "storage-tier": obj.get("storage_tier") or "Standard"}
    if obj.get("archival_state"):
        headers["archival-state"] = obj["archival_state"]
    if obj.get("time_of_archival"):
        headers["time-of-archival"] = _http_date(obj["time_of_archival"])
    headers.update({f"opc-meta-{k}": v for k, v in (obj.get("opc_meta") or {}).items()})
    return headers


def _checksum_header(obj: dict) -> dict:
    """Content-MD5 for a single-part object, opc-multipart-md5 for a multipart one (never both), and the whole
    object's CRC32C for both (the SDK's DownloadManager checks it, also across ranged parts)."""
    crc = {"opc-content-crc32c": obj["crc32c"]} if obj.get("crc32c") else {}
    if obj.get("multipart_md5"):
        return {"opc-multipart-md5": obj["multipart_md5"], **crc}
    return {"content-md5": obj["md5"], **crc}


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) inclusive of a `bytes=a-b`, `bytes=a-` or `bytes=-n` Range; None for no or unparsable
    Range (the whole object, as RFC 7233 says); 416 InvalidRange when it lies past the end."""
    if not header:
        return None
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if not m or (not m.group(1) and not m.group(2)):
        return None
    first_s, last_s = m.groups()
    if not first_s:
        suffix = int(last_s)
        if suffix == 0 or size == 0:
            raise _unsatisfiable(size)
        return max(0, size - suffix), size - 1
    first = int(first_s)
    last = int(last_s) if last_s else size - 1
    if last_s and last < first:
        return None
    if first >= size:
        raise _unsatisfiable(size)
    return first, min(last, size - 1)


def _unsatisfiable(size: int) -> OciError:
    return OciError(416, "InvalidRange",
                    f"The requested range is not satisfiable for an object of {size} bytes.")


def _read_checked(sim, req) -> dict:
    namespace, bucket, name = _names(req)
    obj = sim.objectstorage.object_info(req.region, namespace, bucket, name)
    _check_match(req, obj["etag"])
    return obj


def _not_modified(req, obj: dict) -> Response | None:
    if req.headers.get("if-none-match") in (obj["etag"], "*"):
        return Response(304, None, {"etag": obj["etag"], "content-length": "0"})
    return None


def get_object(sim, req):
    """The object's bytes; a Range answers 206 with content-range and, as OCI, no whole-object checksum."""
    obj = _read_checked(sim, req)
    unchanged = _not_modified(req, obj)
    if unchanged:
        return unchanged
    sim.objectstorage.check_readable(obj)
    headers = _object_headers(obj)
    for query, header in (("httpResponseContentType", "content-type"),
                          ("httpResponseContentDisposition", "content-disposition"),
                          ("httpResponseCacheControl", "cache-control"),
                          ("httpResponseContentLanguage", "content-language"),
                          ("httpResponseContentEncoding", "content-encoding"),
                          ("httpResponseExpires", "expires")):
        if req.q(query):
            headers[header] = req.q(query)
    wanted = _byte_range(req.headers.get("range"), obj["size"])
    if wanted is None:
        data = b"".join(sim.objectstorage.iter_object(obj))
        return Response(200, data, {**headers, **_checksum_header(obj), "content-length": str(len(data))})
    first, last = wanted
    data = b"".join(sim.objectstorage.iter_object(obj, first, last - first + 1))
    headers.update({"content-range": f"bytes {first}-{last}/{obj['size']}", "content-length": str(len(data))})
    return Response(206, data, headers)


def head_object(sim, req):
    obj = _read_checked(sim, req)
    unchanged = _not_modified(req, obj)
    if unchanged:
        return unchanged
    return Response(200, None, {**_object_headers(obj), **_checksum_header(obj),
                                "content-length": str(obj["size"])})


def list_objects(sim, req):
    """Names in order from `start`; `fields` picks the summary fields (name only by default, as OCI);
    `nextStartWith` in the body says where the next page starts."""
    namespace, bucket, _ = _names(req)
    limit = req.q_int("limit", LIST_OBJECTS_MAX)
    if limit < 1 or limit > LIST_OBJECTS_MAX:
        raise invalid(f"The limit {limit} is not valid: it must be between 1 and {LIST_OBJECTS_MAX}.")
    fields = ["name"]
    for value in req.q_all("fields"):
        for f in (x.strip() for x in value.split(",")):
            if f and f not in OBJECT_FIELDS:
                raise invalid(f"Invalid fields value '{f}'; allowed: {', '.join(OBJECT_FIELDS)}.")
            if f and OBJECT_FIELDS[f] not in fields:
                fields.append(OBJECT_FIELDS[f])
    listing = sim.objectstorage.list_objects(
        req.region, namespace, bucket, prefix=req.q("prefix"), start=req.q("start"), end=req.q("end"),
        delimiter=req.q("delimiter"), limit=limit, start_after=req.q("startAfter"))
    body: dict = {"objects": [{f: o.get(f) for f in fields} for o in listing["objects"]]}
    if req.q("delimiter"):
        body["prefixes"] = listing["prefixes"]
    if listing["next_start_with"] is not None:
        body["next_start_with"] = listing["next_start_with"]
    return Response(200, body)


def delete_object(sim, req):
    namespace, bucket, name = _names(req)
    obj = sim.objectstorage.object_info(req.region, namespace, bucket, name)
    _check_match(req, obj["etag"])
    sim.objectstorage.delete_object(req.region, namespace, bucket, name)
    return Response(204, None, {"last-modified": formatdate(sim.now(), usegmt=True)})


# -- multipart uploads -------------------------------------------------------------------------------------
UPLOAD_KEYS = ("namespace", "bucket", "object", "upload_id", "time_created", "storage_tier")


def _upload_view(upload: dict) -> dict:
    return {k: upload.get(k) for k in UPLOAD_KEYS}


def create_multipart_upload(sim, req):
    namespace, bucket, _ = _names(req)
    details = req.json()
    if req.headers.get("if-match") or req.headers.get("if-none-match"):
        _check_match(req, _existing_etag(sim, req, namespace, bucket, details.get("object") or ""))
    meta = {k[len("opc-meta-"):] if k.startswith("opc-meta-") else k: v
            for k, v in (details.get("metadata") or {}).items()}
    upload = sim.objectstorage.create_upload(req.region, namespace, bucket, {**details, "metadata": meta})
    location = f"/n/{namespace}/b/{bucket}/u/{upload['object']}?uploadId={upload['upload_id']}"
    return Response(200, _upload_view(upload), {"location": location})


def _upload_id(req) -> str:
    upload_id = req.q("uploadId")
    if not upload_id:
        raise OciError(400, "MissingParameter", "Missing required parameter 'uploadId'.")
    return upload_id


def upload_part(sim, req):
    """Answers etag and opc-content-md5, which UploadManager records and commits by."""
    namespace, bucket, name = _names(req)
    part_num = req.q_int("uploadPartNum")
    if part_num is None:
        raise OciError(400, "MissingParameter", "Missing required parameter 'uploadPartNum'.")
    part = sim.objectstorage.upload_part(req.region, namespace, bucket, name, _upload_id(req), part_num,
                                         [req.body], expected_md5=req.headers.get("content-md5"),
                                         expected_crc32c=req.headers.get("opc-content-crc32c"),
                                         checksum_algorithm=req.headers.get("opc-checksum-algorithm"),
                                         expected_sha=_sha_headers(req))
    return Response(200, None, {"etag": part["etag"], "opc-content-md5": part["md5"],
                                "opc-content-crc32c": part["crc32c"]})


def commit_multipart_upload(sim, req):
    namespace, bucket, name = _names(req)
    details = req.json()
    if req.headers.get("if-match") or req.headers.get("if-none-match"):
        _check_match(req, _existing_etag(sim, req, namespace, bucket, name))
    obj = sim.objectstorage.commit_upload(req.region, namespace, bucket, name, _upload_id(req),
                                          details.get("parts_to_commit") or [],
                                          details.get("parts_to_exclude"))
    return Response(200, None, {"opc-multipart-md5": obj["multipart_md5"], "etag": obj["etag"],
                                "last-modified": _http_date(obj["time_modified"])})


def abort_multipart_upload(sim, req):
    namespace, bucket, name = _names(req)
    sim.objectstorage.abort_upload(req.region, namespace, bucket, name, _upload_id(req))


def list_multipart_upload_parts(sim, req):
    namespace, bucket, name = _names(req)
    parts = sim.objectstorage.list_parts(req.region, namespace, bucket, name, _upload_id(req))
    return page([{k: p[k] for k in ("part_number", "etag", "md5", "size")} for p in parts], req,
                default_limit=1000)


def list_multipart_uploads(sim, req):
    namespace, bucket, _ = _names(req)
    uploads = sim.objectstorage.list_uploads(req.region, namespace, bucket)
    return page([_upload_view(u) for u in uploads], req, default_limit=1000)


# -- copy, rename, restore ---------------------------------------------------------------------------------
def copy_object(sim, req):
    """202 with the work request to follow (ObjectStorageClient.get_work_request)."""
    namespace, bucket, _ = _names(req)
    wr = sim.objectstorage.copy_object(req.region, namespace, bucket, req.json())
    return Response(202, None, {"opc-work-request-id": wr["id"]})


def rename_object(sim, req):
    namespace, bucket, _ = _names(req)
    obj = sim.objectstorage.rename_object(req.region, namespace, bucket, req.json())
    return Response(200, None, {"etag": obj["etag"], "last-modified": _http_date(obj["time_modified"])})


def restore_objects(sim, req):
    namespace, bucket, _ = _names(req)
    sim.objectstorage.restore_object(req.region, namespace, bucket, req.json())
    return Response(202, None)


def get_work_request(sim, req):
    return sim.objectstorage.get_work_request(req.params["workRequestId"])


# -- pre-authenticated requests ---------------------------------------------------------------------------
PAR_KEYS = ("id", "name", "object_name", "bucket_listing_action", "access_type", "time_expires", "time_created")


def create_par(sim, req):
    namespace, bucket, _ = _names(req)
    par = sim.objectstorage.create_par(req.region, namespace, bucket, req.json())
    return {k: par.get(k) for k in (*PAR_KEYS, "access_uri", "full_path")}


def list_pars(sim, req):
    namespace, bucket, _ = _names(req)
    pars = sim.objectstorage.list_pars(req.region, namespace, bucket, req.q("objectNamePrefix"))
    return page([{k: p.get(k) for k in PAR_KEYS} for p in pars], req, default_limit=1000)


def get_par(sim, req):
    namespace, bucket, _ = _names(req)
    par = sim.objectstorage.get_par(req.region, namespace, bucket, req.params["parId"])
    return {k: par.get(k) for k in PAR_KEYS}


def delete_par(sim, req):
    namespace, bucket, _ = _names(req)
    sim.objectstorage.delete_par(req.region, namespace, bucket, req.params["parId"])


def _through_par(handler, write: bool):
    """A PAR URL (/p/{token}/n/...): no signature; the token must allow this object and access, then the
    request is served as the plain object request it wraps."""
    def serve(sim, req):
        token = req.params["parToken"]
        inner = Request(req.method, req.target.split(f"/p/{token}", 1)[1], req.headers, req.body, req.region,
                        req.params, req.operation, req.injected)
        namespace, bucket, name = _names(inner)
        sim.objectstorage.par_allows(req.region, token, namespace, bucket, name or None, write)
        return handler(sim, inner)
    return serve


B = f"{N}/b/{{bucketName}}"
PAR_PATH = "/p/{parToken}/n/{namespaceName}/b/{bucketName}/o/{objectName}"
ROUTES = [
    Route("GET", "/n", "GetNamespace", get_namespace),
    Route("POST", f"{N}/b", "CreateBucket", create_bucket),
    Route("GET", f"{N}/b", "ListBuckets", list_buckets),
    Route("GET", B, "GetBucket", get_bucket),
    Route("HEAD", B, "HeadBucket", head_bucket),
    Route("POST", B, "UpdateBucket", update_bucket),
    Route("DELETE", B, "DeleteBucket", delete_bucket),
    Route("GET", f"{B}/o", "ListObjects", list_objects),
    ObjectRoute("PUT", f"{B}/o/{{objectName}}", "PutObject", put_object),
    ObjectRoute("GET", f"{B}/o/{{objectName}}", "GetObject", get_object),
    ObjectRoute("HEAD", f"{B}/o/{{objectName}}", "HeadObject", head_object),
    ObjectRoute("DELETE", f"{B}/o/{{objectName}}", "DeleteObject", delete_object),
    Route("POST", f"{B}/u", "CreateMultipartUpload", create_multipart_upload),
    Route("GET", f"{B}/u", "ListMultipartUploads", list_multipart_uploads),
    ObjectRoute("PUT", f"{B}/u/{{objectName}}", "UploadPart", upload_part),
    ObjectRoute("POST", f"{B}/u/{{objectName}}", "CommitMultipartUpload", commit_multipart_upload),
    ObjectRoute("DELETE", f"{B}/u/{{objectName}}", "AbortMultipartUpload", abort_multipart_upload),
    ObjectRoute("GET", f"{B}/u/{{objectName}}", "ListMultipartUploadParts", list_multipart_upload_parts),
    Route("POST", f"{B}/actions/copyObject", "CopyObject", copy_object),
    Route("POST", f"{B}/actions/renameObject", "RenameObject", rename_object),
    Route("POST", f"{B}/actions/restoreObjects", "RestoreObjects", restore_objects),
    Route("GET", "/workRequests/{workRequestId}", "GetObjectStorageWorkRequest", get_work_request),
    Route("POST", f"{B}/p", "CreatePreauthenticatedRequest", create_par),
    Route("GET", f"{B}/p", "ListPreauthenticatedRequests", list_pars),
    Route("GET", f"{B}/p/{{parId}}", "GetPreauthenticatedRequest", get_par),
    Route("DELETE", f"{B}/p/{{parId}}", "DeletePreauthenticatedRequest", delete_par),
    Route("GET", "/p/{parToken}/n/{namespaceName}/b/{bucketName}/o/", "ListObjectsByPar",
          _through_par(list_objects, write=False)),
    ObjectRoute("GET", PAR_PATH, "GetObjectByPar", _through_par(get_object, write=False)),
    ObjectRoute("HEAD", PAR_PATH, "HeadObjectByPar", _through_par(head_object, write=False)),
    ObjectRoute("PUT", PAR_PATH, "PutObjectByPar", _through_par(put_object, write=True)),
]
