"""The retry policy, against ocisim with the real SDK and real Airflow: a 4xx that no retry can fix fails the task
at once (one call, no task retries, a bounded message naming the operation); retry tokens carry a digest of the
request, so a changed request cannot collide with an earlier one; a retried task whose earlier work request FAILED
makes a new attempt instead of adopting the failure."""

from __future__ import annotations

import io

import oci
import pytest
from airflow.sdk.exceptions import AirflowFailException
from common.errors import bounded
from common.ids import MIB
from hooks.oci import OciHook
from hooks.retries import RETRY_BUDGET, retry_token

from ocisim import formats
from tests.airflow_helpers import run_dag, xcom


def test_a_404_is_refused_at_once_with_the_operation_and_a_bounded_message(airflow_oci):
    sim = airflow_oci
    sim.admin.reset_counters()
    with pytest.raises(oci.exceptions.ServiceError) as err:
        OciHook().get_resource("ocid1.volume.oc1.iad.aaaaaaaanosuchvolume")
    assert isinstance(err.value, AirflowFailException) and err.value.status == 404
    assert type(err.value).__name__ == "OciRequestRefused"
    text = str(err.value)
    assert text.startswith("get_volume: OCI answered 404") and "not retried" in text and len(text) < 700
    assert sim.admin.counters()["GetVolume"] == 1


def test_a_task_hitting_a_404_is_not_retried_by_airflow(airflow_oci):
    sim = airflow_oci
    t = sim.tenancy
    sim.admin.reset_counters()
    state, tasks = run_dag("test_op_retry_export", {"image_id": "ocid1.image.oc1.iad.aaaaaaaanosuchimage",
                                                    "namespace": t["namespace"], "bucket": t["buckets"][0]})
    assert state == "failed" and tasks == {"export": "failed"}
    assert sim.admin.counters()["GetImage"] == 1  # retries=2 in the DAG, yet one call: a 404 stays a 404


def test_429_and_5xx_stay_retried_within_the_budget(airflow_oci):
    sim = airflow_oci
    sim.admin.fault("GetVolume", "500", count=2)
    sim.admin.reset_counters()
    assert OciHook().get_resource(sim.tenancy["volumes"]["data1"]).display_name == "data1"
    assert sim.admin.counters()["GetVolume"] == 3
    assert RETRY_BUDGET.bound_seconds <= 600 and "within" in RETRY_BUDGET.describe()


def test_bounded_cuts_long_text():
    assert bounded("x" * 10) == "x" * 10
    assert len(bounded("y" * 1_000_000)) < 700 and "1000000 characters" in bounded("y" * 1_000_000)


def test_a_changed_request_gets_a_new_token_and_the_same_request_adopts(airflow_oci):
    sim = airflow_oci
    client = OciHook().get_client("blockstorage")
    token = retry_token("dag", "run", "task")
    volume_id = sim.tenancy["volumes"]["data1"]

    def create(name, kind):
        details = oci.core.models.CreateVolumeBackupDetails(volume_id=volume_id, type=kind, display_name=name)
        return client.create_volume_backup(details, opc_retry_token=token).data.id

    first = create("tok", "FULL")
    assert create("tok", "FULL") == first  # a retry of the same request adopts
    second = create("tok", "INCREMENTAL")  # re-planned: another request, so no 409 InvalidatedRetryToken
    assert second != first
    assert sorted(b["id"] for b in sim.admin.resources("volumebackup") if b["display_name"] == "tok") \
        == sorted([first, second])


def test_a_retry_after_a_failed_work_request_makes_a_new_attempt(airflow_oci):
    sim = airflow_oci
    t = sim.tenancy
    body = io.BytesIO()
    formats.write_image(body, "QCOW2", 8 * MIB, [(0, b"boot" * (MIB // 4))], MIB, None)
    sim.client(oci.object_storage.ObjectStorageClient).put_object(t["namespace"], t["buckets"][0], "retry.qcow2",
                                                                  io.BytesIO(body.getvalue()))
    sim.admin.fault("CreateImage", "fail_work_request", message="the first import broke")
    sim.admin.reset_counters()
    state, tasks = run_dag("test_op_retry_import", {"namespace": t["namespace"], "bucket": t["buckets"][0],
                                                    "object_name": "retry.qcow2"})
    assert state == "success", tasks
    made = xcom("test_op_retry_import", None, "import_image")
    images = [i for i in sim.admin.resources("image") if i["display_name"] == "retried-import"]
    assert made["lifecycle_state"] == "AVAILABLE"
    assert sum(i["lifecycle_state"] == "AVAILABLE" for i in images) == 1  # one good image, no duplicate
    assert sim.admin.counters()["CreateImage"] == 3  # try 1: failed; try 2: adopted the failure, then anew
