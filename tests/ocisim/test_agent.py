"""Run Command (instance agent) through the real SDK: scripts run on this machine against the attached volumes'
real bytes (`ocisim_guest`), or end FAILED with a clear message when guest execution is off (`ocisim`)."""

from __future__ import annotations

import hashlib
import time

import oci
import pytest

from ocisim.backend.base import MIB

M = oci.compute_instance_agent.models
DEVICE = "/dev/oracleoci/oraclevdb"
TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELED")


def agent_client(sim, region=None):
    return sim.client(oci.compute_instance_agent.ComputeInstanceAgentClient, region=region)


def command_details(sim, script: str, timeout: int = 60, instance_id: str | None = None,
                    output=None, source=None, display_name: str | None = None,
                    command_string: str | None = None) -> M.CreateInstanceAgentCommandDetails:
    return M.CreateInstanceAgentCommandDetails(
        compartment_id=sim.tenancy["compartment_id"], execution_time_out_in_seconds=timeout,
        display_name=display_name,
        target=M.InstanceAgentCommandTarget(instance_id=instance_id or sim.tenancy["instances"]["linux1"]),
        content=M.InstanceAgentCommandContent(
            source=source or M.InstanceAgentCommandSourceViaTextDetails(text=script),
            output=output or M.InstanceAgentCommandOutputViaTextDetails(), command_string=command_string))


def wait_done(client, command_id: str, instance_id: str, max_wait: int = 60):
    """The execution once it reaches a terminal state, through the SDK's own waiter."""
    first = client.get_instance_agent_command_execution(command_id, instance_id)
    return oci.wait_until(client, first, evaluate_response=lambda r: r.data.lifecycle_state in TERMINAL,
                          max_interval_seconds=1, max_wait_seconds=max_wait).data


def run(sim, script: str, timeout: int = 60, instance_id: str | None = None, **kwargs):
    client = agent_client(sim)
    instance_id = instance_id or sim.tenancy["instances"]["linux1"]
    command = client.create_instance_agent_command(
        command_details(sim, script, timeout, instance_id, **kwargs)).data
    return command, wait_done(client, command.id, instance_id)


def test_data_volume_is_attached_at_the_device_path_the_scripts_use(ocisim_guest):
    compute = ocisim_guest.client(oci.core.ComputeClient)
    attachments = compute.list_volume_attachments(ocisim_guest.tenancy["compartment_id"],
                                                  instance_id=ocisim_guest.tenancy["instances"]["linux1"]).data
    [att] = [a for a in attachments if a.volume_id == ocisim_guest.tenancy["volumes"]["data1"]]
    assert att.lifecycle_state == "ATTACHED" and att.device == DEVICE
    assert att.attachment_type == "paravirtualized"


def test_e2fsck_and_canary_read_pass_on_the_seeded_ext4_volume(ocisim_guest):
    client = agent_client(ocisim_guest)
    instance_id = ocisim_guest.tenancy["instances"]["linux1"]
    script = f"e2fsck -fn {DEVICE} && debugfs -R 'cat /canary.txt' {DEVICE}"
    created = client.create_instance_agent_command(command_details(ocisim_guest, script, display_name="verify"))
    command = created.data
    assert created.status == 200 and created.headers["etag"]
    assert command.id.startswith("ocid1.instanceagentcommand.oc1.iad.")
    assert command.display_name == "verify" and command.is_canceled is False
    assert command.target.instance_id == instance_id and command.execution_time_out_in_seconds == 60
    assert isinstance(command.content.source, M.InstanceAgentCommandSourceViaTextDetails)
    assert command.content.source.text == script
    assert isinstance(command.content.output, M.InstanceAgentCommandOutputViaTextDetails)

    execution = wait_done(client, command.id, instance_id)
    assert execution.lifecycle_state == "SUCCEEDED" and execution.delivery_state == "ACKED"
    assert execution.instance_agent_command_id == command.id and execution.instance_id == instance_id
    assert execution.display_name == "verify" and execution.sequence_number > 0
    out = execution.content
    assert isinstance(out, M.InstanceAgentCommandExecutionOutputViaTextDetails)
    assert out.output_type == "TEXT" and out.exit_code == 0
    assert "Pass 5: Checking group summary information" in out.text
    assert "ocisim default data volume" in out.text  # the seeded canary file, read by debugfs
    assert out.text_sha256 == hashlib.sha256(out.text.encode()).hexdigest()
    assert client.get_instance_agent_command(command.id).data.is_canceled is False
    assert list((ocisim_guest.state_dir / "guest").iterdir()) == []  # raw volume files are cleaned up


def test_script_writes_reach_the_volume_bytes(ocisim_guest):
    volume_id = ocisim_guest.tenancy["volumes"]["data1"]
    offset = 100 * MIB  # past the 64 MiB filesystem
    assert ocisim_guest.admin.read(volume_id, offset, 3) == b"\0\0\0"
    script = f"printf 'hi\\n' | dd of={DEVICE} bs=1 seek={offset} conv=notrunc"
    _, execution = run(ocisim_guest, script)
    assert execution.lifecycle_state == "SUCCEEDED", execution.content.text
    assert ocisim_guest.admin.read(volume_id, offset, 3) == b"hi\n"
    # the filesystem in front of it is untouched and still checks clean
    _, check = run(ocisim_guest, f"e2fsck -fn {DEVICE}")
    assert check.content.exit_code == 0


def test_corrupted_superblock_fails_e2fsck_with_its_exit_code(ocisim_guest):
    volume_id = ocisim_guest.tenancy["volumes"]["data1"]
    ocisim_guest.admin.write(volume_id, 1024, bytes(range(256)) * 4)  # garbage over the primary superblock
    _, execution = run(ocisim_guest, f"e2fsck -fn {DEVICE}")
    assert execution.lifecycle_state == "FAILED"
    assert execution.content.exit_code not in (0, None)
    assert "superblock" in execution.content.text.lower()


def test_timeout_ends_timed_out_and_stops_the_script(ocisim_guest):
    start = time.monotonic()
    _, execution = run(ocisim_guest, "echo started; sleep 5; echo finished", timeout=1)
    assert time.monotonic() - start < 4.5
    assert execution.lifecycle_state == "TIMED_OUT"
    assert execution.content.text == "started\n"
    assert "did not finish within 1 seconds" in execution.content.message


def test_cancel_stops_a_running_script(ocisim_guest):
    client = agent_client(ocisim_guest)
    instance_id = ocisim_guest.tenancy["instances"]["linux1"]
    command = client.create_instance_agent_command(command_details(ocisim_guest, "sleep 30")).data
    assert client.get_instance_agent_command_execution(command.id, instance_id).data.lifecycle_state in (
        "ACCEPTED", "IN_PROGRESS")
    assert client.cancel_instance_agent_command(command.id).status == 204
    execution = wait_done(client, command.id, instance_id, max_wait=10)
    assert execution.lifecycle_state == "CANCELED" and execution.delivery_state == "ACKED_CANCELED"
    assert client.get_instance_agent_command(command.id).data.is_canceled is True


def test_text_output_is_truncated_at_one_mib(ocisim_guest):
    _, execution = run(ocisim_guest, "head -c 3000000 /dev/zero | tr '\\0' a; echo; echo tail-line")
    assert execution.lifecycle_state == "SUCCEEDED"
    assert execution.content.text == "a" * MIB
    assert "truncated" in execution.content.message


def test_commands_on_different_instances_run_concurrently(ocisim_guest):
    ocisim_guest.admin.seed({
        "volumes": [{"name": "data2", "size_in_gbs": 50, "files": {"canary.txt": "second instance\n"}}],
        "instances": [{"name": "linux2", "attach": [{"volume": "data2", "type": "paravirtualized"}]}]})
    second = _instance_named(ocisim_guest, "linux2")
    first = ocisim_guest.tenancy["instances"]["linux1"]
    client = agent_client(ocisim_guest)
    script = f"sleep 3; debugfs -R 'cat /canary.txt' {DEVICE}"
    start = time.monotonic()
    ids = {inst: client.create_instance_agent_command(
        command_details(ocisim_guest, script, instance_id=inst)).data.id for inst in (first, second)}
    results = {inst: wait_done(client, cid, inst) for inst, cid in ids.items()}
    assert time.monotonic() - start < 5.5  # two 3-second scripts overlapped
    assert all(r.lifecycle_state == "SUCCEEDED" for r in results.values())
    assert "ocisim default data volume" in results[first].content.text
    assert "second instance" in results[second].content.text


def _instance_named(sim, name: str) -> str:
    [found] = [r for r in sim.admin.resources("instance") if r["display_name"] == name]
    return found["id"]


def test_script_from_object_storage_with_output_to_object_storage(ocisim_guest):
    objects = ocisim_guest.client(oci.object_storage.ObjectStorageClient)
    namespace, bucket = ocisim_guest.tenancy["namespace"], ocisim_guest.tenancy["buckets"][0]
    script = f"head -c 1048576 {DEVICE} | sha256sum | cut -c1-16; exit 3\n"
    objects.put_object(namespace, bucket, "scripts/check.sh", script)
    source = M.InstanceAgentCommandSourceViaObjectStorageTupleDetails(
        bucket_name=bucket, namespace_name=namespace, object_name="scripts/check.sh")
    output = M.InstanceAgentCommandOutputViaObjectStorageTupleDetails(
        bucket_name=bucket, namespace_name=namespace, object_name="out/check.txt")
    _, execution = run(ocisim_guest, "", source=source, output=output)
    assert execution.lifecycle_state == "FAILED"
    content = execution.content
    assert isinstance(content, M.InstanceAgentCommandExecutionOutputViaObjectStorageTupleDetails)
    assert content.exit_code == 3 and content.object_name == "out/check.txt"
    written = objects.get_object(namespace, bucket, "out/check.txt").data.content.decode()
    first_mib = ocisim_guest.admin.read(ocisim_guest.tenancy["volumes"]["data1"], 0, MIB)
    assert written == hashlib.sha256(first_mib).hexdigest()[:16] + "\n"


def test_script_by_object_storage_uri_run_through_a_command_string(ocisim_guest):
    objects = ocisim_guest.client(oci.object_storage.ObjectStorageClient)
    namespace, bucket = ocisim_guest.tenancy["namespace"], ocisim_guest.tenancy["buckets"][0]
    objects.put_object(namespace, bucket, "tools/count.sh", 'echo "$# args, first $1"\n')
    uri = f"https://objectstorage.us-ashburn-1.oraclecloud.com/n/{namespace}/b/{bucket}/o/tools%2Fcount.sh"
    source = M.InstanceAgentCommandSourceViaObjectStorageUriDetails(source_uri=uri)
    _, execution = run(ocisim_guest, "", source=source, command_string="bash count.sh alpha beta")
    assert execution.lifecycle_state == "SUCCEEDED"
    assert execution.content.text == "2 args, first alpha\n"
    missing_uri = M.InstanceAgentCommandSourceViaObjectStorageUriDetails(source_uri=uri.replace("count", "none"))
    _, execution = run(ocisim_guest, "", source=missing_uri)
    assert execution.lifecycle_state == "FAILED" and execution.content.exit_code == 127
    assert "could not be downloaded" in execution.content.message


def test_list_executions_and_commands_filter_and_page(ocisim_guest):
    client = agent_client(ocisim_guest)
    compartment_id = ocisim_guest.tenancy["compartment_id"]
    instance_id = ocisim_guest.tenancy["instances"]["linux1"]
    for script in ("true", "false", "exit 3"):
        run(ocisim_guest, script)
    every = oci.pagination.list_call_get_all_results(
        client.list_instance_agent_command_executions, compartment_id, instance_id, limit=1).data
    assert len(every) == 3 and {e.content.exit_code for e in every} == {0, 1, 3}
    failed = client.list_instance_agent_command_executions(compartment_id, instance_id,
                                                           lifecycle_state="FAILED").data
    assert sorted(e.content.exit_code for e in failed) == [1, 3]
    first_page = client.list_instance_agent_commands(compartment_id, limit=2)
    assert len(first_page.data) == 2 and first_page.next_page
    commands = oci.pagination.list_call_get_all_results(client.list_instance_agent_commands, compartment_id,
                                                        limit=2).data
    assert len(commands) == 3 and all(c.is_canceled is False for c in commands)
    assert {c.instance_agent_command_id for c in commands} == {e.instance_agent_command_id for e in every}


def test_guest_exec_off_fails_with_a_clear_message(ocisim):
    _, execution = run(ocisim, f"e2fsck -fn {DEVICE}")
    assert execution.lifecycle_state == "FAILED"
    assert execution.content.exit_code == 127
    assert "--guest-exec" in execution.content.message
    assert "--guest-exec" in execution.content.text


def _error(call) -> oci.exceptions.ServiceError:
    with pytest.raises(oci.exceptions.ServiceError) as caught:
        call()
    return caught.value


def test_unknown_or_stopped_instance_and_bad_requests_are_refused(ocisim):
    client = agent_client(ocisim)
    missing = "ocid1.instance.oc1.iad.aaaanothere"
    err = _error(lambda: client.create_instance_agent_command(
        command_details(ocisim, "true", instance_id=missing)))
    assert err.status == 404 and err.code == "NotAuthorizedOrNotFound"
    bad_hash = M.InstanceAgentCommandSourceViaTextDetails(text="true", text_sha256="0" * 64)
    err = _error(lambda: client.create_instance_agent_command(command_details(ocisim, "", source=bad_hash)))
    assert err.status == 400 and "textSha256" in err.message

    command = client.create_instance_agent_command(command_details(ocisim, "true")).data
    other_region = agent_client(ocisim, "us-phoenix-1")
    assert _error(lambda: other_region.get_instance_agent_command(command.id)).status == 404
    wrong_instance = _error(lambda: client.get_instance_agent_command_execution(command.id, missing))
    assert wrong_instance.status == 404

    compute = ocisim.client(oci.core.ComputeClient)
    instance_id = ocisim.tenancy["instances"]["linux1"]
    compute.instance_action(instance_id, "STOP")
    oci.wait_until(compute, compute.get_instance(instance_id), "lifecycle_state", "STOPPED",
                   max_interval_seconds=1, max_wait_seconds=30)
    err = _error(lambda: client.create_instance_agent_command(command_details(ocisim, "true")))
    assert err.status == 409 and err.code == "IncorrectState"


def test_execution_interrupted_by_a_restart_ends_failed(tmp_path):
    from ocisim.testing import ocisim_running

    with ocisim_running(tmp_path / "state", time_scale=600.0, guest_exec=True) as sim:
        client = agent_client(sim)
        instance_id = sim.tenancy["instances"]["linux1"]
        command = client.create_instance_agent_command(command_details(sim, "sleep 2")).data
    with ocisim_running(tmp_path / "state", time_scale=600.0, guest_exec=True) as sim:
        execution = agent_client(sim).get_instance_agent_command_execution(command.id, instance_id).data
        assert execution.lifecycle_state == "FAILED"
        assert "stopped while the script ran" in execution.content.message
