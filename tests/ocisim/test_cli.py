"""The real `oci` CLI (its own venv: it pins PyYAML below Airflow's floor) against ocisim."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

CLI = Path(__file__).resolve().parents[2] / ".venv-cli" / "bin" / "oci"


def _oci(ocisim, *args: str) -> dict:
    env = {**os.environ, "OCI_CLI_SUPPRESS_FILE_PERMISSIONS_WARNING": "True"}
    done = subprocess.run(
        [str(CLI), "--config-file", str(ocisim.config_file), "--endpoint", ocisim.endpoints["us-ashburn-1"],
         "--output", "json", *args],
        capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout) if done.stdout.strip() else {}


@pytest.fixture(autouse=True)
def _cli_installed():
    if not CLI.exists():
        pytest.fail(f"{CLI} missing: run `make cli-venv` (make test does it)")


def test_cli_lists_and_creates(ocisim):
    comp = ocisim.tenancy["compartment_id"]
    ads = _oci(ocisim, "iam", "availability-domain", "list", "--compartment-id", comp)["data"]
    assert [a["name"] for a in ads] == ocisim.tenancy["availability_domains"]
    assert _oci(ocisim, "os", "ns", "get")["data"] == ocisim.tenancy["namespace"]
    made = _oci(ocisim, "bv", "volume", "create", "--compartment-id", comp, "--availability-domain", ads[0]["name"],
                "--size-in-gbs", "50", "--display-name", "from-cli", "--wait-for-state", "AVAILABLE",
                "--max-wait-seconds", "120", "--wait-interval-seconds", "1")["data"]
    assert made["lifecycle-state"] == "AVAILABLE" and made["display-name"] == "from-cli"
    listed = _oci(ocisim, "bv", "volume", "list", "--compartment-id", comp, "--all")["data"]
    assert made["id"] in {v["id"] for v in listed}
    images = _oci(ocisim, "compute", "image", "list", "--compartment-id", comp, "--all")["data"]
    assert ocisim.tenancy["images"]["Oracle-Linux-9"] in {i["id"] for i in images}
    instances = _oci(ocisim, "compute", "instance", "list", "--compartment-id", comp)["data"]
    assert {i["display-name"] for i in instances} >= {"linux1"}


def test_cli_tags_and_grows_a_volume(ocisim):
    """How a user opts a volume into the nightly backup: `oci bv volume update --freeform-tags`."""
    data1 = ocisim.tenancy["volumes"]["data1"]
    tagged = _oci(ocisim, "bv", "volume", "update", "--volume-id", data1, "--force",
                  "--freeform-tags", '{"backup-policy": "gold"}')["data"]
    assert tagged["freeform-tags"] == {"backup-policy": "gold"}
    grown = _oci(ocisim, "bv", "volume", "update", "--volume-id", data1, "--size-in-gbs", "60")["data"]
    assert grown["size-in-gbs"] == 60
    boot = ocisim.tenancy["boot_volumes"]["linux1"]
    renamed = _oci(ocisim, "bv", "boot-volume", "update", "--boot-volume-id", boot, "--display-name", "linux1-boot")
    assert renamed["data"]["display-name"] == "linux1-boot"


def test_cli_run_command_sends_its_timeout_as_a_string(ocisim):
    """`--timeout-in-seconds 60` arrives as "60"; OCI's services (and ocisim) read it as the number 60."""
    comp, instance = ocisim.tenancy["compartment_id"], ocisim.tenancy["instances"]["linux1"]
    made = _oci(ocisim, "instance-agent", "command", "create", "--compartment-id", comp,
                "--timeout-in-seconds", "60", "--target", json.dumps({"instanceId": instance}),
                "--content", json.dumps({"source": {"sourceType": "TEXT", "text": "true"},
                                         "output": {"outputType": "TEXT"}}))["data"]
    assert made["execution-time-out-in-seconds"] == 60 and made["target"]["instance-id"] == instance


def test_cli_day_one_reads_and_updates(ocisim):
    """What a tenancy-walking or launch script types first, through the real CLI."""
    comp, ad = ocisim.tenancy["compartment_id"], ocisim.tenancy["availability_domains"][0]
    tenancy_id = ocisim.sim.identity.tenancy()["id"]
    assert _oci(ocisim, "iam", "tenancy", "get", "--tenancy-id", tenancy_id)["data"]["name"] == "ocisim"
    subtree = _oci(ocisim, "iam", "compartment", "list", "--compartment-id", tenancy_id,
                   "--compartment-id-in-subtree", "true", "--access-level", "ACCESSIBLE", "--all")["data"]
    assert comp in {c["id"] for c in subtree}
    regions = _oci(ocisim, "iam", "region-subscription", "list", "--tenancy-id", tenancy_id)["data"]
    assert {r["region-name"] for r in regions} == {"us-ashburn-1", "us-phoenix-1"}
    shapes = _oci(ocisim, "compute", "shape", "list", "--compartment-id", comp, "--availability-domain", ad,
                  "--all")["data"]
    assert "VM.Standard.E4.Flex" in {s["shape"] for s in shapes}

    instance = ocisim.tenancy["instances"]["linux1"]
    updated = _oci(ocisim, "compute", "instance", "update", "--instance-id", instance, "--force",
                   "--display-name", "linux1-renamed", "--freeform-tags", '{"owner": "ops"}')["data"]
    assert updated["display-name"] == "linux1-renamed" and updated["freeform-tags"] == {"owner": "ops"}
    image = ocisim.tenancy["images"]["Oracle-Linux-9"]
    assert _oci(ocisim, "compute", "image", "update", "--image-id", image, "--force",
                "--display-name", "OL9")["data"]["display-name"] == "OL9"
    bucket = ocisim.tenancy["buckets"][0]
    tagged = _oci(ocisim, "os", "bucket", "update", "--bucket-name", bucket,
                  "--freeform-tags", '{"backup-policy": "gold"}')["data"]
    assert tagged["freeform-tags"] == {"backup-policy": "gold"}
