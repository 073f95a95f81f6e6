"""Fidelity to OCI's own spec, read from the oci SDK's models: every object ocisim answers, for every resource kind
it serves, has each property the model marks **[Required]**, and every enum value is one the model lists.

How the SDK shows both: a model's `swagger_types` names its properties; a property's docstring starts with
"**[Required]**" when the spec requires it (the SDK's generator writes it from the spec); and an enum property's
setter replaces a value outside its allowed list with "UNKNOWN_ENUM_VALUE" while deserialising. So a walk over
the deserialised models finds both kinds of drift, nested models and lists included."""

from __future__ import annotations

import oci
import oci.core.models as m
from oci.compute_instance_agent import models as agent

WAIT = {"max_interval_seconds": 1, "max_wait_seconds": 60}


def drift(obj, where: str) -> list[str]:
    """Every missing [Required] property and unknown enum value in a deserialised SDK object."""
    if isinstance(obj, list):
        return [p for i, item in enumerate(obj) for p in drift(item, f"{where}[{i}]")]
    if isinstance(obj, dict):
        return [p for key, item in obj.items() for p in drift(item, f"{where}[{key!r}]")]
    if not hasattr(obj, "swagger_types"):
        return ["UNKNOWN_ENUM_VALUE at " + where] if obj == "UNKNOWN_ENUM_VALUE" else []
    found = []
    for name in obj.swagger_types:
        value = getattr(obj, name)
        doc = getattr(type(obj), name).__doc__ or ""
        if value is None and "**[Required]**" in doc:
            found.append(f"{where}.{name} ({type(obj).__name__}): required, missing")
        found += drift(value, f"{where}.{name}")
    return found


def test_the_walk_finds_both_kinds_of_drift():
    """The check can fail: a missing [Required] property, and an enum value the model does not list, nested."""
    entry = m.ImageShapeCompatibilityEntry(shape="VM.Standard2.1")
    volume = m.Volume(id="v", lifecycle_state="MELTING")
    assert drift([entry], "x") == ["x[0].image_id (ImageShapeCompatibilityEntry): required, missing"]
    assert "UNKNOWN_ENUM_VALUE at v.lifecycle_state" in drift(volume, "v")


def test_every_resource_kind_matches_the_sdk_models(ocisim):
    t = ocisim.tenancy
    comp, ad, ns, bucket = t["compartment_id"], t["availability_domains"][0], t["namespace"], t["buckets"][0]
    instance_id, data1, boot_id = t["instances"]["linux1"], t["volumes"]["data1"], t["boot_volumes"]["linux1"]
    identity = ocisim.client(oci.identity.IdentityClient)
    bs = ocisim.client(oci.core.BlockstorageClient)
    compute = ocisim.client(oci.core.ComputeClient)
    network = ocisim.client(oci.core.VirtualNetworkClient)
    objects = ocisim.client(oci.object_storage.ObjectStorageClient)
    work = ocisim.client(oci.work_requests.WorkRequestClient)
    agents = ocisim.client(oci.compute_instance_agent.ComputeInstanceAgentClient)
    bs_ops = oci.core.BlockstorageClientCompositeOperations(bs)

    # make one of each kind the seed lacks
    bs_ops.create_volume_backup_and_wait_for_state(
        m.CreateVolumeBackupDetails(volume_id=data1, type="FULL"), wait_for_states=["AVAILABLE"], waiter_kwargs=WAIT)
    bs_ops.create_boot_volume_backup_and_wait_for_state(
        m.CreateBootVolumeBackupDetails(boot_volume_id=boot_id), wait_for_states=["AVAILABLE"], waiter_kwargs=WAIT)
    group = bs_ops.create_volume_group_and_wait_for_state(m.CreateVolumeGroupDetails(
        compartment_id=comp, availability_domain=ad, display_name="pair",
        source_details=m.VolumeGroupSourceFromVolumesDetails(volume_ids=[boot_id, data1])),
        wait_for_states=["AVAILABLE"], waiter_kwargs=WAIT).data
    bs_ops.create_volume_group_backup_and_wait_for_state(
        m.CreateVolumeGroupBackupDetails(volume_group_id=group.id, type="FULL"), wait_for_states=["AVAILABLE"],
        waiter_kwargs=WAIT)
    command = agents.create_instance_agent_command(agent.CreateInstanceAgentCommandDetails(
        compartment_id=comp, execution_time_out_in_seconds=60, display_name="echo",
        target=agent.InstanceAgentCommandTarget(instance_id=instance_id),
        content=agent.InstanceAgentCommandContent(
            source=agent.InstanceAgentCommandSourceViaTextDetails(text="echo hi"),
            output=agent.InstanceAgentCommandOutputViaTextDetails()))).data
    objects.put_object(ns, bucket, "a/b.txt", b"hello")
    objects.create_preauthenticated_request(ns, bucket, oci.object_storage.models.CreatePreauthenticatedRequestDetails(
        name="read", access_type="ObjectRead", object_name="a/b.txt", time_expires="2099-01-01T00:00:00Z"))
    image_id = t["images"]["Oracle-Linux-9"]
    compute.launch_instance(m.LaunchInstanceDetails(  # a work request
        compartment_id=comp, availability_domain=ad, display_name="web", shape="VM.Standard2.1",
        source_details=m.InstanceSourceViaImageDetails(image_id=image_id),
        create_vnic_details=m.CreateVnicDetails(subnet_id=t["subnet_id"])))

    answers = {
        "tenancy": identity.get_tenancy(t["tenancy_id"]).data,
        "compartments": identity.list_compartments(t["tenancy_id"]).data,
        "compartment": identity.get_compartment(comp).data,
        "availability domains": identity.list_availability_domains(t["tenancy_id"]).data,
        "regions": identity.list_regions().data,
        "region subscriptions": identity.list_region_subscriptions(t["tenancy_id"]).data,
        "volumes": bs.list_volumes(compartment_id=comp).data,
        "volume": bs.get_volume(data1).data,
        "boot volumes": bs.list_boot_volumes(availability_domain=ad, compartment_id=comp).data,
        "boot volume": bs.get_boot_volume(boot_id).data,
        "volume backups": bs.list_volume_backups(comp).data,
        "boot volume backups": bs.list_boot_volume_backups(comp).data,
        "volume groups": bs.list_volume_groups(comp).data,
        "volume group backups": bs.list_volume_group_backups(comp).data,
        "images": compute.list_images(comp).data,
        "image": compute.get_image(image_id).data,
        "image shapes": compute.list_image_shape_compatibility_entries(image_id).data,
        "image shape": compute.get_image_shape_compatibility_entry(image_id, "VM.Standard.E4.Flex").data,
        "instances": compute.list_instances(comp).data,
        "instance": compute.get_instance(instance_id).data,
        "shapes": compute.list_shapes(comp).data,
        "volume attachments": compute.list_volume_attachments(comp).data,
        "boot volume attachments": compute.list_boot_volume_attachments(ad, comp).data,
        "vnic attachments": compute.list_vnic_attachments(comp).data,
        "subnets": network.list_subnets(comp).data,
        "vcns": network.list_vcns(comp).data,
        "namespace buckets": objects.list_buckets(ns, comp).data,
        "bucket": objects.get_bucket(ns, bucket).data,
        "objects": objects.list_objects(ns, bucket, fields="name,size,md5,timeCreated,etag").data,
        "preauthenticated requests": objects.list_preauthenticated_requests(ns, bucket).data,
        "work requests": work.list_work_requests(comp).data,
        "commands": agents.list_instance_agent_commands(comp).data,
        "command": agents.get_instance_agent_command(command.id).data,
        "executions": agents.list_instance_agent_command_executions(comp, instance_id).data,
    }
    # every item of a list by its Get too, where ocisim serves one
    getters = {"volume backups": bs.get_volume_backup, "boot volume backups": bs.get_boot_volume_backup,
               "volume groups": bs.get_volume_group, "volume group backups": bs.get_volume_group_backup,
               "instances": compute.get_instance, "volume attachments": compute.get_volume_attachment,
               "boot volume attachments": compute.get_boot_volume_attachment,
               "vnic attachments": compute.get_vnic_attachment, "subnets": network.get_subnet,
               "vcns": network.get_vcn, "work requests": work.get_work_request}
    for kind, getter in getters.items():
        assert answers[kind], f"ocisim listed no {kind}"
        answers[f"{kind} (get)"] = [getter(item.id).data for item in answers[kind]]
    answers["vnics"] = [network.get_vnic(a.vnic_id).data for a in answers["vnic attachments"]]
    answers["work request errors and logs"] = [
        (work.list_work_request_errors(w.id).data, work.list_work_request_logs(w.id).data)
        for w in answers["work requests"]]

    problems = [p for kind, answer in answers.items() for p in drift(answer, kind)]
    assert problems == []
