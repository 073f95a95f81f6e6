"""Object Storage: the tenancy's namespace, regional buckets, objects and multipart uploads.

Object bytes live in the content store as a block map (1 MiB content-addressed blocks), never in SQLite; the
object's resource dict (kind "object") holds the map, the size and the MD5. Zero blocks are not stored and
identical blocks are stored once; committing block-aligned parts joins their maps without copying bytes.

OCI rules honoured: one namespace per tenancy; a bucket belongs to one region (another region's endpoint
answers 404 BucketNotFound); object names are unique in a bucket (a PUT replaces); ETags are UUIDs, not MD5s;
a body that does not match its Content-MD5 is refused (400 UnmatchedContentMD5) and nothing is stored; a
multipart object's MD5 is the MD5 of its parts' MD5s with "-<part count>"; part numbers are 1..10000; a commit
names each part by the ETag UploadPart returned. Every object has its CRC32C (a multipart one over the whole
object, joined from its parts'), and a body that does not match its opc-content-crc32c is refused (400
UnmatchedContentCRC32C). Archive-tier objects cannot be read until RestoreObjects has restored them (OCI takes up
to an hour), and they go back to Archived when the restore's hours are over.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from collections.abc import Iterable

from .. import checksums
from ..clock import iso, parse_iso
from ..errors import OciError, conflict, invalid, missing
from .base import Backend

BUCKET = "bucket"
OBJECT = "object"
UPLOAD = "multipartupload"
PART = "multipartpart"
MAX_PART_NUMBER = 10000
STORAGE_TIERS = ("Standard", "InfrequentAccess", "Archive")
CHECKSUM_ALGORITHMS = ("CRC32C", "SHA256", "SHA384")
PAR = "preauthenticatedrequest"
WORK_REQUEST = "objectstorageworkrequest"
PAR_ACCESS = ("ObjectRead", "ObjectWrite", "ObjectReadWrite", "AnyObjectWrite", "AnyObjectRead",
              "AnyObjectReadWrite")
RESTORE_SECONDS = 3600.0  # OCI restores an archived object within an hour
RESTORE_HOURS = (1, 240)  # how long a restored object stays readable (default 24)
COPY_SECONDS = (5.0, 30.0)  # (base, per GB) of a CopyObject work request


def bucket_not_found(namespace: str, bucket: str) -> OciError:
    return OciError(404, "BucketNotFound", f"Either the bucket named '{bucket}' does not exist in the "
                                           f"namespace '{namespace}' or you are not authorized to access it")


def object_not_found(bucket: str, name: str) -> OciError:
    return OciError(404, "ObjectNotFound", f"The object '{name}' was not found in the bucket '{bucket}'")


def upload_not_found(upload_id: str, bucket: str, name: str) -> OciError:
    return OciError(404, "NoSuchUpload", f"The upload ID '{upload_id}' does not exist for object '{name}' "
                                         f"in bucket '{bucket}'")


def b64md5(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def _check_digest(actual: str, expected: str | None, header: str, name: str, length: int) -> None:
    """OCI's integrity check of a body against a digest header (base64 of `length` bytes): 400 Invalid<name>
    for a malformed header, 400 Unmatched<name> when the body differs, and nothing is stored."""
    if expected is None:
        return
    try:
        valid = len(base64.b64decode(expected, validate=True)) == length
    except ValueError:
        valid = False
    if not valid:
        raise OciError(400, f"Invalid{name}", f"The {header} header '{expected}' is not a base64-encoded "
                                              f"{name[len('Content'):]} digest.")
    if expected != actual:
        raise OciError(400, f"Unmatched{name}", f"The computed {name[len('Content'):]} of the request body ({actual}) "
                                                f"does not match the {header} header ({expected})")


def check_md5(actual: str, expected: str | None) -> None:
    """The body against its Content-MD5 header (base64 of the 16 digest bytes)."""
    _check_digest(actual, expected, "Content-MD5", "ContentMD5", 16)


def check_crc32c(actual: int, expected: str | None, algorithm: str | None = None) -> None:
    """The body against its opc-content-crc32c header (base64 of 4 big-endian bytes), as OCI checks it."""
    if algorithm is not None and algorithm.upper() not in CHECKSUM_ALGORITHMS:
        raise invalid(f"Invalid opc-checksum-algorithm '{algorithm}'; must be one of {', '.join(CHECKSUM_ALGORITHMS)}.")
    _check_digest(checksums.b64(actual), expected, "opc-content-crc32c", "ContentCRC32C", 4)


def check_sha(hashers: dict, expected: dict[str, str] | None) -> None:
    """The body against its opc-content-sha256 / opc-content-sha384 headers, when the client sent them."""
    for alg, hasher in hashers.items():
        _check_digest(b64md5(hasher.digest()), (expected or {}).get(alg), f"opc-content-{alg}",
                      f"Content{alg.upper()}", hasher.digest_size)


def _check_etags(source: dict, source_if_match: str | None, target: dict | None, target_name: str,
                 if_match: str | None, if_none_match: str | None) -> None:
    """A copy's or rename's ETag conditions on its source and target, as OCI checks them: 412 when one fails."""
    if source_if_match and source_if_match != source["etag"]:
        raise OciError(412, "IfMatchFailed", f"The entity tag of '{source['name']}' is '{source['etag']}', not "
                                             f"'{source_if_match}'.")
    if if_match and (target is None or target["etag"] != if_match):
        raise OciError(412, "IfMatchFailed", f"The object '{target_name}' does not have the entity tag '{if_match}'.")
    if if_none_match == "*" and target is not None:
        raise OciError(412, "IfNoneMatchFailed", f"The object '{target_name}' exists.")


def multipart_md5(part_md5s: list[str]) -> str:
    """OCI's multipart object MD5: base64 MD5 over the concatenated raw part MD5s, then '-<part count>'."""
    joined = b"".join(base64.b64decode(m) for m in part_md5s)
    return f"{b64md5(hashlib.md5(joined).digest())}-{len(part_md5s)}"


class ObjectStorageBackend(Backend):
    # -- namespace -------------------------------------------------------------------------------------
    def namespace(self) -> str:
        """The tenancy's one namespace: generated once (12 lower-case characters, as OCI's) and persisted."""
        with self.state.lock:
            name = self.store.meta_get("objectstorage_namespace")
            if not name:
                alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
                name = "ax" + "".join(secrets.choice(alphabet) for _ in range(10))
                self.store.meta_set("objectstorage_namespace", name)
        return name

    def check_namespace(self, namespace: str) -> str:
        if namespace != self.namespace():
            raise OciError(404, "NamespaceNotFound",
                           f"You do not have authorization to perform this request, or the requested "
                           f"resource could not be found: namespace '{namespace}'.")
        return namespace

    # -- buckets ---------------------------------------------------------------------------------------
    def find_bucket(self, region: str, name: str) -> dict | None:
        found = self.store.list(BUCKET, region, where=lambda b: b["name"] == name)
        return found[0] if found else None

    def get_bucket(self, region: str, namespace: str, name: str) -> dict:
        self.check_namespace(namespace)
        bucket = self.find_bucket(region, name)
        if bucket is None:
            raise bucket_not_found(namespace, name)
        return bucket

    def create_bucket(self, region: str, namespace: str, details: dict) -> dict:
        """409 BucketAlreadyExists for a name taken in this region (names are per namespace and region)."""
        self.check_namespace(namespace)
        name = details.get("name")
        if not name:
            raise OciError(400, "MissingParameter", "Missing required parameter 'name'.")
        if len(name) > 256 or not all(c.isalnum() or c in "-_." for c in name):
            raise OciError(400, "InvalidBucketName",
                           f"The bucket name '{name}' is not valid: use letters, numbers, dashes, "
                           f"underscores and periods, at most 256.")
        compartment_id = self.compartment(details.get("compartment_id"))
        self.check_references(details)
        tier = details.get("storage_tier") or "Standard"
        if tier not in ("Standard", "Archive"):
            raise invalid(f"Invalid storageTier '{tier}'; must be one of Archive, Standard.")
        identity = self.store.meta_get("identity") or {}
        with self.state.lock:
            if self.find_bucket(region, name) is not None:
                raise conflict(f"Either the bucket '{name}' in namespace '{namespace}' already exists or you "
                               f"are not authorized to create it", code="BucketAlreadyExists")
            bucket = self.new(
                BUCKET, "bucket", region, namespace=namespace, name=name, compartment_id=compartment_id,
                metadata=details.get("metadata") or {}, created_by=identity.get("user"),
                etag=str(uuid.uuid4()),
                public_access_type=details.get("public_access_type") or "NoPublicAccess",
                storage_tier=tier, object_events_enabled=bool(details.get("object_events_enabled")),
                freeform_tags=details.get("freeform_tags") or {},
                defined_tags=details.get("defined_tags") or {},
                kms_key_id=details.get("kms_key_id"), replication_enabled=False, is_read_only=False,
                versioning=details.get("versioning") or "Disabled",
                auto_tiering=details.get("auto_tiering") or "Disabled")
            return self.store.put(bucket)

    def update_bucket(self, region: str, namespace: str, name: str, details: dict) -> dict:
        """UpdateBucket: tags, metadata, public access, events, versioning, auto-tiering, compartment and name;
        a new ETag each time. Versioning once Enabled can only be Suspended, as on OCI."""
        self.check_references(details)
        with self.state.lock:
            bucket = self.get_bucket(region, namespace, name)
            public = details.get("public_access_type")
            if public is not None and public not in ("NoPublicAccess", "ObjectRead", "ObjectReadWithoutList"):
                raise invalid(f"Invalid publicAccessType '{public}'; must be one of NoPublicAccess, ObjectRead, "
                              f"ObjectReadWithoutList.")
            versioning = details.get("versioning")
            if versioning is not None and versioning not in ("Enabled", "Suspended"):
                raise invalid(f"Invalid versioning '{versioning}'; must be one of Enabled, Suspended.")
            if versioning == "Suspended" and bucket.get("versioning") == "Disabled":
                raise invalid("versioning: only a bucket with versioning Enabled can be Suspended.")
            tiering = details.get("auto_tiering")
            if tiering is not None and tiering not in ("Disabled", "InfrequentAccess"):
                raise invalid(f"Invalid autoTiering '{tiering}'; must be one of Disabled, InfrequentAccess.")
            if details.get("compartment_id"):
                bucket["compartment_id"] = self.compartment(details["compartment_id"])
            new_name = details.get("name")
            if new_name and new_name != bucket["name"]:
                if self.find_bucket(region, new_name) is not None:
                    raise conflict(f"Either the bucket '{new_name}' in namespace '{namespace}' already exists or you "
                                   f"are not authorized to create it", code="BucketAlreadyExists")
                if self._objects(bucket) or self.list_uploads(region, namespace, name):
                    raise conflict(f"Bucket named '{name}' is not empty; ocisim renames only empty buckets.",
                                   code="BucketNotEmpty")
                bucket["name"] = new_name
            for field, value in (("public_access_type", public), ("versioning", versioning),
                                 ("auto_tiering", tiering), ("freeform_tags", details.get("freeform_tags")),
                                 ("defined_tags", details.get("defined_tags"))):
                if value is not None:
                    bucket[field] = value
            if details.get("metadata") is not None:
                bucket["metadata"] = {**bucket.get("metadata", {}), **details["metadata"]}
            if details.get("object_events_enabled") is not None:
                bucket["object_events_enabled"] = bool(details["object_events_enabled"])
            bucket["etag"] = str(uuid.uuid4())
            return self.store.put(bucket)

    def ensure_bucket(self, region: str, compartment_id: str, name: str) -> dict:
        """The bucket of that name in the region, created if absent (seeding, exports)."""
        return self.find_bucket(region, name) or self.create_bucket(
            region, self.namespace(), {"name": name, "compartment_id": compartment_id})

    def list_buckets(self, region: str, namespace: str, compartment_id: str | None) -> list[dict]:
        """Buckets of a compartment in this region, by name (OCI lists them alphabetically)."""
        self.check_namespace(namespace)
        self.compartment(compartment_id)
        items = self.store.list(BUCKET, region, where=lambda b: b["compartment_id"] == compartment_id)
        return sorted(items, key=lambda b: b["name"])

    def bucket_usage(self, bucket: dict) -> tuple[int, int]:
        """(approximate object count, approximate size in bytes), shown when asked with fields=..."""
        objects = self._objects(bucket)
        return len(objects), sum(o["size"] for o in objects)

    def delete_bucket(self, region: str, namespace: str, name: str) -> None:
        """OCI refuses to delete a bucket that still holds objects or unfinished multipart uploads."""
        bucket = self.get_bucket(region, namespace, name)
        if self._objects(bucket) or self.list_uploads(region, namespace, name):
            raise conflict(f"Bucket named '{name}' is not empty. Delete all objects and uncommitted "
                           f"multipart uploads first.", code="BucketNotEmpty")
        self.store.delete(bucket["id"])

    # -- objects ---------------------------------------------------------------------------------------
    @staticmethod
    def _object_key(region: str, bucket: str, name: str) -> str:
        return f"objectstorage/{region}/{bucket}/{name}"

    def _objects(self, bucket: dict) -> list[dict]:
        return self.store.list(OBJECT, bucket["_region"], where=lambda o: o["bucket"] == bucket["name"])

    def object_info(self, region: str, namespace: str, bucket: str, name: str) -> dict:
        """{'name', 'size', 'md5', 'etag', ...}; 404 OciError (ObjectNotFound/BucketNotFound) if absent."""
        self.get_bucket(region, namespace, bucket)
        found = self.store.find(self._object_key(region, bucket, name))
        if found is None or found["_kind"] != OBJECT:
            raise object_not_found(bucket, name)
        return found

    def read_object(self, region: str, namespace: str, bucket: str, name: str, offset: int,
                    length: int) -> bytes:
        """Bytes [offset, offset+length) of an object, clipped at its end."""
        info = self.object_info(region, namespace, bucket, name)
        offset = max(0, offset)
        length = max(0, min(length, info["size"] - offset))
        return self.content.read(info["_blocks"], offset, length) if length else b""

    def iter_object(self, info: dict, offset: int = 0, length: int | None = None,
                    piece: int = 8 << 20) -> Iterable[bytes]:
        """Stream an object's bytes without holding them all (large GETs, image imports)."""
        end = info["size"] if length is None else min(info["size"], offset + length)
        pos = offset
        while pos < end:
            take = min(piece, end - pos)
            yield self.content.read(info["_blocks"], pos, take)
            pos += take

    def write_object(self, region: str, namespace: str, bucket: str, name: str, chunks,
                     content_type: str | None = None, metadata: dict | None = None,
                     expected_md5: str | None = None, storage_tier: str | None = None,
                     expected_crc32c: str | None = None, checksum_algorithm: str | None = None,
                     expected_sha: dict[str, str] | None = None) -> dict:
        """Store an object from an iterable of bytes chunks (streams large exports without holding them).

        `expected_md5` (the request's Content-MD5, base64) is checked before the object becomes visible:
        400 UnmatchedContentMD5 on mismatch, and the old object, if any, stays."""
        target = self.get_bucket(region, namespace, bucket)
        if not name:
            raise OciError(400, "MissingParameter", "Missing required parameter 'objectName'.")
        if storage_tier is not None and storage_tier not in STORAGE_TIERS:
            raise invalid(f"Invalid storage-tier '{storage_tier}'; must be one of {', '.join(STORAGE_TIERS)}.")
        hashers = {alg: hashlib.new(alg) for alg in expected_sha or {}}
        blocks, size, digest, crc = self._store_stream(chunks, hashers.values())
        md5 = b64md5(digest)
        check_md5(md5, expected_md5)
        check_crc32c(crc, expected_crc32c, checksum_algorithm)
        check_sha(hashers, expected_sha)
        return self._save_object(target, name, blocks, size, md5, None, content_type, metadata, storage_tier, crc)

    def _save_object(self, bucket: dict, name: str, blocks: dict, size: int, md5: str, multipart: str | None,
                     content_type: str | None, metadata: dict | None, storage_tier: str | None,
                     crc32c: int | None) -> dict:
        now = self.now_iso()
        tier = storage_tier or bucket.get("storage_tier") or "Standard"
        obj = {"id": self._object_key(bucket["_region"], bucket["name"], name), "_kind": OBJECT,
               "_region": bucket["_region"], "namespace": bucket["namespace"], "bucket": bucket["name"],
               "name": name, "size": size, "md5": md5, "multipart_md5": multipart, "etag": str(uuid.uuid4()),
               "time_created": now, "time_modified": now,
               "content_type": content_type or "application/octet-stream",
               "storage_tier": tier, "archival_state": "Archived" if tier == "Archive" else None,
               "time_of_archival": None, "crc32c": None if crc32c is None else checksums.b64(crc32c),
               "_crc": crc32c, "opc_meta": metadata or {}, "_blocks": blocks}
        return self.store.put(obj)

    def _store_stream(self, chunks: Iterable[bytes], hashers: Iterable = ()) -> tuple[dict, int, bytes, int]:
        """Cut a byte stream into blocks as it arrives: (block map, size, raw MD5, CRC32C); `hashers` (hashlib
        objects) see every byte too."""
        hashers = list(hashers)
        bs = self.content.block_size
        blocks: dict = {}
        md5 = hashlib.md5()
        crc = 0
        buf = bytearray()
        index = 0
        size = 0
        for chunk in chunks:
            if not chunk:
                continue
            md5.update(chunk)
            crc = checksums.update(chunk, crc)
            for hasher in hashers:
                hasher.update(chunk)
            size += len(chunk)
            buf += chunk
            while len(buf) >= bs:
                digest = self.content.put_chunk(bytes(buf[:bs]))
                if digest:
                    blocks[str(index)] = digest
                index += 1
                del buf[:bs]
        if buf:
            digest = self.content.put_chunk(bytes(buf))
            if digest:
                blocks[str(index)] = digest
        return blocks, size, md5.digest(), crc

    def delete_object(self, region: str, namespace: str, bucket: str, name: str) -> None:
        info = self.object_info(region, namespace, bucket, name)
        self.store.delete(info["id"])

    def list_objects(self, region: str, namespace: str, bucket: str, prefix: str | None = None,
                     start: str | None = None, end: str | None = None, delimiter: str | None = None,
                     limit: int = 1000, start_after: str | None = None) -> dict:
        """OCI's ListObjects: names in lexicographic order from `start` (inclusive) to `end` (exclusive),
        with `delimiter` folding names into `prefixes`, and `next_start_with` when more remain."""
        target = self.get_bucket(region, namespace, bucket)
        if delimiter not in (None, "", "/"):
            raise invalid("The only supported delimiter is '/'.")
        names = sorted(self._objects(target), key=lambda o: o["name"])
        objects: list[dict] = []
        prefixes: list[str] = []
        next_start = None
        for obj in names:
            name = obj["name"]
            if prefix and not name.startswith(prefix):
                continue
            if start and name < start:
                continue
            if start_after and name <= start_after:
                continue
            if end and name >= end:
                break
            if delimiter:
                cut = name.find(delimiter, len(prefix or ""))
                if cut >= 0:
                    folded = name[:cut + 1]
                    if folded not in prefixes:
                        if len(objects) + len(prefixes) >= limit:
                            next_start = name
                            break
                        prefixes.append(folded)
                    continue
            if len(objects) + len(prefixes) >= limit:
                next_start = name
                break
            objects.append(obj)
        return {"objects": objects, "prefixes": prefixes, "next_start_with": next_start}

    # -- multipart uploads -----------------------------------------------------------------------------
    def create_upload(self, region: str, namespace: str, bucket: str, details: dict) -> dict:
        target = self.get_bucket(region, namespace, bucket)
        name = details.get("object")
        if not name:
            raise OciError(400, "MissingParameter", "Missing required parameter 'object'.")
        tier = details.get("storage_tier") or target.get("storage_tier") or "Standard"
        if tier not in STORAGE_TIERS:
            raise invalid(f"Invalid storageTier '{tier}'; must be one of {', '.join(STORAGE_TIERS)}.")
        upload_id = str(uuid.uuid4())
        upload = {"id": upload_id, "_kind": UPLOAD, "_region": region, "namespace": namespace,
                  "bucket": bucket, "object": name, "upload_id": upload_id, "time_created": self.now_iso(),
                  "storage_tier": tier, "_content_type": details.get("content_type"),
                  "_metadata": details.get("metadata") or {}}
        return self.store.put(upload)

    def get_upload(self, region: str, namespace: str, bucket: str, name: str, upload_id: str) -> dict:
        self.get_bucket(region, namespace, bucket)
        upload = self.store.find(upload_id)
        if (upload is None or upload["_kind"] != UPLOAD or upload["_region"] != region
                or upload["bucket"] != bucket or upload["object"] != name):
            raise upload_not_found(upload_id, bucket, name)
        return upload

    def list_uploads(self, region: str, namespace: str, bucket: str) -> list[dict]:
        self.get_bucket(region, namespace, bucket)
        items = self.store.list(UPLOAD, region, where=lambda u: u["bucket"] == bucket)
        return sorted(items, key=lambda u: (u["object"], u["time_created"]))

    def upload_part(self, region: str, namespace: str, bucket: str, name: str, upload_id: str, part_num: int,
                    chunks: Iterable[bytes], expected_md5: str | None = None,
                    expected_crc32c: str | None = None, checksum_algorithm: str | None = None,
                    expected_sha: dict[str, str] | None = None) -> dict:
        """Store one part (re-uploading a number replaces it); each part is its own record, so parallel
        uploads of different parts never race on the upload's record."""
        self.get_upload(region, namespace, bucket, name, upload_id)
        if not 1 <= part_num <= MAX_PART_NUMBER:
            raise OciError(400, "InvalidUploadPartNumber",
                           f"The part number {part_num} is not valid: it must be between 1 and "
                           f"{MAX_PART_NUMBER}.")
        hashers = {alg: hashlib.new(alg) for alg in expected_sha or {}}
        blocks, size, digest, crc = self._store_stream(chunks, hashers.values())
        md5 = b64md5(digest)
        check_md5(md5, expected_md5)
        check_crc32c(crc, expected_crc32c, checksum_algorithm)
        check_sha(hashers, expected_sha)
        part = {"id": f"{upload_id}#{part_num:05d}", "_kind": PART, "_region": region,
                "_upload_id": upload_id, "part_number": part_num, "etag": str(uuid.uuid4()), "md5": md5,
                "size": size, "crc32c": checksums.b64(crc), "_crc": crc,
                "_last_modified": self.now_iso(), "_blocks": blocks}
        return self.store.put(part)

    def list_parts(self, region: str, namespace: str, bucket: str, name: str, upload_id: str) -> list[dict]:
        self.get_upload(region, namespace, bucket, name, upload_id)
        parts = self.store.list(PART, region, where=lambda p: p["_upload_id"] == upload_id)
        return sorted(parts, key=lambda p: p["part_number"])

    def commit_upload(self, region: str, namespace: str, bucket: str, name: str, upload_id: str,
                      parts_to_commit: list[dict], parts_to_exclude: list[int] | None = None) -> dict:
        """Assemble the named parts, in part-number order, into the object; each part's ETag must match what
        UploadPart returned (400 InvalidParameter otherwise). The upload and its parts are gone afterwards."""
        upload = self.get_upload(region, namespace, bucket, name, upload_id)
        target = self.get_bucket(region, namespace, bucket)
        if not parts_to_commit:
            raise invalid("partsToCommit: at least one part must be committed.")
        stored = {p["part_number"]: p for p in self.list_parts(region, namespace, bucket, name, upload_id)}
        chosen = []
        for item in sorted(parts_to_commit, key=lambda p: int(p.get("part_num") or 0)):
            num = int(item.get("part_num") or 0)
            part = stored.get(num)
            if part is None:
                raise OciError(400, "InvalidUploadPart",
                               f"The part number {num} was not uploaded for upload ID '{upload_id}'.")
            if item.get("etag") != part["etag"]:
                raise OciError(400, "InvalidUploadPart",
                               f"The ETag '{item.get('etag')}' of part {num} does not match the uploaded "
                               f"part's ETag '{part['etag']}'.")
            chosen.append(part)
        if len({p["part_number"] for p in chosen}) != len(chosen):
            raise invalid("partsToCommit: a part number is listed more than once.")
        blocks, size = self._concat(chosen)
        md5 = multipart_md5([p["md5"] for p in chosen])
        crc = 0
        for part in chosen:  # the whole object's CRC32C, joined from the parts' without reading them again
            crc = checksums.combine(crc, part["_crc"], part["size"]) if part.get("_crc") is not None else None
            if crc is None:
                break
        obj = self._save_object(target, name, blocks, size, md5, md5, upload.get("_content_type"),
                                upload.get("_metadata"), upload.get("storage_tier"), crc)
        self._drop_upload(upload_id, list(stored.values()))
        return obj

    def _concat(self, parts: list[dict]) -> tuple[dict, int]:
        """One block map for the parts end to end: shifted maps while parts stay block-aligned, bytes re-cut
        into blocks from the first unaligned boundary on."""
        bs = self.content.block_size
        blocks: dict = {}
        offset = 0
        for i, part in enumerate(parts):
            if offset % bs == 0:
                base = offset // bs
                for index, digest in part["_blocks"].items():
                    blocks[str(base + int(index))] = digest
                offset += part["size"]
                continue
            rest = parts[i:]
            tail, tail_size = self._recut(blocks, offset, rest)
            return tail, offset + tail_size
        return blocks, offset

    def _recut(self, blocks: dict, offset: int, parts: list[dict]) -> tuple[dict, int]:
        """Append `parts` at an unaligned `offset` by streaming their bytes through a fresh cut."""
        bs = self.content.block_size
        head_index = offset // bs
        head = self.content.read(blocks, head_index * bs, offset - head_index * bs)
        out = {k: v for k, v in blocks.items() if int(k) < head_index}

        def stream():
            yield head
            for part in parts:
                pos = 0
                while pos < part["size"]:
                    take = min(8 * bs, part["size"] - pos)
                    yield self.content.read(part["_blocks"], pos, take)
                    pos += take

        tail, tail_size, _, _ = self._store_stream(stream())
        for index, digest in tail.items():
            out[str(head_index + int(index))] = digest
        return out, tail_size - len(head)

    def abort_upload(self, region: str, namespace: str, bucket: str, name: str, upload_id: str) -> None:
        parts = self.list_parts(region, namespace, bucket, name, upload_id)
        self._drop_upload(upload_id, parts)

    def _drop_upload(self, upload_id: str, parts: list[dict]) -> None:
        for part in parts:
            self.store.delete(part["id"])
        self.store.delete(upload_id)

    # -- archive tier ----------------------------------------------------------------------------------
    def check_readable(self, obj: dict) -> None:
        """An archived object is not readable until restored: 409 NotRestored, as OCI answers."""
        if obj.get("storage_tier") == "Archive" and obj.get("archival_state") != "Restored":
            raise conflict(f"The object '{obj['name']}' is {obj.get('archival_state') or 'Archived'} in the Archive "
                           f"tier; restore it with RestoreObjects and read it once it is Restored.",
                           code="NotRestored")

    def restore_object(self, region: str, namespace: str, bucket: str, details: dict) -> dict:
        """RestoreObjects: Restoring, Restored within RESTORE_SECONDS for `hours` (default 24), then Archived."""
        name = details.get("object_name")
        if not name:
            raise missing("objectName")
        hours = details.get("hours")
        hours = 24 if hours is None else int(hours)
        if not RESTORE_HOURS[0] <= hours <= RESTORE_HOURS[1]:
            raise invalid(f"hours {hours}: a restored object stays available for {RESTORE_HOURS[0]} to "
                          f"{RESTORE_HOURS[1]} hours.")
        with self.state.lock:
            obj = self.object_info(region, namespace, bucket, name)
            if obj.get("storage_tier") != "Archive":
                raise invalid(f"The object '{name}' is in the {obj.get('storage_tier')} tier; only Archive-tier "
                              f"objects are restored.")
            if obj.get("archival_state") in ("Restoring", "Restored"):
                return obj
            now = self.state.now()
            until = now + RESTORE_SECONDS + hours * 3600
            obj["archival_state"] = "Restoring"
            return self.store.schedule(obj, [
                (RESTORE_SECONDS, {"archival_state": "Restored", "time_of_archival": iso(until)}),
                (RESTORE_SECONDS + hours * 3600, {"archival_state": "Archived", "time_of_archival": None})])

    # -- copy and rename -------------------------------------------------------------------------------
    def copy_object(self, region: str, namespace: str, bucket: str, details: dict) -> dict:
        """CopyObject: the bytes land at the destination (any region) now, tracked by an Object Storage work
        request that is COMPLETED after a size-based time; returns the work request."""
        source_name = details.get("source_object_name")
        if not source_name:
            raise missing("sourceObjectName")
        for field, wire in (("destination_region", "destinationRegion"), ("destination_namespace",
                            "destinationNamespace"), ("destination_bucket", "destinationBucket"),
                            ("destination_object_name", "destinationObjectName")):
            if not details.get(field):
                raise missing(wire)
        dest_region = details["destination_region"]
        if dest_region not in {r.name for r in self.state.regions}:
            raise invalid(f"destinationRegion '{dest_region}' is not a region of this realm.")
        tier = details.get("destination_object_storage_tier")
        if tier is not None and tier not in STORAGE_TIERS:
            raise invalid(f"Invalid destinationObjectStorageTier '{tier}'; must be one of {', '.join(STORAGE_TIERS)}.")
        source = self.object_info(region, namespace, bucket, source_name)
        target = self.get_bucket(dest_region, details["destination_namespace"], details["destination_bucket"])
        dest_name = details["destination_object_name"]
        _check_etags(source, details.get("source_object_if_match_etag"),
                     self.store.find(self._object_key(dest_region, target["name"], dest_name)), dest_name,
                     details.get("destination_object_if_match_etag"),
                     details.get("destination_object_if_none_match_etag"))
        self.check_readable(source)
        metadata = details.get("destination_object_metadata")
        meta = source.get("opc_meta") if metadata is None else {
            k[len("opc-meta-"):]: v for k, v in metadata.items() if k.startswith("opc-meta-")}
        content_type = (metadata or {}).get("content-type") or source.get("content_type")
        copied = self._save_object(target, dest_name, dict(source["_blocks"]), source["size"], source["md5"],
                                   source.get("multipart_md5"), content_type, meta, tier, source.get("_crc"))
        return self._work_request("CopyObject", self.get_bucket(region, namespace, bucket)["compartment_id"],
                                  region, copied, self.duration(COPY_SECONDS[0], source["size"], COPY_SECONDS[1]))

    def rename_object(self, region: str, namespace: str, bucket: str, details: dict) -> dict:
        """RenameObject: the same bytes and ETag under the new name, at once; the old name is gone."""
        source_name, new_name = details.get("source_name"), details.get("new_name")
        if not source_name:
            raise missing("sourceName")
        if not new_name:
            raise missing("newName")
        with self.state.lock:
            source = self.object_info(region, namespace, bucket, source_name)
            _check_etags(source, details.get("src_obj_if_match_etag"),
                         self.store.find(self._object_key(region, bucket, new_name)), new_name,
                         details.get("new_obj_if_match_etag"), details.get("new_obj_if_none_match_etag"))
            if new_name == source_name:
                return source
            renamed = {**source, "id": self._object_key(region, bucket, new_name), "name": new_name,
                       "time_modified": self.now_iso()}
            self.store.delete(source["id"])
            return self.store.put(renamed)

    def _work_request(self, operation: str, compartment_id: str, region: str, obj: dict, took: float) -> dict:
        """An Object Storage work request: ACCEPTED, IN_PROGRESS, then COMPLETED (Object Storage's word)."""
        now = self.state.now()
        uri = f"/n/{obj['namespace']}/b/{obj['bucket']}/o/{obj['name']}"
        resource = {"entity_type": "object", "identifier": obj["name"], "entity_uri": uri,
                    "metadata": {"REGION": obj["_region"], "NAMESPACE": obj["namespace"], "BUCKET": obj["bucket"],
                                 "OBJECT": obj["name"]}}
        wr = self.new(WORK_REQUEST, "objectstorageworkrequest", region, operation_type="COPY_OBJECT"
                      if operation == "CopyObject" else operation, status="ACCEPTED", compartment_id=compartment_id,
                      percent_complete=0.0, time_accepted=iso(now), time_started=None, time_finished=None,
                      resources=[{**resource, "action_type": "IN_PROGRESS"}], _t0=now, _duration=took)
        del wr["time_created"]
        return self.store.schedule(wr, [
            (0.1, {"status": "IN_PROGRESS", "time_started": iso(now + 0.1)}),
            (took, {"status": "COMPLETED", "percent_complete": 100.0, "time_finished": iso(now + took),
                    "resources": [{**resource, "action_type": "WRITTEN"}]})])

    def get_work_request(self, work_request_id: str) -> dict:
        wr = self.store.get(WORK_REQUEST, work_request_id)
        if wr["status"] == "IN_PROGRESS":
            wr["percent_complete"] = round(min(99.0, 100.0 * (self.state.now() - wr["_t0"]) / wr["_duration"]), 1)
        return wr

    # -- pre-authenticated requests --------------------------------------------------------------------
    def create_par(self, region: str, namespace: str, bucket: str, details: dict) -> dict:
        """CreatePreauthenticatedRequest: the URL (`accessUri`) carries the secret, shown once; the PAR itself
        is listed and read without it."""
        target = self.get_bucket(region, namespace, bucket)
        name, access, expires = details.get("name"), details.get("access_type"), details.get("time_expires")
        if not name:
            raise missing("name")
        if not access:
            raise missing("accessType")
        if access not in PAR_ACCESS:
            raise invalid(f"Invalid accessType '{access}'; must be one of {', '.join(PAR_ACCESS)}.")
        if not expires:
            raise missing("timeExpires")
        try:
            expires_at = parse_iso(expires)
        except ValueError as exc:
            raise invalid(f"timeExpires '{expires}' is not an RFC 3339 time.") from exc
        if expires_at <= self.state.now():
            raise invalid(f"timeExpires '{expires}' is in the past.")
        object_name = details.get("object_name")
        if access.startswith("Object") and not object_name:
            raise missing("objectName")
        if access.startswith("AnyObject") and object_name:
            raise invalid(f"objectName: a {access} request covers the whole bucket; leave objectName unset.")
        listing = details.get("bucket_listing_action") or "Deny"
        if listing not in ("Deny", "ListObjects"):
            raise invalid(f"Invalid bucketListingAction '{listing}'; must be one of Deny, ListObjects.")
        if listing == "ListObjects" and not access.startswith("AnyObject"):
            raise invalid("bucketListingAction ListObjects needs an AnyObject* accessType (a bucket-wide request).")
        token = secrets.token_urlsafe(48)
        par = self.new(PAR, "preauthenticatedrequest", region, name=name, object_name=object_name,
                       access_type=access, bucket_listing_action=listing, time_expires=iso(expires_at),
                       namespace=namespace, bucket=target["name"], _token=token, _expires=expires_at)
        par["id"] = secrets.token_urlsafe(32)
        self.store.put(par)
        path = f"/p/{token}/n/{namespace}/b/{target['name']}/o/" + (object_name or "")
        return {**par, "access_uri": path,
                "full_path": f"https://objectstorage.{region}.oraclecloud.com{path}"}

    def list_pars(self, region: str, namespace: str, bucket: str, prefix: str | None) -> list[dict]:
        self.get_bucket(region, namespace, bucket)
        return self.store.list(PAR, region, where=lambda p: p["bucket"] == bucket
                               and (not prefix or (p.get("object_name") or "").startswith(prefix)))

    def get_par(self, region: str, namespace: str, bucket: str, par_id: str) -> dict:
        self.get_bucket(region, namespace, bucket)
        found = self.store.find(par_id)
        if found is None or found["_kind"] != PAR or found["bucket"] != bucket or found["_region"] != region:
            raise OciError(404, "NotAuthorizedOrNotFound", f"The pre-authenticated request '{par_id}' was not found.")
        return found

    def delete_par(self, region: str, namespace: str, bucket: str, par_id: str) -> None:
        self.store.delete(self.get_par(region, namespace, bucket, par_id)["id"])

    def par_allows(self, region: str, token: str, namespace: str, bucket: str, object_name: str | None,
                   write: bool) -> None:
        """What a PAR URL may do: 404 for an unknown, expired or mismatched one (OCI tells nothing more);
        `object_name` None asks to list the bucket."""
        denied = OciError(404, "NotAuthorizedOrNotFound", "The pre-authenticated request is not valid.")
        found = self.store.list(PAR, region, where=lambda p: p["_token"] == token)
        if not found:
            raise denied
        par = found[0]
        if par["_expires"] <= self.state.now() or par["namespace"] != namespace or par["bucket"] != bucket:
            raise denied
        if object_name is None:
            if par["bucket_listing_action"] != "ListObjects":
                raise denied
            return
        if par["object_name"] and par["object_name"] != object_name:
            raise denied
        wanted = "Write" if write else "Read"
        if wanted not in par["access_type"]:
            raise denied
