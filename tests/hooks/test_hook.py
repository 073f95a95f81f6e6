"""OciHook against ocisim with the real SDK: auth modes from connection extras, test_connection, clients cached
per service and region, region override per call, the retry strategy (429, 5xx and 409 IncorrectState retried,
other errors not), and the pure helpers (retry token, OCID and region checks)."""

from __future__ import annotations

import json
import socket

import oci
import pytest
from common.errors import OciInputError
from hooks.base import AUTH_MODES
from hooks.oci import OciHook

from tests.conftest import oci_connection_json


def connection(monkeypatch, conn_id: str, extra: dict) -> OciHook:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "oci", "extra": extra}))
    return OciHook(conn_id)


def sim_extra(sim, key_inline: bool = True) -> dict:
    return json.loads(oci_connection_json(sim, key_inline=key_inline))["extra"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- auth modes -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key_inline", [True, False], ids=["key_content", "key_file"])
def test_api_key_auth(airflow_oci, monkeypatch, key_inline):
    sim = airflow_oci
    extra = sim_extra(sim, key_inline)
    assert ("key_content" in extra) == key_inline and ("key_file" in extra) != key_inline
    hook = connection(monkeypatch, "oci_api_key", extra)
    assert hook.test_connection() == (True, "Connected to us-ashburn-1; 2 regions visible")
    volume = hook.get_resource(sim.tenancy["volumes"]["data1"])
    assert volume.display_name == "data1" and volume.lifecycle_state == "AVAILABLE"
    assert hook.tenancy_id == sim.config()["tenancy"]


def test_config_file_auth(airflow_oci, monkeypatch):
    sim = airflow_oci
    hook = connection(monkeypatch, "oci_config_file", {
        "auth": "config_file", "config_file": str(sim.config_file), "profile": "DEFAULT",
        "service_endpoints": sim.endpoints})
    assert hook.region == "us-ashburn-1"  # from the config file: the extras name none
    ok, message = hook.test_connection()
    assert ok, message
    assert hook.get_resource(sim.tenancy["volumes"]["data1"]).display_name == "data1"


def test_config_file_missing_profile_is_an_error(airflow_oci, monkeypatch):
    sim = airflow_oci
    hook = connection(monkeypatch, "oci_config_file", {
        "auth": "config_file", "config_file": str(sim.config_file), "profile": "NOPE",
        "service_endpoints": sim.endpoints})
    with pytest.raises(oci.exceptions.ProfileNotFound):
        hook.get_client("identity")
    ok, message = hook.test_connection()
    assert not ok and message.startswith("ProfileNotFound")


def test_bad_auth_value_is_a_clear_error(airflow_db, monkeypatch):
    hook = connection(monkeypatch, "oci_bad_auth", {"auth": "password", "region": "us-ashburn-1"})
    with pytest.raises(OciInputError) as err:
        hook.get_client("compute")
    assert str(err.value) == f"connection 'oci_bad_auth' extra 'auth' 'password': one of {AUTH_MODES}"
    assert hook.test_connection() == (False, f"OciInputError: {err.value}")


def test_missing_api_key_extras_are_listed(airflow_db, monkeypatch):
    hook = connection(monkeypatch, "oci_incomplete", {"auth": "api_key", "user": "ocid1.user.oc1..aaaaaaaauser"})
    with pytest.raises(OciInputError) as err:
        hook.get_client("compute")
    assert str(err.value) == ("connection 'oci_incomplete': auth api_key needs extras "
                              "['tenancy', 'fingerprint', 'key_content or key_file', 'region']")


def test_no_region_anywhere_is_a_clear_error(airflow_oci, monkeypatch):
    extra = sim_extra(airflow_oci)
    del extra["region"]
    hook = connection(monkeypatch, "oci_no_region", extra)
    with pytest.raises(OciInputError) as err:
        hook.get_client("compute")
    assert str(err.value) == "connection 'oci_no_region': auth api_key needs extras ['region']"
    assert OciHook("oci_no_region", region="us-ashburn-1").get_client("compute")  # a region given per hook does


# -- test_connection --------------------------------------------------------------------------------------
def test_test_connection_reports_an_unreachable_endpoint(airflow_oci, monkeypatch):
    extra = sim_extra(airflow_oci)
    port = free_port()
    extra.update(service_endpoints={"us-ashburn-1": f"http://127.0.0.1:{port}"}, max_attempts=1)
    ok, message = connection(monkeypatch, "oci_nowhere", extra).test_connection()
    assert not ok
    assert "ConnectionError" in message or "Connection refused" in message, message
    assert "PRIVATE KEY" not in message


def test_test_connection_reports_a_wrong_endpoint(airflow_oci, monkeypatch):
    """An endpoint that answers, but is not OCI's API there: OCI's 404 text comes back."""
    sim = airflow_oci
    extra = sim_extra(sim)
    extra["service_endpoints"] = {"us-ashburn-1": sim.endpoints["us-ashburn-1"] + "/not-oci"}
    ok, message = connection(monkeypatch, "oci_wrong", extra).test_connection()
    assert not ok and message.startswith("ServiceError: Unknown resource path GET /not-oci/"), message


# -- clients and regions ----------------------------------------------------------------------------------
def test_clients_are_cached_per_service_and_region(airflow_oci):
    hook = OciHook()
    storage = hook.get_client("blockstorage")
    assert hook.get_client("blockstorage") is storage
    assert hook.get_client("blockstorage", "us-ashburn-1") is storage  # the default region is the same key
    phoenix = hook.get_client("blockstorage", "us-phoenix-1")
    assert phoenix is not storage and hook.get_client("blockstorage", "us-phoenix-1") is phoenix
    compute = hook.get_client("compute")
    assert isinstance(compute, oci.core.ComputeClient) and isinstance(storage, oci.core.BlockstorageClient)
    assert set(hook._clients) == {("blockstorage", "us-ashburn-1"), ("blockstorage", "us-phoenix-1"),
                                  ("compute", "us-ashburn-1")}
    # one client per connection, service and region in the process: another hook shares it (issue 8)
    assert OciHook().get_client("blockstorage") is storage
    assert OciHook().get_client("blockstorage", "us-phoenix-1") is phoenix


def test_region_override_per_call_reaches_that_region(airflow_oci):
    sim = airflow_oci
    hook = OciHook()
    phoenix = hook.get_client("blockstorage", "us-phoenix-1")
    assert phoenix.base_client.endpoint.startswith(sim.endpoints["us-phoenix-1"])
    assert hook.get_client("blockstorage").base_client.endpoint.startswith(sim.endpoints["us-ashburn-1"])
    volume_id = sim.tenancy["volumes"]["data1"]
    assert hook.get_resource(volume_id).display_name == "data1"  # it lives in Ashburn...
    with pytest.raises(oci.exceptions.ServiceError) as err:  # ...so Phoenix's endpoint does not know it
        hook.get_resource(volume_id, region="us-phoenix-1")
    assert err.value.status == 404
    assert OciHook(region="us-phoenix-1").region == "us-phoenix-1"
    assert OciHook(region="us-phoenix-1").get_client("compute").base_client.endpoint.startswith(
        sim.endpoints["us-phoenix-1"])


def test_a_region_without_an_endpoint_is_refused(airflow_oci):
    hook = OciHook()
    with pytest.raises(OciInputError, match="region 'eu-frankfurt-1': the connection 'oci_default' has no "
                                            "endpoint for it"):
        hook.get_client("compute", "eu-frankfurt-1")
    with pytest.raises(OciInputError, match="region 'Frankfurt': not an OCI region identifier"):
        hook.get_client("compute", "Frankfurt")
    with pytest.raises(OciInputError, match="service 'dns': one of"):
        hook.get_client("dns")


# -- retries ----------------------------------------------------------------------------------------------
def test_retry_strategy_absorbs_429s_and_5xx(airflow_oci):
    sim = airflow_oci
    sim.admin.fault("GetVolume", "429", count=3)
    sim.admin.reset_counters()
    hook = OciHook()
    assert hook.get_resource(sim.tenancy["volumes"]["data1"]).display_name == "data1"
    assert sim.admin.counters()["GetVolume"] == 4
    sim.admin.fault("GetBootVolume", "500")
    assert hook.get_resource(sim.tenancy["boot_volumes"]["linux1"]).lifecycle_state == "AVAILABLE"
    assert sim.admin.counters()["GetBootVolume"] == 2


def test_retry_strategy_absorbs_409_incorrect_state_on_a_create(airflow_oci):
    """IncorrectState (a resource busy for a moment) is retried, creates included: they carry a retry token."""
    sim = airflow_oci
    sim.admin.fault("CreateVolumeBackup", "incorrect_state")
    sim.admin.reset_counters()
    client = OciHook().get_client("blockstorage")
    details = oci.core.models.CreateVolumeBackupDetails(volume_id=sim.tenancy["volumes"]["data1"], type="FULL",
                                                        display_name="after-409")
    backup = client.create_volume_backup(details, opc_retry_token="t" * 32).data
    assert sim.admin.counters()["CreateVolumeBackup"] == 2  # 409 IncorrectState, then created
    assert [b["id"] for b in sim.admin.resources("volumebackup") if b["display_name"] == "after-409"] == [backup.id]


def test_other_errors_are_not_retried(airflow_oci):
    sim = airflow_oci
    sim.admin.reset_counters()
    with pytest.raises(oci.exceptions.ServiceError) as err:
        OciHook().get_resource("ocid1.volume.oc1.iad.aaaaaaaanosuchvolume")
    assert err.value.status == 404 and sim.admin.counters()["GetVolume"] == 1


def test_max_attempts_comes_from_the_connection(airflow_oci, monkeypatch):
    sim = airflow_oci
    hook = connection(monkeypatch, "oci_once", {**sim_extra(sim), "max_attempts": 1})
    sim.admin.fault("GetVolume", "429")
    with pytest.raises(oci.exceptions.ServiceError) as err:
        hook.get_resource(sim.tenancy["volumes"]["data1"])
    assert err.value.status == 429


def test_unknown_region_without_custom_endpoints_is_refused_before_any_call(ocisim, monkeypatch):
    import json

    import pytest
    from common.errors import OciInputError
    from hooks.oci import OciHook

    monkeypatch.setenv("AIRFLOW_CONN_OCI_PLAIN", json.dumps(
        {"conn_type": "oci", "extra": {"auth": "config_file", "config_file": str(ocisim.config_file)}}))
    hook = OciHook("oci_plain")
    with pytest.raises(OciInputError, match="'xx-nowhere-1': not a region the OCI SDK knows"):
        hook.get_client("identity", "xx-nowhere-1")
    assert hook.get_client("identity", "eu-frankfurt-1") is not None  # a real region builds a client


def test_a_failing_list_call_gives_up_within_the_hooks_budget(airflow_oci, monkeypatch):
    """hook.list_all pages with the client's own strategy: `max_attempts` calls, not the SDK pager's nested
    default strategy around each of them (8 x 3 calls, ~100 s with the default budget)."""
    sim = airflow_oci
    hook = connection(monkeypatch, "oci_thrice", {**sim_extra(sim), "max_attempts": 3})
    compartment_id = hook.get_resource(sim.tenancy["volumes"]["data1"]).compartment_id
    assert any(v.id == sim.tenancy["volumes"]["data1"]
               for v in hook.list_all(hook.get_client("blockstorage").list_volumes, compartment_id=compartment_id))
    sim.admin.fault("ListVolumes", "500", count=50)
    sim.admin.reset_counters()
    with pytest.raises(oci.exceptions.ServiceError) as err:
        hook.list_all(hook.get_client("blockstorage").list_volumes, compartment_id=compartment_id)
    assert err.value.status == 500 and sim.admin.counters()["ListVolumes"] == 3
