"""OciHook's Block Storage methods (mixed into OciHook: the same clients, retries and waits), and the XCom dict
of a backup."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from common.ids import ocid_kind
from common.tags import GROUP_TAG, VERIFIED_LEVEL_TAG, VERIFIED_TAG, VERIFY_FAILED_TAG

from hooks.base import OciBaseHook


def backup_result(backup: Any, region: str) -> dict:
    """The XCom dict of a block, boot or volume group backup (an SDK model or the same fields)."""

    kind = ocid_kind(backup.id)
    source = getattr(backup, "volume_id", None) or getattr(backup, "boot_volume_id", None) or \
        getattr(backup, "volume_group_id", None)
    return {"backup_id": backup.id, "kind": kind, "source_id": source, "type": backup.type,
            "display_name": backup.display_name, "lifecycle_state": backup.lifecycle_state,
            "size_in_gbs": getattr(backup, "size_in_gbs", None),
            "unique_size_in_gbs": getattr(backup, "unique_size_in_gbs", None),
            "unique_size_in_mbs": getattr(backup, "unique_size_in_mbs", None),
            "time_created": backup.time_created.isoformat() if backup.time_created else None,
            "freeform_tags": dict(backup.freeform_tags or {}), "region": region,
            # set on the member backups of a volume group backup: they go with the group backup, never alone
            "volume_group_backup_id": getattr(backup, "volume_group_backup_id", None)}


class OciBlockStorageHook(OciBaseHook):
    """Backups of volumes, for OciHook (which provides get_client, get_resource, list_all)."""

    def list_backups(self, volume_id: str, compartment_id: str | None = None, region: str | None = None,
                     lifecycle_state: str | None = None) -> list[dict]:
        """Every backup of a block or boot volume (all pages), newest first, as XCom dicts.

        :param volume_id: the block or boot volume
        :param compartment_id: where its backups are; None: the volume's
        :param region: the volume's region; None: the connection's
        :param lifecycle_state: only backups in this state (e.g. AVAILABLE); None: all
        """

        client = self.get_client("blockstorage", region)
        volume = self.get_resource(volume_id, region)  # also a clear 404 for a volume that is gone
        compartment_id = compartment_id or volume.compartment_id
        kwargs = {"lifecycle_state": lifecycle_state} if lifecycle_state else {}
        if ocid_kind(volume_id) == "bootvolume":
            items = self.list_all(client.list_boot_volume_backups, compartment_id, boot_volume_id=volume_id,
                                  **kwargs)
        else:
            items = self.list_all(client.list_volume_backups, compartment_id, volume_id=volume_id, **kwargs)
        result = [backup_result(b, region or self.region) for b in items]
        return sorted(result, key=lambda b: b["time_created"] or "", reverse=True)

    def backups_by_volume(self, volumes: list[dict], region: str | None = None) -> dict[str, list[dict]]:
        """`list_backups` for many volumes at once: every block and boot volume backup in their compartments (all
        pages, two list calls per compartment and region), by source volume id, each newest first. A run over N
        volumes makes a few calls instead of 2N, each answered from one listing.

        :param volumes: dicts with ``volume_id``, ``compartment_id`` and optionally ``region`` (a plan's items)
        :param region: the region of a volume without one; None: the connection's
        """
        found: dict[str, list[dict]] = {v["volume_id"]: [] for v in volumes}
        for where in sorted({(v["compartment_id"], v.get("region") or region) for v in volumes}, key=str):
            client = self.get_client("blockstorage", where[1])
            for lister, field in ((client.list_volume_backups, "volume_id"),
                                  (client.list_boot_volume_backups, "boot_volume_id")):
                for b in self.list_all(lister, where[0]):
                    if getattr(b, field, None) in found:
                        found[getattr(b, field)].append(backup_result(b, where[1] or self.region))
        for backups in found.values():
            backups.sort(key=lambda b: b["time_created"] or "", reverse=True)
        return found

    def list_group_backups(self, group_name: str, compartment_id: str, region: str | None = None) -> list[dict]:
        """Every volume group backup of the `backup-group` named `group_name` (tagged so when it was made; all
        pages), newest first, as XCom dicts.

        :param group_name: the `backup-group` tag value
        :param compartment_id: where the group's backups are (its first member's compartment)
        :param region: None: the connection's
        """
        client = self.get_client("blockstorage", region)
        items = self.list_all(client.list_volume_group_backups, compartment_id)
        result = [backup_result(b, region or self.region) for b in items
                  if (b.freeform_tags or {}).get(GROUP_TAG) == group_name]
        return sorted(result, key=lambda b: b["time_created"] or "", reverse=True)

    def mark_verified(self, backup_id: str, level: str, at: datetime, region: str | None = None,
                      passed: bool = True) -> dict:
        """Tag a backup that passed a test restore: retention keeps the newest one, the report reads RPO off it.
        With `passed` False, tag that its test restore failed: a later run never adopts it as an unverified
        backup still to prove.

        :param backup_id: the block, boot volume or volume group backup
        :param level: how far the test restore went (api, boot, script)
        :param at: when it passed (or failed)
        :param region: the backup's region; None: the connection's
        :param passed: whether the test restore passed
        """
        import oci

        client = self.get_client("blockstorage", region)
        backup = self.get_resource(backup_id, region)
        tags = {**(backup.freeform_tags or {}), **({VERIFIED_TAG: at.isoformat(), VERIFIED_LEVEL_TAG: level}
                                                    if passed else {VERIFY_FAILED_TAG: at.isoformat()})}
        m = oci.core.models
        if ocid_kind(backup_id) == "volumegroupbackup":
            updated = client.update_volume_group_backup(backup_id, m.UpdateVolumeGroupBackupDetails(
                freeform_tags=tags))
        elif ocid_kind(backup_id) == "bootvolumebackup":
            updated = client.update_boot_volume_backup(backup_id, m.UpdateBootVolumeBackupDetails(freeform_tags=tags))
        else:
            updated = client.update_volume_backup(backup_id, m.UpdateVolumeBackupDetails(freeform_tags=tags))
        return backup_result(updated.data, region or self.region)

    def boot_volume_availability_domain(self, boot_volume_id: str | None, region: str | None = None) -> str | None:
        """The availability domain of a boot volume, or None when there is none or it is gone (a restore then needs
        its AD given; that is checked where the restore reads the backup).

        :param boot_volume_id: the boot volume; None: none
        :param region: its region; None: the connection's
        """
        import oci

        if not boot_volume_id:
            return None
        try:
            return self.get_client("blockstorage", region).get_boot_volume(boot_volume_id).data.availability_domain
        except oci.exceptions.ServiceError as err:
            if err.status != 404:
                raise
            return None

    def volumes_in(self, compartment_id: str, region: str | None = None, **call_kwargs: Any) -> list:
        """Every block and boot volume of a compartment, all pages: OCI lists boot volumes only per
        availability domain, so it takes one listing of block volumes and one of boot volumes per AD.

        :param compartment_id: the compartment
        :param region: None: the connection's
        :param call_kwargs: passed to every SDK call (the protection page's `retry_strategy`: one try each)
        """
        storage = self.get_client("blockstorage", region)
        ads = self.availability_domains(compartment_id, region, **call_kwargs)
        volumes = self.list_all(storage.list_volumes, compartment_id=compartment_id, **call_kwargs)
        return [*volumes, *(b for ad in ads for b in self.list_all(
            storage.list_boot_volumes, availability_domain=ad, compartment_id=compartment_id, **call_kwargs))]
