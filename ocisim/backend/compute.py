"""Compute backend: images, instances, volume and boot volume attachments, and the small slice of Virtual
Network (VCN, subnet, VNIC) an instance needs.

Internal API the agent, seed, admin API and block storage rely on (keep these signatures):
`make_subnet`, `make_image`, `make_instance`, `make_attachment`, `attached_devices`, `content_of`,
`attachments_of`.

OCI rules honoured here (docs/architecture.md): an image of an instance needs every iSCSI attachment disconnected
first; the instance is unavailable (CREATING_IMAGE) while its image is taken, then restarts; one image per
instance at a time, with a 20-minute window before the same instance can be imaged again; image import and
export are limited to 400 GB, import reads only VMDK and QCOW2, and a refused import ends in a FAILED work
request with OCI-style text, not in a synchronous error.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import re
import secrets
import tempfile
import uuid
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

from .. import formats
from ..clock import iso
from ..errors import OciError, conflict, incorrect_state, invalid, missing, not_found
from .base import GB, Backend, one_of

MIB = 1 << 20
# OCI's "GB" for disks and images is binary (block volume sizes are GiB under that name), so the 400 GB
# import/export ceiling is 400 * 2**30 bytes.
IMAGE_LIMIT_GB = 400
IMAGE_LIMIT_BYTES = IMAGE_LIMIT_GB * GB
IMAGE_WINDOW_SECONDS = 20 * 60

LAUNCH_MODES = ("NATIVE", "EMULATED", "PARAVIRTUALIZED", "ACCELERATEDPV", "CUSTOM")
IMPORT_LAUNCH_MODES = ("NATIVE", "EMULATED", "PARAVIRTUALIZED", "CUSTOM")
IMPORT_FORMATS = ("VMDK", "QCOW2")
EXPORT_FORMATS = ("QCOW2", "VMDK", "OCI", "VHD", "VDI")
ACTIONS = ("STOP", "START", "SOFTRESET", "RESET", "SOFTSTOP", "SENDDIAGNOSTICINTERRUPT", "DIAGNOSTICREBOOT",
           "REBOOTMIGRATE")
ACTIVE_ATTACHMENT = ("ATTACHING", "ATTACHED")
HOSTNAME_RE = re.compile(r"^[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
DEVICE_RE = re.compile(r"^/dev/oracleoci/oraclevd([a-z]{1,2})$")
OBJECT_PATH_RE = re.compile(r"/n/([^/]+)/b/([^/]+)/o/(.+)$")

# Emulated seconds, as seen on OCI for small VMs and volumes.
LAUNCH_SECONDS = 90.0
TERMINATE_SECONDS = 60.0
ATTACH_SECONDS = 30.0
DETACH_SECONDS = 20.0

LAUNCH_OPTIONS = {
    "NATIVE": {"boot_volume_type": "PARAVIRTUALIZED", "firmware": "UEFI_64", "network_type": "VFIO",
               "remote_data_volume_type": "PARAVIRTUALIZED"},
    "PARAVIRTUALIZED": {"boot_volume_type": "PARAVIRTUALIZED", "firmware": "BIOS",
                        "network_type": "PARAVIRTUALIZED", "remote_data_volume_type": "PARAVIRTUALIZED"},
    "EMULATED": {"boot_volume_type": "ISCSI", "firmware": "BIOS", "network_type": "E1000",
                 "remote_data_volume_type": "ISCSI"},
    "ACCELERATEDPV": {"boot_volume_type": "PARAVIRTUALIZED", "firmware": "UEFI_64", "network_type": "ACCELERATEDPV",
                      "remote_data_volume_type": "PARAVIRTUALIZED"},
    "CUSTOM": {"boot_volume_type": "PARAVIRTUALIZED", "firmware": "BIOS", "network_type": "PARAVIRTUALIZED",
               "remote_data_volume_type": "PARAVIRTUALIZED"},
}

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


class ComputeBackend(Backend):
    # -- virtual network -------------------------------------------------------------------------------
    def make_subnet(self, region: str, compartment_id: str, display_name: str, cidr_block: str,
                    dns_label: str) -> dict:
        """A subnet (and its VCN) to launch into; AVAILABLE at once."""
        net = ipaddress.ip_network(cidr_block, strict=False)
        with self.sim.lock:
            vcn = next((v for v in self.store.list("vcn", region)
                        if net.subnet_of(ipaddress.ip_network(v["cidr_block"]))), None)
            if vcn is None:
                vcn = self._make_vcn(region, compartment_id, net)
            vcn_domain = vcn["vcn_domain_name"]
            subnet = self.new(
                "subnet", "subnet", region, availability_domain=None, cidr_block=str(net),
                ipv4_cidr_blocks=[str(net)], compartment_id=compartment_id, defined_tags={},
                dhcp_options_id=vcn["default_dhcp_options_id"], display_name=display_name,
                dns_label=dns_label, freeform_tags={}, lifecycle_state="AVAILABLE",
                prohibit_internet_ingress=False, prohibit_public_ip_on_vnic=False,
                route_table_id=vcn["default_route_table_id"],
                security_list_ids=[vcn["default_security_list_id"]],
                subnet_domain_name=f"{dns_label}.{vcn_domain}" if dns_label else None,
                vcn_id=vcn["id"], virtual_router_ip=str(net.network_address + 1),
                virtual_router_mac="00:00:17:" + ":".join(f"{b:02X}" for b in secrets.token_bytes(3)),
                _next_host=2)
            return self.store.put(subnet)

    def _make_vcn(self, region: str, compartment_id: str, subnet_net) -> dict:
        cidr = subnet_net.supernet(new_prefix=16) if subnet_net.prefixlen > 16 else subnet_net
        key = self.sim.region(region).key.lower()
        vcn = self.new("vcn", "vcn", region, cidr_block=str(cidr), cidr_blocks=[str(cidr)],
                       compartment_id=compartment_id, display_name="ocisim-vcn", dns_label="ocisimvcn",
                       freeform_tags={}, defined_tags={}, lifecycle_state="AVAILABLE",
                       vcn_domain_name="ocisimvcn.oraclevcn.com",
                       default_dhcp_options_id=f"ocid1.dhcpoptions.oc1.{key}.aaaa{secrets.token_hex(20)}",
                       default_route_table_id=f"ocid1.routetable.oc1.{key}.aaaa{secrets.token_hex(20)}",
                       default_security_list_id=f"ocid1.securitylist.oc1.{key}.aaaa{secrets.token_hex(20)}")
        return self.store.put(vcn)

    def _allocate_ip(self, subnet: dict) -> str:
        """The next free private IP: OCI keeps the first two and the last address of a subnet."""
        net = ipaddress.ip_network(subnet["cidr_block"])
        host = subnet.get("_next_host", 2)
        if host >= net.num_addresses - 1:
            raise conflict(f"Subnet {subnet['id']} has no free private IP addresses left.")
        subnet["_next_host"] = host + 1
        self.store.put(subnet)
        return str(net.network_address + host)

    def _hostname_taken(self, subnet_id: str, label: str) -> bool:
        return any(v["hostname_label"] and v["hostname_label"].lower() == label.lower()
                   for v in self.store.list("vnic", where=lambda v: v["subnet_id"] == subnet_id
                                            and v["lifecycle_state"] in ("PROVISIONING", "AVAILABLE")))

    def _generated_hostname(self, subnet_id: str, display_name: str) -> str:
        """OCI derives a hostname from the display name when none is given, kept unique in the subnet."""
        base = re.sub(r"[^a-z0-9-]+", "-", display_name.lower()).strip("-")[:55] or "instance"
        if not base[0].isalpha():
            base = "i" + base
        label, n = base, 1
        while self._hostname_taken(subnet_id, label):
            n += 1
            label = f"{base}-{n}"
        return label

    def _make_vnic(self, instance: dict, subnet: dict, hostname_label: str | None, assign_public_ip: bool,
                   display_name: str | None, freeform_tags: dict | None, ready: bool) -> tuple[dict, dict]:
        vnic = self.new("vnic", "vnic", instance["_region"], availability_domain=instance["availability_domain"],
                        compartment_id=instance["compartment_id"], defined_tags={},
                        display_name=display_name or instance["display_name"],
                        freeform_tags=freeform_tags or {}, hostname_label=hostname_label, is_primary=True,
                        lifecycle_state="AVAILABLE" if ready else "PROVISIONING",
                        mac_address="02:00:17:" + ":".join(f"{b:02X}" for b in secrets.token_bytes(3)),
                        nsg_ids=[], private_ip=self._allocate_ip(subnet),
                        public_ip=(f"129.213.{secrets.randbelow(256)}.{1 + secrets.randbelow(254)}"
                                   if assign_public_ip else None),
                        skip_source_dest_check=False, subnet_id=subnet["id"], ipv6_addresses=[],
                        route_table_id=None)
        attachment = self.new("vnicattachment", "vnicattachment", instance["_region"],
                              availability_domain=instance["availability_domain"],
                              compartment_id=instance["compartment_id"], display_name=None,
                              instance_id=instance["id"],
                              lifecycle_state="ATTACHED" if ready else "ATTACHING", nic_index=0,
                              subnet_id=subnet["id"], vlan_tag=0, vnic_id=vnic["id"])
        return self.store.put(vnic), self.store.put(attachment)

    def get_subnet(self, subnet_id: str, region: str) -> dict:
        return self.get("subnet", subnet_id, region)

    def list_subnets(self, region: str, compartment_id: str, vcn_id: str | None) -> list[dict]:
        self.compartment(compartment_id)
        return self.store.list("subnet", region, where=lambda s: s["compartment_id"] == compartment_id
                               and (not vcn_id or s["vcn_id"] == vcn_id))

    def list_vcns(self, region: str, compartment_id: str) -> list[dict]:
        self.compartment(compartment_id)
        return self.store.list("vcn", region, where=lambda v: v["compartment_id"] == compartment_id)

    # -- images: internal ------------------------------------------------------------------------------
    def make_image(self, region: str, compartment_id: str, display_name: str, operating_system: str,
                   operating_system_version: str, blocks: dict, size_in_gbs: int = 47) -> dict:
        """A platform-like image holding `blocks`, AVAILABLE at once (seeding)."""
        image = self._new_image(region, compartment_id, display_name, operating_system,
                                operating_system_version, "NATIVE", None, {}, blocks, size_in_gbs * GB)
        image["lifecycle_state"] = "AVAILABLE"
        return self.store.put(image)

    def _new_image(self, region: str, compartment_id: str, display_name: str, operating_system: str,
                   operating_system_version: str, launch_mode: str, base_image_id: str | None,
                   freeform_tags: dict, blocks: dict, size: int) -> dict:
        return self.new(
            "image", "image", region, base_image_id=base_image_id, compartment_id=compartment_id,
            create_image_allowed=True, defined_tags={}, display_name=display_name,
            freeform_tags=freeform_tags or {}, launch_mode=launch_mode,
            launch_options=_launch_options(launch_mode), lifecycle_state="PROVISIONING",
            operating_system=operating_system, operating_system_version=operating_system_version,
            agent_features=None, listing_type="NONE", size_in_mbs=math.ceil(size / MIB),
            billable_size_in_gbs=math.ceil(self.content.stored_bytes(blocks) / GB), _blocks=blocks, _size=size)

    def content_of(self, resource_id: str) -> tuple[dict, int] | None:
        """(block map, size in bytes) of an image; None for other ids."""
        res = self.store.find(resource_id)
        if res is None or res["_kind"] != "image" or res.get("_blocks") is None:
            return None
        return res["_blocks"], res["_size"]

    # -- images: API -----------------------------------------------------------------------------------
    def create_image(self, region: str, details: dict) -> tuple[dict, dict]:
        """CreateImage from an instance or from Object Storage; returns (image, work request)."""
        compartment_id = self.compartment(details.get("compartment_id"))
        launch_mode = details.get("launch_mode")
        if launch_mode is not None:
            one_of("launchMode", launch_mode, LAUNCH_MODES)
        source = details.get("image_source_details")
        instance_id = details.get("instance_id")
        if instance_id and source:
            raise invalid("Specify either instanceId or imageSourceDetails, not both.")
        if instance_id:
            return self._image_from_instance(region, compartment_id, instance_id, details)
        if source:
            return self._import_image(region, compartment_id, source, details)
        raise missing("instanceId")

    def _image_from_instance(self, region: str, compartment_id: str, instance_id: str,
                             details: dict) -> tuple[dict, dict]:
        """The instance's boot volume as it is now, under OCI's imaging rules (see the module docstring)."""
        with self.sim.lock:
            instance = self.get("instance", instance_id, region)
            now = self.sim.now()
            allowed_after = instance.get("_image_allowed_after") or 0.0
            if now < allowed_after:  # Conflict, which the SDK does not retry: the caller waits for the window
                raise conflict(
                    f"An image of instance {instance_id} was started at {iso(instance['_image_started'])}; OCI "
                    f"creates one image per instance at a time, and another image of this instance is allowed "
                    f"after {iso(allowed_after)} (in {math.ceil((allowed_after - now) / 60)} minute(s)).")
            state = instance["lifecycle_state"]
            if state not in ("RUNNING", "STOPPED"):
                raise incorrect_state(f"Instance {instance_id} is {state}; an image can be created only of a "
                                      f"RUNNING or STOPPED instance.")
            iscsi = [a for a in self._volume_attachments(instance_id)
                     if a["attachment_type"] == "iscsi" and a["lifecycle_state"] in ACTIVE_ATTACHMENT]
            if iscsi:
                names = "; ".join(f"{a['id']} (volume {a['volume_id']}, device {a.get('device') or 'none'})"
                                  for a in iscsi)
                raise conflict(f"Instance {instance_id} has iSCSI volume attachments that must be disconnected "
                               f"and detached before an image is created: {names}.")
            boot_id = instance["_boot_volume_id"]
            blocks, size = self.sim.blockstorage.content_of(boot_id)
            base = self.store.find(instance.get("image_id") or "") or {}
            image = self._new_image(
                region, compartment_id, details.get("display_name") or _default_name("image", now),
                base.get("operating_system") or instance.get("_os") or "Custom",
                base.get("operating_system_version") or "", details.get("launch_mode") or instance["launch_mode"],
                instance.get("image_id"), details.get("freeform_tags") or {}, dict(blocks), size)
            image["defined_tags"] = details.get("defined_tags") or {}
            took = self.duration(420, self.content.stored_bytes(blocks), 60)
            wr = self._work_request("CreateImage", image, took)
            failed = self.sim.workrequests.failed(wr)
            self.store.schedule(image, [(took, {"lifecycle_state": "DELETED" if failed else "AVAILABLE"})])
            instance["_image_started"] = now
            instance["_image_allowed_after"] = now + IMAGE_WINDOW_SECONDS
            back = [(took, {"lifecycle_state": "STARTING"}), (took + 30, {"lifecycle_state": "RUNNING"})] \
                if state == "RUNNING" else [(took, {"lifecycle_state": "STOPPED"})]
            self.store.schedule(instance, [(0, {"lifecycle_state": "CREATING_IMAGE"}), *back])
            return image, wr

    def _import_image(self, region: str, compartment_id: str, source: dict, details: dict) -> tuple[dict, dict]:
        """Import a VMDK or QCOW2 object. OCI checks the object asynchronously, so a missing object, an
        unsupported format or a virtual size over 400 GB all end in a FAILED work request (and the image
        DELETED), never in a synchronous error. The file is decoded now; the outcome shows at completion."""
        source_type = source.get("source_type")
        if source_type == "objectStorageTuple":
            namespace, bucket, name = (source.get("namespace_name"), source.get("bucket_name"),
                                       source.get("object_name"))
            for field, value in (("namespaceName", namespace), ("bucketName", bucket), ("objectName", name)):
                if not value:
                    raise missing(f"imageSourceDetails.{field}")
            obj_region = region
        elif source_type == "objectStorageUri":
            uri = source.get("source_uri")
            if not uri:
                raise missing("imageSourceDetails.sourceUri")
            obj_region, namespace, bucket, name = self._parse_object_uri(uri, region, "sourceUri")
        else:
            raise invalid(f"Invalid imageSourceDetails.sourceType '{source_type}'; must be one of "
                          f"objectStorageTuple, objectStorageUri.")
        wanted = source.get("source_image_type")
        if wanted is not None:
            one_of("sourceImageType", wanted, IMPORT_FORMATS)
        launch_mode = one_of("launchMode", details.get("launch_mode") or "PARAVIRTUALIZED", IMPORT_LAUNCH_MODES)
        blocks, size, stored_size, reason = self._decode_object(obj_region, namespace, bucket, name, wanted)
        now = self.sim.now()
        image = self._new_image(
            region, compartment_id, details.get("display_name") or _default_name("image", now),
            source.get("operating_system") or "Custom", source.get("operating_system_version") or "",
            launch_mode, None, details.get("freeform_tags") or {}, blocks or {}, size)
        image["lifecycle_state"] = "IMPORTING"
        image["defined_tags"] = details.get("defined_tags") or {}
        if reason:
            image["_blocks"] = None
        took = self.duration(600, stored_size, 120)
        fail = ("ImageImportFailed", f"The image could not be imported: {reason}") if reason else None
        with self.sim.lock:
            wr = self._work_request("CreateImage", image, took, fail=fail)
            failed = self.sim.workrequests.failed(wr)
            self.store.schedule(image, [(took, {"lifecycle_state": "DELETED" if failed else "AVAILABLE"})])
        return image, wr

    def _decode_object(self, region: str, namespace: str, bucket: str, name: str,
                       wanted: str | None) -> tuple[dict | None, int, int, str | None]:
        """(blocks, virtual size, file size, failure reason) of an object holding a disk image."""
        objects = self.sim.objectstorage
        try:
            info = objects.object_info(region, namespace, bucket, name)
        except OciError:
            return None, 0, 0, (f"the object '{name}' was not found in bucket '{bucket}' of namespace "
                                f"'{namespace}', or you are not authorized to read it.")
        file_size = info["size"]

        def read_at(offset: int, length: int) -> bytes:
            return objects.read_object(region, namespace, bucket, name, offset, length)

        try:
            fmt, virtual_size = formats.probe(read_at(0, min(file_size, 4096)))
        except formats.ImageFormatError as exc:
            return None, 0, file_size, f"object '{name}': {exc}"
        if wanted and wanted != fmt:
            return None, virtual_size, file_size, (
                f"object '{name}' is a {fmt} file but sourceImageType is {wanted}.")
        if virtual_size > IMAGE_LIMIT_BYTES:
            return None, virtual_size, file_size, (
                f"object '{name}' has a virtual disk size of {virtual_size / GB:.1f} GB "
                f"({virtual_size} bytes), over the {IMAGE_LIMIT_GB} GB maximum for imported images.")
        try:
            blocks = self.content.from_blocks(
                formats.iter_blocks(read_at, file_size, self.content.block_size))
        except ValueError as exc:  # ImageFormatError, or a table that breaks the block order
            return None, virtual_size, file_size, f"object '{name}': {exc}"
        except Exception as exc:  # a damaged file fails the import, never the API call
            return None, virtual_size, file_size, f"object '{name}': the image file could not be read ({exc})."
        return blocks, virtual_size, file_size, None

    def _parse_object_uri(self, uri: str, region: str, field: str) -> tuple[str, str, str, str]:
        """(region, namespace, bucket, object) from any Object Storage URI, including a PAR's
        https://objectstorage.<region>.oraclecloud.com/p/<token>/n/<ns>/b/<bucket>/o/<object>."""
        parts = urlsplit(uri)
        m = OBJECT_PATH_RE.search(parts.path)
        if parts.scheme not in ("https", "http") or not m:
            raise invalid(f"{field} '{uri}' is not an Object Storage URI of the form "
                          f"https://objectstorage.<region>.oraclecloud.com/n/<namespace>/b/<bucket>/o/<object>.")
        host = parts.hostname or ""
        host_region = re.match(r"^objectstorage\.([a-z0-9-]+)\.oraclecloud\.com$", host)
        known = {r.name for r in self.sim.regions}
        if host_region and host_region.group(1) in known:
            region = host_region.group(1)
        return region, unquote(m.group(1)), unquote(m.group(2)), unquote(m.group(3))

    def get_image(self, image_id: str, region: str) -> dict:
        return self.get("image", image_id, region)

    def list_images(self, region: str, compartment_id: str) -> list[dict]:
        """A compartment's images; DELETED ones only when asked for by lifecycleState (OCI hides them)."""
        self.compartment(compartment_id)
        return self.store.list("image", region, where=lambda i: i["compartment_id"] == compartment_id)

    def delete_image(self, image_id: str, region: str) -> None:
        with self.sim.lock:
            image = self.get("image", image_id, region)
            state = image["lifecycle_state"]
            if state in ("PROVISIONING", "IMPORTING", "EXPORTING"):
                raise incorrect_state(f"Image {image_id} is {state}; wait until it is AVAILABLE to delete it.")
            if state != "DELETED":
                image["lifecycle_state"] = "DELETED"
                self.store.schedule(image, [])

    def export_image(self, image_id: str, region: str, details: dict) -> tuple[dict, dict]:
        """ExportImage as VMDK (streamOptimized) or QCOW2, written now, shown done at completion; 400 for
        images over OCI's 400 GB export limit and for formats ocisim does not write (OCI, VHD, VDI)."""
        image = self.get("image", image_id, region)
        fmt = details.get("export_format")
        if fmt is None:
            raise invalid("exportFormat: OCI exports in its own OCI format when none is given, which ocisim "
                          "does not write; set exportFormat to VMDK or QCOW2.")
        one_of("exportFormat", fmt, EXPORT_FORMATS)
        if fmt not in IMPORT_FORMATS:
            raise invalid(f"exportFormat '{fmt}' is not supported by ocisim; use VMDK or QCOW2.")
        dest = details.get("destination_type")
        if dest == "objectStorageTuple":
            namespace, bucket, name = (details.get("namespace_name"), details.get("bucket_name"),
                                       details.get("object_name"))
            for field, value in (("namespaceName", namespace), ("bucketName", bucket), ("objectName", name)):
                if not value:
                    raise missing(field)
            obj_region = region
        elif dest == "objectStorageUri":
            uri = details.get("destination_uri")
            if not uri:
                raise missing("destinationUri")
            obj_region, namespace, bucket, name = self._parse_object_uri(uri, region, "destinationUri")
        else:
            raise invalid(f"Invalid destinationType '{dest}'; must be one of objectStorageTuple, "
                          f"objectStorageUri.")
        if image["lifecycle_state"] != "AVAILABLE":
            raise incorrect_state(f"Image {image_id} is {image['lifecycle_state']}; only an AVAILABLE image "
                                  f"can be exported.")
        if image["_size"] > IMAGE_LIMIT_BYTES:
            raise invalid(f"Image {image_id} is {image['_size'] / GB:.0f} GB; images over "
                          f"{IMAGE_LIMIT_GB} GB cannot be exported.")
        took = self.duration(300, self.content.stored_bytes(image["_blocks"]), 60)
        self.sim.objectstorage.get_bucket(obj_region, namespace, bucket)  # 404 now, before any work starts
        with self.sim.lock:
            wr = self._work_request("ExportImage", image, took)
            failed = self.sim.workrequests.failed(wr)
        if not failed:
            self.sim.objectstorage.write_object(obj_region, namespace, bucket, name,
                                                self._exported_chunks(image, fmt))
        with self.sim.lock:
            image = self.get("image", image_id, region)
            image["lifecycle_state"] = "EXPORTING"
            self.store.schedule(image, [(took, {"lifecycle_state": "AVAILABLE"})])
        return image, wr

    def _exported_chunks(self, image: dict, fmt: str) -> Iterator[bytes]:
        """The image file, made in a scratch file (QCOW2 needs to seek back) and streamed out in pieces."""
        scratch = self.sim.state_dir / "tmp"
        scratch.mkdir(exist_ok=True)
        with tempfile.TemporaryFile(dir=scratch) as out:
            formats.write_image(out, fmt, image["_size"], self.content.iter_blocks(image["_blocks"]),
                                self.content.block_size, "streamOptimized" if fmt == "VMDK" else None)
            out.seek(0)
            while piece := out.read(8 * MIB):
                yield piece

    def _work_request(self, operation: str, res: dict, took: float, fail=None) -> dict:
        kind = res["_kind"]
        path = {"image": "images", "instance": "instances", "volumeattachment": "volumeAttachments"}[kind]
        return self.sim.workrequests.start(
            operation, res["compartment_id"], res["_region"],
            [{"entity_type": kind, "identifier": res["id"], "entity_uri": f"/20160918/{path}/{res['id']}"}],
            took, fail=fail)

    # -- instances: internal ---------------------------------------------------------------------------
    def make_instance(self, region: str, compartment_id: str, availability_domain: str, display_name: str,
                      shape: str, subnet_id: str | None, boot_volume_id: str, image_id: str | None = None,
                      os_name: str = "Linux", hostname_label: str | None = None,
                      freeform_tags: dict | None = None, metadata: dict | None = None) -> dict:
        """A RUNNING instance on an existing boot volume, with its boot volume attachment and VNIC (seeding)."""
        with self.sim.lock:
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
                      defined_tags: dict, agent_config: dict | None, boot_volume_id: str, os_name: str) -> dict:
        region_key = self.sim.region(region).key.lower()
        instance = self.new(
            "instance", "instance", region, availability_domain=availability_domain,
            compartment_id=compartment_id, defined_tags=defined_tags, display_name=display_name,
            extended_metadata=extended_metadata, fault_domain="FAULT-DOMAIN-1", freeform_tags=freeform_tags,
            system_tags={}, image_id=image_id, ipxe_script=None, launch_mode=launch_mode,
            launch_options=_launch_options(launch_mode),
            instance_options={"are_legacy_imds_endpoints_disabled": False},
            availability_config={"is_live_migration_preferred": None, "recovery_action": "RESTORE_INSTANCE"},
            lifecycle_state="PROVISIONING", metadata=metadata, shape=shape,
            shape_config=_shape_config(shape, shape_config), is_cross_numa_node=False,
            source_details=source_details, agent_config=_agent_config(agent_config),
            platform_config=None, time_maintenance_reboot_due=None,
            _boot_volume_id=boot_volume_id, _os=os_name)
        # OCI answers the short code for its two oldest regions and the full name for the others.
        instance["region"] = region_key if region in ("us-ashburn-1", "us-phoenix-1") else region
        return instance

    def _boot_attachment(self, instance: dict, boot_volume_id: str, ready: bool, delay: float = 0) -> dict:
        att = self.new("bootvolumeattachment", "bootvolumeattachment", instance["_region"],
                       availability_domain=instance["availability_domain"], boot_volume_id=boot_volume_id,
                       compartment_id=instance["compartment_id"],
                       display_name="Remote boot attachment for instance", instance_id=instance["id"],
                       lifecycle_state="ATTACHED" if ready else "ATTACHING", time_updated=self.now_iso(),
                       is_pv_encryption_in_transit_enabled=False, is_encryption_in_transit_enabled=False,
                       encryption_in_transit_type="NONE")
        if ready:
            return self.store.put(att)
        return self.store.schedule(att, [(delay, {"lifecycle_state": "ATTACHED",
                                                  "time_updated": iso(self.sim.now() + delay)})])

    def make_attachment(self, instance_id: str, volume_id: str, attachment_type: str, device: str | None) -> dict:
        """An ATTACHED volume attachment (seeding)."""
        with self.sim.lock:
            instance = self.store.get("instance", instance_id)
            volume = self.store.get(("volume", "bootvolume"), volume_id)
            att = self._new_attachment(instance, volume, attachment_type, device, None, False, False,
                                       False, False)
            att["lifecycle_state"] = "ATTACHED"
            return self.store.put(att)

    def attached_devices(self, instance_id: str) -> list[tuple[str, str]]:
        """(device path, volume id) of each ATTACHED volume attachment that has a device path."""
        return [(a["device"], a["volume_id"]) for a in self._volume_attachments(instance_id)
                if a["lifecycle_state"] == "ATTACHED" and a.get("device")]

    def attachments_of(self, volume_id: str) -> list[dict]:
        """Volume and boot volume attachments of a volume that are ATTACHING or ATTACHED (OCI refuses to
        delete an attached volume or to attach a non-shareable one twice)."""
        found = self.store.list("volumeattachment", where=lambda a: a["volume_id"] == volume_id)
        found += self.store.list("bootvolumeattachment", where=lambda a: a["boot_volume_id"] == volume_id)
        return [a for a in found if a["lifecycle_state"] in ACTIVE_ATTACHMENT]

    def _volume_attachments(self, instance_id: str) -> list[dict]:
        return self.store.list("volumeattachment", where=lambda a: a["instance_id"] == instance_id)

    # -- instances: API --------------------------------------------------------------------------------
    def launch_instance(self, region: str, d: dict) -> tuple[dict, dict]:
        """LaunchInstance from an image or an existing boot volume; PROVISIONING, then RUNNING.

        A hostname already used in the subnet fails as on OCI: the launch is accepted, then its work request
        FAILS with code vcn-error and the instance ends TERMINATED."""
        compartment_id = self.compartment(d.get("compartment_id"))
        ad = d.get("availability_domain")
        if not ad:
            raise missing("availabilityDomain")
        if ad not in self.sim.identity.ad_names(region):
            raise invalid(f"Invalid availabilityDomain '{ad}'; must be one of "
                          f"{', '.join(self.sim.identity.ad_names(region))}.")
        shape = d.get("shape")
        if not shape:
            raise missing("shape")
        if not re.match(r"^(VM|BM)\.[A-Za-z0-9.]+$", shape):
            raise invalid(f"Invalid shape '{shape}': a shape name looks like VM.Standard.E4.Flex.")
        metadata = d.get("metadata") or {}
        _check_metadata(metadata)
        vnic_details = d.get("create_vnic_details") or {}
        subnet_id = vnic_details.get("subnet_id") or d.get("subnet_id")
        if not subnet_id:
            raise missing("createVnicDetails.subnetId")
        hostname = vnic_details.get("hostname_label") or d.get("hostname_label")
        source = d.get("source_details")
        if not source and d.get("image_id"):
            source = {"source_type": "image", "image_id": d["image_id"]}
        if not source:
            raise missing("sourceDetails")
        with self.sim.lock:
            subnet = self.get("subnet", subnet_id, region)
            if hostname is not None:
                if not HOSTNAME_RE.match(hostname):
                    raise invalid(f"hostnameLabel '{hostname}': must be 1 to 63 letters, digits and hyphens, "
                                  f"start with a letter and not end with a hyphen (RFC 952 and RFC 1123).")
                if not subnet.get("dns_label"):
                    raise invalid(f"hostnameLabel '{hostname}': subnet {subnet_id} has no DNS label, so its "
                                  f"VNICs cannot have hostnames.")
            source_type = source.get("source_type")
            now = self.sim.now()
            display_name = d.get("display_name") or _default_name("instance", now)
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
                d.get("defined_tags") or {}, d.get("agent_config"), boot["id"] if boot else "", os_name)
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
            wr = self._work_request("LaunchInstance", instance, took, fail=fail)
            failed = self.sim.workrequests.failed(wr)
            if source_type == "image":
                boot = self.sim.blockstorage.make_volume(
                    "bootvolume", region, compartment_id, ad, f"{display_name} (Boot Volume)", boot_size,
                    blocks=dict(image["_blocks"]), freeform_tags=d.get("freeform_tags") or {},
                    image_id=image_id, ready_after=took / 2)
                instance["_boot_volume_id"] = boot["id"]
            if failed:
                self.store.schedule(instance, [(took / 2, {"lifecycle_state": "TERMINATING"}),
                                               (took, {"lifecycle_state": "TERMINATED"})])
                if source_type == "image":
                    self._terminate_volume(boot["id"], took)
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

    def _launch_image(self, source: dict, region: str) -> tuple[dict, int]:
        image_id = source.get("image_id")
        if not image_id:
            raise missing("sourceDetails.imageId")
        image = self.get("image", image_id, region)
        if image["lifecycle_state"] != "AVAILABLE":
            raise incorrect_state(f"Image {image_id} is {image['lifecycle_state']}; instances launch only from "
                                  f"an AVAILABLE image.")
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
        boot_id = source.get("boot_volume_id")
        if not boot_id:
            raise missing("sourceDetails.bootVolumeId")
        boot = self.get("bootvolume", boot_id, region)
        if boot["lifecycle_state"] != "AVAILABLE":
            raise incorrect_state(f"Boot volume {boot_id} is {boot['lifecycle_state']}; an instance launches only "
                                  f"from an AVAILABLE boot volume.")
        if boot["availability_domain"] != ad:
            raise invalid(f"Boot volume {boot_id} is in {boot['availability_domain']}; the instance must be "
                          f"launched in the same availability domain, not {ad}.")
        users = self.attachments_of(boot_id)
        if users:
            raise conflict(f"Boot volume {boot_id} is attached to instance {users[0]['instance_id']} "
                           f"(attachment {users[0]['id']}); detach it or terminate that instance first.")
        return boot

    def get_instance(self, instance_id: str, region: str) -> dict:
        return self.get("instance", instance_id, region)

    def list_instances(self, region: str, compartment_id: str) -> list[dict]:
        self.compartment(compartment_id)
        return self.store.list("instance", region, where=lambda i: i["compartment_id"] == compartment_id)

    def terminate_instance(self, instance_id: str, region: str, preserve_boot_volume: bool) -> dict | None:
        """TerminateInstance: every attachment goes DETACHED, the boot volume TERMINATED unless preserved."""
        with self.sim.lock:
            instance = self.get("instance", instance_id, region)
            state = instance["lifecycle_state"]
            if state in ("TERMINATING", "TERMINATED"):
                return None
            if state == "CREATING_IMAGE":
                raise incorrect_state(f"Instance {instance_id} is CREATING_IMAGE; it can be terminated when the "
                                      f"image is done.")
            took = TERMINATE_SECONDS
            wr = self._work_request("TerminateInstance", instance, took)
            self.store.schedule(instance, [(0, {"lifecycle_state": "TERMINATING"}),
                                           (took, {"lifecycle_state": "TERMINATED"})])
            for att in self._volume_attachments(instance_id):
                if att["lifecycle_state"] in ACTIVE_ATTACHMENT:
                    self._detach(att, took * 0.5)
            for att in self.store.list("bootvolumeattachment", where=lambda a: a["instance_id"] == instance_id):
                if att["lifecycle_state"] in ACTIVE_ATTACHMENT:
                    self.store.schedule(att, [(0, {"lifecycle_state": "DETACHING"}),
                                              (took * 0.8, {"lifecycle_state": "DETACHED",
                                                            "time_updated": iso(self.sim.now() + took * 0.8)})])
            for vatt in self.store.list("vnicattachment", where=lambda a: a["instance_id"] == instance_id):
                self.store.schedule(vatt, [(0, {"lifecycle_state": "DETACHING"}),
                                           (took * 0.8, {"lifecycle_state": "DETACHED"})])
                vnic = self.store.find(vatt["vnic_id"])
                if vnic:
                    self.store.schedule(vnic, [(0, {"lifecycle_state": "TERMINATING"}),
                                               (took * 0.8, {"lifecycle_state": "TERMINATED"})])
            if not preserve_boot_volume and instance.get("_boot_volume_id"):
                self._terminate_volume(instance["_boot_volume_id"], took)
            return wr

    def _terminate_volume(self, volume_id: str, took: float) -> None:
        boot = self.store.find(volume_id)
        if boot and boot["lifecycle_state"] not in ("TERMINATING", "TERMINATED"):
            self.store.schedule(boot, [(took * 0.8, {"lifecycle_state": "TERMINATING"}),
                                       (took, {"lifecycle_state": "TERMINATED"})])

    def instance_action(self, instance_id: str, region: str, action: str) -> dict:
        """InstanceAction: a power action walks its states; 409 IncorrectState where it does not apply.

        Repeating STOP/SOFTSTOP on a STOPPED or START on a RUNNING instance changes nothing (a retried task
        must not fail)."""
        if not action:
            raise missing("action")
        one_of("action", action, ACTIONS)
        with self.sim.lock:
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
            return self.store.schedule(instance, [(delay, {"lifecycle_state": s})
                                                  for delay, s in ACTION_STEPS[action]])

    # -- volume attachments ----------------------------------------------------------------------------
    def _new_attachment(self, instance: dict, volume: dict, attachment_type: str, device: str | None,
                        display_name: str | None, read_only: bool, shareable: bool, use_chap: bool,
                        auto_login: bool) -> dict:
        att = self.new("volumeattachment", "volumeattachment", instance["_region"],
                       attachment_type=attachment_type, availability_domain=instance["availability_domain"],
                       compartment_id=instance["compartment_id"], device=device,
                       display_name=display_name or "volumeattachment" + re.sub(r"\D", "", self.now_iso()[:19]),
                       instance_id=instance["id"], is_read_only=read_only, is_shareable=shareable,
                       lifecycle_state="ATTACHING", volume_id=volume["id"],
                       is_pv_encryption_in_transit_enabled=False, is_encryption_in_transit_enabled=False,
                       is_multipath=False, iscsi_login_state=None, is_volume_created_during_launch=False)
        if attachment_type == "iscsi":
            n = len(self._volume_attachments(instance["id"])) + 2
            att.update(iqn=f"iqn.2015-12.com.oracleiaas:{uuid.uuid4()}", ipv4=f"169.254.2.{n}", ipv6=None,
                       port=3260, chap_username=att["id"] if use_chap else None,
                       chap_secret=secrets.token_urlsafe(12) if use_chap else None, multipath_devices=[],
                       encryption_in_transit_type="NONE", is_agent_auto_iscsi_login_enabled=auto_login,
                       iscsi_login_state="UNKNOWN")
        return att

    def attach_volume(self, region: str, d: dict) -> tuple[dict, dict]:
        """AttachVolume (iscsi or paravirtualized): ATTACHING, then ATTACHED."""
        kind = d.get("type")
        if not kind:
            raise missing("type")
        one_of("type", kind, ("iscsi", "paravirtualized", "service_determined", "emulated", "nvme"))
        if kind in ("emulated", "nvme"):
            raise invalid(f"Attachment type '{kind}' is not supported by ocisim; use iscsi or paravirtualized.")
        if kind == "service_determined":
            kind = "paravirtualized"
        for field in ("instance_id", "volume_id"):
            if not d.get(field):
                raise missing(field.replace("_id", "Id"))
        device = d.get("device")
        if device is not None:
            m = DEVICE_RE.match(device)
            if not m or m.group(1) == "a":
                raise invalid(f"device '{device}' is not a valid device path; use a free one from "
                              f"ListInstanceDevices, e.g. /dev/oracleoci/oraclevdb (oraclevda is the boot volume).")
        with self.sim.lock:
            instance = self.get("instance", d["instance_id"], region)
            volume = self.store.find(d["volume_id"])
            if volume is None or volume["_kind"] not in ("volume", "bootvolume") or volume["_region"] != region:
                raise not_found("volume")
            if instance["lifecycle_state"] not in ("RUNNING", "STOPPED") or self.store.pending(instance):
                raise incorrect_state(f"Instance {instance['id']} is {instance['lifecycle_state']}; volumes attach "
                                      f"to a RUNNING or STOPPED instance.")
            if volume["lifecycle_state"] != "AVAILABLE":
                raise incorrect_state(f"Volume {volume['id']} is {volume['lifecycle_state']}; only an AVAILABLE "
                                      f"volume can be attached.")
            if volume["availability_domain"] != instance["availability_domain"]:
                raise invalid(f"Volume {volume['id']} is in {volume['availability_domain']} and instance "
                              f"{instance['id']} in {instance['availability_domain']}; they must be in the same "
                              f"availability domain.")
            shareable = bool(d.get("is_shareable"))
            for other in self.attachments_of(volume["id"]):
                if other["instance_id"] == instance["id"]:
                    raise conflict(f"Volume {volume['id']} is already attached to instance {instance['id']} "
                                   f"(attachment {other['id']}).")
                if not (shareable and other.get("is_shareable")):
                    raise conflict(f"Volume {volume['id']} is already attached to instance "
                                   f"{other['instance_id']} (attachment {other['id']}); a volume attaches to "
                                   f"several instances only when every attachment is shareable.")
            if device is not None:
                for other in self._volume_attachments(instance["id"]):
                    if other["lifecycle_state"] in ACTIVE_ATTACHMENT and other.get("device") == device:
                        raise conflict(f"Device {device} is already in use on instance {instance['id']} "
                                       f"by attachment {other['id']} (volume {other['volume_id']}).")
            att = self._new_attachment(instance, volume, kind, device, d.get("display_name"),
                                       bool(d.get("is_read_only")), shareable, bool(d.get("use_chap")),
                                       bool(d.get("is_agent_auto_iscsi_login_enabled")))
            if kind == "paravirtualized":
                att["is_pv_encryption_in_transit_enabled"] = bool(d.get("is_pv_encryption_in_transit_enabled"))
            wr = self._work_request("AttachVolume", att, ATTACH_SECONDS)
            done = {"lifecycle_state": "DETACHED"} if self.sim.workrequests.failed(wr) \
                else {"lifecycle_state": "ATTACHED"}
            if kind == "iscsi" and done["lifecycle_state"] == "ATTACHED":
                done["iscsi_login_state"] = "LOGIN_SUCCEEDED" if att["is_agent_auto_iscsi_login_enabled"] \
                    else "UNKNOWN"
            return self.store.schedule(att, [(ATTACH_SECONDS, done)]), wr

    def get_volume_attachment(self, attachment_id: str, region: str) -> dict:
        return self.get("volumeattachment", attachment_id, region)

    def list_volume_attachments(self, region: str, compartment_id: str) -> list[dict]:
        self.compartment(compartment_id)
        return self.store.list("volumeattachment", region, where=lambda a: a["compartment_id"] == compartment_id)

    def detach_volume(self, attachment_id: str, region: str) -> dict:
        with self.sim.lock:
            att = self.get("volumeattachment", attachment_id, region)
            if att["lifecycle_state"] != "ATTACHED":
                raise incorrect_state(f"Volume attachment {attachment_id} is {att['lifecycle_state']}; only an "
                                      f"ATTACHED volume can be detached.")
            wr = self._work_request("DetachVolume", att, DETACH_SECONDS)
            self._detach(att, DETACH_SECONDS)
            return wr

    def _detach(self, att: dict, took: float) -> None:
        self.store.schedule(att, [(0, {"lifecycle_state": "DETACHING"}), (took, {"lifecycle_state": "DETACHED"})])

    # -- boot volume attachments and VNICs -------------------------------------------------------------
    def get_boot_volume_attachment(self, attachment_id: str, region: str) -> dict:
        return self.get("bootvolumeattachment", attachment_id, region)

    def list_boot_volume_attachments(self, region: str, compartment_id: str) -> list[dict]:
        self.compartment(compartment_id)
        return self.store.list("bootvolumeattachment", region,
                               where=lambda a: a["compartment_id"] == compartment_id)

    def list_vnic_attachments(self, region: str, compartment_id: str) -> list[dict]:
        self.compartment(compartment_id)
        return self.store.list("vnicattachment", region, where=lambda a: a["compartment_id"] == compartment_id)

    def get_vnic_attachment(self, attachment_id: str, region: str) -> dict:
        return self.get("vnicattachment", attachment_id, region)

    def get_vnic(self, vnic_id: str, region: str) -> dict:
        return self.get("vnic", vnic_id, region)


def _default_name(kind: str, now: float) -> str:
    """OCI's generated display names, e.g. instance-20250101-1200."""
    stamp = iso(now)
    return f"{kind}-{stamp[0:4]}{stamp[5:7]}{stamp[8:10]}-{stamp[11:13]}{stamp[14:16]}"


def _launch_options(launch_mode: str) -> dict:
    return {**LAUNCH_OPTIONS.get(launch_mode, LAUNCH_OPTIONS["NATIVE"]),
            "is_pv_encryption_in_transit_enabled": False, "is_consistent_volume_naming_enabled": True}


def _shape_config(shape: str, requested: dict | None) -> dict:
    """OCPUs and memory: Flex shapes take them from shapeConfig (default 1 OCPU, 16 GB), fixed shapes from
    the name (VM.Standard2.4 has 4 OCPUs and 15 GB each)."""
    requested = requested or {}
    if shape.endswith(".Flex"):
        ocpus = float(requested.get("ocpus") or 1)
        memory = float(requested.get("memory_in_gbs") or ocpus * 16)
        if ocpus < 1 or ocpus > 64:
            raise invalid(f"shapeConfig.ocpus {ocpus}: must be between 1 and 64 for {shape}.")
        if not ocpus <= memory <= ocpus * 64:
            raise invalid(f"shapeConfig.memoryInGBs {memory}: must be between 1 and 64 GB per OCPU for {shape}.")
    else:
        if requested:
            raise invalid(f"shapeConfig is only accepted for flexible shapes, not {shape}.")
        last = shape.rsplit(".", 1)[-1]
        ocpus = float(last) if last.isdigit() else 1.0
        memory = ocpus * 15
    return {"ocpus": ocpus, "memory_in_gbs": memory, "vcpus": int(ocpus * 2),
            "baseline_ocpu_utilization": None, "processor_description": "2.55 GHz AMD EPYC 7J13 (Milan)",
            "networking_bandwidth_in_gbps": ocpus, "max_vnic_attachments": max(2, int(ocpus)), "gpus": 0,
            "local_disks": 0}


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
