"""Instances: launch from an image or a boot volume, power actions, termination."""

from __future__ import annotations

import base64
import binascii
import math
import re

from ...errors import conflict, incorrect_state, invalid, missing
from ...faults import Injected
from ..base import GB, one_of
from . import compatibility, shapes
from .common import ComputeBase, default_name, launch_options

ACTIONS = ("STOP", "START", "SOFTRESET", "RESET", "SOFTSTOP", "SENDDIAGNOSTICINTERRUPT", "DIAGNOSTICREBOOT",
           "REBOOTMIGRATE")
HOSTNAME_RE = re.compile(r"^[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
# Emulated seconds, as seen on OCI for small VMs and volumes.
LAUNCH_SECONDS = 90.0
TERMINATE_SECONDS = 60.0
RESIZE_SECONDS = 120.0
FAULT_DOMAINS = ("FAULT-DOMAIN-1", "FAULT-DOMAIN-2", "FAULT-DOMAIN-3")
# (transitions) by instance action: the states each action walks through, with emulated offsets.
ACTION_STEPS = {
    "STOP": [(0, "STOPPING"), (45, "STOPPED")],
    "SOFTSTOP": [(0, "STOPPING"), (90, "STOPPED")],
    "START": [(0, "STARTING"), (45, "RUNNING")],
    "RESET": [(0, "STOPPING"), (20, "STARTING"), (60, "RUNNING")],
    "SOFTRESET": [(0, "STOPPING"), (60, "STARTING"), (100, "RUNNING")],
    "DIAGNOSTICREBOOT": [(0, "STOPPING"), (30, "STARTING"), (90, "RUNNING")],
    "REBOOTMIGRATE": [(0, "STOPPING"), (60, "STARTING"), (150, "RUNNING")],
}
# The state an action needs, and the state in which repeating it is a harmless no-op (a retried task).
ACTION_FROM = {"STOP": "RUNNING", "SOFTSTOP": "RUNNING", "START": "STOPPED", "RESET": "RUNNING",
               "SOFTRESET": "RUNNING", "DIAGNOSTICREBOOT": "RUNNING", "REBOOTMIGRATE": "RUNNING",
               "SENDDIAGNOSTICINTERRUPT": "RUNNING"}
ACTION_DONE = {"STOP": "STOPPED", "SOFTSTOP": "STOPPED", "START": "RUNNING"}


class InstanceBackend(ComputeBase):
    # -- instances: internal ---------------------------------------------------------------------------
    def make_instance(self, region: str, compartment_id: str, availability_domain: str, display_name: str,
                      shape: str, subnet_id: str | None, boot_volume_id: str, image_id: str | None = None,
                      os_name: str = "Linux", hostname_label: str | None = None,
                      freeform_tags: dict | None = None, metadata: dict | None = None) -> dict:
        """A RUNNING instance on an existing boot volume, with its boot volume attachment and VNIC (seeding)."""
        with self.state.lock:
            image = self.store.find(image_id) if image_id else None
            launch_mode = (image or {}).get("launch_mode") or "NATIVE"
            if image_id:
                boot = self.store.find(boot_volume_id) or {}
                source = {"source_type": "image", "image_id": image_id,
                          "boot_volume_size_in_gbs": boot.get("size_in_gbs")}
            else:
                source = {"source_type": "bootVolume", "boot_volume_id": boot_volume_id}
            instance = self._new_instance(region, compartment_id, availability_domain, display_name, shape,
                                          None, image_id, launch_mode, source, metadata or {}, {},
                                          freeform_tags or {}, {}, None, boot_volume_id, os_name)
            instance["lifecycle_state"] = "RUNNING"
            self.store.put(instance)
            self._boot_attachment(instance, boot_volume_id, ready=True)
            if subnet_id:
                subnet = self.get("subnet", subnet_id, region)
                self._make_vnic(instance, subnet, hostname_label, True, None, None, ready=True)
            return instance

    def _new_instance(self, region: str, compartment_id: str, availability_domain: str, display_name: str,
                      shape: str, shape_config: dict | None, image_id: str | None, launch_mode: str,
                      source_details: dict, metadata: dict, extended_metadata: dict, freeform_tags: dict,
                      defined_tags: dict, agent_config: dict | None, boot_volume_id: str, os_name: str,
                      check_shape: bool = False) -> dict:
        region_key = self.state.region(region).key.lower()
        instance = self.new(
            "instance", "instance", region, availability_domain=availability_domain,
            compartment_id=compartment_id, defined_tags=defined_tags, display_name=display_name,
            extended_metadata=extended_metadata, fault_domain="FAULT-DOMAIN-1", freeform_tags=freeform_tags,
            system_tags={}, image_id=image_id, ipxe_script=None, launch_mode=launch_mode,
            launch_options=launch_options(launch_mode),
            instance_options={"are_legacy_imds_endpoints_disabled": False},
            availability_config={"is_live_migration_preferred": None, "recovery_action": "RESTORE_INSTANCE"},
            lifecycle_state="PROVISIONING", metadata=metadata, shape=shape,
            shape_config=shapes.shape_config(shape, shape_config,
                                             _ad_number(availability_domain) if check_shape else None),
            is_cross_numa_node=False,
            source_details=source_details, agent_config=_agent_config(agent_config),
            platform_config=None, time_maintenance_reboot_due=None,
            _boot_volume_id=boot_volume_id, _os=os_name)
        # OCI answers the short code for its two oldest regions and the full name for the others.
        instance["region"] = region_key if region in ("us-ashburn-1", "us-phoenix-1") else region
        return instance

    # -- instances: API --------------------------------------------------------------------------------
    def launch_instance(self, region: str, d: dict, injected: Injected | None = None) -> tuple[dict, dict]:
        """LaunchInstance from an image or an existing boot volume; PROVISIONING, then RUNNING.

        A hostname already used in the subnet fails as on OCI: the launch is accepted, then its work request
        FAILS with code vcn-error and the instance ends TERMINATED."""
        compartment_id = self.compartment(d.get("compartment_id"))
        ad = d.get("availability_domain")
        if not ad:
            raise missing("availabilityDomain")
        if ad not in self.identity.ad_names(region):
            raise invalid(f"Invalid availabilityDomain '{ad}'; must be one of "
                          f"{', '.join(self.identity.ad_names(region))}.")
        shape = d.get("shape")
        if not shape:
            raise missing("shape")
        if not re.match(r"^(VM|BM)\.[A-Za-z0-9.]+$", shape):
            raise invalid(f"Invalid shape '{shape}': a shape name looks like VM.Standard.E4.Flex.")
        metadata = d.get("metadata") or {}
        _check_metadata(metadata)
        vnic_details = d.get("create_vnic_details") or {}
        self.check_references(d)
        self.check_references(vnic_details, "createVnicDetails.")
        subnet_id = vnic_details.get("subnet_id") or d.get("subnet_id")
        if not subnet_id:
            raise missing("createVnicDetails.subnetId")
        hostname = vnic_details.get("hostname_label") or d.get("hostname_label")
        source = d.get("source_details")
        if not source and d.get("image_id"):
            source = {"source_type": "image", "image_id": d["image_id"]}
        if not source:
            raise missing("sourceDetails")
        self.check_references(source, "sourceDetails.")
        with self.state.lock:
            subnet = self.get("subnet", subnet_id, region)
            if hostname is not None:
                if not HOSTNAME_RE.match(hostname):
                    raise invalid(f"hostnameLabel '{hostname}': must be 1 to 63 letters, digits and hyphens, "
                                  f"start with a letter and not end with a hyphen (RFC 952 and RFC 1123).")
                if not subnet.get("dns_label"):
                    raise invalid(f"hostnameLabel '{hostname}': subnet {subnet_id} has no DNS label, so its "
                                  f"VNICs cannot have hostnames.")
            source_type = source.get("source_type")
            now = self.state.now()
            display_name = d.get("display_name") or default_name("instance", now)
            if source_type == "image":
                image, boot_size = self._launch_image(source, region)
                image_id, launch_mode = image["id"], image["launch_mode"]
                source_details = {"source_type": "image", "image_id": image_id,
                                  "boot_volume_size_in_gbs": boot_size}
                boot = None
                os_name = "Windows" if "windows" in (image.get("operating_system") or "").lower() else "Linux"
            elif source_type == "bootVolume":
                boot = self._launch_boot_volume(source, region, ad)
                image_id = boot.get("image_id")
                image = self.store.find(image_id) if image_id else None
                launch_mode = (image or {}).get("launch_mode") or "NATIVE"
                source_details = {"source_type": "bootVolume", "boot_volume_id": boot["id"]}
                os_name = "Windows" if "windows" in ((image or {}).get("operating_system") or "").lower() \
                    else "Linux"
            else:
                raise invalid(f"Invalid sourceDetails.sourceType '{source_type}'; must be one of image, "
                              f"bootVolume.")
            taken = hostname is not None and self._hostname_taken(subnet_id, hostname)
            if hostname is None and subnet.get("dns_label") and vnic_details.get("assign_private_dns_record",
                                                                                  True):
                hostname = self._generated_hostname(subnet_id, display_name)
            instance = self._new_instance(
                region, compartment_id, ad, display_name, shape, d.get("shape_config"), image_id, launch_mode,
                source_details, metadata, d.get("extended_metadata") or {}, d.get("freeform_tags") or {},
                d.get("defined_tags") or {}, d.get("agent_config"), boot["id"] if boot else "", os_name,
                check_shape=True)
            if source_type == "image":  # the image's compatible shapes, and its firmware (compatibility.py)
                compatibility.check_launch(image, shape, instance["shape_config"])
                instance["launch_options"]["firmware"] = (image.get("launch_options") or {}).get(
                    "firmware", instance["launch_options"]["firmware"])
            instance["launch_options"]["is_pv_encryption_in_transit_enabled"] = bool(
                d.get("is_pv_encryption_in_transit_enabled"))
            if d.get("ipxe_script"):
                instance["ipxe_script"] = d["ipxe_script"]
            took = self.duration(LAUNCH_SECONDS, (image or {}).get("_size", 0) if source_type == "image" else 0,
                                 0.5)
            fail = None
            if taken:
                fail = ("vcn-error", f"A problem occurred while preparing the instance's VNIC. (Hostname "
                                     f"{hostname} is already used in subnet {subnet_id})")
            wr = self._work_request("LaunchInstance", instance, took, fail=fail, injected=injected)
            failed = self.workrequests.failed(wr)
            if source_type == "image":
                boot = self.blockstorage.make_volume(
                    "bootvolume", region, compartment_id, ad, f"{display_name} (Boot Volume)", boot_size,
                    blocks=dict(image["_blocks"]), freeform_tags=d.get("freeform_tags") or {},
                    image_id=image_id, ready_after=took / 2)
                instance["_boot_volume_id"] = boot["id"]
            if failed:
                self.store.schedule(instance, [(took / 2, {"lifecycle_state": "TERMINATING"}),
                                               (took, {"lifecycle_state": "TERMINATED"})])
                if source_type == "image":
                    self.blockstorage.terminate_later(boot["id"], took * 0.8, took)
                return instance, wr
            self.store.schedule(instance, [(took, {"lifecycle_state": "RUNNING"})])
            self._boot_attachment(instance, boot["id"], ready=False, delay=took * 0.8)
            vnic, vatt = self._make_vnic(instance, subnet, None if taken else hostname,
                                         vnic_details.get("assign_public_ip", not subnet["prohibit_public_ip_on_vnic"]),
                                         vnic_details.get("display_name"), vnic_details.get("freeform_tags"),
                                         ready=False)
            self.store.schedule(vnic, [(took * 0.6, {"lifecycle_state": "AVAILABLE"})])
            self.store.schedule(vatt, [(took * 0.6, {"lifecycle_state": "ATTACHED"})])
            return instance, wr

    def _launch_source(self, source: dict, region: str, kind: str, field: str, wire: str, noun: str) -> dict:
        """The image or boot volume a launch starts from: named, in this region, AVAILABLE."""
        resource_id = source.get(field)
        if not resource_id:
            raise missing(f"sourceDetails.{wire}")
        found = self.get(kind, resource_id, region)
        if found["lifecycle_state"] != "AVAILABLE":
            raise incorrect_state(f"{noun} {resource_id} is {found['lifecycle_state']}; an instance launches only "
                                  f"from an AVAILABLE {noun.lower()}.")
        return found

    def _launch_image(self, source: dict, region: str) -> tuple[dict, int]:
        image = self._launch_source(source, region, "image", "image_id", "imageId", "Image")
        image_gbs = max(1, math.ceil(image["_size"] / GB))
        size = source.get("boot_volume_size_in_gbs")
        if size is None:
            return image, image_gbs
        try:
            size = int(size)
        except (TypeError, ValueError) as exc:
            raise invalid(f"bootVolumeSizeInGBs '{size}' must be an integer.") from exc
        if size < max(50, image_gbs) or size > 32768:
            raise invalid(f"bootVolumeSizeInGBs {size}: must be between {max(50, image_gbs)} (at least 50 GB "
                          f"and the image size) and 32768.")
        return image, size

    def _launch_boot_volume(self, source: dict, region: str, ad: str) -> dict:
        boot = self._launch_source(source, region, "bootvolume", "boot_volume_id", "bootVolumeId", "Boot volume")
        boot_id = boot["id"]
        if boot["availability_domain"] != ad:
            raise invalid(f"Boot volume {boot_id} is in {boot['availability_domain']}; the instance must be "
                          f"launched in the same availability domain, not {ad}.")
        users = self.attachments_of(boot_id)
        if users:
            raise conflict(f"Boot volume {boot_id} is attached to instance {users[0]['instance_id']} "
                           f"(attachment {users[0]['id']}); detach it or terminate that instance first.")
        return boot

    def list_shapes(self, region: str, compartment_id: str, availability_domain: str | None) -> list[dict]:
        """ListShapes: what one AD offers, or every shape any AD of the region offers."""
        self.compartment(compartment_id)
        ads = self.identity.ad_names(region)
        if availability_domain and availability_domain not in ads:
            raise invalid(f"Invalid availabilityDomain '{availability_domain}'; must be one of {', '.join(ads)}.")
        numbers = {_ad_number(availability_domain)} if availability_domain else {_ad_number(a) for a in ads}
        return [shapes.describe(s) for s in shapes.SHAPES.values() if numbers & set(s.ads)]

    def get_instance(self, instance_id: str, region: str) -> dict:
        return self.get("instance", instance_id, region)

    def list_instances(self, region: str, compartment_id: str) -> list[dict]:
        self.compartment(compartment_id)
        return self.store.list("instance", region, where=lambda i: i["compartment_id"] == compartment_id)

    def terminate_instance(self, instance_id: str, region: str, preserve_boot_volume: bool,
                           injected: Injected | None = None) -> dict | None:
        """TerminateInstance: every attachment goes DETACHED, the boot volume TERMINATED unless preserved."""
        with self.state.lock:
            instance = self.get("instance", instance_id, region)
            state = instance["lifecycle_state"]
            if state in ("TERMINATING", "TERMINATED"):
                return None
            if state == "CREATING_IMAGE":
                raise incorrect_state(f"Instance {instance_id} is CREATING_IMAGE; it can be terminated when the "
                                      f"image is done.")
            took = TERMINATE_SECONDS
            wr = self._work_request("TerminateInstance", instance, took, injected=injected)
            self.store.schedule(instance, [(0, {"lifecycle_state": "TERMINATING"}),
                                           (took, {"lifecycle_state": "TERMINATED"})])
            self.detach_all(instance_id, volumes_after=took * 0.5, boot_after=took * 0.8)
            self.release_vnics(instance_id, took * 0.8)
            if not preserve_boot_volume and instance.get("_boot_volume_id"):
                self.blockstorage.terminate_later(instance["_boot_volume_id"], took * 0.8, took)
            return wr

    def update_instance(self, instance_id: str, region: str, d: dict,
                        injected: Injected | None = None) -> tuple[dict, dict | None]:
        """UpdateInstance: name, tags, metadata, agent settings, fault domain, and a new shape or Flex size.
        A shape change of a RUNNING instance reboots it (STOPPING, STARTING, RUNNING) under a work request; a
        STOPPED instance just takes the new shape."""
        self.check_references(d)
        if d.get("metadata") is not None:
            _check_metadata(d["metadata"])
        with self.state.lock:
            instance = self.get("instance", instance_id, region)
            state = instance["lifecycle_state"]
            if state in ("TERMINATING", "TERMINATED"):
                raise incorrect_state(f"Instance {instance_id} is {state}; it cannot be updated.")
            new_shape = d.get("shape") or instance["shape"]
            resize = d.get("shape") not in (None, instance["shape"]) or d.get("shape_config") is not None
            if resize:
                if state not in ("RUNNING", "STOPPED") or self.store.pending(instance):
                    raise incorrect_state(f"Instance {instance_id} is {state}; its shape can be changed when it is "
                                          f"RUNNING or STOPPED.")
                config = shapes.shape_config(new_shape, d.get("shape_config"),
                                             _ad_number(instance["availability_domain"]))
            for field in ("display_name", "freeform_tags", "defined_tags", "metadata", "extended_metadata"):
                if d.get(field) is not None:
                    instance[field] = d[field]
            if d.get("agent_config") is not None:
                instance["agent_config"] = _agent_config({**instance["agent_config"], **d["agent_config"]})
            if d.get("fault_domain"):
                if d["fault_domain"] not in FAULT_DOMAINS:
                    raise invalid(f"Invalid faultDomain '{d['fault_domain']}'; must be one of "
                                  f"{', '.join(FAULT_DOMAINS)}.")
                instance["fault_domain"] = d["fault_domain"]
            if not resize:
                return self.store.put(instance), None
            instance["shape"], instance["shape_config"] = new_shape, config
            took = RESIZE_SECONDS if state == "RUNNING" else 1.0
            wr = self._work_request("UpdateInstance", instance, took, injected=injected)
            if state == "RUNNING":
                self.store.schedule(instance, [(0, {"lifecycle_state": "STOPPING"}),
                                               (took / 2, {"lifecycle_state": "STARTING"}),
                                               (took, {"lifecycle_state": "RUNNING"})])
            else:
                self.store.put(instance)
            return instance, wr

    def instance_action(self, instance_id: str, region: str, action: str) -> dict:
        """InstanceAction: a power action walks its states; 409 IncorrectState where it does not apply.

        Repeating STOP/SOFTSTOP on a STOPPED or START on a RUNNING instance changes nothing (a retried task
        must not fail)."""
        if not action:
            raise missing("action")
        one_of("action", action, ACTIONS)
        with self.state.lock:
            instance = self.get("instance", instance_id, region)
            state = instance["lifecycle_state"]
            pending = self.store.pending(instance)
            heading_to = pending[-1][1].get("lifecycle_state") if pending else state
            if ACTION_DONE.get(action) == heading_to and state != "CREATING_IMAGE":
                return instance
            if state != ACTION_FROM[action] or pending:
                raise incorrect_state(f"Instance {instance_id} is {state}; the {action} action applies to a "
                                      f"{ACTION_FROM[action]} instance.")
            if action == "SENDDIAGNOSTICINTERRUPT":
                return instance
            if action == "START" and not self.boot_attachment_of(instance_id):
                raise incorrect_state(f"Instance {instance_id} has no boot volume attached; attach one "
                                      f"(AttachBootVolume) before starting it.")
            return self.store.schedule(instance, [(delay, {"lifecycle_state": s})
                                                  for delay, s in ACTION_STEPS[action]])


def _agent_config(requested: dict | None) -> dict:
    requested = requested or {}
    return {"is_monitoring_disabled": bool(requested.get("is_monitoring_disabled", False)),
            "is_management_disabled": bool(requested.get("is_management_disabled", False)),
            "are_all_plugins_disabled": bool(requested.get("are_all_plugins_disabled", False)),
            "plugins_config": requested.get("plugins_config") or []}


def _check_metadata(metadata: dict) -> None:
    """OCI's limits: string values, 32,000 bytes in all, `user_data` base64-encoded."""
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise invalid("metadata: keys and values must be strings.")
    total = sum(len(k.encode()) + len(v.encode()) for k, v in metadata.items())
    if total > 32000:
        raise invalid(f"metadata: {total} bytes; the metadata of an instance is limited to 32,000 bytes.")
    user_data = metadata.get("user_data")
    if user_data is not None:
        try:
            base64.b64decode(user_data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise invalid("metadata.user_data: must be base64-encoded.") from exc


def _ad_number(availability_domain: str) -> int:
    """1 for 'Uocm:US-ASHBURN-AD-1'."""
    return int(availability_domain.rsplit("-", 1)[-1])
