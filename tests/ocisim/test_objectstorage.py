"""Object Storage through the real SDK: namespace, regional buckets, objects, ranges, multipart, UploadManager."""

from __future__ import annotations

import base64
import hashlib
import os

import oci
import pytest

from ocisim.backend.base import MIB


def _client(ocisim, region: str | None = None):
    return ocisim.client(oci.object_storage.ObjectStorageClient, region=region)


def _b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def _error(call, *args, **kwargs) -> oci.exceptions.ServiceError:
    with pytest.raises(oci.exceptions.ServiceError) as info:
        call(*args, **kwargs)
    return info.value


def _bucket(ocisim, client, name: str):
    details = oci.object_storage.models.CreateBucketDetails(
        name=name, compartment_id=ocisim.tenancy["compartment_id"], freeform_tags={"team": "ops"})
    return client.create_bucket(ocisim.tenancy["namespace"], details)


def test_namespace_and_buckets(ocisim):
    client = _client(ocisim)
    ns = client.get_namespace().data
    assert ns == ocisim.tenancy["namespace"] and ns.islower()
    assert client.get_namespace(compartment_id=ocisim.tenancy["compartment_id"]).data == ns

    created = _bucket(ocisim, client, "backups")
    bucket = created.data
    assert bucket.name == "backups" and bucket.namespace == ns
    assert bucket.compartment_id == ocisim.tenancy["compartment_id"]
    assert bucket.id.startswith("ocid1.bucket.oc1.iad.")
    assert bucket.storage_tier == "Standard" and bucket.public_access_type == "NoPublicAccess"
    assert bucket.freeform_tags == {"team": "ops"} and bucket.time_created is not None
    assert created.headers["etag"] == bucket.etag
    assert client.head_bucket(ns, "backups").headers["etag"] == bucket.etag

    got = client.get_bucket(ns, "backups", fields=["approximateCount", "approximateSize"]).data
    assert got.id == bucket.id and got.approximate_count == 0 and got.approximate_size == 0
    client.put_object(ns, "backups", "a", b"12345")
    got = client.get_bucket(ns, "backups", fields=["approximateCount", "approximateSize"]).data
    assert (got.approximate_count, got.approximate_size) == (1, 5)

    names = [b.name for b in client.list_buckets(ns, ocisim.tenancy["compartment_id"]).data]
    assert names == sorted(names) and {"backups", *ocisim.tenancy["buckets"]} <= set(names)

    err = _error(_bucket, ocisim, client, "backups")
    assert err.status == 409 and err.code == "BucketAlreadyExists"
    err = _error(client.get_bucket, ns, "nope")
    assert err.status == 404 and err.code == "BucketNotFound" and "nope" in err.message
    err = _error(client.get_bucket, "othernamespace", "backups")
    assert err.status == 404 and err.code == "NamespaceNotFound"

    err = _error(client.delete_bucket, ns, "backups")
    assert err.status == 409 and err.code == "BucketNotEmpty"
    client.delete_object(ns, "backups", "a")
    client.delete_bucket(ns, "backups")
    assert _error(client.get_bucket, ns, "backups").status == 404


def test_put_get_head_list_delete(ocisim):
    client = _client(ocisim)
    ns, bucket = ocisim.tenancy["namespace"], ocisim.tenancy["buckets"][0]
    data = os.urandom(3 * MIB + 77)
    name = "disks/web 1%/disk.vmdk"  # slashes, a space and a percent sign survive the path
    put = client.put_object(ns, bucket, name, data, content_type="application/x-vmdk",
                            opc_meta={"source": "onprem"})
    assert put.status == 200 and put.headers["opc-content-md5"] == _b64md5(data)
    assert put.headers["etag"] and put.headers["last-modified"].endswith("GMT")

    got = client.get_object(ns, bucket, name)
    assert got.status == 200 and got.data.content == data
    assert got.headers["content-md5"] == _b64md5(data) and got.headers["etag"] == put.headers["etag"]
    assert got.headers["content-type"] == "application/x-vmdk" and got.headers["opc-meta-source"] == "onprem"
    assert int(got.headers["content-length"]) == len(data) and "opc-multipart-md5" not in got.headers

    head = client.head_object(ns, bucket, name)
    assert int(head.headers["content-length"]) == len(data) and head.headers["content-md5"] == _b64md5(data)
    assert head.headers["etag"] == put.headers["etag"]

    for key in ("disks/a.qcow2", "disks/sub/b.raw", "other.txt"):
        client.put_object(ns, bucket, key, key.encode())
    listing = client.list_objects(ns, bucket, prefix="disks/").data
    assert [o.name for o in listing.objects] == ["disks/a.qcow2", "disks/sub/b.raw", name]
    assert listing.objects[0].size is None and listing.next_start_with is None  # name only unless asked
    assert not listing.prefixes  # prefixes come with a delimiter only

    full = client.list_objects(ns, bucket, prefix="disks/", fields="name,size,md5,timeCreated,etag").data
    by_name = {o.name: o for o in full.objects}
    assert by_name[name].size == len(data) and by_name[name].md5 == _b64md5(data)
    assert by_name[name].etag == put.headers["etag"] and by_name[name].time_created is not None

    folded = client.list_objects(ns, bucket, prefix="disks/", delimiter="/").data
    assert [o.name for o in folded.objects] == ["disks/a.qcow2"]
    assert folded.prefixes == ["disks/sub/", "disks/web 1%/"]
    bounded = client.list_objects(ns, bucket, start="disks/b", end="other.txt").data
    assert [o.name for o in bounded.objects] == ["disks/sub/b.raw", name]

    client.put_object(ns, bucket, "other.txt", b"replaced")
    assert client.get_object(ns, bucket, "other.txt").data.content == b"replaced"

    assert client.delete_object(ns, bucket, name).status == 204
    err = _error(client.get_object, ns, bucket, name)
    assert err.status == 404 and err.code == "ObjectNotFound"
    assert _error(client.head_object, ns, bucket, name).status == 404
    assert _error(client.delete_object, ns, bucket, name).code == "ObjectNotFound"
    assert _error(client.get_object, ns, "missing-bucket", "x").code == "BucketNotFound"


def test_ranged_get_returns_exact_bytes(ocisim):
    client = _client(ocisim)
    ns, bucket = ocisim.tenancy["namespace"], ocisim.tenancy["buckets"][0]
    data = os.urandom(2 * MIB + 1000)
    client.put_object(ns, bucket, "r.bin", data)

    first, last = MIB - 10, MIB + 4999  # crosses a 1 MiB block boundary
    part = client.get_object(ns, bucket, "r.bin", range=f"bytes={first}-{last}")
    assert part.status == 206 and part.data.content == data[first:last + 1]
    assert part.headers["content-range"] == f"bytes {first}-{last}/{len(data)}"
    assert int(part.headers["content-length"]) == last - first + 1 and "content-md5" not in part.headers

    tail = client.get_object(ns, bucket, "r.bin", range="bytes=-100")
    assert tail.status == 206 and tail.data.content == data[-100:]
    rest = client.get_object(ns, bucket, "r.bin", range=f"bytes={len(data) - 5}-")
    assert rest.data.content == data[-5:]
    clipped = client.get_object(ns, bucket, "r.bin", range=f"bytes=10-{len(data) * 2}")
    assert clipped.data.content == data[10:]

    err = _error(client.get_object, ns, bucket, "r.bin", range=f"bytes={len(data)}-")
    assert err.status == 416 and err.code == "InvalidRange"


def test_bad_content_md5_is_rejected_and_nothing_stored(ocisim):
    client = _client(ocisim)
    ns, bucket = ocisim.tenancy["namespace"], ocisim.tenancy["buckets"][0]
    body = b"the real content"
    err = _error(client.put_object, ns, bucket, "checked.txt", body, content_md5=_b64md5(b"something else"))
    assert err.status == 400 and err.code == "UnmatchedContentMD5" and _b64md5(body) in err.message
    assert _error(client.head_object, ns, bucket, "checked.txt").status == 404

    client.put_object(ns, bucket, "checked.txt", body, content_md5=_b64md5(body))
    _error(client.put_object, ns, bucket, "checked.txt", b"tampered", content_md5=_b64md5(body))
    assert client.get_object(ns, bucket, "checked.txt").data.content == body  # the old object stays
    err = _error(client.put_object, ns, bucket, "checked.txt", body, content_md5="not-an-md5")
    assert err.status == 400 and err.code == "InvalidContentMD5"


def _multipart_md5(data: bytes, part_size: int) -> str:
    digests = b"".join(hashlib.md5(data[i:i + part_size]).digest() for i in range(0, len(data), part_size))
    count = (len(data) + part_size - 1) // part_size
    return f"{base64.b64encode(hashlib.md5(digests).digest()).decode()}-{count}"


def test_upload_manager_parallel_multipart_20mib(ocisim, tmp_path):
    client = _client(ocisim)
    ns, bucket = ocisim.tenancy["namespace"], ocisim.tenancy["buckets"][0]
    data = os.urandom(21 * MIB + 12345)  # 5 parts of 5 MiB; the last one short and unaligned
    path = tmp_path / "disk.vmdk"
    path.write_bytes(data)
    ocisim.admin.reset_counters()

    manager = oci.object_storage.UploadManager(client, allow_parallel_uploads=True, parallel_process_count=4)
    resp = manager.upload_file(ns, bucket, "images/disk.vmdk", str(path), part_size=5 * MIB)
    assert resp.status == 200 and resp.headers["opc-multipart-md5"] == _multipart_md5(data, 5 * MIB)

    counters = ocisim.admin.counters()
    assert counters.get("CreateMultipartUpload") == 1 and counters.get("UploadPart") == 5
    assert counters.get("CommitMultipartUpload") == 1 and "PutObject" not in counters

    head = client.head_object(ns, bucket, "images/disk.vmdk")
    assert int(head.headers["content-length"]) == len(data)
    assert head.headers["opc-multipart-md5"] == _multipart_md5(data, 5 * MIB) and "content-md5" not in head.headers
    first, last = 10 * MIB - 333, 15 * MIB + 444  # spans parts 2, 3 and 4
    ranged = client.get_object(ns, bucket, "images/disk.vmdk", range=f"bytes={first}-{last}")
    assert ranged.status == 206 and ranged.data.content == data[first:last + 1]
    full = client.get_object(ns, bucket, "images/disk.vmdk").data.content
    assert hashlib.sha256(full).hexdigest() == hashlib.sha256(data).hexdigest()
    assert client.list_multipart_uploads(ns, bucket).data == []  # committed uploads are gone


def test_upload_manager_resumes_an_interrupted_upload(ocisim, tmp_path):
    client = _client(ocisim)
    ns, bucket = ocisim.tenancy["namespace"], ocisim.tenancy["buckets"][0]
    part_size = MIB + 7  # unaligned parts: the commit must re-cut blocks
    data = os.urandom(3 * part_size + 100)
    path = tmp_path / "big.raw"
    path.write_bytes(data)
    upload = client.create_multipart_upload(
        ns, bucket, oci.object_storage.models.CreateMultipartUploadDetails(object="big.raw")).data
    client.upload_part(ns, bucket, "big.raw", upload.upload_id, 1, data[:part_size])
    ocisim.admin.reset_counters()

    manager = oci.object_storage.UploadManager(client, allow_parallel_uploads=True)
    resp = manager.resume_upload_file(ns, bucket, "big.raw", str(path), upload.upload_id, part_size=part_size)
    assert resp.headers["opc-multipart-md5"] == _multipart_md5(data, part_size)
    assert ocisim.admin.counters().get("UploadPart") == 3  # part 1 was already there
    assert client.get_object(ns, bucket, "big.raw").data.content == data


def test_multipart_commit_abort_and_list_parts(ocisim):
    client = _client(ocisim)
    ns, bucket = ocisim.tenancy["namespace"], ocisim.tenancy["buckets"][0]
    details = oci.object_storage.models.CreateMultipartUploadDetails(
        object="mp/obj.bin", content_type="application/octet-stream", metadata={"opc-meta-kind": "test"})
    upload = client.create_multipart_upload(ns, bucket, details).data
    assert upload.object == "mp/obj.bin" and upload.bucket == bucket and upload.namespace == ns
    assert upload.upload_id and upload.storage_tier == "Standard" and upload.time_created is not None

    parts = [os.urandom(MIB + 500), os.urandom(700), os.urandom(2 * MIB)]
    etags = {}
    for num, body in enumerate(parts, start=1):
        resp = client.upload_part(ns, bucket, "mp/obj.bin", upload.upload_id, num, body,
                                  content_md5=_b64md5(body))
        assert resp.status == 200 and resp.headers["opc-content-md5"] == _b64md5(body)
        etags[num] = resp.headers["etag"]
    err = _error(client.upload_part, ns, bucket, "mp/obj.bin", upload.upload_id, 2, b"x", content_md5=_b64md5(b"y"))
    assert err.code == "UnmatchedContentMD5"

    listed = client.list_multipart_upload_parts(ns, bucket, "mp/obj.bin", upload.upload_id).data
    assert [(p.part_number, p.size, p.md5, p.etag) for p in listed] == [
        (n, len(b), _b64md5(b), etags[n]) for n, b in enumerate(parts, start=1)]
    assert [u.upload_id for u in client.list_multipart_uploads(ns, bucket).data] == [upload.upload_id]

    Part = oci.object_storage.models.CommitMultipartUploadPartDetails
    bad = oci.object_storage.models.CommitMultipartUploadDetails(parts_to_commit=[Part(part_num=1, etag="wrong")])
    err = _error(client.commit_multipart_upload, ns, bucket, "mp/obj.bin", upload.upload_id, bad)
    assert err.status == 400 and err.code == "InvalidUploadPart"

    commit = oci.object_storage.models.CommitMultipartUploadDetails(
        parts_to_commit=[Part(part_num=3, etag=etags[3]), Part(part_num=1, etag=etags[1])], parts_to_exclude=[2])
    resp = client.commit_multipart_upload(ns, bucket, "mp/obj.bin", upload.upload_id, commit)
    joined = b"".join(hashlib.md5(p).digest() for p in (parts[0], parts[2]))
    expected_md5 = f"{base64.b64encode(hashlib.md5(joined).digest()).decode()}-2"
    assert resp.status == 200 and resp.headers["opc-multipart-md5"] == expected_md5 and resp.headers["etag"]
    got = client.get_object(ns, bucket, "mp/obj.bin")
    assert got.data.content == parts[0] + parts[2] and got.headers["opc-meta-kind"] == "test"
    listed = client.list_objects(ns, bucket, prefix="mp/", fields="md5,size").data.objects
    assert [(o.md5, o.size) for o in listed] == [(expected_md5, len(parts[0]) + len(parts[2]))]
    err = _error(client.list_multipart_upload_parts, ns, bucket, "mp/obj.bin", upload.upload_id)
    assert err.status == 404 and err.code == "NoSuchUpload"

    other = client.create_multipart_upload(
        ns, bucket, oci.object_storage.models.CreateMultipartUploadDetails(object="mp/aborted.bin")).data
    client.upload_part(ns, bucket, "mp/aborted.bin", other.upload_id, 1, b"abc")
    assert client.abort_multipart_upload(ns, bucket, "mp/aborted.bin", other.upload_id).status == 204
    assert client.list_multipart_uploads(ns, bucket).data == []
    err = _error(client.upload_part, ns, bucket, "mp/aborted.bin", other.upload_id, 2, b"def")
    assert err.status == 404 and err.code == "NoSuchUpload"
    assert _error(client.head_object, ns, bucket, "mp/aborted.bin").status == 404  # HEAD: no body, no code


def test_buckets_are_regional(ocisim):
    home, dr = _client(ocisim), _client(ocisim, "us-phoenix-1")
    ns = ocisim.tenancy["namespace"]
    assert dr.get_namespace().data == ns  # one namespace per tenancy, in every region
    _bucket(ocisim, home, "regional")
    home.put_object(ns, "regional", "x", b"ashburn")

    err = _error(dr.get_bucket, ns, "regional")
    assert err.status == 404 and err.code == "BucketNotFound"
    assert _error(dr.get_object, ns, "regional", "x").code == "BucketNotFound"
    assert "regional" not in [b.name for b in dr.list_buckets(ns, ocisim.tenancy["compartment_id"]).data]

    phx = _bucket(ocisim, dr, "regional").data  # the same name is free in another region
    assert phx.id.startswith("ocid1.bucket.oc1.phx.")
    assert dr.list_objects(ns, "regional").data.objects == []
    assert home.get_object(ns, "regional", "x").data.content == b"ashburn"


def test_list_paging_with_sdk_helper(ocisim):
    client = _client(ocisim)
    ns, bucket = ocisim.tenancy["namespace"], ocisim.tenancy["buckets"][0]
    names = [f"page/{i:03d}" for i in range(25)]
    for name in names:
        client.put_object(ns, bucket, name, name.encode())
    ocisim.admin.reset_counters()
    listed = oci.pagination.list_call_get_all_results(client.list_objects, ns, bucket, prefix="page/",
                                                      limit=10, fields="name,size").data
    assert [o.name for o in listed.objects] == names and all(o.size == 8 for o in listed.objects)
    assert ocisim.admin.counters()["ListObjects"] == 3
    first = client.list_objects(ns, bucket, prefix="page/", limit=10).data
    assert len(first.objects) == 10 and first.next_start_with == "page/010"

    for i in range(5):
        _bucket(ocisim, client, f"paged-{i}")
    ocisim.admin.reset_counters()
    buckets = oci.pagination.list_call_get_all_results(client.list_buckets, ns, ocisim.tenancy["compartment_id"],
                                                       limit=2).data
    assert {f"paged-{i}" for i in range(5)} <= {b.name for b in buckets}
    assert len(buckets) == len({b.name for b in buckets}) and ocisim.admin.counters()["ListBuckets"] >= 3


def test_internal_writer_streams_large_objects(ocisim):
    """The internal API image export uses: chunks of any size in, the same bytes out over the SDK."""
    client = _client(ocisim)
    ns, bucket = ocisim.tenancy["namespace"], ocisim.tenancy["buckets"][0]
    pieces = [os.urandom(3 * MIB + 11), bytes(4 * MIB), os.urandom(123), os.urandom(2 * MIB)]
    backend = ocisim.sim.objectstorage
    info = backend.write_object(ocisim.home_region, ns, bucket, "exports/image.raw", iter(pieces))
    data = b"".join(pieces)
    assert info["size"] == len(data) and info["md5"] == _b64md5(data)
    assert backend.object_info(ocisim.home_region, ns, bucket, "exports/image.raw")["etag"] == info["etag"]
    assert backend.read_object(ocisim.home_region, ns, bucket, "exports/image.raw", 3 * MIB, 100) == \
        data[3 * MIB:3 * MIB + 100]
    head = client.head_object(ns, bucket, "exports/image.raw")
    assert int(head.headers["content-length"]) == len(data) and head.headers["content-md5"] == _b64md5(data)
    middle = client.get_object(ns, bucket, "exports/image.raw", range=f"bytes={5 * MIB}-{8 * MIB}").data.content
    assert middle == data[5 * MIB:8 * MIB + 1]


# -- checksums ------------------------------------------------------------------------------------------------
def _crc(data: bytes) -> str:
    import struct

    import crc32c

    return base64.b64encode(struct.pack(">I", crc32c.crc32c(data))).decode()


def test_crc32c_checked_on_put_and_part_and_returned_on_get_and_head(ocisim, tmp_path):
    client = _client(ocisim)
    ns, bucket = ocisim.tenancy["namespace"], ocisim.tenancy["buckets"][0]
    data = os.urandom(3 * MIB + 17)
    put = client.put_object(ns, bucket, "simple.bin", data, opc_checksum_algorithm="CRC32C",
                            opc_content_crc32c=_crc(data))
    assert put.headers["opc-content-crc32c"] == _crc(data)
    assert client.head_object(ns, bucket, "simple.bin").headers["opc-content-crc32c"] == _crc(data)
    assert client.get_object(ns, bucket, "simple.bin").headers["opc-content-crc32c"] == _crc(data)

    wrong = _error(client.put_object, ns, bucket, "bad.bin", data, opc_checksum_algorithm="CRC32C",
                   opc_content_crc32c=_crc(b"other"))
    assert (wrong.status, wrong.code) == (400, "UnmatchedContentCRC32C") and _crc(data) in wrong.message
    assert _error(client.head_object, ns, bucket, "bad.bin").status == 404  # nothing stored
    sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
    bad_sha = _error(client.put_object, ns, bucket, "bad.bin", data, opc_checksum_algorithm="SHA256",
                     opc_content_sha256=base64.b64encode(hashlib.sha256(b"x").digest()).decode())
    assert (bad_sha.status, bad_sha.code) == (400, "UnmatchedContentSHA256") and sha in bad_sha.message
    assert client.put_object(ns, bucket, "sha.bin", data, opc_checksum_algorithm="SHA256",
                             opc_content_sha256=sha).status == 200

    upload = client.create_multipart_upload(ns, bucket, oci.object_storage.models.CreateMultipartUploadDetails(
        object="parts.bin")).data
    pieces = [os.urandom(2 * MIB + 5), os.urandom(MIB + 3)]
    bad_part = _error(client.upload_part, ns, bucket, "parts.bin", upload.upload_id, 1, pieces[0],
                      opc_checksum_algorithm="CRC32C", opc_content_crc32c=_crc(pieces[1]))
    assert bad_part.code == "UnmatchedContentCRC32C"
    etags = [client.upload_part(ns, bucket, "parts.bin", upload.upload_id, n, piece,
                                opc_checksum_algorithm="CRC32C", opc_content_crc32c=_crc(piece)).headers["etag"]
             for n, piece in enumerate(pieces, start=1)]
    client.commit_multipart_upload(ns, bucket, "parts.bin", upload.upload_id,
                                   oci.object_storage.models.CommitMultipartUploadDetails(parts_to_commit=[
                                       oci.object_storage.models.CommitMultipartUploadPartDetails(part_num=n, etag=e)
                                       for n, e in enumerate(etags, start=1)]))
    whole = b"".join(pieces)
    assert client.head_object(ns, bucket, "parts.bin").headers["opc-content-crc32c"] == _crc(whole)

    # The SDK's DownloadManager verifies the CRC32C, in one piece and across ranged parts in threads.
    from oci.object_storage.transfer.internal.download.DownloadConfiguration import DownloadConfiguration
    from oci.object_storage.transfer.internal.download.DownloadManager import DownloadManager

    config = DownloadConfiguration(part_size_in_bytes=MIB, num_download_threads=3,
                                   is_enforce_data_integrity_for_download=True)
    manager = DownloadManager(config, client)
    for name, expected in (("simple.bin", data), ("parts.bin", whole)):
        target = tmp_path / name
        manager.get_object_to_path(ns, bucket, name, str(target))
        assert target.read_bytes() == expected


# -- copy, rename, archive, pre-authenticated requests ----------------------------------------------------------
def test_copy_object_across_regions_with_a_work_request(ocisim):
    client, dr = _client(ocisim), _client(ocisim, "us-phoenix-1")
    ns, bucket = ocisim.tenancy["namespace"], ocisim.tenancy["buckets"][0]
    dr.create_bucket(ns, oci.object_storage.models.CreateBucketDetails(
        name="dr-copies", compartment_id=ocisim.tenancy["compartment_id"]))
    data = os.urandom(MIB + 1)
    client.put_object(ns, bucket, "src.bin", data, opc_meta={"origin": "iad"})
    done = oci.object_storage.ObjectStorageClientCompositeOperations(client).copy_object_and_wait_for_state(
        ns, bucket, oci.object_storage.models.CopyObjectDetails(
            source_object_name="src.bin", destination_region="us-phoenix-1", destination_namespace=ns,
            destination_bucket="dr-copies", destination_object_name="copy.bin"),
        wait_for_states=["COMPLETED"], waiter_kwargs={"max_interval_seconds": 1, "max_wait_seconds": 30}).data
    assert done.status == "COMPLETED" and done.operation_type == "COPY_OBJECT"
    assert done.resources[0].action_type == "WRITTEN"
    copied = dr.get_object(ns, "dr-copies", "copy.bin")
    assert copied.data.content == data and copied.headers["opc-meta-origin"] == "iad"
    assert copied.headers["opc-content-crc32c"] == _crc(data)
    missing = _error(client.copy_object, ns, bucket, oci.object_storage.models.CopyObjectDetails(
        source_object_name="nope", destination_region="us-phoenix-1", destination_namespace=ns,
        destination_bucket="dr-copies", destination_object_name="x"))
    assert missing.status == 404


def test_rename_object(ocisim):
    client = _client(ocisim)
    ns, bucket = ocisim.tenancy["namespace"], ocisim.tenancy["buckets"][0]
    etag = client.put_object(ns, bucket, "old/name.txt", b"payload").headers["etag"]
    renamed = client.rename_object(ns, bucket, oci.object_storage.models.RenameObjectDetails(
        source_name="old/name.txt", new_name="new/name.txt", src_obj_if_match_e_tag=etag))
    assert renamed.headers["etag"] == etag
    assert client.get_object(ns, bucket, "new/name.txt").data.content == b"payload"
    assert _error(client.head_object, ns, bucket, "old/name.txt").status == 404
    stale = _error(client.rename_object, ns, bucket, oci.object_storage.models.RenameObjectDetails(
        source_name="new/name.txt", new_name="again.txt", src_obj_if_match_e_tag="stale"))
    assert stale.status == 412


def test_archive_tier_needs_a_restore_before_reading(ocisim):
    client = _client(ocisim)
    ns, bucket = ocisim.tenancy["namespace"], ocisim.tenancy["buckets"][0]
    client.put_object(ns, bucket, "cold.bin", b"frozen bytes", storage_tier="Archive")
    head = client.head_object(ns, bucket, "cold.bin").headers
    assert (head["storage-tier"], head["archival-state"]) == ("Archive", "Archived")
    sealed = _error(client.get_object, ns, bucket, "cold.bin")
    assert (sealed.status, sealed.code) == (409, "NotRestored") and "RestoreObjects" in sealed.message
    hot = _error(client.restore_objects, ns, bucket, oci.object_storage.models.RestoreObjectsDetails(
        object_name="cold.bin", hours=500))
    assert hot.status == 400 and "hours 500" in hot.message
    client.put_object(ns, bucket, "warm.bin", b"x")
    assert _error(client.restore_objects, ns, bucket, oci.object_storage.models.RestoreObjectsDetails(
        object_name="warm.bin")).status == 400

    assert client.restore_objects(ns, bucket, oci.object_storage.models.RestoreObjectsDetails(
        object_name="cold.bin", hours=2)).status == 202
    assert client.head_object(ns, bucket, "cold.bin").headers["archival-state"] == "Restoring"
    ocisim.admin.advance(3600)
    restored = client.head_object(ns, bucket, "cold.bin").headers
    assert restored["archival-state"] == "Restored" and restored["time-of-archival"]
    assert client.get_object(ns, bucket, "cold.bin").data.content == b"frozen bytes"
    listed = client.list_objects(ns, bucket, prefix="cold", fields="name,storageTier,archivalState").data.objects
    assert [(o.storage_tier, o.archival_state) for o in listed] == [("Archive", "Restored")]
    ocisim.admin.advance(2 * 3600)
    assert client.head_object(ns, bucket, "cold.bin").headers["archival-state"] == "Archived"


def test_preauthenticated_request_reads_and_writes_without_a_signature(ocisim):
    import datetime

    import requests

    client = _client(ocisim)
    ns, bucket = ocisim.tenancy["namespace"], ocisim.tenancy["buckets"][0]
    client.put_object(ns, bucket, "shared/report.txt", b"for the auditor")
    expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=2)
    details = oci.object_storage.models.CreatePreauthenticatedRequestDetails
    par = client.create_preauthenticated_request(ns, bucket, details(
        name="auditor", object_name="shared/report.txt", access_type="ObjectRead", time_expires=expires)).data
    assert par.access_uri.startswith("/p/") and par.access_uri.endswith("/o/shared/report.txt")
    assert par.full_path.startswith("https://objectstorage.us-ashburn-1.oraclecloud.com/p/")
    base = ocisim.endpoints["us-ashburn-1"]
    got = requests.get(base + par.access_uri, timeout=10)
    assert got.status_code == 200 and got.content == b"for the auditor"
    assert requests.put(base + par.access_uri, data=b"overwrite", timeout=10).status_code == 404
    assert [p.name for p in client.list_preauthenticated_requests(ns, bucket).data] == ["auditor"]
    assert client.get_preauthenticated_request(ns, bucket, par.id).data.access_type == "ObjectRead"

    drop = client.create_preauthenticated_request(ns, bucket, details(
        name="dropbox", access_type="AnyObjectWrite", time_expires=expires)).data
    put = requests.put(base + drop.access_uri + "incoming/a.txt", data=b"uploaded", timeout=10)
    assert put.status_code == 200
    assert client.get_object(ns, bucket, "incoming/a.txt").data.content == b"uploaded"
    assert requests.get(base + drop.access_uri + "incoming/a.txt", timeout=10).status_code == 404

    assert requests.get(base + drop.access_uri, timeout=10).status_code == 404  # no listing asked for
    shelf = client.create_preauthenticated_request(ns, bucket, details(
        name="shelf", access_type="AnyObjectRead", bucket_listing_action="ListObjects", time_expires=expires)).data
    listed = requests.get(base + shelf.access_uri, params={"prefix": "incoming/"}, timeout=10).json()
    assert [o["name"] for o in listed["objects"]] == ["incoming/a.txt"]
    client.delete_preauthenticated_request(ns, bucket, par.id)
    assert requests.get(base + par.access_uri, timeout=10).status_code == 404
    past = _error(client.create_preauthenticated_request, ns, bucket, details(
        name="old", object_name="x", access_type="ObjectRead", time_expires=expires - datetime.timedelta(days=30)))
    assert past.status == 400 and "timeExpires" in past.message


def test_update_bucket(ocisim):
    client = _client(ocisim)
    ns = ocisim.tenancy["namespace"]
    before = _bucket(ocisim, client, "tuned").data
    updated = client.update_bucket(ns, "tuned", oci.object_storage.models.UpdateBucketDetails(
        freeform_tags={"backup-policy": "gold"}, versioning="Enabled", metadata={"owner": "ops"})).data
    assert updated.freeform_tags == {"backup-policy": "gold"} and updated.versioning == "Enabled"
    assert updated.metadata == {"owner": "ops"} and updated.etag != before.etag
    renamed = client.update_bucket(ns, "tuned", oci.object_storage.models.UpdateBucketDetails(name="tuned2")).data
    assert renamed.name == "tuned2" and client.get_bucket(ns, "tuned2").data.id == before.id
    bad = _error(client.update_bucket, ns, "tuned2", oci.object_storage.models.UpdateBucketDetails(
        defined_tags={"Nope": {"k": "v"}}))
    assert bad.status == 400 and "TagNamespace Nope" in bad.message
