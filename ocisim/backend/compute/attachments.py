"""Volume and boot volume attachments of instances."""

from __future__ import annotations

import re
import secrets
import uuid

from ...clock import iso
from ...errors import conflict, incorrect_state, invalid, missing, not_found
from ...faults import Injected
from ..base import one_of
from .common import ACTIVE_ATTACHMENT, ComputeBase

DEVICE_RE = re.compile(r"^/dev/oracleoci/oraclevd([a-z]{1,2})$")
ATTACH_SECONDS = 30.0
DETACH_SECONDS = 20.0


class AttachmentBackend(ComputeBase):
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
                                                  "time_updated": iso(self.state.now() + delay)})])

    def make_attachment(self, instance_id: str, volume_id: str, attachment_type: str, device: str | None) -> dict:
        """An ATTACHED volume attachment (seeding)."""
        with self.state.lock:
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

    def attach_volume(self, region: str, d: dict, injected: Injected | None = None) -> tuple[dict, dict]:
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
        with self.state.lock:
            instance = self.get("instance", d["instance_id"], region)
            volume = self.store.find(d["volume_id"])
            if volume is None or volume["_kind"] not in ("volume", "bootvolume") or volume["_region"] != region:
                raise not_found("volume")
            if instance["lifecycle_state"] not in ("RUNNING", "STOPPED") or self.store.pending(instance):
                raise incorrect_state(f"Instance {instance['id']} is {instance['lifecycle_state']}; volumes attach "
                                      f"to a RUNNING or STOPPED instance.")
            _check_attachable(volume, instance, "Volume")
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
            wr = self._work_request("AttachVolume", att, ATTACH_SECONDS, injected=injected)
            done = {"lifecycle_state": "DETACHED"} if self.workrequests.failed(wr) \
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

    def detach_volume(self, attachment_id: str, region: str, injected: Injected | None = None) -> dict:
        with self.state.lock:
            att = self.get("volumeattachment", attachment_id, region)
            if att["lifecycle_state"] != "ATTACHED":
                raise incorrect_state(f"Volume attachment {attachment_id} is {att['lifecycle_state']}; only an "
                                      f"ATTACHED volume can be detached.")
            wr = self._work_request("DetachVolume", att, DETACH_SECONDS, injected=injected)
            self._detach(att, DETACH_SECONDS)
            return wr

    def _detach(self, att: dict, took: float) -> None:
        self.store.schedule(att, [(0, {"lifecycle_state": "DETACHING"}), (took, {"lifecycle_state": "DETACHED"})])

    def _detach_boot(self, att: dict, took: float) -> None:
        done = {"lifecycle_state": "DETACHED", "time_updated": iso(self.state.now() + took)}
        self.store.schedule(att, [(0, {"lifecycle_state": "DETACHING"}), (took, done)])

    def detach_all(self, instance_id: str, volumes_after: float, boot_after: float) -> None:
        """A terminated instance lets go of every volume and its boot volume."""
        for att in self._volume_attachments(instance_id):
            if att["lifecycle_state"] in ACTIVE_ATTACHMENT:
                self._detach(att, volumes_after)
        for att in self.store.list("bootvolumeattachment", where=lambda a: a["instance_id"] == instance_id):
            if att["lifecycle_state"] in ACTIVE_ATTACHMENT:
                self._detach_boot(att, boot_after)

    # -- boot volume attachments -----------------------------------------------------------------------
    def boot_attachment_of(self, instance_id: str) -> dict | None:
        """The instance's ATTACHING or ATTACHED boot volume attachment, if any."""
        found = self.store.list("bootvolumeattachment", where=lambda a: a["instance_id"] == instance_id
                                and a["lifecycle_state"] in ACTIVE_ATTACHMENT)
        return found[-1] if found else None

    def attach_boot_volume(self, region: str, d: dict, injected: Injected | None = None) -> tuple[dict, dict]:
        """AttachBootVolume: OCI attaches a boot volume only to a STOPPED instance that has none, from the same
        AD, and only a boot volume no other instance uses; ATTACHING, then ATTACHED."""
        for field in ("instance_id", "boot_volume_id"):
            if not d.get(field):
                raise missing(field.replace("_id", "Id").replace("boot_volume", "bootVolume"))
        transit = d.get("encryption_in_transit_type") or "NONE"
        one_of("encryptionInTransitType", transit, ("NONE", "BM_ENCRYPTION_IN_TRANSIT"))
        with self.state.lock:
            instance = self.get("instance", d["instance_id"], region)
            boot = self.get("bootvolume", d["boot_volume_id"], region)
            state = instance["lifecycle_state"]
            if state != "STOPPED" or self.store.pending(instance):
                raise incorrect_state(f"Instance {instance['id']} is {state}; a boot volume can be attached only to "
                                      f"a STOPPED instance.")
            current = self.boot_attachment_of(instance["id"])
            if current:
                raise conflict(f"Instance {instance['id']} already has boot volume {current['boot_volume_id']} "
                               f"attached (attachment {current['id']}); detach it first.")
            _check_attachable(boot, instance, "Boot volume")
            users = self.attachments_of(boot["id"])
            if users:
                raise conflict(f"Boot volume {boot['id']} is attached to instance {users[0]['instance_id']} "
                               f"(attachment {users[0]['id']}).")
            att = self._boot_attachment(instance, boot["id"], ready=False, delay=ATTACH_SECONDS)
            if d.get("display_name"):
                att["display_name"] = d["display_name"]
            att["encryption_in_transit_type"] = transit
            wr = self._work_request("AttachBootVolume", att, ATTACH_SECONDS, injected=injected)
            if self.workrequests.failed(wr):
                return self.store.schedule(att, [(ATTACH_SECONDS, {"lifecycle_state": "DETACHED"})]), wr
            self.store.put(att)
            instance["_boot_volume_id"] = boot["id"]
            self.store.put(instance)
            return att, wr

    def detach_boot_volume(self, attachment_id: str, region: str, injected: Injected | None = None) -> dict:
        """DetachBootVolume: only from a STOPPED instance; the instance then cannot start until a boot volume
        is attached again, and terminating it no longer touches the detached volume."""
        with self.state.lock:
            att = self.get("bootvolumeattachment", attachment_id, region)
            if att["lifecycle_state"] != "ATTACHED":
                raise incorrect_state(f"Boot volume attachment {attachment_id} is {att['lifecycle_state']}; only an "
                                      f"ATTACHED boot volume can be detached.")
            instance = self.get("instance", att["instance_id"], region)
            if instance["lifecycle_state"] != "STOPPED" or self.store.pending(instance):
                raise incorrect_state(f"Instance {instance['id']} is {instance['lifecycle_state']}; a boot volume "
                                      f"can be detached only from a STOPPED instance.")
            wr = self._work_request("DetachBootVolume", att, DETACH_SECONDS, injected=injected)
            self._detach_boot(att, DETACH_SECONDS)
            instance["_boot_volume_id"] = ""
            self.store.put(instance)
            return wr

    # -- boot volume attachments and VNICs -------------------------------------------------------------
    def get_boot_volume_attachment(self, attachment_id: str, region: str) -> dict:
        return self.get("bootvolumeattachment", attachment_id, region)

    def list_boot_volume_attachments(self, region: str, compartment_id: str) -> list[dict]:
        self.compartment(compartment_id)
        return self.store.list("bootvolumeattachment", region,
                               where=lambda a: a["compartment_id"] == compartment_id)



def _check_attachable(volume: dict, instance: dict, noun: str) -> None:
    """A (boot) volume attaches when it is AVAILABLE and in the instance's availability domain."""
    if volume["lifecycle_state"] != "AVAILABLE":
        raise incorrect_state(f"{noun} {volume['id']} is {volume['lifecycle_state']}; only an AVAILABLE "
                              f"{noun.lower()} can be attached.")
    if volume["availability_domain"] != instance["availability_domain"]:
        raise invalid(f"{noun} {volume['id']} is in {volume['availability_domain']} and instance {instance['id']} "
                      f"in {instance['availability_domain']}; they must be in the same availability domain.")
