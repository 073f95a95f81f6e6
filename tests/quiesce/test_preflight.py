"""The quiesce preflight (what plan_backups runs before any backup or DB statement) against ocisim through the
real SDK and Airflow's connections: each refusal names the volume and the rule; nothing is made."""

from __future__ import annotations

import json

import pytest
from common.errors import OciInputError
from hooks.oci import OciHook
from quiesce.checks import preflight

from ocisim.testing import ocisim_running
from tests.conftest import oci_connection_json

POLICIES = {"default": {"quiesce": None, "max_quiesce_seconds": 30, "on_quiesce_failure": "fail"}}


def _estate() -> dict:
    image = {"compartment": "prod", "os_version": "9", "files": {"etc/os-release": "x\n"}}
    return {
        "compartments": [{"name": "prod"}],
        "subnets": [{"name": "app", "compartment": "prod", "cidr": "10.0.1.0/24", "dns_label": "app"}],
        "images": [{"name": "OL9", "os": "Oracle Linux", **image}, {"name": "WIN", "os": "Windows", **image}],
        "volumes": [{"name": n, "compartment": "prod", "size_in_gbs": 50, "files": {"a": "b\n"}}
                    for n in ("linux-data", "win-data", "loose")],
        "instances": [
            {"name": "lin", "compartment": "prod", "image": "OL9", "subnet": "app", "hostname": "lin",
             "boot_volume": {"size_in_gbs": 47, "files": {"etc/hostname": "lin\n"}},
             "attach": [{"volume": "linux-data", "type": "paravirtualized"}]},
            {"name": "win", "compartment": "prod", "image": "WIN", "subnet": "app", "hostname": "win",
             "boot_volume": {"size_in_gbs": 47, "files": {"etc/hostname": "win\n"}},
             "attach": [{"volume": "win-data", "type": "paravirtualized"}]}],
    }


@pytest.fixture(scope="module")
def sim(tmp_path_factory, airflow_db):
    """One ocisim for the module: the preflight only reads."""
    with pytest.MonkeyPatch.context() as patch, ocisim_running(
            tmp_path_factory.mktemp("preflight"), time_scale=600.0, seed=_estate()) as handle:
        patch.setenv("AIRFLOW_CONN_QZ_PG", json.dumps({"conn_type": "postgres", "host": "127.0.0.1"}))
        patch.setenv("AIRFLOW_CONN_OCI_DEFAULT", oci_connection_json(handle))
        yield handle


@pytest.mark.parametrize("volume, value, rule", [
    ("linux-data", "postgres:qz_pg", None),
    ("linux-data", "fsfreeze:/data,/logs", None),
    ("win-data", "script:C:/bin/pre.ps1,C:/bin/post.ps1", None),
    ("linux-data", "redis:cache", "unknown kind 'redis'"),
    ("linux-data", "postgres:missing_conn", "Airflow connection 'missing_conn' does not exist"),
    ("linux-data", "mariadb:qz_pg", "connection 'qz_pg' is of type 'postgres'; mariadb needs a 'mysql' connection"),
    ("loose", "fsfreeze:/data", "fsfreeze runs on the instance the volume is attached to, and it is attached to none"),
    ("win-data", "fsfreeze:/data", "fsfreeze is Linux-only and instance"),
    ("linux-data", "fsfreeze:data", "mount point 'data' must be an absolute path"),
    ("linux-data", "script:/opt/pre.sh && reboot,/opt/post.sh", "shell metacharacters '&' are not allowed"),
])
def test_preflight_refuses_naming_the_volume_and_the_rule_before_any_call_that_makes_something(
        sim, volume, value, rule):
    volume_id = sim.tenancy["volumes"][volume]
    discovered = [{"volume_id": volume_id, "display_name": volume, "policy": "default", "quiesce": value,
                   "region": None}]
    sim.admin.reset_counters()
    if rule is None:
        assert preflight(OciHook(), discovered, POLICIES) == 1
    else:
        with pytest.raises(OciInputError) as err:
            preflight(OciHook(), discovered, POLICIES)
        assert str(err.value).startswith(f"volume {volume} ({volume_id}) tag backup-quiesce")
        assert rule in str(err.value)
    made = [op for op in sim.admin.counters() if op.startswith(("Create", "Update", "Delete"))]
    assert made == []
