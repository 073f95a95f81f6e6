"""Crash-consistent backups of volumes that belong together (a database's data and log volumes): OCI backs up
the volumes of one volume group at one point in time, as one volume group backup, and restores it as a new
volume group. Volumes share a group when they carry the same `backup-group` tag value.

`OciBackupVolumeGroupOperator` keeps one volume group per tag value (made, or its members updated, when the
tagged volumes changed) and backs it up; `OciRestoreVolumeGroupOperator` restores a volume group backup as a new
group, whose members a test restore can then check together.
"""

from __future__ import annotations

from common.errors import OciInputError
from forms.params import listed
from hooks.oci import ocid_kind, validate_ocid

from operators.backups import validate_backup_type
from operators.base import OciBaseOperator, oci_template_fields

GROUP_TAG = "backup-group"  # volumes with the same value are backed up together, at one point in time


def _members(hook, volume_ids: list[str], region: str | None) -> list:
    """The volumes, AVAILABLE and in one availability domain (a volume group's rule)."""
    volumes = [hook.get_resource(v, region) for v in volume_ids]
    ads = sorted({v.availability_domain for v in volumes})
    if len(ads) > 1:
        raise OciInputError(f"volume_ids: a volume group's volumes share one availability domain; these are in {ads}")
    not_ready = [f"{v.id} is {v.lifecycle_state}" for v in volumes if v.lifecycle_state != "AVAILABLE"]
    if not_ready:
        raise OciInputError("volume_ids: must be AVAILABLE: " + "; ".join(not_ready))
    return volumes


class OciBackupVolumeGroupOperator(OciBaseOperator):
    """Back up `volume_ids` together (one point in time) as a volume group backup of the group named
    `group_name`, which is made, or has its members updated, first. Waits for the backup AVAILABLE.

    XCom: volume_group_id, volume_group_backup_id, backup_type, members ({volume_id: volume backup id}), region.

    :param volume_ids: the volumes and boot volumes backed up together: a list of OCIDs, or one comma-separated
        string (templated)
    :param group_name: the name the volumes' ``backup-group`` tag and their volume group share (the group is made if
        missing, its members set to ``volume_ids``) (templated)
    :param backup_type: ``FULL`` or ``INCREMENTAL`` (templated)
    :param compartment_id: the compartment to make the group in; None: the first volume's (templated)
    """

    template_fields = oci_template_fields("volume_ids", "group_name", "backup_type", "compartment_id")

    def __init__(self, *, volume_ids: list[str] | str, group_name: str, backup_type: str = "INCREMENTAL",
                 compartment_id: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.compartment_id = compartment_id
        self.volume_ids = volume_ids
        self.group_name = group_name
        self.backup_type = backup_type

    def validate_inputs(self) -> None:
        self.volume_ids = listed(self.volume_ids)
        if not isinstance(self.volume_ids, list) or not self.volume_ids:
            raise OciInputError(f"volume_ids {self.volume_ids!r}: at least one volume or boot volume OCID")
        for i, volume_id in enumerate(self.volume_ids):
            validate_ocid(volume_id, f"volume_ids[{i}]")
            if ocid_kind(volume_id) not in ("volume", "bootvolume"):
                raise OciInputError(f"volume_ids[{i}] {volume_id!r}: must be a block volume or boot volume OCID")
        if not isinstance(self.group_name, str) or not self.group_name.strip():
            raise OciInputError(f"group_name {self.group_name!r}: the {GROUP_TAG} tag value the volumes share")
        self.backup_type = validate_backup_type(self.backup_type)

    def _group(self, context, volumes) -> str:
        """The volume group of this name with exactly these members: found, updated, or made."""
        import oci

        storage = self.hook.get_client("blockstorage", self.region)
        first = volumes[0]
        compartment_id = self.compartment_id or first.compartment_id
        wanted = sorted(v.id for v in volumes)
        groups = [g for g in self.hook.list_all(
            storage.list_volume_groups, compartment_id, availability_domain=first.availability_domain)
            if g.display_name == self.group_name and g.lifecycle_state == "AVAILABLE"
            and (g.freeform_tags or {}).get(GROUP_TAG) == self.group_name]
        m = oci.core.models
        if groups:
            group = groups[0]
            if sorted(group.volume_ids) != wanted:
                self.log.info("volume group %s: members %s -> %s", group.id, group.volume_ids, wanted)
                storage.update_volume_group(group.id, m.UpdateVolumeGroupDetails(volume_ids=wanted))
                self.hook.wait(self.hook.lifecycle_spec(group.id, ["AVAILABLE"]), self.poll())
            return group.id
        in_other = [v.id for v in volumes if getattr(v, "volume_group_id", None)]
        if in_other:
            raise OciInputError(f"volume_ids: {in_other} already belong to another volume group; a volume is in "
                                f"at most one")
        details = m.CreateVolumeGroupDetails(
            availability_domain=first.availability_domain, compartment_id=compartment_id,
            display_name=self.group_name, source_details=m.VolumeGroupSourceFromVolumesDetails(volume_ids=wanted),
            freeform_tags=self.managed_tags(context, {GROUP_TAG: self.group_name}))
        group = storage.create_volume_group(details, opc_retry_token=self.retry_token(context, "group")).data
        self.log.info("made volume group %s (%s) of %s", group.id, self.group_name, wanted)
        self.hook.wait(self.hook.lifecycle_spec(group.id, ["AVAILABLE"]), self.poll())
        return group.id

    def execute(self, context) -> dict:
        import oci

        self.validate()
        volumes = _members(self.hook, self.volume_ids, self.region)
        group_id = self._group(context, volumes)
        storage = self.hook.get_client("blockstorage", self.region)
        details = oci.core.models.CreateVolumeGroupBackupDetails(
            volume_group_id=group_id, type=self.backup_type,
            display_name=f"{self.group_name}-{context['ti'].run_id}"[:255],
            freeform_tags=self.managed_tags(context, {GROUP_TAG: self.group_name}))
        backup = self.create_unless_failed(self.retry_token(context, "group-backup"), lambda t: storage.
                                           create_volume_group_backup(details, opc_retry_token=t)).data
        self.link(context, backup.id)
        self.log.info("%s backup %s of volume group %s (%s)", self.backup_type, backup.id, group_id, self.group_name)
        self.hook.wait(self.hook.lifecycle_spec(backup.id, ["AVAILABLE"]), self.poll())
        done = storage.get_volume_group_backup(backup.id).data
        members = {}
        for member_id in done.volume_backup_ids:
            member = self.hook.get_resource(member_id, self.region)
            members[getattr(member, "volume_id", None) or member.boot_volume_id] = member_id
        return {"volume_group_id": group_id, "volume_group_backup_id": backup.id, "backup_type": self.backup_type,
                "members": members, "region": self.hook.region}


class OciRestoreVolumeGroupOperator(OciBaseOperator):
    """Restore a volume group backup as a new volume group (every member restored from the same point in
    time); wait AVAILABLE. Tag it `airflow-temporary` for a test restore.

    XCom: volume_group_id, volumes ({restored volume id: member backup id}), region.

    :param volume_group_backup_id: the volume group backup to restore (templated)
    :param display_name: the new volume group's display name (1 to 255 characters); None: the backup's with
        ``-restore`` (templated)
    :param availability_domain: the availability domain to restore in; None: the backed-up group's
    :param freeform_tags: freeform tags added to the volume group (the managing DAG's tags are added too)
        (templated)
    :param compartment_id: the compartment to restore in; None: the backup's (templated)
    """

    template_fields = oci_template_fields("volume_group_backup_id", "display_name", "freeform_tags", "compartment_id")

    def __init__(self, *, volume_group_backup_id: str, display_name: str | None = None,
                 availability_domain: str | None = None, freeform_tags: dict | None = None,
                 compartment_id: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.compartment_id = compartment_id
        self.volume_group_backup_id = volume_group_backup_id
        self.display_name = display_name
        self.availability_domain = availability_domain
        self.freeform_tags = freeform_tags

    def validate_inputs(self) -> None:
        validate_ocid(self.volume_group_backup_id, "volume_group_backup_id", "volumegroupbackup")

    def execute(self, context) -> dict:
        import oci

        self.validate()
        storage = self.hook.get_client("blockstorage", self.region)
        backup = storage.get_volume_group_backup(self.volume_group_backup_id).data
        if backup.lifecycle_state != "AVAILABLE":
            raise OciInputError(f"volume_group_backup_id {backup.id!r}: is {backup.lifecycle_state}, must be "
                                f"AVAILABLE")
        ad = self.availability_domain or storage.get_volume_group(backup.volume_group_id).data.availability_domain
        m = oci.core.models
        details = m.CreateVolumeGroupDetails(
            availability_domain=ad, compartment_id=self.compartment_id or backup.compartment_id,
            display_name=self.display_name or f"{backup.display_name}-restore",
            source_details=m.VolumeGroupSourceFromVolumeGroupBackupDetails(volume_group_backup_id=backup.id),
            freeform_tags=self.managed_tags(context, self.freeform_tags))
        group = storage.create_volume_group(details, opc_retry_token=self.retry_token(context)).data
        self.remember(group.id)
        self.link(context, group.id)
        self.hook.wait(self.hook.lifecycle_spec(group.id, ["AVAILABLE"]), self.poll())
        group = storage.get_volume_group(group.id).data
        volumes = {v: self.hook.get_resource(v, self.region).source_details.id for v in group.volume_ids}
        self._made.clear()
        return {"volume_group_id": group.id, "volumes": volumes, "region": self.hook.region}
