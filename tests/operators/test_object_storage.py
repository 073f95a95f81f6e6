"""OciUploadFileOperator through real Airflow (dag.test) against ocisim: multipart in parallel and in sequence, a
single-part upload, MD5 checks, resuming an earlier try's upload, and bad input refused before any request."""

from __future__ import annotations

import oci

from ocisim.backend.objectstorage import multipart_md5 as ocisim_multipart_md5
from tests.airflow_helpers import last_run_id, run_dag, xcom
from tests.conftest import oci_connection_json
from tests.unit.operators.test_object_storage import MIB, b64md5, write_disk

MUTATING = ("Create", "Put", "Upload", "Commit", "Abort", "Delete")


def os_client(sim):
    return sim.client(oci.object_storage.ObjectStorageClient)


def object_bytes(sim, name: str, bucket: str = "ocisim-bucket") -> bytes:
    return os_client(sim).get_object(sim.tenancy["namespace"], bucket, name).data.content


def try_number(dag_id: str, run_id: str, task_id: str) -> int:
    from airflow import settings
    from airflow.models import TaskInstance

    with settings.Session() as session:
        return session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run_id, task_id=task_id).one().try_number


def no_retry_connection(monkeypatch, sim) -> str:
    """A connection whose SDK calls are tried once: an injected fault fails the try, Airflow's retry follows."""
    monkeypatch.setenv("AIRFLOW_CONN_OCI_NORETRY", oci_connection_json(sim, max_attempts=1))
    return "oci_noretry"


def test_multipart_parallel_sequential_and_single_part_uploads(airflow_oci, tmp_path):
    sim = airflow_oci
    namespace = sim.tenancy["namespace"]
    disk = tmp_path / "disk.vmdk"
    data = write_disk(disk, 5 * MIB + 12345)
    small = tmp_path / "notes.txt"
    small.write_text("uploaded by airflow\n")
    sim.admin.reset_counters()

    state, tasks = run_dag("test_op_misc_upload", {"local_path": str(disk), "small_path": str(small)})
    assert state == "success", tasks
    run_id = last_run_id("test_op_misc_upload")

    parts = [data[i:i + MIB] for i in range(0, len(data), MIB)]
    expected_multipart = ocisim_multipart_md5([b64md5(p) for p in parts])  # the emulator's own formula
    parallel = xcom("test_op_misc_upload", run_id, "upload_disk")
    assert parallel == {
        "namespace": namespace, "bucket": "ocisim-bucket", "object_name": "disks/disk.vmdk",
        "size_bytes": len(data), "md5": b64md5(data), "multipart_md5": expected_multipart, "multipart": True,
        "parts": 6, "region": "us-ashburn-1",
        "uri": f"https://objectstorage.us-ashburn-1.oraclecloud.com/n/{namespace}/b/ocisim-bucket/o/disks%2Fdisk.vmdk"}
    assert object_bytes(sim, "disks/disk.vmdk") == data

    sequential = xcom("test_op_misc_upload", run_id, "upload_disk_sequentially")
    assert sequential["multipart"] and sequential["parts"] == 3 and sequential["md5"] == b64md5(data)
    assert sequential["multipart_md5"].endswith("-3")
    assert object_bytes(sim, "disks/disk.vmdk.seq") == data
    head = os_client(sim).head_object(namespace, "ocisim-bucket", "disks/disk.vmdk.seq")
    assert head.headers["opc-multipart-md5"] == sequential["multipart_md5"]

    single = xcom("test_op_misc_upload", run_id, "upload_small_file")
    assert single["multipart"] is False and single["parts"] == 1 and single["multipart_md5"] is None
    assert single["md5"] == b64md5(small.read_bytes()) and single["size_bytes"] == small.stat().st_size
    assert object_bytes(sim, single["object_name"]) == small.read_bytes()
    head = os_client(sim).head_object(namespace, "ocisim-bucket", single["object_name"])
    assert head.headers["content-type"] == "text/plain" and head.headers["content-md5"] == single["md5"]

    counters = sim.admin.counters()
    assert counters["CreateMultipartUpload"] == 2 and counters["CommitMultipartUpload"] == 2
    assert counters["UploadPart"] == 6 + 3 and counters["PutObject"] == 1
    assert not os_client(sim).list_multipart_uploads(namespace, "ocisim-bucket").data  # nothing left behind
    link = xcom("test_op_misc_upload", run_id, "upload_disk", key="_link_OciConsoleLink")
    assert link == f"https://cloud.oracle.com/object-storage/buckets/{namespace}/ocisim-bucket/objects" \
                   f"?region=us-ashburn-1"


def test_retry_resumes_the_upload_its_first_try_left(airflow_oci, tmp_path, monkeypatch):
    """Try 1 uploads every part, then its commit fails; try 2 finds the upload, sends no part again, commits."""
    sim = airflow_oci
    disk = tmp_path / "disk.vmdk"
    data = write_disk(disk, 4 * MIB + 7, seed=2)
    conn_id = no_retry_connection(monkeypatch, sim)
    sim.admin.fault("CommitMultipartUpload", "500")
    sim.admin.reset_counters()

    state, tasks = run_dag("test_op_misc_upload_resume", {"local_path": str(disk), "conn_id": conn_id})
    assert state == "success", tasks
    run_id = last_run_id("test_op_misc_upload_resume")
    assert try_number("test_op_misc_upload_resume", run_id, "upload_disk") == 2
    counters = sim.admin.counters()
    assert counters["CreateMultipartUpload"] == 1  # the retry did not start again
    assert counters["UploadPart"] == 5  # every part went up once, in try 1
    assert counters["CommitMultipartUpload"] == 2
    result = xcom("test_op_misc_upload_resume", run_id, "upload_disk")
    assert result["parts"] == 5 and result["md5"] == b64md5(data)
    assert object_bytes(sim, "disks/resumed.vmdk") == data


def test_resume_sends_only_missing_parts_and_aborts_uploads_of_other_bytes(airflow_oci, tmp_path):
    """An earlier try left two uploads of the object: one with 3 of 5 parts of this file, one with a part of
    different bytes (the file changed since). The first is resumed (2 parts sent), the second aborted."""
    sim = airflow_oci
    namespace = sim.tenancy["namespace"]
    disk = tmp_path / "disk.vmdk"
    data = write_disk(disk, 4 * MIB + 99, seed=3)
    client = os_client(sim)
    details = oci.object_storage.models.CreateMultipartUploadDetails(object="disks/resumed.vmdk")
    stale = client.create_multipart_upload(namespace, "ocisim-bucket", details).data.upload_id
    client.upload_part(namespace, "ocisim-bucket", "disks/resumed.vmdk", stale, 1, b"x" * MIB)
    earlier = client.create_multipart_upload(namespace, "ocisim-bucket", details).data.upload_id
    for number in (1, 2, 4):
        client.upload_part(namespace, "ocisim-bucket", "disks/resumed.vmdk", earlier, number,
                           data[(number - 1) * MIB:number * MIB])
    sim.admin.reset_counters()

    state, tasks = run_dag("test_op_misc_upload_resume", {"local_path": str(disk)})
    assert state == "success", tasks
    counters = sim.admin.counters()
    assert counters.get("CreateMultipartUpload", 0) == 0
    assert counters["UploadPart"] == 2  # parts 3 and 5 only
    assert counters["AbortMultipartUpload"] == 1
    assert object_bytes(sim, "disks/resumed.vmdk") == data
    assert not client.list_multipart_uploads(namespace, "ocisim-bucket").data


def test_missing_file_fails_the_task_before_any_request(airflow_oci, tmp_path, capfd):
    sim = airflow_oci
    sim.admin.reset_counters()
    missing = tmp_path / "nowhere.vmdk"
    state, tasks = run_dag("test_op_misc_upload_bad", {"local_path": str(missing)})
    assert state == "failed" and tasks == {"upload_bad_input": "failed"}
    assert f"local_path '{missing}': no such file" in capfd.readouterr().out
    assert not {op for op in sim.admin.counters() if op.startswith(MUTATING)}
    assert not sim.admin.counters()  # not even the namespace lookup
