"""Compute through the real SDK: launch, VNIC hostnames, metadata, power actions, terminate, volume attachments."""

from __future__ import annotations

import base64

import oci
import pytest
from oci.core.models import (
    AttachIScsiVolumeDetails,
    AttachParavirtualizedVolumeDetails,
    CreateVnicDetails,
    CreateVolumeDetails,
    InstanceSourceViaBootVolumeDetails,
    InstanceSourceViaImageDetails,
    LaunchInstanceDetails,
    LaunchInstanceShapeConfigDetails,
)

FAST = {"max_interval_seconds": 1, "max_wait_seconds": 60}


@pytest.fixture
def env(ocisim):
    t = ocisim.tenancy
    compute = ocisim.client(oci.core.ComputeClient)
    return {
        "sim": ocisim, "t": t, "compute": compute,
        "ops": oci.core.ComputeClientCompositeOperations(compute),
        "network": ocisim.client(oci.core.VirtualNetworkClient),
        "storage": ocisim.client(oci.core.BlockstorageClient),
        "wr": ocisim.client(oci.work_requests.WorkRequestClient),
        "ad": t["availability_domains"][0], "comp": t["compartment_id"],
    }


def launch_details(env, name: str, hostname: str | None = None, **extra) -> LaunchInstanceDetails:
    fields = {
        "compartment_id": env["comp"], "availability_domain": env["ad"], "display_name": name,
        "shape": "VM.Standard.E4.Flex",
        "source_details": InstanceSourceViaImageDetails(image_id=env["t"]["images"]["Oracle-Linux-9"]),
        "create_vnic_details": CreateVnicDetails(subnet_id=env["t"]["subnet_id"], hostname_label=hostname),
    }
    fields.update(extra)
    return LaunchInstanceDetails(**fields)


def launch(env, name: str, hostname: str | None = None, **extra):
    return env["ops"].launch_instance_and_wait_for_state(
        launch_details(env, name, hostname, **extra), wait_for_states=["RUNNING"], waiter_kwargs=FAST).data


def wait(client, response, state: str, field: str = "lifecycle_state"):
    return oci.wait_until(client, response, field, state, **FAST).data


def new_volumes(env, *names: str) -> list:
    """Volumes made through the SDK, all requested before waiting for any."""
    made = [env["storage"].create_volume(CreateVolumeDetails(
        compartment_id=env["comp"], availability_domain=env["ad"], display_name=name, size_in_gbs=50)).data
        for name in names]
    return [wait(env["storage"], env["storage"].get_volume(v.id), "AVAILABLE") for v in made]


def service_error(call, *args, **kwargs) -> oci.exceptions.ServiceError:
    with pytest.raises(oci.exceptions.ServiceError) as err:
        call(*args, **kwargs)
    return err.value


def test_launch_from_image_with_hostname_metadata_and_shape(env):
    sim, compute = env["sim"], env["compute"]
    cloud_init = "#cloud-config\nhostname: web-01\nruncmd:\n  - echo hi\n"
    user_data = base64.b64encode(cloud_init.encode()).decode()
    raw = compute.launch_instance(launch_details(
        env, "web-01", "web-01", metadata={"user_data": user_data, "ssh_authorized_keys": "ssh-ed25519 AAAA x@y",
                                           "my_Key": "kept as is"},
        extended_metadata={"nested": {"a": 1}}, freeform_tags={"team": "ops"},
        shape_config=LaunchInstanceShapeConfigDetails(ocpus=2, memory_in_gbs=32)))
    assert raw.data.lifecycle_state == "PROVISIONING"
    assert raw.headers["opc-work-request-id"] and raw.headers["etag"]
    inst = wait(compute, compute.get_instance(raw.data.id), "RUNNING")
    assert inst.metadata == {"user_data": user_data, "ssh_authorized_keys": "ssh-ed25519 AAAA x@y",
                             "my_Key": "kept as is"}
    assert base64.b64decode(inst.metadata["user_data"]).decode() == cloud_init
    assert inst.extended_metadata == {"nested": {"a": 1}} and inst.freeform_tags == {"team": "ops"}
    assert inst.shape_config.ocpus == 2 and inst.shape_config.memory_in_gbs == 32
    assert inst.source_details.source_type == "image"
    assert inst.source_details.image_id == env["t"]["images"]["Oracle-Linux-9"]
    assert inst.image_id == env["t"]["images"]["Oracle-Linux-9"] and inst.region == "iad"
    assert inst.availability_domain == env["ad"] and inst.launch_mode == "NATIVE"
    wr = env["wr"].get_work_request(raw.headers["opc-work-request-id"]).data
    assert wr.operation_type == "LaunchInstance" and wr.resources[0].identifier == inst.id

    boots = compute.list_boot_volume_attachments(env["ad"], env["comp"], instance_id=inst.id).data
    assert len(boots) == 1
    boot_att = wait(compute, compute.get_boot_volume_attachment(boots[0].id), "ATTACHED")
    boot = env["storage"].get_boot_volume(boot_att.boot_volume_id).data
    assert boot.image_id == inst.image_id and boot.lifecycle_state == "AVAILABLE"
    assert sim.admin.sha256(boot.id)["sha256"] == sim.admin.sha256(inst.image_id)["sha256"]

    vnic_atts = compute.list_vnic_attachments(env["comp"], instance_id=inst.id).data
    assert len(vnic_atts) == 1 and vnic_atts[0].lifecycle_state == "ATTACHED"
    vnic = env["network"].get_vnic(vnic_atts[0].vnic_id).data
    subnet = env["network"].get_subnet(env["t"]["subnet_id"]).data
    assert vnic.hostname_label == "web-01" and vnic.is_primary and vnic.lifecycle_state == "AVAILABLE"
    assert vnic.subnet_id == subnet.id and vnic.private_ip.startswith("10.0.1.") and vnic.public_ip
    assert subnet.dns_label == "app" and subnet.subnet_domain_name.startswith("app.")
    assert subnet.cidr_block == "10.0.1.0/24" and subnet.lifecycle_state == "AVAILABLE"
    assert env["network"].get_vcn(subnet.vcn_id).data.lifecycle_state == "AVAILABLE"


def test_launch_from_a_preserved_boot_volume(env):
    sim, compute, storage = env["sim"], env["compute"], env["storage"]
    first = launch(env, "first", "first")
    boot_id = compute.list_boot_volume_attachments(env["ad"], env["comp"], instance_id=first.id).data[0]
    boot_id = boot_id.boot_volume_id
    sim.admin.write(boot_id, 0, b"marker written by the first instance")
    busy = service_error(compute.launch_instance, launch_details(
        env, "second", "second", source_details=InstanceSourceViaBootVolumeDetails(boot_volume_id=boot_id)))
    assert busy.status == 409 and busy.code == "Conflict" and first.id in busy.message

    compute.terminate_instance(first.id, preserve_boot_volume=True)
    wait(compute, compute.get_instance(first.id), "TERMINATED")
    assert storage.get_boot_volume(boot_id).data.lifecycle_state == "AVAILABLE"
    second = launch(env, "second", "second",
                    source_details=InstanceSourceViaBootVolumeDetails(boot_volume_id=boot_id))
    assert second.source_details.source_type == "bootVolume" and second.source_details.boot_volume_id == boot_id
    assert second.image_id == env["t"]["images"]["Oracle-Linux-9"]
    att = compute.list_boot_volume_attachments(env["ad"], env["comp"], boot_volume_id=boot_id).data
    assert {(a.instance_id, a.lifecycle_state) for a in att} == {(first.id, "DETACHED"), (second.id, "ATTACHED")}
    assert sim.admin.read(boot_id, 0, 36) == b"marker written by the first instance"


def test_duplicate_hostname_fails_the_launch_work_request(env):
    """OCI accepts the launch and fails it while preparing the VNIC; the instance ends TERMINATED."""
    compute = env["compute"]
    launch(env, "app-a", "app-a")
    raw = compute.launch_instance(launch_details(env, "app-b", "APP-A"))
    wr = wait(env["wr"], env["wr"].get_work_request(raw.headers["opc-work-request-id"]), "FAILED", "status")
    errors = env["wr"].list_work_request_errors(wr.id).data
    assert errors[0].code == "vcn-error"
    assert f"Hostname APP-A is already used in subnet {env['t']['subnet_id']}" in errors[0].message
    assert wait(compute, compute.get_instance(raw.data.id), "TERMINATED").lifecycle_state == "TERMINATED"
    assert compute.list_vnic_attachments(env["comp"], instance_id=raw.data.id).data == []


def test_launch_errors(env):
    compute = env["compute"]
    unknown = service_error(compute.launch_instance, launch_details(
        env, "x", source_details=InstanceSourceViaImageDetails(image_id="ocid1.image.oc1.iad.aaaanothere")))
    assert unknown.status == 404 and unknown.code == "NotAuthorizedOrNotFound"
    bad_host = service_error(compute.launch_instance, launch_details(env, "x", "web_01"))
    assert bad_host.status == 400 and bad_host.code == "InvalidParameter" and "web_01" in bad_host.message
    bad_ad = service_error(compute.launch_instance, launch_details(env, "x", availability_domain="AD-9"))
    assert bad_ad.status == 400 and "AD-9" in bad_ad.message
    bad_data = service_error(compute.launch_instance, launch_details(env, "x", metadata={"user_data": "not b64!"}))
    assert bad_data.status == 400 and "user_data" in bad_data.message
    no_subnet = service_error(compute.launch_instance, launch_details(
        env, "x", create_vnic_details=CreateVnicDetails(subnet_id="ocid1.subnet.oc1.iad.aaaanothere")))
    assert no_subnet.status == 404
    assert service_error(compute.get_instance, "ocid1.instance.oc1.iad.aaaanothere").status == 404


def test_instance_actions_walk_their_states(env):
    sim, compute = env["sim"], env["compute"]
    inst_id = env["t"]["instances"]["linux1"]

    def after(seconds: float) -> str:
        sim.admin.advance(seconds)
        return compute.get_instance(inst_id).data.lifecycle_state

    sim.admin.set_time_scale(1)  # the clock moves by hand, so each intermediate state is seen
    stopping = compute.instance_action(inst_id, "STOP").data
    assert stopping.lifecycle_state == "STOPPING" and stopping.id == inst_id
    assert after(300) == "STOPPED"
    assert compute.instance_action(inst_id, "STOP").data.lifecycle_state == "STOPPED"  # a retry is harmless
    refused = service_error(compute.instance_action, inst_id, "RESET")
    assert refused.status == 409 and refused.code == "IncorrectState" and "STOPPED" in refused.message
    assert compute.instance_action(inst_id, "START").data.lifecycle_state == "STARTING"
    assert after(300) == "RUNNING"
    assert compute.instance_action(inst_id, "SOFTRESET").data.lifecycle_state == "STOPPING"
    assert after(80) == "STARTING"
    assert after(300) == "RUNNING"
    assert compute.instance_action(inst_id, "RESET").data.lifecycle_state == "STOPPING"
    assert after(300) == "RUNNING"
    assert compute.instance_action(inst_id, "SOFTSTOP").data.lifecycle_state == "STOPPING"
    busy = service_error(compute.instance_action, inst_id, "START")
    assert busy.status == 409 and "STOPPING" in busy.message
    assert after(300) == "STOPPED"
    bad = service_error(compute.instance_action, inst_id, "HIBERNATE")
    assert bad.status == 400 and bad.code == "InvalidParameter"
    sim.admin.set_time_scale(600)
    done = env["ops"].instance_action_and_wait_for_state(inst_id, "START", wait_for_states=["RUNNING"],
                                                         waiter_kwargs=FAST)
    assert done.data.lifecycle_state == "RUNNING"


def test_terminate_detaches_everything_and_terminates_the_boot_volume(env):
    compute, storage = env["compute"], env["storage"]
    inst_id = env["t"]["instances"]["linux1"]
    boot_id = env["t"]["boot_volumes"]["linux1"]
    data_id = env["t"]["volumes"]["data1"]
    resp = compute.terminate_instance(inst_id)
    assert resp.status == 204 and resp.headers["opc-work-request-id"]
    assert compute.get_instance(inst_id).data.lifecycle_state == "TERMINATING"
    wait(compute, compute.get_instance(inst_id), "TERMINATED")
    atts = compute.list_volume_attachments(env["comp"], instance_id=inst_id).data
    assert [(a.volume_id, a.lifecycle_state) for a in atts] == [(data_id, "DETACHED")]
    boots = compute.list_boot_volume_attachments(env["ad"], env["comp"], instance_id=inst_id).data
    assert [b.lifecycle_state for b in boots] == ["DETACHED"]
    assert storage.get_boot_volume(boot_id).data.lifecycle_state == "TERMINATED"
    assert storage.get_volume(data_id).data.lifecycle_state == "AVAILABLE"
    assert compute.terminate_instance(inst_id).status == 204  # terminating twice is not an error
    refused = service_error(compute.instance_action, inst_id, "START")
    assert refused.status == 409 and refused.code == "IncorrectState"


def test_attach_iscsi_and_paravirtualized_with_devices_then_detach(env):
    sim, compute = env["sim"], env["compute"]
    inst_id = env["t"]["instances"]["linux1"]
    iscsi_vol, pv_vol, spare = new_volumes(env, "iscsi-data", "pv-data", "spare")
    iscsi = env["ops"].attach_volume_and_wait_for_state(AttachIScsiVolumeDetails(
        instance_id=inst_id, volume_id=iscsi_vol.id, device="/dev/oracleoci/oraclevdc", use_chap=True,
        display_name="iscsi-att"), wait_for_states=["ATTACHED"], waiter_kwargs=FAST).data
    assert isinstance(iscsi, oci.core.models.IScsiVolumeAttachment)
    assert iscsi.attachment_type == "iscsi" and iscsi.device == "/dev/oracleoci/oraclevdc"
    assert iscsi.port == 3260 and iscsi.iqn.startswith("iqn.2015-12.com.oracleiaas:") and iscsi.ipv4
    assert iscsi.chap_username == iscsi.id and iscsi.chap_secret and iscsi.display_name == "iscsi-att"
    pv = env["ops"].attach_volume_and_wait_for_state(AttachParavirtualizedVolumeDetails(
        instance_id=inst_id, volume_id=pv_vol.id, device="/dev/oracleoci/oraclevdd", is_read_only=True),
        wait_for_states=["ATTACHED"], waiter_kwargs=FAST).data
    assert isinstance(pv, oci.core.models.ParavirtualizedVolumeAttachment)
    assert pv.attachment_type == "paravirtualized" and pv.is_read_only and not pv.is_shareable
    assert sorted(sim.sim.compute.attached_devices(inst_id)) == [
        ("/dev/oracleoci/oraclevdb", env["t"]["volumes"]["data1"]),
        ("/dev/oracleoci/oraclevdc", iscsi_vol.id), ("/dev/oracleoci/oraclevdd", pv_vol.id)]

    other = launch(env, "other", "other")
    taken = service_error(compute.attach_volume, AttachParavirtualizedVolumeDetails(
        instance_id=other.id, volume_id=pv_vol.id))
    assert taken.status == 409 and taken.code == "Conflict" and pv.id in taken.message
    device_used = service_error(compute.attach_volume, AttachParavirtualizedVolumeDetails(
        instance_id=inst_id, volume_id=spare.id, device="/dev/oracleoci/oraclevdc"))
    assert device_used.status == 409 and iscsi.id in device_used.message
    bad_device = service_error(compute.attach_volume, AttachParavirtualizedVolumeDetails(
        instance_id=inst_id, volume_id=spare.id, device="/dev/sdb"))
    assert bad_device.status == 400

    listed = compute.list_volume_attachments(env["comp"], instance_id=inst_id).data
    assert {a.volume_id for a in listed} == {env["t"]["volumes"]["data1"], iscsi_vol.id, pv_vol.id}
    assert [a.id for a in compute.list_volume_attachments(env["comp"], volume_id=iscsi_vol.id).data] == [iscsi.id]
    assert compute.list_volume_attachments(env["comp"], availability_domain="nowhere").data == []
    pages = oci.pagination.list_call_get_all_results(compute.list_volume_attachments, env["comp"], limit=1)
    assert len(pages.data) == 3

    detach = compute.detach_volume(iscsi.id)
    assert detach.status == 204 and detach.headers["opc-work-request-id"]
    assert compute.get_volume_attachment(iscsi.id).data.lifecycle_state == "DETACHING"
    wait(compute, compute.get_volume_attachment(iscsi.id), "DETACHED")
    again = service_error(compute.detach_volume, iscsi.id)
    assert again.status == 409 and again.code == "IncorrectState"
    assert ("/dev/oracleoci/oraclevdc", iscsi_vol.id) not in sim.sim.compute.attached_devices(inst_id)
    # The volume is free again: it attaches to the other instance.
    moved = env["ops"].attach_volume_and_wait_for_state(AttachIScsiVolumeDetails(
        instance_id=other.id, volume_id=iscsi_vol.id), wait_for_states=["ATTACHED"], waiter_kwargs=FAST).data
    assert moved.instance_id == other.id and moved.chap_username is None


def test_shareable_attachments_and_instance_state(env):
    compute = env["compute"]
    inst_id = env["t"]["instances"]["linux1"]
    other = launch(env, "other", "other")
    shared, spare = new_volumes(env, "shared", "spare")
    for target in (inst_id, other.id):
        env["ops"].attach_volume_and_wait_for_state(AttachParavirtualizedVolumeDetails(
            instance_id=target, volume_id=shared.id, is_shareable=True), wait_for_states=["ATTACHED"],
            waiter_kwargs=FAST)
    assert len(compute.list_volume_attachments(env["comp"], volume_id=shared.id).data) == 2
    compute.instance_action(other.id, "STOP")
    refused = service_error(compute.attach_volume, AttachParavirtualizedVolumeDetails(
        instance_id=other.id, volume_id=spare.id))
    assert refused.status == 409 and refused.code == "IncorrectState" and "STOPPING" in refused.message


def test_list_instances_filters_sorting_and_paging(env):
    compute = env["compute"]
    launch(env, "b-node", "b-node")
    launch(env, "a-node", "a-node")
    everything = oci.pagination.list_call_get_all_results(compute.list_instances, env["comp"], limit=1).data
    assert {i.display_name for i in everything} == {"linux1", "a-node", "b-node"}
    first = compute.list_instances(env["comp"], limit=2)
    assert len(first.data) == 2 and first.headers["opc-next-page"]
    by_name = compute.list_instances(env["comp"], sort_by="DISPLAYNAME", sort_order="ASC").data
    assert [i.display_name for i in by_name] == ["a-node", "b-node", "linux1"]
    assert [i.display_name for i in compute.list_instances(env["comp"], display_name="b-node").data] == ["b-node"]
    assert len(compute.list_instances(env["comp"], lifecycle_state="RUNNING").data) == 3
    assert compute.list_instances(env["comp"], availability_domain=env["t"]["availability_domains"][1]).data == []
    missing = service_error(compute.list_instances, "ocid1.compartment.oc1..aaaanothere")
    assert missing.status == 404


# -- shapes -------------------------------------------------------------------------------------------------
def test_list_shapes_per_ad_with_flex_limits(env):
    compute = env["compute"]
    ads = env["t"]["availability_domains"]
    first = {s.shape: s for s in compute.list_shapes(env["comp"], availability_domain=ads[0]).data}
    third = {s.shape for s in compute.list_shapes(env["comp"], availability_domain=ads[2]).data}
    assert "VM.Standard.E2.1.Micro" in third and "VM.Standard.E2.1.Micro" not in first
    assert "VM.Standard.A1.Flex" in first and "VM.Standard.A1.Flex" not in third
    e4 = first["VM.Standard.E4.Flex"]
    assert e4.is_flexible and (e4.ocpu_options.min, e4.ocpu_options.max) == (1, 64)
    assert (e4.memory_options.min_per_ocpu_in_gbs, e4.memory_options.max_per_ocpu_in_gbs) == (1, 64)
    assert e4.memory_options.max_in_g_bs == 1024 and e4.memory_options.default_per_ocpu_in_g_bs == 16
    fixed = first["VM.Standard2.4"]
    assert not fixed.is_flexible and (fixed.ocpus, fixed.memory_in_gbs) == (4, 60) and fixed.ocpu_options is None
    every = {s.shape for s in oci.pagination.list_call_get_all_results(compute.list_shapes, env["comp"], limit=3).data}
    assert every == set(first) | third
    assert [s.shape for s in compute.list_shapes(env["comp"], shape="VM.Standard2.1").data] == ["VM.Standard2.1"]


def test_launch_refuses_a_shape_the_ad_lacks_or_flex_outside_its_limits(env):
    compute = env["compute"]
    micro = service_error(compute.launch_instance, launch_details(env, "micro", shape="VM.Standard.E2.1.Micro"))
    assert micro.status == 400 and "VM.Standard.E2.1.Micro is not offered in availability domain AD-1" in micro.message
    too_many = service_error(compute.launch_instance, launch_details(
        env, "big", shape_config=LaunchInstanceShapeConfigDetails(ocpus=65)))
    assert too_many.status == 400 and "shapeConfig.ocpus 65" in too_many.message
    thin = service_error(compute.launch_instance, launch_details(
        env, "thin", shape_config=LaunchInstanceShapeConfigDetails(ocpus=4, memory_in_gbs=2)))
    assert thin.status == 400 and "shapeConfig.memoryInGBs 2" in thin.message
    nsg = service_error(compute.launch_instance, launch_details(env, "nsg", create_vnic_details=CreateVnicDetails(
        subnet_id=env["t"]["subnet_id"], nsg_ids=["ocid1.networksecuritygroup.oc1.iad.aaaanone"])))
    assert (nsg.status, nsg.code) == (400, "RelatedResourceNotAuthorizedOrNotFound") and "nsgIds" in nsg.message
    encrypted = InstanceSourceViaImageDetails(image_id=env["t"]["images"]["Oracle-Linux-9"],
                                              kms_key_id="ocid1.key.oc1.iad.aaaanokey")
    kms = service_error(compute.launch_instance, launch_details(env, "kms", source_details=encrypted))
    assert kms.status == 400 and "sourceDetails.kmsKeyId" in kms.message
    names = {i.display_name for i in compute.list_instances(env["comp"]).data}
    assert not names & {"micro", "big", "thin", "nsg", "kms"}


# -- updates ------------------------------------------------------------------------------------------------
def test_update_instance_tags_and_resize_a_running_flex_instance(env):
    compute = env["compute"]
    instance_id = env["t"]["instances"]["linux1"]
    renamed = compute.update_instance(instance_id, oci.core.models.UpdateInstanceDetails(
        display_name="linux1-web", freeform_tags={"backup-policy": "gold"})).data
    assert (renamed.display_name, renamed.freeform_tags, renamed.lifecycle_state) == (
        "linux1-web", {"backup-policy": "gold"}, "RUNNING")
    resized = compute.update_instance(instance_id, oci.core.models.UpdateInstanceDetails(
        shape_config=oci.core.models.UpdateInstanceShapeConfigDetails(ocpus=2, memory_in_gbs=32)))
    assert resized.data.lifecycle_state == "STOPPING" and resized.headers["opc-work-request-id"]
    assert (resized.data.shape_config.ocpus, resized.data.shape_config.memory_in_gbs) == (2, 32)
    wait(env["wr"], env["wr"].get_work_request(resized.headers["opc-work-request-id"]), "SUCCEEDED", "status")
    assert wait(compute, compute.get_instance(instance_id), "RUNNING").shape_config.ocpus == 2
    err = service_error(compute.update_instance, instance_id, oci.core.models.UpdateInstanceDetails(
        shape="VM.Standard2.1", shape_config=oci.core.models.UpdateInstanceShapeConfigDetails(ocpus=2)))
    assert err.status == 400 and "only accepted for flexible shapes" in err.message


def test_update_image(env):
    compute = env["compute"]
    image_id = env["t"]["images"]["Oracle-Linux-9"]
    updated = compute.update_image(image_id, oci.core.models.UpdateImageDetails(
        display_name="OL9-golden", freeform_tags={"tier": "gold"}, operating_system_version="9.4")).data
    assert (updated.display_name, updated.freeform_tags, updated.operating_system_version) == (
        "OL9-golden", {"tier": "gold"}, "9.4")
    assert compute.get_image(image_id).data.display_name == "OL9-golden"


# -- boot volume attach and detach --------------------------------------------------------------------------
def test_boot_volume_swap_on_a_stopped_instance(env):
    """Detach the boot volume of a STOPPED instance, attach a restored one, start: same instance, new disk."""
    compute, storage, sim = env["compute"], env["storage"], env["sim"]
    instance_id = env["t"]["instances"]["linux1"]
    old_boot = env["t"]["boot_volumes"]["linux1"]
    attachment = compute.list_boot_volume_attachments(env["ad"], env["comp"], instance_id=instance_id).data[0]
    running = service_error(compute.detach_boot_volume, attachment.id)
    assert running.status == 409 and "STOPPED" in running.message

    backup = storage.create_boot_volume_backup(oci.core.models.CreateBootVolumeBackupDetails(
        boot_volume_id=old_boot, type="FULL")).data
    wait(storage, storage.get_boot_volume_backup(backup.id), "AVAILABLE")
    restored = storage.create_boot_volume(oci.core.models.CreateBootVolumeDetails(
        compartment_id=env["comp"], availability_domain=env["ad"], display_name="linux1-restored",
        source_details=oci.core.models.BootVolumeSourceFromBootVolumeBackupDetails(id=backup.id))).data
    wait(storage, storage.get_boot_volume(restored.id), "AVAILABLE")
    compute.instance_action(instance_id, "STOP")
    wait(compute, compute.get_instance(instance_id), "STOPPED")

    occupied = service_error(compute.attach_boot_volume, oci.core.models.AttachBootVolumeDetails(
        instance_id=instance_id, boot_volume_id=restored.id))
    assert occupied.status == 409 and old_boot in occupied.message
    detached = compute.detach_boot_volume(attachment.id)
    assert detached.headers["opc-work-request-id"]
    wait(compute, compute.get_boot_volume_attachment(attachment.id), "DETACHED")
    no_boot = service_error(compute.instance_action, instance_id, "START")
    assert no_boot.status == 409 and "no boot volume" in no_boot.message

    attached = compute.attach_boot_volume(oci.core.models.AttachBootVolumeDetails(
        instance_id=instance_id, boot_volume_id=restored.id, display_name="swapped"))
    assert attached.data.lifecycle_state == "ATTACHING" and attached.headers["opc-work-request-id"]
    assert wait(compute, compute.get_boot_volume_attachment(attached.data.id), "ATTACHED").display_name == "swapped"
    compute.instance_action(instance_id, "START")
    assert wait(compute, compute.get_instance(instance_id), "RUNNING").id == instance_id
    assert sim.admin.sha256(restored.id, 64 << 20) == sim.admin.sha256(old_boot, 64 << 20)
    assert storage.get_boot_volume(old_boot).data.lifecycle_state == "AVAILABLE"  # kept until the user deletes it
    storage.delete_boot_volume(old_boot)  # detached: deletable now
    in_use = service_error(storage.delete_boot_volume, restored.id)
    assert in_use.status == 409
