"""The nightly teardown (issue 8): removals at once, each wait with its own deadline, nothing left silently, a
removal that fails beyond the SDK's retries fails the task after every other one was tried, and the next
teardown adopts what an earlier one left. Real SDK against ocisim, real Airflow (dag.test)."""

from __future__ import annotations

import oci

from tests.airflow_helpers import last_run_id, run_dag, xcom
from tests.conftest import oci_connection_json

DAG_ID = "test_op_nightly_teardown"


def _temporaries(sim, count: int, dag_id: str = DAG_ID) -> list[str]:
    """`count` restored-volume look-alikes tagged as this DAG's temporaries, one of them attached to an instance."""
    storage = sim.client(oci.core.BlockstorageClient)
    compute = sim.client(oci.core.ComputeClient)
    data1 = storage.get_volume(sim.tenancy["volumes"]["data1"]).data
    tags = {"airflow-temporary": "true", "airflow-dag": dag_id, "managed-by": "airflow-oci"}
    made = [storage.create_volume(oci.core.models.CreateVolumeDetails(
        compartment_id=data1.compartment_id, availability_domain=data1.availability_domain, size_in_gbs=50,
        display_name=f"restore-{i:03d}", freeform_tags=tags)).data.id for i in range(count)]
    sim.admin.advance(3600)
    compute.attach_volume(oci.core.models.AttachParavirtualizedVolumeDetails(
        instance_id=sim.tenancy["instances"]["linux1"], volume_id=made[0], is_read_only=True))
    sim.admin.advance(3600)
    return made


def _left(sim, ids: list[str]) -> list[str]:
    states = {v["id"]: v["lifecycle_state"] for v in sim.admin.resources("volume")}
    return [i for i in ids if states[i] != "TERMINATED"]


def test_teardown_of_more_restores_than_one_wait_deadline_allows_leaves_nothing(airflow_oci):
    """60 temporaries and a 5 s deadline per wait: one after another (at least 0.5 s each) they would need 30 s."""
    sim = airflow_oci
    made = _temporaries(sim, 60)
    foreign = _temporaries(sim, 1, dag_id="another_dag")  # someone else's temporary is not ours to delete
    state, tasks = run_dag(DAG_ID, {"compartment_id": sim.tenancy["compartment_id"]})
    assert state == "success", tasks
    assert _left(sim, made) == []
    assert _left(sim, foreign) == foreign
    attachments = [a for a in sim.admin.resources("volumeattachment") if a["volume_id"] == made[0]]
    assert {a["lifecycle_state"] for a in attachments} == {"DETACHED"}
    outcome = xcom(DAG_ID, last_run_id(DAG_ID), "delete_test_restores", key="teardown")
    assert sorted(outcome["removed"]["volumes"]) == sorted(made) and outcome["leftovers"] == []
    assert sim.admin.counters()["DeleteVolume"] == 60


def test_delete_failing_beyond_retries_fails_the_teardown_names_it_and_the_next_run_removes_it(
        airflow_oci, monkeypatch, capfd):
    sim = airflow_oci
    # a connection whose SDK calls give up after 2 attempts, so "beyond the retries" takes seconds
    monkeypatch.setenv("AIRFLOW_CONN_OCI_TWO_ATTEMPTS", oci_connection_json(sim, max_attempts=2))
    made = _temporaries(sim, 4)
    sim.admin.fault("DeleteVolume", "500", count=1000)
    sim.admin.reset_counters()
    conf = {"compartment_id": sim.tenancy["compartment_id"], "conn_id": "oci_two_attempts"}
    state, tasks = run_dag(DAG_ID, conf)
    assert state == "failed" and tasks["delete_test_restores"] == "failed"
    assert sorted(_left(sim, made)) == sorted(made)
    # every removal was tried (two attempts each), none stopped the others; the attachment went first
    assert sim.admin.counters()["DeleteVolume"] == 4 * 2 and sim.admin.counters()["DetachVolume"] == 1
    outcome = xcom(DAG_ID, last_run_id(DAG_ID), "delete_test_restores", key="teardown")
    assert sorted(x["id"] for x in outcome["leftovers"]) == sorted(made)
    assert all("ServiceError 500: " in x["error"] for x in outcome["leftovers"]), outcome
    log = capfd.readouterr().out
    # retries=0: the message promises no next try of the task, only the next run's teardown
    assert ("teardown left temporaries behind (this was the last try (1 of 1): no try of this task follows, or "
            "the next run's teardown, or delete them by hand): restore-00") in log
    assert all(f"restore-00{i} (" in log for i in range(4))

    sim.admin.clear_faults()
    state, tasks = run_dag(DAG_ID, conf)
    assert state == "success", tasks
    assert _left(sim, made) == []
    removed = xcom(DAG_ID, last_run_id(DAG_ID), "delete_test_restores", key="teardown")["removed"]["volumes"]
    assert sorted(removed) == sorted(made)
