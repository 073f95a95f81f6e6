"""Block Storage API (20160918): volumes, boot volumes, their backups (with cross-region copy), volume groups
and volume group backups. Handlers parse and serialise; `sim.blockstorage` holds the rules."""

from __future__ import annotations

from ..routing import Response, Route, filtered, page, sort

V = "/20160918"
VOLUME, BOOT = "volume", "bootvolume"
VOLUME_BACKUP, BOOT_BACKUP = "volumebackup", "bootvolumebackup"


def _listing(items: list[dict], req, **filters: str) -> Response:
    return page(sort(filtered(items, req, **filters), req), req)


# -- volumes and boot volumes ------------------------------------------------------------------------------
def _create_volume(kind: str):
    def handler(sim, req):
        return sim.blockstorage.create_volume(kind, req.region, req.json())
    return handler


def _get_volume(kind: str, param: str):
    def handler(sim, req):
        return sim.blockstorage.get_volume(kind, req.params[param], req.region)
    return handler


def _update_volume(kind: str, param: str):
    def handler(sim, req):
        return sim.blockstorage.update_volume(kind, req.params[param], req.region, req.json())
    return handler


def list_volumes(sim, req):
    items = sim.blockstorage.list_volumes(VOLUME, req.region, req.q("compartmentId"), req.q("availabilityDomain"),
                                          req.q("volumeGroupId"))
    return _listing(items, req, displayName="display_name", lifecycleState="lifecycle_state",
                    clusterPlacementGroupId="cluster_placement_group_id")


def list_boot_volumes(sim, req):
    items = sim.blockstorage.list_volumes(BOOT, req.region, req.q("compartmentId"), req.q("availabilityDomain"),
                                          req.q("volumeGroupId"))
    return page(sort(items, req), req)


def _delete_volume(kind: str, param: str):
    def handler(sim, req):
        sim.blockstorage.delete_volume(kind, req.params[param], req.region)
    return handler


# -- backups -----------------------------------------------------------------------------------------------
def _create_backup(kind: str):
    def handler(sim, req):
        return sim.blockstorage.create_backup(kind, req.region, req.json(), injected=req.injected)
    return handler


def _update_backup(kind: str, param: str):
    def handler(sim, req):
        return sim.blockstorage.update_backup(kind, req.params[param], req.region, req.json())
    return handler


def _get_backup(kind: str, param: str):
    def handler(sim, req):
        return sim.blockstorage.get_backup(kind, req.params[param], req.region)
    return handler


def list_volume_backups(sim, req):
    items = sim.blockstorage.list_backups(VOLUME_BACKUP, req.region, req.q("compartmentId"))
    return _listing(items, req, volumeId="volume_id", displayName="display_name", lifecycleState="lifecycle_state",
                    sourceVolumeBackupId="source_volume_backup_id")


def list_boot_volume_backups(sim, req):
    items = sim.blockstorage.list_backups(BOOT_BACKUP, req.region, req.q("compartmentId"))
    return _listing(items, req, bootVolumeId="boot_volume_id", displayName="display_name",
                    lifecycleState="lifecycle_state", sourceBootVolumeBackupId="source_boot_volume_backup_id")


def _delete_backup(kind: str, param: str):
    def handler(sim, req):
        sim.blockstorage.delete_backup(kind, req.params[param], req.region)
    return handler


def _copy_backup(kind: str, param: str):
    """OCI answers a copy with the new backup (in the destination region) and a work request to follow."""
    def handler(sim, req):
        copy, wr = sim.blockstorage.copy_backup(kind, req.params[param], req.region, req.json(), req.injected)
        return Response(200, copy, {"opc-work-request-id": wr["id"]})
    return handler


# -- volume groups -----------------------------------------------------------------------------------------
def create_volume_group(sim, req):
    return sim.blockstorage.create_group(req.region, req.json())


def get_volume_group(sim, req):
    return sim.blockstorage.get("volumegroup", req.params["volumeGroupId"], req.region)


def list_volume_groups(sim, req):
    items = sim.blockstorage.list_groups(req.region, req.q("compartmentId"), req.q("availabilityDomain"))
    return _listing(items, req, displayName="display_name", lifecycleState="lifecycle_state")


def update_volume_group(sim, req):
    return sim.blockstorage.update_group(req.params["volumeGroupId"], req.region, req.json())


def update_volume_group_backup(sim, req):
    return sim.blockstorage.update_group_backup(req.params["volumeGroupBackupId"], req.region, req.json())


def copy_volume_group_backup(sim, req):
    copy, wr = sim.blockstorage.copy_group_backup(req.params["volumeGroupBackupId"], req.region, req.json(),
                                                  req.injected)
    return Response(200, copy, {"opc-work-request-id": wr["id"]})


def delete_volume_group(sim, req):
    sim.blockstorage.delete_group(req.params["volumeGroupId"], req.region)


def create_volume_group_backup(sim, req):
    return sim.blockstorage.create_group_backup(req.region, req.json(), req.injected)


def get_volume_group_backup(sim, req):
    return sim.blockstorage.get("volumegroupbackup", req.params["volumeGroupBackupId"], req.region)


def list_volume_group_backups(sim, req):
    items = sim.blockstorage.list_group_backups(req.region, req.q("compartmentId"))
    return _listing(items, req, volumeGroupId="volume_group_id", displayName="display_name")


def delete_volume_group_backup(sim, req):
    sim.blockstorage.delete_group_backup(req.params["volumeGroupBackupId"], req.region)


ROUTES = [
    Route("POST", f"{V}/volumes", "CreateVolume", _create_volume(VOLUME)),
    Route("GET", f"{V}/volumes", "ListVolumes", list_volumes),
    Route("GET", f"{V}/volumes/{{volumeId}}", "GetVolume", _get_volume(VOLUME, "volumeId")),
    Route("PUT", f"{V}/volumes/{{volumeId}}", "UpdateVolume", _update_volume(VOLUME, "volumeId")),
    Route("DELETE", f"{V}/volumes/{{volumeId}}", "DeleteVolume", _delete_volume(VOLUME, "volumeId")),
    Route("POST", f"{V}/bootVolumes", "CreateBootVolume", _create_volume(BOOT)),
    Route("GET", f"{V}/bootVolumes", "ListBootVolumes", list_boot_volumes),
    Route("GET", f"{V}/bootVolumes/{{bootVolumeId}}", "GetBootVolume", _get_volume(BOOT, "bootVolumeId")),
    Route("PUT", f"{V}/bootVolumes/{{bootVolumeId}}", "UpdateBootVolume", _update_volume(BOOT, "bootVolumeId")),
    Route("DELETE", f"{V}/bootVolumes/{{bootVolumeId}}", "DeleteBootVolume", _delete_volume(BOOT, "bootVolumeId")),
    Route("POST", f"{V}/volumeBackups", "CreateVolumeBackup", _create_backup(VOLUME_BACKUP)),
    Route("GET", f"{V}/volumeBackups", "ListVolumeBackups", list_volume_backups),
    Route("GET", f"{V}/volumeBackups/{{volumeBackupId}}", "GetVolumeBackup",
          _get_backup(VOLUME_BACKUP, "volumeBackupId")),
    Route("DELETE", f"{V}/volumeBackups/{{volumeBackupId}}", "DeleteVolumeBackup",
          _delete_backup(VOLUME_BACKUP, "volumeBackupId")),
    Route("POST", f"{V}/volumeBackups/{{volumeBackupId}}/actions/copy", "CopyVolumeBackup",
          _copy_backup(VOLUME_BACKUP, "volumeBackupId")),
    Route("PUT", f"{V}/volumeBackups/{{volumeBackupId}}", "UpdateVolumeBackup",
          _update_backup(VOLUME_BACKUP, "volumeBackupId")),
    Route("PUT", f"{V}/bootVolumeBackups/{{bootVolumeBackupId}}", "UpdateBootVolumeBackup",
          _update_backup(BOOT_BACKUP, "bootVolumeBackupId")),
    Route("POST", f"{V}/bootVolumeBackups", "CreateBootVolumeBackup", _create_backup(BOOT_BACKUP)),
    Route("GET", f"{V}/bootVolumeBackups", "ListBootVolumeBackups", list_boot_volume_backups),
    Route("GET", f"{V}/bootVolumeBackups/{{bootVolumeBackupId}}", "GetBootVolumeBackup",
          _get_backup(BOOT_BACKUP, "bootVolumeBackupId")),
    Route("DELETE", f"{V}/bootVolumeBackups/{{bootVolumeBackupId}}", "DeleteBootVolumeBackup",
          _delete_backup(BOOT_BACKUP, "bootVolumeBackupId")),
    Route("POST", f"{V}/bootVolumeBackups/{{bootVolumeBackupId}}/actions/copy", "CopyBootVolumeBackup",
          _copy_backup(BOOT_BACKUP, "bootVolumeBackupId")),
    Route("POST", f"{V}/volumeGroups", "CreateVolumeGroup", create_volume_group),
    Route("GET", f"{V}/volumeGroups", "ListVolumeGroups", list_volume_groups),
    Route("GET", f"{V}/volumeGroups/{{volumeGroupId}}", "GetVolumeGroup", get_volume_group),
    Route("PUT", f"{V}/volumeGroups/{{volumeGroupId}}", "UpdateVolumeGroup", update_volume_group),
    Route("DELETE", f"{V}/volumeGroups/{{volumeGroupId}}", "DeleteVolumeGroup", delete_volume_group),
    Route("POST", f"{V}/volumeGroupBackups", "CreateVolumeGroupBackup", create_volume_group_backup),
    Route("GET", f"{V}/volumeGroupBackups", "ListVolumeGroupBackups", list_volume_group_backups),
    Route("GET", f"{V}/volumeGroupBackups/{{volumeGroupBackupId}}", "GetVolumeGroupBackup", get_volume_group_backup),
    Route("DELETE", f"{V}/volumeGroupBackups/{{volumeGroupBackupId}}", "DeleteVolumeGroupBackup",
          delete_volume_group_backup),
    Route("PUT", f"{V}/volumeGroupBackups/{{volumeGroupBackupId}}", "UpdateVolumeGroupBackup",
          update_volume_group_backup),
    Route("POST", f"{V}/volumeGroupBackups/{{volumeGroupBackupId}}/actions/copy", "CopyVolumeGroupBackup",
          copy_volume_group_backup),
]
