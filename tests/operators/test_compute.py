"""Compute and Run Command operators through real Airflow (dag.test) against ocisim, blocking and deferrable."""

from __future__ import annotations

import base64
import json
import re
import time

import oci
import pytest
import yaml

from tests.airflow_helpers import last_run_id, run_dag, xcom

MUTATING = ("Create", "Launch", "Attach", "Delete", "Terminate", "Detach", "InstanceAction", "Copy", "Update")


def mutating(counters: dict[str, int]) -> dict[str, int]:
    return {op: n for op, n in counters.items() if op.startswith(MUTATING) and n}


def windows_image(sim) -> str:
    """A Windows image in the seeded compartment (the default seed has Oracle Linux only)."""
    image = sim.sim.compute.make_image(sim.home_region, sim.tenancy["compartment_id"], "Windows-Server-2022",
                                       "Windows", "Server 2022 Standard", {}, size_in_gbs=50)
    return image["id"]


def clone_boot_volume(sim) -> str:
    """A clone of the seeded instance's boot volume, AVAILABLE: what an emergency clone would launch on."""
    client = sim.client(oci.core.BlockstorageClient)
    source = client.get_boot_volume(sim.tenancy["boot_volumes"]["linux1"]).data
    details = oci.core.models.CreateBootVolumeDetails(
        availability_domain=source.availability_domain, compartment_id=source.compartment_id,
        display_name="linux1-clone", source_details=oci.core.models.BootVolumeSourceFromBootVolumeDetails(id=source.id))
    clone = client.create_boot_volume(details).data
    deadline = time.monotonic() + 60
    while client.get_boot_volume(clone.id).data.lifecycle_state != "AVAILABLE":
        assert time.monotonic() < deadline, "the boot volume clone never became AVAILABLE"
        time.sleep(0.2)
    return clone.id


def conf_for(sim, **extra) -> dict:
    t = sim.tenancy
    return {"image_id": t["images"]["Oracle-Linux-9"], "subnet_id": t["subnet_id"],
            "availability_domain": t["availability_domains"][0], "instance_id": t["instances"]["linux1"], **extra}


def by_id(sim, kind: str) -> dict[str, dict]:
    return {r["id"]: r for r in sim.admin.resources(kind)}


@pytest.mark.parametrize("mode", ["blocking", "deferrable"])
def test_launch_stop_start_terminate(airflow_oci, mode, caplog):
    sim = airflow_oci
    conf = conf_for(sim, windows_image_id=windows_image(sim), boot_volume_id=clone_boot_volume(sim))
    dag_id = f"test_op_compute_{mode}"
    state, tasks = run_dag(dag_id, conf)
    assert state == "success", tasks
    assert set(tasks.values()) == {"success"}, tasks
    assert ("running trigger in line" in caplog.text) == (mode == "deferrable")
    run_id = last_run_id(dag_id)
    instances, vnics, boots = by_id(sim, "instance"), by_id(sim, "vnic"), by_id(sim, "bootvolume")
    vnic_of = {v["hostname_label"]: v for v in vnics.values()}

    # Linux from the image: RUNNING with its hostname on the VNIC and in cloud-init.
    linux = xcom(dag_id, run_id, "launch_linux")
    assert linux["lifecycle_state"] == "RUNNING" and linux["os_type"] == "linux"
    assert linux["hostname"] == linux["hostname_label"] == "web-01"
    assert linux["private_ip"] == vnic_of["web-01"]["private_ip"]
    assert linux["availability_domain"] == conf["availability_domain"] and linux["region"] == sim.home_region
    assert boots[linux["boot_volume_id"]]["image_id"] == conf["image_id"]
    metadata = instances[linux["instance_id"]]["metadata"]
    assert metadata["ssh_authorized_keys"].startswith("ssh-ed25519 ")
    user_data = base64.b64decode(metadata["user_data"]).decode()
    assert user_data.startswith("#cloud-config\n")
    cloud_config = yaml.safe_load(user_data)
    assert cloud_config["hostname"] == "web-01" and cloud_config["preserve_hostname"] is False
    assert cloud_config["fqdn"] == "web-01.app.ocisimvcn.oraclevcn.com"
    assert cloud_config["runcmd"] == ["echo provisioned-by-airflow > /var/tmp/airflow-oci"]
    tags = instances[linux["instance_id"]]["freeform_tags"]
    assert tags["role"] == "web" and tags["managed-by"] == "airflow-oci" and tags["airflow-dag"] == dag_id

    # STOP then START, each waited for; then terminated with its boot volume.
    assert xcom(dag_id, run_id, "stop_linux")["lifecycle_state"] == "STOPPED"
    assert xcom(dag_id, run_id, "start_linux")["lifecycle_state"] == "RUNNING"
    gone = xcom(dag_id, run_id, "terminate_linux")
    assert gone["existed"] and not gone["preserve_boot_volume"] and gone["boot_volume_id"] == linux["boot_volume_id"]
    assert xcom(dag_id, run_id, "terminate_linux_again")["existed"] is False  # a rerun teardown succeeds
    assert instances[linux["instance_id"]]["lifecycle_state"] == "TERMINATED"
    assert boots[linux["boot_volume_id"]]["lifecycle_state"] in ("TERMINATING", "TERMINATED")

    # Windows: the hostname label too, and cloudbase-init renaming the computer with one guarded reboot.
    windows = xcom(dag_id, run_id, "launch_windows")
    assert windows["os_type"] == "windows" and windows["hostname_label"] == "WIN-APP-01"
    script = base64.b64decode(instances[windows["instance_id"]]["metadata"]["user_data"]).decode()
    assert script.startswith("#ps1_sysnative\n")
    assert "Rename-Computer -NewName $DesiredName -Force" in script and "$DesiredName = 'WIN-APP-01'" in script
    assert script.count("exit 1001") == 1 and "Restart-Computer" not in script
    assert script.index("if (Test-Path $Marker)") < script.index("Set-Content -Path $Marker") \
        < script.index("exit 1001")
    assert "Set-TimeZone -Id 'UTC'" in script
    kept = xcom(dag_id, run_id, "terminate_windows")
    assert kept["preserve_boot_volume"] and kept["boot_volume_state"] == "AVAILABLE"
    assert boots[windows["boot_volume_id"]]["lifecycle_state"] == "AVAILABLE"

    # On the cloned boot volume: the same volume, in its availability domain.
    restored = xcom(dag_id, run_id, "launch_on_cloned_boot_volume")
    assert restored["boot_volume_id"] == conf["boot_volume_id"] and restored["hostname_label"] == "restored-01"
    assert instances[restored["instance_id"]]["source_details"]["source_type"] == "bootVolume"
    assert boots[conf["boot_volume_id"]]["lifecycle_state"] == "AVAILABLE"

    # The fleet: a mapped launch, one hostname each.
    fleet = [xcom(dag_id, run_id, "launch_fleet", map_index=i) for i in range(2)]
    assert [f["hostname_label"] for f in fleet] == ["app-01", "app-02"]
    assert all(instances[f["instance_id"]]["lifecycle_state"] == "TERMINATED" for f in fleet)


BAD_INPUTS = {
    "invalid_hostname": "hostname 'web_01': a hostname is 1 to 63 letters, digits and hyphens, starts with a letter",
    "windows_name_too_long": "hostname 'WINDOWS-SERVER-01': Windows names allow letters, digits and hyphens, "
                             "at most 15 characters",
    "windows_name_all_digits": "hostname '12345': Windows names cannot be all digits",
    "hostname_taken_in_subnet": "hostname 'LINUX1': already used in subnet",
    "user_data_too_large": "user_data: 40,",
    "malformed_ocid": "image_id 'ocid1.image.oc1..bad': not an OCID",
    "both_image_and_boot_volume": "give exactly one (launch from an image or from an existing boot volume)",
    "neither_image_nor_boot_volume": "image_id None and boot_volume_id None: give exactly one",
    "unknown_region": "region 'us-nowhere-9'",
    "duplicate_fleet_names": "duplicate hostnames in the fleet: web (3x)",
    "terminate_malformed_ocid": "instance_id 'ocid1.instance.oc1.iad.x': not an OCID",
    "unknown_action": "action 'REBOOT': one of",
    "run_command_zero_timeout": "script_timeout 0: a whole number of seconds from 1 to 86400",
}


def test_bad_inputs_fail_clearly_before_any_mutating_request(airflow_oci, capfd, caplog):
    """Each bad input fails its own task with a message naming the field, the value and the rule (task logs
    go to stdout under dag.test), and nothing in ocisim was created, changed or deleted."""
    sim = airflow_oci
    sim.admin.reset_counters()
    state, tasks = run_dag("test_op_compute_bad_inputs", conf_for(sim, boot_volume_id=sim.tenancy["boot_volumes"]
                                                                                        ["linux1"]))
    assert state == "failed"
    assert tasks == dict.fromkeys(BAD_INPUTS, "failed")
    assert mutating(sim.admin.counters()) == {}
    text = capfd.readouterr().out + caplog.text  # task logs reach either, depending on what ran before
    missing = {task: message for task, message in BAD_INPUTS.items() if message not in text}
    assert not missing, missing
    assert "OCI allows at most 32,000 bytes of instance metadata" in text


def test_launch_refused_after_acceptance_says_why(airflow_oci, capfd, caplog):
    """A hostname OCI accepts and then refuses (taken in the subnet): the task fails with the work request's
    error, not just "TERMINATED", in the blocking and the deferred path alike."""
    import re

    sim = airflow_oci
    state, tasks = run_dag("test_op_compute_hostname_taken", conf_for(sim))
    assert state == "failed" and tasks == {"launch_blocking": "failed", "launch_deferrable": "failed"}
    # task logs reach stdout or the logging capture depending on what ran before in the session: read both
    log = capfd.readouterr().out + caplog.text
    explained = set(re.findall(r"(ocid1\.instance\.[a-z0-9.]+) reached lifecycle_state TERMINAT(?:ING|ED) "
                               r"\(waiting for \['RUNNING'\]\); LaunchInstance: vcn-error: A problem occurred while "
                               r"preparing the instance's VNIC\. \(Hostname linux1 is already used in subnet", log))
    assert len(explained) == 2, log[-3000:]  # one explained failure per task: two distinct instances
    launched = [i for i in sim.admin.resources("instance") if i["id"] not in sim.tenancy["instances"].values()]
    assert len(launched) == 2 and {i["lifecycle_state"] for i in launched} <= {"TERMINATING", "TERMINATED"}


def test_task_retry_after_a_lost_launch_adopts_the_instance(airflow_oci, monkeypatch):
    """Try 1's LaunchInstance is done but its response lost; try 2 sends the same retry token, finds its own
    hostname in the subnet (not a conflict: the instance is tagged as this task's) and adopts the instance."""
    from tests.conftest import oci_connection_json

    sim = airflow_oci
    monkeypatch.setenv("AIRFLOW_CONN_OCI_NORETRY", oci_connection_json(sim, max_attempts=1))
    sim.admin.fault("LaunchInstance", "drop")
    sim.admin.reset_counters()
    dag_id = "test_op_compute_launch_retry"
    state, tasks = run_dag(dag_id, conf_for(sim, conn_id="oci_noretry"))
    assert state == "success", tasks
    run_id = last_run_id(dag_id)
    assert sim.admin.counters()["LaunchInstance"] == 2
    [instance] = [i for i in sim.admin.resources("instance") if i["display_name"] == "retry-01"]
    launched = xcom(dag_id, run_id, "launch_linux")
    assert launched["instance_id"] == instance["id"] and launched["lifecycle_state"] == "RUNNING"
    assert [v["hostname_label"] for v in sim.admin.resources("vnic")].count("retry-01") == 1

    from airflow import settings
    from airflow.models import TaskInstance

    with settings.Session() as session:
        assert session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run_id).one().try_number == 2


@pytest.mark.parametrize("mode", ["blocking", "deferrable"])
def test_run_command(airflow_oci_guest, mode, capfd, caplog):
    sim = airflow_oci_guest
    dag_id = f"test_op_compute_run_command_{mode}"
    state, tasks = run_dag(dag_id, conf_for(sim))
    assert state == "failed"
    assert tasks == {"check_data_filesystem": "success", "failing_script": "failed", "large_output": "success",
                     "slow_script": "failed"}
    run_id = last_run_id(dag_id)

    check = xcom(dag_id, run_id, "check_data_filesystem")
    assert check["state"] == "SUCCEEDED" and check["exit_code"] == 0
    assert check["instance_id"] == sim.tenancy["instances"]["linux1"]
    assert "Pass 5: Checking group summary information" in check["output"] and not check["output_truncated"]
    assert re.search(r"^data1: \d+/\d+ files", check["output"], re.M), check["output"]

    failed = xcom(dag_id, run_id, "failing_script", key="command_result")
    assert failed["state"] == "FAILED" and failed["exit_code"] == 3
    assert "about to fail" in failed["output"] and "disk check: 3 errors" in failed["output"]
    assert xcom(dag_id, run_id, "failing_script") is None
    log = capfd.readouterr().out + caplog.text
    assert "ended FAILED with exit code 3" in log and "output tail:" in log and "disk check: 3 errors" in log

    large = xcom(dag_id, run_id, "large_output")
    assert large["output_truncated"] and large["output_chars"] == 170_000
    assert len(large["output"]) == 64 * 1024 and large["output"].endswith("0123456789abcdef\n")

    slow = xcom(dag_id, run_id, "slow_script", key="command_result")
    assert slow["state"] == "TIMED_OUT" and "started" in slow["output"]
    assert "ended TIMED_OUT" in log  # fails even with fail_on_nonzero=False
    assert len(sim.admin.resources("agentcommand")) == 4


def test_run_command_trigger_round_trip_resumes_the_task(airflow_oci_guest):
    """The deferred wait for a command execution: serialise the trigger, rebuild it from its classpath, run
    it against ocisim, and resume the operator with its event."""
    import asyncio
    import importlib

    from hooks.compute import command_spec
    from hooks.oci import OciHook
    from operators.run_command import OciRunCommandOperator
    from triggers.oci import OciWaitTrigger

    sim = airflow_oci_guest
    instance_id = sim.tenancy["instances"]["linux1"]
    hook = OciHook()
    command_id = hook.create_command(instance_id, None, "echo resumed", 60)
    result = {"command_id": command_id, "instance_id": instance_id, "region": sim.home_region}
    trigger = OciWaitTrigger(command_spec(command_id, instance_id, sim.home_region).to_dict(), "oci_default", 0.2,
                             1, 60, result)
    classpath, kwargs = trigger.serialize()
    module, name = classpath.rsplit(".", 1)
    rebuilt = getattr(importlib.import_module(module), name)(**json.loads(json.dumps(kwargs)))
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs["spec"]["getter_kwargs"] == {"instance_id": instance_id}

    async def first_event():
        async for event in rebuilt.run():
            return event.payload

    event = asyncio.run(first_event())
    assert event["status"] == "success" and event["state"] == "SUCCEEDED" and event["result"] == result
    op = OciRunCommandOperator(task_id="resume", instance_id=instance_id, script="echo resumed", deferrable=True)
    resumed = op.execute_complete({}, event)
    assert resumed["exit_code"] == 0 and resumed["output"] == "resumed\n" and resumed["command_id"] == command_id

