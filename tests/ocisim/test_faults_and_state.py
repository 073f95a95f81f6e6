"""Injected faults, request counters and persistence across a restart."""

from __future__ import annotations

import time

import oci
import pytest

from ocisim.testing import ocisim_running


def test_three_429s_are_absorbed_by_the_sdk_retry(ocisim):
    identity = ocisim.client(oci.identity.IdentityClient)  # the SDK's default retry strategy
    ocisim.admin.reset_counters()
    ocisim.admin.fault("GetCompartment", "429", count=3)
    got = identity.get_compartment(ocisim.tenancy["compartment_id"])
    assert got.status == 200
    assert ocisim.admin.counters()["GetCompartment"] == 4


def test_500_without_retry_surfaces(ocisim):
    identity = ocisim.client(oci.identity.IdentityClient, retry_strategy=oci.retry.NoneRetryStrategy())
    ocisim.admin.fault("GetCompartment", "500")
    with pytest.raises(oci.exceptions.ServiceError) as err:
        identity.get_compartment(ocisim.tenancy["compartment_id"])
    assert err.value.status == 500 and err.value.code == "InternalServerError"
    assert identity.get_compartment(ocisim.tenancy["compartment_id"]).status == 200  # count consumed


def test_latency_fault_delays_the_answer(ocisim):
    identity = ocisim.client(oci.identity.IdentityClient)
    ocisim.admin.fault("ListRegions", "latency", latency_seconds=0.5)
    start = time.monotonic()
    identity.list_regions()
    assert time.monotonic() - start >= 0.5


def test_dropped_connection_after_the_work_is_done(ocisim):
    """The create happens, the client sees a dead connection; the same retry token then adopts it."""
    storage = ocisim.client(oci.core.BlockstorageClient, retry_strategy=oci.retry.NoneRetryStrategy())
    details = oci.core.models.CreateVolumeDetails(
        compartment_id=ocisim.tenancy["compartment_id"], availability_domain=ocisim.tenancy["availability_domains"][0],
        display_name="dropped", size_in_gbs=50)
    ocisim.admin.fault("CreateVolume", "drop")
    with pytest.raises(Exception) as err:  # requests' ConnectionError, wrapped or not by the SDK
        storage.create_volume(details, opc_retry_token="drop-test-1")
    assert "Connection" in type(err.value).__name__ or "onnection" in str(err.value)
    made = [v for v in ocisim.admin.resources("volume") if v["display_name"] == "dropped"]
    assert len(made) == 1
    again = storage.create_volume(details, opc_retry_token="drop-test-1")
    assert again.data.id == made[0]["id"]
    assert len([v for v in ocisim.admin.resources("volume") if v["display_name"] == "dropped"]) == 1


def test_counters_count_by_operation(ocisim):
    identity = ocisim.client(oci.identity.IdentityClient)
    ocisim.admin.reset_counters()
    identity.list_regions()
    identity.list_regions()
    identity.list_availability_domains(ocisim.tenancy["compartment_id"])
    counters = ocisim.admin.counters()
    assert counters["ListRegions"] == 2 and counters["ListAvailabilityDomains"] == 1


def test_restart_keeps_resources_bytes_and_time(tmp_path):
    state = tmp_path / "state"
    with ocisim_running(state, time_scale=600.0) as first:
        volume_id = first.tenancy["volumes"]["data1"]
        first.admin.write(volume_id, 10 << 20, b"persisted across restart")
        before = first.admin.sha256(volume_id)
        first.admin.advance(3600)
        clock_before = first.admin.time()["epoch"]
        storage = first.client(oci.core.BlockstorageClient)
        backup = storage.create_volume_backup(oci.core.models.CreateVolumeBackupDetails(
            volume_id=volume_id, type="FULL", display_name="before-restart")).data
    with ocisim_running(state, time_scale=600.0) as second:
        assert second.tenancy["volumes"]["data1"] == volume_id  # seeded once, not again
        assert second.admin.sha256(volume_id) == before
        assert second.admin.read(volume_id, 10 << 20, 24) == b"persisted across restart"
        assert second.admin.time()["epoch"] >= clock_before
        storage = second.client(oci.core.BlockstorageClient)
        got = storage.get_volume_backup(backup.id).data
        assert got.display_name == "before-restart" and got.volume_id == volume_id
        assert len([v for v in second.admin.resources("volume") if v["display_name"] == "data1"]) == 1


def test_unimplemented_operation_is_501_naming_it(ocisim):
    """Not 404: `wait_until(..., succeed_on_not_found=True)` must not mistake a missing operation for a gone
    resource."""
    network = ocisim.client(oci.core.VirtualNetworkClient)
    with pytest.raises(oci.exceptions.ServiceError) as info:
        network.update_vcn("ocid1.vcn.oc1.iad.aaaanothere", oci.core.models.UpdateVcnDetails(display_name="x"))
    err = info.value
    assert (err.status, err.code) == (501, "NotImplemented")
    assert "UpdateVcn" in err.message and "PUT /20160918/vcns/" in err.message
    with pytest.raises(oci.exceptions.ServiceError) as info:
        oci.wait_until(network, network.get_network_security_group("ocid1.networksecuritygroup.oc1.iad.aaaanone"),
                       "lifecycle_state", "TERMINATED", succeed_on_not_found=True, max_wait_seconds=5)
    assert info.value.status == 501 and "GetNetworkSecurityGroup" in info.value.message
