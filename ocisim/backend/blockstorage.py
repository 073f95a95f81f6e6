"""Block storage backend: volumes, boot volumes, their backups, volume groups and volume group backups.

Bytes: a volume or boot volume keeps its content as a block map in the private field `_blocks`. A backup is
point-in-time: it copies the map at request time. A FULL backup stores the whole map (`_blocks`); an
INCREMENTAL one stores only `_delta`, the blocks changed since the previous backup of that volume (`_base`),
so a restore resolves the chain. Cross-region copies are self-contained (`_blocks`).

Internal API other backends, the seed and the admin API rely on (keep these signatures):
`make_volume`, `blocks_of`, `set_blocks`, `content_of`, `corrupt_backup`, `terminate_later` (compute changes
block storage's rows only through these).
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

from ..content import BlockMap, apply, diff
from ..errors import OciError, conflict, incorrect_state, invalid, missing
from ..faults import Injected
from ..state import State
from .base import GB, MIB, Backend
from .identity import IdentityBackend
from .workrequests import WorkRequestBackend

VOLUME, BOOT = "volume", "bootvolume"
VOLUME_BACKUP, BOOT_BACKUP = "volumebackup", "bootvolumebackup"
GROUP, GROUP_BACKUP = "volumegroup", "volumegroupbackup"
VOLUME_KINDS = (VOLUME, BOOT)
BACKUP_KINDS = (VOLUME_BACKUP, BOOT_BACKUP)
BACKUP_OF = {VOLUME: VOLUME_BACKUP, BOOT: BOOT_BACKUP}
VOLUME_FIELD = {VOLUME_BACKUP: "volume_id", BOOT_BACKUP: "boot_volume_id"}
SOURCE_BACKUP_FIELD = {VOLUME_BACKUP: "source_volume_backup_id", BOOT_BACKUP: "source_boot_volume_backup_id"}
BACKUP_TYPES = ("FULL", "INCREMENTAL")

# Emulated durations (seconds): (base, seconds per GB). OCI provisions an empty volume in seconds, while
# clones, restores, backups and cross-region copies take minutes that grow with the data moved.
PROVISION = (15.0, 0.0)
CLONE = (20.0, 0.5)
RESTORE = (30.0, 2.0)
BACKUP = (60.0, 120.0)  # per GB actually stored by the backup
# A new backup (and volume group backup) is REQUEST_RECEIVED while OCI takes its point in time, then CREATING
# while the blocks upload: an application quiesced for the backup may resume once it has left REQUEST_RECEIVED.
POINT_IN_TIME = 2.0
COPY = (120.0, 240.0)
TERMINATE = 10.0
GROUP_PROVISION = 10.0
RESIZE = 15.0
MAX_SIZE_GB = 32768


def _default_name(prefix: str, ts: float) -> str:
    """OCI names an unnamed resource after its type and creation time (e.g. volume20240501123000)."""
    return prefix + datetime.fromtimestamp(ts, UTC).strftime("%Y%m%d%H%M%S")


def _tags(base: dict | None, override: dict | None) -> dict:
    return {**(base or {}), **(override or {})}


class BlockStorageBackend(Backend):
    def __init__(self, state: State, identity: IdentityBackend, workrequests: WorkRequestBackend):
        super().__init__(state)
        self.identity = identity
        self.workrequests = workrequests

    # -- internal API ----------------------------------------------------------------------------------
    def make_volume(self, kind: str, region: str, compartment_id: str, availability_domain: str,
                    display_name: str, size_in_gbs: int, blocks: dict | None = None,
                    freeform_tags: dict | None = None, image_id: str | None = None,
                    source_details: dict | None = None, ready_after: float | None = None) -> dict:
        """Store a new volume (kind "volume") or boot volume (kind "bootvolume") holding `blocks`.

        PROVISIONING until `ready_after` emulated seconds (default: a size-based duration), then AVAILABLE;
        ready_after=0 makes it AVAILABLE at once (seeding)."""
        if kind not in VOLUME_KINDS:
            raise ValueError(f"make_volume: kind {kind!r} is not one of {VOLUME_KINDS}")
        now = self.state.now()
        fields = dict(
            availability_domain=availability_domain, compartment_id=compartment_id, defined_tags={},
            system_tags={}, display_name=display_name or _default_name(
                "bootvolume" if kind == BOOT else "volume", now),
            freeform_tags=dict(freeform_tags or {}), is_hydrated=True, kms_key_id=None,
            lifecycle_state="PROVISIONING", vpus_per_gb=10, cluster_placement_group_id=None,
            size_in_gbs=int(size_in_gbs), size_in_mbs=int(size_in_gbs) * 1024, source_details=source_details,
            volume_group_id=None, is_auto_tune_enabled=False, auto_tuned_vpus_per_gb=None, autotune_policies=None,
            _blocks=dict(blocks or {}))
        if kind == BOOT:
            fields.update(image_id=image_id, boot_volume_replicas=None)
        else:
            fields.update(block_volume_replicas=None, is_reservations_enabled=False)
        res = self.new(kind, kind, region, **fields)
        delay = self.duration(PROVISION[0], size_in_gbs * GB, PROVISION[1]) if ready_after is None else ready_after
        if delay <= 0:
            res["lifecycle_state"] = "AVAILABLE"
            return self.store.put(res)
        return self.store.schedule(res, [(delay, {"lifecycle_state": "AVAILABLE"})])

    def blocks_of(self, volume_id: str) -> dict:
        """Current block map of a volume or boot volume (any region)."""
        return dict(self.store.get(VOLUME_KINDS, volume_id).get("_blocks") or {})

    def set_blocks(self, volume_id: str, blocks: dict) -> None:
        """Replace a volume's content (guest writes, admin writes)."""
        with self.store.lock:
            res = self.store.get(VOLUME_KINDS, volume_id)
            res["_blocks"] = dict(blocks)
            self.store.put(res)

    def content_of(self, resource_id: str) -> tuple[dict, int] | None:
        """(block map, size in bytes) of a volume, boot volume or (boot) volume backup, resolved through its
        INCREMENTAL chain; None when the id is not one of those (the admin API then asks compute)."""
        res = self.store.find(resource_id)
        if res is None:
            return None
        if res["_kind"] in VOLUME_KINDS:
            return dict(res.get("_blocks") or {}), res["size_in_gbs"] * GB
        if res["_kind"] in BACKUP_KINDS:
            return self.resolve(res), res["size_in_gbs"] * GB
        return None

    def corrupt_backup(self, backup_id: str, block_index: int | None = None) -> dict:
        """Flip bytes in one stored block of a backup (copy-on-write: the source volume and other backups
        keep theirs); default: the first block the backup itself stored. Return {'backup_id','block_index'}."""
        with self.store.lock:
            backup = self.store.get(BACKUP_KINDS, backup_id)
            own_field = "_blocks" if backup.get("_blocks") is not None else "_delta"
            own = backup.get(own_field) or {}
            stored = sorted((int(k) for k, v in own.items() if v), key=int)
            if not stored:
                raise invalid(f"backup {backup_id} stores no blocks of its own to corrupt")
            index = stored[0] if block_index is None else int(block_index)
            key = str(index)
            if not own.get(key):
                raise invalid(f"block_index {index}: backup {backup_id} stores blocks {stored[:20]}")
            original = own[key]
            data = self.content.get_chunk(original)
            flipped = self.content.put_chunk(data.translate(_FLIP))
            own[key] = flipped
            backup[own_field] = own
            self.store.put(backup)
            # Later backups that took this block from the corrupted one keep the original bytes.
            for child in self._children(backup_id):
                delta = child.get("_delta") or {}
                if key not in delta:
                    delta[key] = original
                    child["_delta"] = delta
                    self.store.put(child)
        return {"backup_id": backup_id, "block_index": index}

    def resolve(self, backup: dict) -> BlockMap:
        """A backup's full block map: its own map, or its INCREMENTAL delta applied over its parent's."""
        chain = []
        current = backup
        while current.get("_blocks") is None:
            chain.append(current.get("_delta") or {})
            base_id = current.get("_base")
            if not base_id:
                current = None
                break
            current = self.store.find(base_id)
            if current is None:
                raise OciError(500, "InternalServerError", f"backup chain of {backup['id']} is broken")
        blocks: BlockMap = dict(current["_blocks"]) if current else {}
        for delta in reversed(chain):
            blocks = apply(blocks, delta)
        return blocks

    def _children(self, backup_id: str) -> list[dict]:
        backup = self.store.find(backup_id)
        kind = backup["_kind"] if backup else VOLUME_BACKUP
        return self.store.list(kind, where=lambda b: b.get("_base") == backup_id)

    # -- volumes and boot volumes ----------------------------------------------------------------------
    def create_volume(self, kind: str, region: str, details: dict) -> dict:
        """CreateVolume / CreateBootVolume: empty (volumes only), a clone of a volume, or a restore of a backup."""
        compartment_id = self.compartment(details.get("compartment_id"))
        self.check_references(details)
        ad = details.get("availability_domain")
        if not ad:
            raise missing("availabilityDomain")
        if ad not in self.identity.ad_names(region):
            raise invalid(f"availabilityDomain '{ad}' is not an availability domain of {region}.")
        source = details.get("source_details")
        if kind == VOLUME and not source and details.get("volume_backup_id"):
            source = {"type": "volumeBackup", "id": details["volume_backup_id"]}  # the deprecated field
        size = details.get("size_in_gbs")
        if size is None and details.get("size_in_mbs"):
            size = math.ceil(int(details["size_in_mbs"]) / 1024)
        with self.store.lock:
            blocks: BlockMap = {}
            image_id = None
            tags = details.get("freeform_tags")
            if not source:
                if kind == BOOT:
                    raise missing("sourceDetails")
                size = int(size) if size is not None else 1024
                if not 50 <= size <= 32768:
                    raise invalid(f"sizeInGBs {size}: a volume is 50 to 32768 GB.")
                delay = self.duration(*PROVISION[:1])
                source_details = None
            else:
                source_type = source.get("type")
                clone_type, restore_type = ("volume", "volumeBackup") if kind == VOLUME \
                    else ("bootVolume", "bootVolumeBackup")
                source_id = source.get("id")
                if not source_id:
                    raise missing("sourceDetails.id")
                if source_type == clone_type:
                    origin = self.get(kind, source_id, region)
                    if origin["lifecycle_state"] != "AVAILABLE":
                        raise incorrect_state(
                            f"Source {clone_type} {source_id} is {origin['lifecycle_state']}, not AVAILABLE.")
                    blocks = dict(origin.get("_blocks") or {})
                    timing = CLONE
                elif source_type == restore_type:
                    origin = self.get(BACKUP_OF[kind], source_id, region)
                    if origin["lifecycle_state"] != "AVAILABLE":
                        raise incorrect_state(
                            f"Backup {source_id} is {origin['lifecycle_state']}, not AVAILABLE; it cannot be "
                            "restored yet.")
                    blocks = self.resolve(origin)
                    timing = RESTORE
                    if tags is None:
                        tags = origin.get("freeform_tags")
                else:
                    raise invalid(f"sourceDetails.type '{source_type}' is not supported for "
                                  f"{'CreateVolume' if kind == VOLUME else 'CreateBootVolume'}; "
                                  f"use '{clone_type}' or '{restore_type}'.")
                image_id = origin.get("image_id")
                size = int(size) if size is not None else origin["size_in_gbs"]
                if size < origin["size_in_gbs"]:
                    raise invalid(f"sizeInGBs {size}: must be at least the source's size of "
                                  f"{origin['size_in_gbs']} GB.")
                delay = self.duration(timing[0], size * GB, timing[1])
                source_details = {"type": source_type, "id": source_id}
            res = self.make_volume(kind, region, compartment_id, ad, details.get("display_name"), size, blocks,
                                   freeform_tags=tags, image_id=image_id, source_details=source_details,
                                   ready_after=delay)
            res["defined_tags"] = details.get("defined_tags") or {}
            if details.get("vpus_per_gb") is not None:
                res["vpus_per_gb"] = _vpus(kind, details["vpus_per_gb"])
            return self.store.put(res)

    def update_volume(self, kind: str, volume_id: str, region: str, details: dict) -> dict:
        """UpdateVolume / UpdateBootVolume: name, tags (freeform tags replace the old set, as on OCI), performance,
        and online growth: a bigger sizeInGBs makes the volume PROVISIONING for a short while, then AVAILABLE
        with its bytes unchanged; OCI never shrinks a volume."""
        self.check_references(details)
        with self.store.lock:
            vol = self.get(kind, volume_id, region)
            noun = "Volume" if kind == VOLUME else "Boot volume"
            if vol["lifecycle_state"] in ("TERMINATING", "TERMINATED", "FAULTY"):
                raise incorrect_state(f"{noun} {volume_id} is {vol['lifecycle_state']}; it cannot be updated.")
            for field in ("display_name", "freeform_tags", "defined_tags"):
                if details.get(field) is not None:
                    vol[field] = details[field]
            if details.get("vpus_per_gb") is not None:
                vol["vpus_per_gb"] = _vpus(kind, details["vpus_per_gb"])
            if details.get("is_auto_tune_enabled") is not None:
                vol["is_auto_tune_enabled"] = bool(details["is_auto_tune_enabled"])
            size = details.get("size_in_gbs")
            if size is None or int(size) == vol["size_in_gbs"]:
                return self.store.put(vol)
            size = int(size)
            if size < vol["size_in_gbs"]:
                raise invalid(f"sizeInGBs {size}: the new size must be larger than the current size of "
                              f"{vol['size_in_gbs']} GB ({noun.lower()}s cannot be shrunk).")
            if size > MAX_SIZE_GB:
                raise invalid(f"sizeInGBs {size}: a volume is at most {MAX_SIZE_GB} GB.")
            if vol["lifecycle_state"] != "AVAILABLE" or self.store.pending(vol):
                raise incorrect_state(f"{noun} {volume_id} is {vol['lifecycle_state']}; only an AVAILABLE volume "
                                      f"can be resized.")
            vol.update(size_in_gbs=size, size_in_mbs=size * 1024, lifecycle_state="PROVISIONING")
            return self.store.schedule(vol, [(RESIZE, {"lifecycle_state": "AVAILABLE"})])

    def get_volume(self, kind: str, volume_id: str, region: str) -> dict:
        return self.get(kind, volume_id, region)

    def list_volumes(self, kind: str, region: str, compartment_id: str | None, availability_domain: str | None,
                     volume_group_id: str | None) -> list[dict]:
        """OCI lists volumes of a compartment (boot volumes: of a compartment and AD), or of a volume group."""
        if not volume_group_id:
            if not compartment_id:
                raise missing("compartmentId")
            if kind == BOOT and not availability_domain:
                raise missing("availabilityDomain")

        def wanted(v: dict) -> bool:
            return ((not compartment_id or v["compartment_id"] == compartment_id)
                    and (not availability_domain or v["availability_domain"] == availability_domain)
                    and (not volume_group_id or v.get("volume_group_id") == volume_group_id))

        return self.store.list(kind, region, wanted)

    def delete_volume(self, kind: str, volume_id: str, region: str) -> None:
        """TERMINATING, then TERMINATED (still readable). OCI refuses while a backup of the volume is being
        made, and while the volume is attached to an instance."""
        with self.store.lock:
            vol = self.get(kind, volume_id, region)
            if vol["lifecycle_state"] in ("TERMINATING", "TERMINATED"):
                return
            backup_kind = BACKUP_OF[kind]
            field = VOLUME_FIELD[backup_kind]
            busy = self.store.list(backup_kind, where=lambda b: b.get(field) == volume_id
                                   and b["lifecycle_state"] in ("CREATING", "REQUEST_RECEIVED"))
            if busy:
                raise conflict(f"{'Volume' if kind == VOLUME else 'Boot volume'} {volume_id} has a backup in "
                               f"progress ({busy[0]['id']}); it cannot be deleted until the backup completes.")
            attachment_kind, attached_field = (("volumeattachment", "volume_id") if kind == VOLUME
                                               else ("bootvolumeattachment", "boot_volume_id"))
            attached = self.store.list(attachment_kind, where=lambda a: a.get(attached_field) == volume_id
                                       and a.get("lifecycle_state") in ("ATTACHING", "ATTACHED"))
            if attached:
                raise conflict(f"{'Volume' if kind == VOLUME else 'Boot volume'} {volume_id} is attached to "
                               f"instance {attached[0].get('instance_id')}; detach it before deleting it.")
            vol["lifecycle_state"] = "TERMINATING"
            self.store.schedule(vol, [(TERMINATE, {"lifecycle_state": "TERMINATED"})])
            if vol.get("volume_group_id"):
                self._leave_group(vol["volume_group_id"], volume_id)

    def terminate_later(self, volume_id: str, starts_after: float, done_after: float) -> None:
        """A boot volume that goes with its instance: TERMINATING after `starts_after`, TERMINATED after
        `done_after` emulated seconds (compute calls this; it never writes block storage's rows itself)."""
        with self.store.lock:
            vol = self.store.find(volume_id)
            if vol and vol["_kind"] in VOLUME_KINDS and vol["lifecycle_state"] not in ("TERMINATING", "TERMINATED"):
                self.store.schedule(vol, [(starts_after, {"lifecycle_state": "TERMINATING"}),
                                          (done_after, {"lifecycle_state": "TERMINATED"})])

    # -- backups ---------------------------------------------------------------------------------------
    def create_backup(self, kind: str, region: str, details: dict,
                      volume_group_backup_id: str | None = None, injected: Injected | None = None,
                      held: dict | None = None) -> dict:
        """CreateVolumeBackup / CreateBootVolumeBackup: a point-in-time copy of the volume's blocks, FULL or
        INCREMENTAL (the default, as in OCI) over the previous backup of that volume. REQUEST_RECEIVED for
        `POINT_IN_TIME` (longer under an admin hold; a group's members share its hold, `held`), then CREATING."""
        volume_kind = VOLUME if kind == VOLUME_BACKUP else BOOT
        volume_field = VOLUME_FIELD[kind]
        volume_id = details.get(volume_field)
        if not volume_id:
            raise missing("volumeId" if kind == VOLUME_BACKUP else "bootVolumeId")
        backup_type = details.get("type") or "INCREMENTAL"
        if backup_type not in BACKUP_TYPES:
            raise invalid(f"Invalid type '{backup_type}': a backup type must be one of FULL, INCREMENTAL.")
        self.check_references(details)
        with self.store.lock:
            vol = self.get(volume_kind, volume_id, region)
            if vol["lifecycle_state"] != "AVAILABLE":
                raise incorrect_state(f"{'Volume' if volume_kind == VOLUME else 'Boot volume'} {volume_id} is "
                                      f"{vol['lifecycle_state']}; only an AVAILABLE volume can be backed up.")
            now = self.state.now()
            blocks: BlockMap = dict(vol.get("_blocks") or {})
            previous = self._latest_backup(kind, volume_id, region)
            if backup_type == "FULL":
                own = {"_blocks": blocks, "_delta": None, "_base": None}
                stored = len(blocks)
            else:
                parent = self.resolve(previous) if previous else {}
                delta = diff(parent, blocks)
                own = {"_blocks": None, "_delta": delta, "_base": previous["id"] if previous else None}
                stored = sum(1 for v in delta.values() if v)
            stored_bytes = stored * self.content.block_size
            fields = dict(
                compartment_id=vol["compartment_id"], defined_tags=_tags(vol.get("defined_tags"),
                                                                         details.get("defined_tags")),
                system_tags={}, display_name=details.get("display_name") or _default_name(
                    "bootvolumebackup" if kind == BOOT_BACKUP else "volumebackup", now),
                expiration_time=None, freeform_tags=_tags(vol.get("freeform_tags"), details.get("freeform_tags")),
                kms_key_id=details.get("kms_key_id"), lifecycle_state="CREATING",
                size_in_gbs=vol["size_in_gbs"], source_type="MANUAL", time_request_received=self.now_iso(),
                type=backup_type, unique_size_in_gbs=math.ceil(stored_bytes / GB), time_retention_expires_at=None,
                retention_period=None, is_prevent_deletion_enabled=False, is_retention_lock_enabled=False,
                is_indefinite_retention_enabled=False, volume_group_backup_id=volume_group_backup_id,
                **{volume_field: volume_id, SOURCE_BACKUP_FIELD[kind]: None}, **own)
            if kind == VOLUME_BACKUP:
                fields.update(size_in_mbs=vol["size_in_gbs"] * 1024, unique_size_in_mbs=math.ceil(stored_bytes / MIB))
            else:
                fields.update(image_id=vol.get("image_id"))
            fields["lifecycle_state"] = "REQUEST_RECEIVED"
            backup = self.new(kind, kind, region, **fields)
            delay = self.duration(BACKUP[0], stored_bytes, BACKUP[1])
            backup["_held"] = held if volume_group_backup_id else self.take_hold()
            backup = self.store.schedule(backup, [(POINT_IN_TIME, {"lifecycle_state": "CREATING"}),
                                                  (POINT_IN_TIME + delay, {"lifecycle_state": "AVAILABLE"})])
            if injected is not None and injected.take_corrupt_backup():
                self.corrupt_backup(backup["id"])
                backup = self.store.get(kind, backup["id"])
            return backup

    def _latest_backup(self, kind: str, volume_id: str, region: str) -> dict | None:
        """The backup an INCREMENTAL builds on: the newest live backup made of this volume in this region."""
        field = VOLUME_FIELD[kind]
        source_field = SOURCE_BACKUP_FIELD[kind]
        live = self.store.list(kind, region, lambda b: b.get(field) == volume_id and not b.get(source_field)
                               and b["lifecycle_state"] in ("CREATING", "AVAILABLE", "REQUEST_RECEIVED"))
        return live[-1] if live else None

    def get_backup(self, kind: str, backup_id: str, region: str) -> dict:
        return self.get(kind, backup_id, region)

    def update_backup(self, kind: str, backup_id: str, region: str, details: dict) -> dict:
        """UpdateVolumeBackup / UpdateBootVolumeBackup: display name and tags (how a backup is marked verified)."""
        self.check_references(details)
        backup = self.get(kind, backup_id, region)
        for field in ("display_name", "freeform_tags", "defined_tags"):
            if details.get(field) is not None:
                backup[field] = details[field]
        return self.store.put(backup)

    def list_backups(self, kind: str, region: str, compartment_id: str | None) -> list[dict]:
        if not compartment_id:
            raise missing("compartmentId")
        return self.store.list(kind, region, lambda b: b["compartment_id"] == compartment_id)

    def delete_backup(self, kind: str, backup_id: str, region: str) -> None:
        """TERMINATING, then TERMINATED. Later INCREMENTAL backups stay restorable: this backup's blocks are
        merged into its child before it goes."""
        with self.store.lock:
            backup = self.get(kind, backup_id, region)
            if backup["lifecycle_state"] in ("TERMINATING", "TERMINATED"):
                return
            if backup["lifecycle_state"] in ("CREATING", "REQUEST_RECEIVED"):
                raise incorrect_state(f"Backup {backup_id} is {backup['lifecycle_state']}; it can be deleted once "
                                      "it is AVAILABLE.")
            self._detach_from_chain(backup)
            backup["lifecycle_state"] = "TERMINATING"
            self.store.schedule(backup, [(TERMINATE, {"lifecycle_state": "TERMINATED"})])

    def _detach_from_chain(self, backup: dict) -> None:
        own = backup["_blocks"] if backup.get("_blocks") is not None else (backup.get("_delta") or {})
        for child in self._children(backup["id"]):
            merged = {**own, **(child.get("_delta") or {})}
            if backup.get("_blocks") is not None:  # the parent was a whole map: zeros need no marker
                merged = {k: v for k, v in merged.items() if v}
            child["_delta"] = merged
            child["_base"] = backup.get("_base")
            stored_bytes = sum(1 for v in merged.values() if v) * self.content.block_size
            child["unique_size_in_gbs"] = math.ceil(stored_bytes / GB)
            if "unique_size_in_mbs" in child:
                child["unique_size_in_mbs"] = math.ceil(stored_bytes / MIB)
            self.store.put(child)

    def copy_backup(self, kind: str, backup_id: str, region: str, details: dict,
                    injected: Injected | None = None) -> tuple[dict, dict]:
        """CopyVolumeBackup / CopyBootVolumeBackup: a self-contained backup in the destination region, tracked
        by a work request in the source region; returns (new backup, work request)."""
        destination = self._copy_destination(region, details)
        with self.store.lock:
            source = self.get(kind, backup_id, region)
            copy, delay = self._copy_of(source, destination, details.get("display_name"))
            path = "volumeBackups" if kind == VOLUME_BACKUP else "bootVolumeBackups"
            resource = {"entity_type": kind, "identifier": copy["id"], "entity_uri": f"/20160918/{path}/{copy['id']}"}
            operation = "CopyVolumeBackup" if kind == VOLUME_BACKUP else "CopyBootVolumeBackup"
            wr = self.workrequests.start(operation, source["compartment_id"], region, [resource], delay,
                                             injected=injected)
            final = "FAULTY" if self.workrequests.failed(wr) else "AVAILABLE"
            copy = self.store.schedule(copy, [(delay, {"lifecycle_state": final})])
            return copy, wr

    def _copy_destination(self, region: str, details: dict) -> str:
        destination = details.get("destination_region")
        if not destination:
            raise missing("destinationRegion")
        known = {r.name for r in self.state.regions}
        if destination not in known:
            raise invalid(f"destinationRegion '{destination}' is not a region of this realm "
                          f"({', '.join(sorted(known))}).")
        if destination == region:
            raise invalid(f"destinationRegion '{destination}': a backup copy must go to another region.")
        self.check_references(details)
        return destination

    def _copy_of(self, source: dict, destination: str, display_name: str | None,
                 group_backup_id: str | None = None) -> tuple[dict, float]:
        """A CREATING self-contained copy of an AVAILABLE backup in `destination` (not stored), and how long the
        copy takes."""
        kind = source["_kind"]
        if source["lifecycle_state"] != "AVAILABLE":
            raise incorrect_state(f"Backup {source['id']} is {source['lifecycle_state']}; only an AVAILABLE "
                                  "backup can be copied.")
        blocks = self.resolve(source)
        stored_bytes = len(blocks) * self.content.block_size
        fields = {k: v for k, v in source.items() if not k.startswith("_") and k not in ("id", "time_created")}
        fields.update(
            display_name=display_name or source["display_name"], kms_key_id=None, lifecycle_state="CREATING",
            time_request_received=self.now_iso(), unique_size_in_gbs=math.ceil(stored_bytes / GB),
            volume_group_backup_id=group_backup_id, _blocks=blocks, _delta=None, _base=None,
            **{SOURCE_BACKUP_FIELD[kind]: source["id"]})
        if "unique_size_in_mbs" in fields:
            fields["unique_size_in_mbs"] = math.ceil(stored_bytes / MIB)
        return self.new(kind, kind, destination, **fields), self.duration(COPY[0], stored_bytes, COPY[1])

    # -- volume groups ---------------------------------------------------------------------------------
    def create_group(self, region: str, details: dict) -> dict:
        """CreateVolumeGroup from existing volumes and boot volumes (sourceDetails type volumeIds), as a clone
        of another group (volumeGroupId) or restored from a volume group backup (volumeGroupBackupId)."""
        compartment_id = self.compartment(details.get("compartment_id"))
        ad = details.get("availability_domain")
        if not ad:
            raise missing("availabilityDomain")
        if ad not in self.identity.ad_names(region):
            raise invalid(f"availabilityDomain '{ad}' is not an availability domain of {region}.")
        self.check_references(details)
        source = details.get("source_details") or {}
        if not source:
            raise missing("sourceDetails")
        group_types = ("volumeIds", "volumeGroupId", "volumeGroupBackupId")
        if source.get("type") not in group_types:
            raise invalid(f"Invalid sourceDetails.type '{source.get('type')}'; must be one of "
                          f"{', '.join(group_types)}.")
        if source["type"] != "volumeIds":
            return self._group_from_source(region, compartment_id, ad, source, details)
        volume_ids = list(source.get("volume_ids") or [])
        if not volume_ids:
            raise missing("sourceDetails.volumeIds")
        with self.store.lock:
            members = [self.get(VOLUME_KINDS, vid, region) for vid in volume_ids]
            for m in members:
                if m["availability_domain"] != ad:
                    raise invalid(f"volume {m['id']} is in {m['availability_domain']}, not in {ad}: a volume group's "
                                  "volumes share its availability domain.")
                if m["lifecycle_state"] != "AVAILABLE":
                    raise incorrect_state(f"volume {m['id']} is {m['lifecycle_state']}, not AVAILABLE.")
                if m.get("volume_group_id"):
                    raise conflict(f"volume {m['id']} already belongs to volume group {m['volume_group_id']}.")
            group = self._new_group(region, compartment_id, ad, details, members,
                                    {"type": "volumeIds", "volume_ids": volume_ids})
            for m in members:
                m["volume_group_id"] = group["id"]
                self.store.put(m)
            return self.store.schedule(group, [(GROUP_PROVISION, {"lifecycle_state": "AVAILABLE"})])

    def _group_from_source(self, region: str, compartment_id: str, ad: str, source: dict, details: dict) -> dict:
        """A new group whose volumes are clones of another group's volumes, or restores of a group backup's
        member backups: real bytes, each volume PROVISIONING for its own clone or restore time, the group
        AVAILABLE when its last volume is."""
        clone = source["type"] == "volumeGroupId"
        source_field = "volume_group_id" if clone else "volume_group_backup_id"
        source_id = source.get(source_field)
        if not source_id:
            raise missing(f"sourceDetails.{'volumeGroupId' if clone else 'volumeGroupBackupId'}")
        with self.store.lock:
            origin = self.get(GROUP if clone else GROUP_BACKUP, source_id, region)
            noun = "Volume group" if clone else "Volume group backup"
            if origin["lifecycle_state"] != "AVAILABLE":
                raise incorrect_state(f"{noun} {source_id} is {origin['lifecycle_state']}, not AVAILABLE.")
            member_ids = origin["volume_ids"] if clone else origin["volume_backup_ids"]
            volumes = []
            for mid in member_ids:
                member = self.store.get(VOLUME_KINDS if clone else BACKUP_KINDS, mid, region)
                if clone:
                    kind, blocks, timing = member["_kind"], dict(member.get("_blocks") or {}), CLONE
                    member_source = {"type": "volume" if kind == VOLUME else "bootVolume", "id": mid}
                else:
                    kind = VOLUME if member["_kind"] == VOLUME_BACKUP else BOOT
                    blocks, timing = self.resolve(member), RESTORE
                    member_source = {"type": "volumeBackup" if kind == VOLUME else "bootVolumeBackup", "id": mid}
                    if member["lifecycle_state"] != "AVAILABLE":
                        raise incorrect_state(f"Backup {mid} of volume group backup {source_id} is "
                                              f"{member['lifecycle_state']}, not AVAILABLE.")
                size = member["size_in_gbs"]
                name = member["display_name"] if clone else self._restored_name(member)
                # as a single restore: the request's freeform tags when it gives some, else the source's
                tags = details.get("freeform_tags") if details.get("freeform_tags") is not None \
                    else member.get("freeform_tags")
                vol = self.make_volume(kind, region, compartment_id, ad, name, size, blocks,
                                       freeform_tags=tags, image_id=member.get("image_id"),
                                       source_details=member_source,
                                       ready_after=self.duration(timing[0], size * GB, timing[1]))
                volumes.append(vol)
            group = self._new_group(region, compartment_id, ad, details, volumes,
                                    {"type": source["type"], source_field: source_id})
            now = self.state.now()
            for vol in volumes:
                vol["volume_group_id"] = group["id"]
                self.store.put(vol)
            done = max((self.store.pending(v)[-1][0] for v in volumes if self.store.pending(v)), default=now)
            return self.store.schedule(group, [(max(done - now, GROUP_PROVISION),
                                                {"lifecycle_state": "AVAILABLE"})])

    def _new_group(self, region: str, compartment_id: str, ad: str, details: dict, members: list[dict],
                   source_details: dict) -> dict:
        size = sum(m["size_in_gbs"] for m in members)
        return self.new(
            GROUP, GROUP, region, availability_domain=ad, compartment_id=compartment_id,
            defined_tags=details.get("defined_tags") or {},
            display_name=details.get("display_name") or _default_name("volumegroup", self.state.now()),
            freeform_tags=details.get("freeform_tags") or {}, lifecycle_state="PROVISIONING",
            size_in_mbs=size * 1024, size_in_gbs=size, source_details=source_details,
            volume_ids=[m["id"] for m in members], is_hydrated=True, volume_group_replicas=None)

    def _restored_name(self, backup: dict) -> str:
        """A restored member is named after the volume it was backed up from, as OCI does."""
        source = self.store.find(backup.get(VOLUME_FIELD[backup["_kind"]]) or "")
        return source["display_name"] if source else backup["display_name"]

    def list_groups(self, region: str, compartment_id: str | None, availability_domain: str | None) -> list[dict]:
        if not compartment_id:
            raise missing("compartmentId")
        return self.store.list(GROUP, region, lambda g: g["compartment_id"] == compartment_id and (
            not availability_domain or g["availability_domain"] == availability_domain))

    def delete_group(self, group_id: str, region: str) -> None:
        """Deleting a group leaves its volumes in place, out of the group."""
        with self.store.lock:
            group = self.get(GROUP, group_id, region)
            if group["lifecycle_state"] in ("TERMINATING", "TERMINATED"):
                return
            for vid in group["volume_ids"]:
                member = self.store.find(vid)
                if member and member.get("volume_group_id") == group_id:
                    member["volume_group_id"] = None
                    self.store.put(member)
            group["lifecycle_state"] = "TERMINATING"
            self.store.schedule(group, [(TERMINATE, {"lifecycle_state": "TERMINATED"})])

    def _leave_group(self, group_id: str, volume_id: str) -> None:
        group = self.store.find(group_id)
        if group and volume_id in group["volume_ids"]:
            group["volume_ids"] = [v for v in group["volume_ids"] if v != volume_id]
            self.store.put(group)

    def create_group_backup(self, region: str, details: dict, injected: Injected | None = None) -> dict:
        """CreateVolumeGroupBackup: one (boot) volume backup per member, made at the same point in time; the
        group backup is AVAILABLE when the last member backup is."""
        group_id = details.get("volume_group_id")
        if not group_id:
            raise missing("volumeGroupId")
        backup_type = details.get("type") or "INCREMENTAL"
        if backup_type not in BACKUP_TYPES:
            raise invalid(f"Invalid type '{backup_type}': a backup type must be one of FULL, INCREMENTAL.")
        with self.store.lock:
            group = self.get(GROUP, group_id, region)
            if group["lifecycle_state"] != "AVAILABLE":
                raise incorrect_state(f"Volume group {group_id} is {group['lifecycle_state']}, not AVAILABLE.")
            compartment_id = self.compartment(details.get("compartment_id") or group["compartment_id"])
            now = self.state.now()
            hold = self.take_hold()
            group_backup = self.new(
                GROUP_BACKUP, GROUP_BACKUP, region, compartment_id=compartment_id, _held=hold,
                defined_tags=details.get("defined_tags") or {},
                display_name=details.get("display_name") or _default_name("volumegroupbackup", now),
                expiration_time=None, freeform_tags=details.get("freeform_tags") or {},
                lifecycle_state="REQUEST_RECEIVED", source_type="MANUAL", time_request_received=self.now_iso(),
                type=backup_type, volume_group_id=group_id, source_volume_group_backup_id=None,
                time_retention_expires_at=None, retention_period=None, is_prevent_deletion_enabled=False,
                is_retention_lock_enabled=False, is_indefinite_retention_enabled=False)
            members = []
            for vid in group["volume_ids"]:
                vol = self.store.get(VOLUME_KINDS, vid, region)
                kind = BACKUP_OF[vol["_kind"]]
                members.append(self.create_backup(kind, region, {
                    VOLUME_FIELD[kind]: vid, "type": backup_type, "freeform_tags": details.get("freeform_tags"),
                    "display_name": f"{group_backup['display_name']} - {vol['display_name']}"},
                    volume_group_backup_id=group_backup["id"], injected=injected, held=hold))
            size = sum(b["size_in_gbs"] for b in members)
            unique_mb = sum(b.get("unique_size_in_mbs", b["unique_size_in_gbs"] * 1024) for b in members)
            group_backup.update(
                size_in_gbs=size, size_in_mbs=size * 1024, unique_size_in_mbs=unique_mb,
                # VolumeGroupBackup spells this field uniqueSizeInGbs (unlike VolumeBackup's uniqueSizeInGBs);
                # the serialiser camel-cases this key to exactly that.
                unique_size_in_Gbs=math.ceil(unique_mb / 1024),
                volume_backup_ids=[b["id"] for b in members])
            done = max((self.store.pending(b)[-1][0] for b in members if self.store.pending(b)), default=now)
            return self.store.schedule(group_backup, [(POINT_IN_TIME, {"lifecycle_state": "CREATING"}),
                                                      (done - now, {"lifecycle_state": "AVAILABLE"})])

    # -- the admin hold at the point-in-time step ----------------------------------------------------------
    def set_hold(self, milliseconds: float | None, count: int | None) -> dict:
        """Keep the next `count` backups (volume, boot volume or volume group; None: every one) REQUEST_RECEIVED
        for `milliseconds` of real time (None: until released), so a test can look at what is quiesced while
        OCI is taking the point in time."""
        if milliseconds is not None and float(milliseconds) < 0:
            raise invalid("milliseconds: 0 or more, or null for a hold until released")
        if count is not None and int(count) < 1:
            raise invalid("count: 1 or more, or null for every backup")
        self._hold = {"milliseconds": None if milliseconds is None else float(milliseconds),
                      "count": None if count is None else int(count)}
        return self.holds()

    def take_hold(self) -> dict | None:
        """The `_held` field of a backup made now (one of the hold's count), or None."""
        hold = getattr(self, "_hold", None)
        if not hold:
            return None
        if hold["count"] is not None:
            hold["count"] -= 1
            if hold["count"] <= 0:
                self._hold = None
        ms = hold["milliseconds"]
        return {"until": None if ms is None else time.time() + ms / 1000, "since": self.state.now(),
                "milliseconds": ms}

    def held_backups(self) -> list[dict]:
        kinds = (VOLUME_BACKUP, BOOT_BACKUP, GROUP_BACKUP)
        return [r for kind in kinds for r in self.store.list(kind, where=lambda r: bool(r.get("_held")))]

    def holds(self) -> dict:
        return {"pending": getattr(self, "_hold", None),
                "held": [{"id": r["id"], "lifecycle_state": r["lifecycle_state"]} for r in self.held_backups()]}

    def release_holds(self) -> dict:
        """End the hold: held backups go on (CREATING after the rest of their step), later ones are not held."""
        self._hold = None
        with self.store.lock:
            released = []
            for res in self.held_backups():
                res["_held"].update(until=0.0, released_at=self.state.now())
                self.store.put(res)
                released.append(res["id"])
        return {"released": released}

    def update_group(self, group_id: str, region: str, details: dict) -> dict:
        """UpdateVolumeGroup: name, tags, and the member list (volumeIds replaces it: new members must be
        AVAILABLE, in the group's AD and in no other group; dropped ones leave the group)."""
        self.check_references(details)
        with self.store.lock:
            group = self.get(GROUP, group_id, region)
            if group["lifecycle_state"] != "AVAILABLE":
                raise incorrect_state(f"Volume group {group_id} is {group['lifecycle_state']}, not AVAILABLE.")
            for field in ("display_name", "freeform_tags", "defined_tags"):
                if details.get(field) is not None:
                    group[field] = details[field]
            wanted = details.get("volume_ids")
            if wanted is not None:
                if not wanted:
                    raise invalid("volumeIds: a volume group keeps at least one volume.")
                members = [self.get(VOLUME_KINDS, vid, region) for vid in wanted]
                for m in members:
                    if m["id"] in group["volume_ids"]:
                        continue
                    if m["availability_domain"] != group["availability_domain"]:
                        raise invalid(f"volume {m['id']} is in {m['availability_domain']}, not in "
                                      f"{group['availability_domain']}.")
                    if m["lifecycle_state"] != "AVAILABLE":
                        raise incorrect_state(f"volume {m['id']} is {m['lifecycle_state']}, not AVAILABLE.")
                    if m.get("volume_group_id"):
                        raise conflict(f"volume {m['id']} already belongs to volume group {m['volume_group_id']}.")
                for vid in set(group["volume_ids"]) - set(wanted):
                    old = self.store.find(vid)
                    if old and old.get("volume_group_id") == group_id:
                        old["volume_group_id"] = None
                        self.store.put(old)
                for m in members:
                    m["volume_group_id"] = group_id
                    self.store.put(m)
                size = sum(m["size_in_gbs"] for m in members)
                group.update(volume_ids=[m["id"] for m in members], size_in_gbs=size, size_in_mbs=size * 1024)
            return self.store.put(group)

    def update_group_backup(self, group_backup_id: str, region: str, details: dict) -> dict:
        """UpdateVolumeGroupBackup: name and tags (how a group backup is marked verified)."""
        self.check_references(details)
        with self.store.lock:
            group_backup = self.get(GROUP_BACKUP, group_backup_id, region)
            for field in ("display_name", "freeform_tags", "defined_tags"):
                if details.get(field) is not None:
                    group_backup[field] = details[field]
            return self.store.put(group_backup)

    def copy_group_backup(self, group_backup_id: str, region: str, details: dict,
                          injected: Injected | None = None) -> tuple[dict, dict]:
        """CopyVolumeGroupBackup: the group backup and each member backup, self-contained, in the destination
        region under one work request; AVAILABLE when the last member copy is."""
        destination = self._copy_destination(region, details)
        with self.store.lock:
            source = self.get(GROUP_BACKUP, group_backup_id, region)
            if source["lifecycle_state"] != "AVAILABLE":
                raise incorrect_state(f"Volume group backup {group_backup_id} is {source['lifecycle_state']}; "
                                      f"only an AVAILABLE group backup can be copied.")
            fields = {k: v for k, v in source.items() if not k.startswith("_") and k not in ("id", "time_created")}
            fields.update(display_name=details.get("display_name") or source["display_name"],
                          lifecycle_state="CREATING", time_request_received=self.now_iso(),
                          source_volume_group_backup_id=group_backup_id, source_type="MANUAL")
            copy = self.new(GROUP_BACKUP, GROUP_BACKUP, destination, **fields)
            members, took = [], 0.0
            for bid in source["volume_backup_ids"]:
                member, delay = self._copy_of(self.store.get(BACKUP_KINDS, bid, region), destination, None, copy["id"])
                members.append(member)
                took = max(took, delay)
            copy["volume_backup_ids"] = [m["id"] for m in members]
            resource = {"entity_type": GROUP_BACKUP, "identifier": copy["id"],
                        "entity_uri": f"/20160918/volumeGroupBackups/{copy['id']}"}
            wr = self.workrequests.start("CopyVolumeGroupBackup", source["compartment_id"], region, [resource],
                                             took, injected=injected)
            final = "FAULTY" if self.workrequests.failed(wr) else "AVAILABLE"
            for member in members:
                self.store.schedule(member, [(took, {"lifecycle_state": final})])
            return self.store.schedule(copy, [(took, {"lifecycle_state": final})]), wr

    def list_group_backups(self, region: str, compartment_id: str | None) -> list[dict]:
        if not compartment_id:
            raise missing("compartmentId")
        return self.store.list(GROUP_BACKUP, region, lambda g: g["compartment_id"] == compartment_id)

    def delete_group_backup(self, group_backup_id: str, region: str) -> None:
        """Deleting a volume group backup deletes its member backups too, as OCI does."""
        with self.store.lock:
            group_backup = self.get(GROUP_BACKUP, group_backup_id, region)
            if group_backup["lifecycle_state"] in ("TERMINATING", "TERMINATED"):
                return
            if group_backup["lifecycle_state"] != "AVAILABLE":
                raise incorrect_state(f"Volume group backup {group_backup_id} is "
                                      f"{group_backup['lifecycle_state']}; it can be deleted once it is AVAILABLE.")
            for bid in group_backup["volume_backup_ids"]:
                member = self.store.find(bid)
                if member:
                    self.delete_backup(member["_kind"], bid, region)
            group_backup["lifecycle_state"] = "TERMINATING"
            self.store.schedule(group_backup, [(TERMINATE, {"lifecycle_state": "TERMINATED"})])


def _vpus(kind: str, value) -> int:
    """OCI's performance levels: 0 (Lower Cost, volumes only) to 120 VPUs/GB in steps of 10."""
    try:
        vpus = int(value)
    except (TypeError, ValueError) as exc:
        raise invalid(f"vpusPerGB '{value}' must be an integer.") from exc
    lowest = 0 if kind == VOLUME else 10
    if vpus % 10 or not lowest <= vpus <= 120:
        raise invalid(f"vpusPerGB {vpus}: must be a multiple of 10 from {lowest} to 120.")
    return vpus


_FLIP = bytes(255 - i for i in range(256))
