"""Compute API (20160918): images, instances, volume, boot volume and VNIC attachments, plus the Virtual
Network reads an instance needs (VNIC, subnet, VCN). Paths and fields follow oci/core/compute_client.py and
virtual_network_client.py."""

from __future__ import annotations

import hashlib
import json

from ..backend.compute import compatibility
from ..errors import missing
from ..routing import Response, Route, filtered, page, sort

V = "/20160918"


def _with_wr(resource: dict, wr: dict | None, status: int = 200) -> Response:
    """A resource answer with the `opc-work-request-id` OCI returns for tracked operations, and its etag."""
    headers = {"opc-work-request-id": wr["id"]} if wr else {}
    if resource is not None:
        headers["etag"] = hashlib.md5(json.dumps(resource, sort_keys=True, default=str).encode()).hexdigest()
    return Response(status, resource, headers)


def _required(req, name: str) -> str:
    value = req.q(name)
    if not value:
        raise missing(name)
    return value


def _bool_q(req, name: str, default: bool = False) -> bool:
    value = req.q(name)
    return default if value is None else value.lower() == "true"


# -- images --------------------------------------------------------------------------------------------
def create_image(sim, req):
    image, wr = sim.compute.create_image(req.region, req.json(), req.injected)
    return _with_wr(image, wr)


def get_image(sim, req):
    return sim.compute.get_image(req.params["imageId"], req.region)


def list_images(sim, req):
    items = sim.compute.list_images(req.region, req.q("compartmentId"))
    if not req.q("lifecycleState"):
        items = [i for i in items if i["lifecycle_state"] != "DELETED"]
    items = filtered(items, req, displayName="display_name", operatingSystem="operating_system",
                     operatingSystemVersion="operating_system_version", lifecycleState="lifecycle_state")
    if req.q("shape"):  # the images compatible with that shape
        items = [i for i in items if req.q("shape") in compatibility.entries_of(i)]
    return page(sort(items, req), req)


def list_image_shapes(sim, req):
    return page(sim.compute.list_image_shapes(req.params["imageId"], req.region), req)


def get_image_shape(sim, req):
    return sim.compute.get_image_shape(req.params["imageId"], req.params["shapeName"], req.region)


def add_image_shape(sim, req):
    return sim.compute.add_image_shape(req.params["imageId"], req.params["shapeName"], req.region, req.json() or {})


def remove_image_shape(sim, req):
    sim.compute.remove_image_shape(req.params["imageId"], req.params["shapeName"], req.region)
    return Response(204, None)


def update_image(sim, req):
    return sim.compute.update_image(req.params["imageId"], req.region, req.json())


def delete_image(sim, req):
    sim.compute.delete_image(req.params["imageId"], req.region)


def export_image(sim, req):
    image, wr = sim.compute.export_image(req.params["imageId"], req.region, req.json(), req.injected)
    return _with_wr(image, wr)


# -- instances -----------------------------------------------------------------------------------------
def launch_instance(sim, req):
    instance, wr = sim.compute.launch_instance(req.region, req.json(), req.injected)
    return _with_wr(instance, wr)


def get_instance(sim, req):
    return sim.compute.get_instance(req.params["instanceId"], req.region)


def list_instances(sim, req):
    items = sim.compute.list_instances(req.region, req.q("compartmentId"))
    items = filtered(items, req, availabilityDomain="availability_domain", displayName="display_name",
                     lifecycleState="lifecycle_state")
    return page(sort(items, req), req)


def update_instance(sim, req):
    instance, wr = sim.compute.update_instance(req.params["instanceId"], req.region, req.json(), req.injected)
    return _with_wr(instance, wr)


def list_shapes(sim, req):
    items = sim.compute.list_shapes(req.region, req.q("compartmentId"), req.q("availabilityDomain"))
    if req.q("imageId"):  # the shapes that image is compatible with
        allowed = {e["shape"] for e in sim.compute.list_image_shapes(req.q("imageId"), req.region)}
        items = [s for s in items if s["shape"] in allowed]
    return page(filtered(items, req, shape="shape"), req)


def terminate_instance(sim, req):
    wr = sim.compute.terminate_instance(req.params["instanceId"], req.region,
                                        _bool_q(req, "preserveBootVolume", False), req.injected)
    return Response(204, None, {"opc-work-request-id": wr["id"]} if wr else {})


def instance_action(sim, req):
    instance = sim.compute.instance_action(req.params["instanceId"], req.region, req.q("action"))
    return _with_wr(instance, None)


# -- volume attachments --------------------------------------------------------------------------------
def attach_volume(sim, req):
    attachment, wr = sim.compute.attach_volume(req.region, req.json(), req.injected)
    return _with_wr(attachment, wr)


def get_volume_attachment(sim, req):
    return sim.compute.get_volume_attachment(req.params["volumeAttachmentId"], req.region)


def list_volume_attachments(sim, req):
    items = sim.compute.list_volume_attachments(req.region, req.q("compartmentId"))
    items = filtered(items, req, availabilityDomain="availability_domain", instanceId="instance_id",
                     volumeId="volume_id")
    return page(items, req)


def detach_volume(sim, req):
    wr = sim.compute.detach_volume(req.params["volumeAttachmentId"], req.region, req.injected)
    return Response(204, None, {"opc-work-request-id": wr["id"]})


# -- boot volume and VNIC attachments ------------------------------------------------------------------
def get_boot_volume_attachment(sim, req):
    return sim.compute.get_boot_volume_attachment(req.params["bootVolumeAttachmentId"], req.region)


def list_boot_volume_attachments(sim, req):
    ad = _required(req, "availabilityDomain")
    items = sim.compute.list_boot_volume_attachments(req.region, req.q("compartmentId"))
    items = [a for a in items if a["availability_domain"] == ad]
    items = filtered(items, req, instanceId="instance_id", bootVolumeId="boot_volume_id")
    return page(items, req)


def attach_boot_volume(sim, req):
    attachment, wr = sim.compute.attach_boot_volume(req.region, req.json(), req.injected)
    return _with_wr(attachment, wr)


def detach_boot_volume(sim, req):
    wr = sim.compute.detach_boot_volume(req.params["bootVolumeAttachmentId"], req.region, req.injected)
    return Response(204, None, {"opc-work-request-id": wr["id"]})


def list_vnic_attachments(sim, req):
    items = sim.compute.list_vnic_attachments(req.region, req.q("compartmentId"))
    items = filtered(items, req, availabilityDomain="availability_domain", instanceId="instance_id",
                     vnicId="vnic_id")
    return page(items, req)


def get_vnic_attachment(sim, req):
    return sim.compute.get_vnic_attachment(req.params["vnicAttachmentId"], req.region)


# -- virtual network -----------------------------------------------------------------------------------
def get_vnic(sim, req):
    return sim.compute.get_vnic(req.params["vnicId"], req.region)


def get_subnet(sim, req):
    return sim.compute.get_subnet(req.params["subnetId"], req.region)


def list_subnets(sim, req):
    items = sim.compute.list_subnets(req.region, req.q("compartmentId"), req.q("vcnId"))
    items = filtered(items, req, displayName="display_name", lifecycleState="lifecycle_state")
    return page(sort(items, req), req)


def get_vcn(sim, req):
    return sim.compute.get("vcn", req.params["vcnId"], req.region)


def list_vcns(sim, req):
    items = filtered(sim.compute.list_vcns(req.region, req.q("compartmentId")), req,
                     displayName="display_name", lifecycleState="lifecycle_state")
    return page(sort(items, req), req)


ROUTES = [
    Route("POST", f"{V}/images", "CreateImage", create_image),
    Route("GET", f"{V}/images", "ListImages", list_images),
    Route("GET", f"{V}/images/{{imageId}}", "GetImage", get_image),
    Route("PUT", f"{V}/images/{{imageId}}", "UpdateImage", update_image),
    Route("DELETE", f"{V}/images/{{imageId}}", "DeleteImage", delete_image),
    Route("POST", f"{V}/images/{{imageId}}/actions/export", "ExportImage", export_image),
    Route("GET", f"{V}/images/{{imageId}}/shapes", "ListImageShapeCompatibilityEntries", list_image_shapes),
    Route("GET", f"{V}/images/{{imageId}}/shapes/{{shapeName}}", "GetImageShapeCompatibilityEntry", get_image_shape),
    Route("PUT", f"{V}/images/{{imageId}}/shapes/{{shapeName}}", "AddImageShapeCompatibilityEntry", add_image_shape),
    Route("DELETE", f"{V}/images/{{imageId}}/shapes/{{shapeName}}", "RemoveImageShapeCompatibilityEntry",
          remove_image_shape),
    Route("POST", f"{V}/instances", "LaunchInstance", launch_instance),
    Route("GET", f"{V}/instances", "ListInstances", list_instances),
    Route("GET", f"{V}/instances/{{instanceId}}", "GetInstance", get_instance),
    Route("PUT", f"{V}/instances/{{instanceId}}", "UpdateInstance", update_instance),
    Route("DELETE", f"{V}/instances/{{instanceId}}", "TerminateInstance", terminate_instance),
    Route("GET", f"{V}/shapes", "ListShapes", list_shapes),
    Route("POST", f"{V}/instances/{{instanceId}}", "InstanceAction", instance_action),
    Route("POST", f"{V}/volumeAttachments", "AttachVolume", attach_volume),
    Route("GET", f"{V}/volumeAttachments", "ListVolumeAttachments", list_volume_attachments),
    Route("GET", f"{V}/volumeAttachments/{{volumeAttachmentId}}", "GetVolumeAttachment", get_volume_attachment),
    Route("DELETE", f"{V}/volumeAttachments/{{volumeAttachmentId}}", "DetachVolume", detach_volume),
    Route("GET", f"{V}/bootVolumeAttachments", "ListBootVolumeAttachments", list_boot_volume_attachments),
    Route("POST", f"{V}/bootVolumeAttachments", "AttachBootVolume", attach_boot_volume),
    Route("DELETE", f"{V}/bootVolumeAttachments/{{bootVolumeAttachmentId}}", "DetachBootVolume",
          detach_boot_volume),
    Route("GET", f"{V}/bootVolumeAttachments/{{bootVolumeAttachmentId}}", "GetBootVolumeAttachment",
          get_boot_volume_attachment),
    Route("GET", f"{V}/vnicAttachments", "ListVnicAttachments", list_vnic_attachments),
    Route("GET", f"{V}/vnicAttachments/{{vnicAttachmentId}}", "GetVnicAttachment", get_vnic_attachment),
    Route("GET", f"{V}/vnics/{{vnicId}}", "GetVnic", get_vnic),
    Route("GET", f"{V}/subnets", "ListSubnets", list_subnets),
    Route("GET", f"{V}/subnets/{{subnetId}}", "GetSubnet", get_subnet),
    Route("GET", f"{V}/vcns", "ListVcns", list_vcns),
    Route("GET", f"{V}/vcns/{{vcnId}}", "GetVcn", get_vcn),
]
