"""Crash-consistent backups of volumes that belong together (a database's data and log volumes): OCI backs up
the volumes of one volume group at one point in time, as one volume group backup, and restores it as a new
volume group. Volumes share a group when they carry the same `backup-group` tag value.

`OciBackupVolumeGroupOperator` keeps one volume group per tag value (made, or its members updated, when the
tagged volumes changed) and backs it up. Its plan item comes from `OciPlanGroupBackupsOperator`
(operators/backup_plan.py); its restore and check from operators/group_restore.py. The nightly maps the three
over the planned groups (`protect_group`).
"""

from __future__ import annotations

from common.errors import OciInputError, OciWaitError
from common.ids import ocid_kind, validate_ocid
from common.tags import GROUP_TAG
from forms.checks import validate_backup_type
from forms.params import listed
from hooks.block_storage import backup_result

from operators.base import OciWaitingOperator, oci_template_fields


class OciBackupVolumeGroupOperator(OciWaitingOperator):
    """Back up `volume_ids` together (one point in time) as a volume group backup of the group named
    `group_name`, which is made, or has its members updated, first. Waits (or defers) for the backup AVAILABLE.

    Give `planned`, a group item of the nightly's plan (OciPlanGroupBackupsOperator), instead of the three:
    its volume_ids, group, backup_type and compartment_id are used.

    XCom: volume_group_id, volume_group_backup_id, backup_type, members ({volume_id: volume backup id}), region;
    and the group backup's fields for the report (backup_id, type, size_in_gbs, unique_size_in_gbs,
    unique_size_in_mbs, time_created), member_backups (one backup dict per member), group, verify and dr_region
    (from `planned`: whether the nightly test-restores it, where it copies it; None: no DR copy); with a quiesce,
    consistency.

    :param volume_ids: the volumes and boot volumes backed up together: a list of OCIDs, or one comma-separated
        string (templated)
    :param group_name: the name the volumes' ``backup-group`` tag and their volume group share (the group is made if
        missing, its members set to ``volume_ids``) (templated)
    :param backup_type: ``FULL`` or ``INCREMENTAL`` (templated)
    :param planned: a group item of the nightly plan, instead of the three above (templated)
    :param compartment_id: the compartment to make the group in; None: the first volume's (templated)
    :param quiesce: one bracket over the whole group (docs/quiesce.md): a spec such as ``postgres:pg_orders``
        (its first volume), or the plan's ``quiesce``; None: the plan's, if any (templated)
    :param max_quiesce_seconds: the longest the applications stay quiesced; None: the plan's, else 30
    :param on_quiesce_failure: ``fail`` or ``crash_consistent``; None: the plan's, else ``fail``
    """

    multiple_outputs = True  # `task.output["volume_group_backup_id"]`
    plan_operation = "CreateVolumeGroupBackup"
    template_fields = oci_template_fields("volume_ids", "group_name", "backup_type", "planned", "compartment_id",
                                          "quiesce")

    def __init__(self, *, volume_ids: list[str] | str | None = None, group_name: str | None = None,
                 backup_type: str = "INCREMENTAL", planned: dict | None = None, compartment_id: str | None = None,
                 quiesce: str | dict | None = None, max_quiesce_seconds: float | None = None,
                 on_quiesce_failure: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.quiesce = quiesce
        self.max_quiesce_seconds = max_quiesce_seconds
        self.on_quiesce_failure = on_quiesce_failure
        self._bracket = None
        self.compartment_id = compartment_id
        self.volume_ids = volume_ids
        self.group_name = group_name
        self.backup_type = backup_type
        self.planned = planned

    def validate_inputs(self) -> None:
        if self.planned is not None:
            if not isinstance(self.planned, dict) or "volume_ids" not in self.planned:
                raise OciInputError(f"planned {self.planned!r}: a group item of the nightly plan")
            self.volume_ids, self.group_name = self.planned["volume_ids"], self.planned.get("group")
            self.backup_type = self.planned.get("backup_type")
            self.compartment_id = self.compartment_id or self.planned.get("compartment_id")
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
        from quiesce.spec import normalised

        self._quiesce = normalised(self.quiesce or (self.planned or {}).get("quiesce"), self.volume_ids,
                                   self.max_quiesce_seconds, self.on_quiesce_failure)

    def on_kill(self) -> None:
        if self._bracket is not None:  # the applications leave backup mode first
            self._bracket.close(aborting=True)
        super().on_kill()

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
                self.refuse_foreign_members(volumes, group.id)
                try:
                    storage.update_volume_group(group.id, m.UpdateVolumeGroupDetails(volume_ids=wanted))
                except oci.exceptions.ServiceError as err:
                    if err.status != 409:
                        raise
                    self.refuse_foreign_members(self.hook.check_group_members(wanted, region=self.region), group.id)
                    raise OciWaitError(f"volume group {group.id} ({self.group_name}): OCI refused the members "
                                       f"{wanted} ({err.status} {err.code}: {err.message})") from None
                self.hook.wait(self.hook.lifecycle_spec(group.id, ["AVAILABLE"]), self.poll())
            return group.id
        self.refuse_foreign_members(volumes, None)
        details = m.CreateVolumeGroupDetails(
            availability_domain=first.availability_domain, compartment_id=compartment_id,
            display_name=self.group_name, source_details=m.VolumeGroupSourceFromVolumesDetails(volume_ids=wanted),
            freeform_tags=self.managed_tags(context, {GROUP_TAG: self.group_name}))
        group = storage.create_volume_group(details, opc_retry_token=self.retry_token(context, "group")).data
        self.log.info("made volume group %s (%s) of %s", group.id, self.group_name, wanted)
        self.hook.wait(self.hook.lifecycle_spec(group.id, ["AVAILABLE"]), self.poll())
        return group.id

    def refuse_foreign_members(self, volumes, group_id: str | None) -> None:
        """A volume already in another volume group cannot join this one (OCI answers 409): name each, its group
        and whether that group is a test restore, before any change."""
        from common.tags import TEMPORARY_TAG

        foreign = []
        for volume in volumes:
            other = getattr(volume, "volume_group_id", None)
            if other and other != group_id:
                group = self.hook.get_resource(other, self.region)
                what = ("a test restore of this project (the teardown removes it)"
                        if (group.freeform_tags or {}).get(TEMPORARY_TAG) else "not this group")
                foreign.append(f"{volume.display_name} ({volume.id}) is in volume group {group.display_name!r} "
                               f"({other}), {what}")
        if foreign:
            raise OciInputError(f"volume_ids: a volume is in one volume group at most, and {self.group_name!r} "
                                f"cannot take these: " + "; ".join(foreign))

    def earlier_backup(self, context):
        """The group backup to take instead of making one: the plan's `adopt_backup_id` while it lives, else one
        an earlier try of this very task made (its tags name the run and the task), found in OCI."""
        from operators.backup_policy import LIVE_BACKUP_STATES

        storage = self.hook.get_client("blockstorage", self.region)
        wanted = (self.planned or {}).get("adopt_backup_id")
        if wanted:
            backup = storage.get_volume_group_backup(wanted).data
            if backup.lifecycle_state in LIVE_BACKUP_STATES:
                return backup
            self.log.warning("adopt_backup_id %s is %s; making a new group backup", wanted, backup.lifecycle_state)
        ti = context["ti"]
        compartment_id = self.compartment_id or self.hook.get_resource(self.volume_ids[0], self.region).compartment_id
        mine = [b for b in self.hook.list_all(storage.list_volume_group_backups, compartment_id)
                if b.lifecycle_state in LIVE_BACKUP_STATES and (b.freeform_tags or {}).get(GROUP_TAG) == self.group_name
                and (b.freeform_tags or {}).get("airflow-dag") == ti.dag_id
                and (b.freeform_tags or {}).get("airflow-run") == ti.run_id[:250]
                and (b.freeform_tags or {}).get("airflow-task") == ti.task_id]
        return min(mine, key=lambda b: b.time_created) if mine else None

    def execute_step(self, context) -> dict:
        import oci

        storage = self.hook.get_client("blockstorage", self.region)
        earlier = self.earlier_backup(context)
        if earlier:
            self.link(context, earlier.id)
            self.backup_type = earlier.type
            self.log.info("adopting %s group backup %s of %s (%s), made by run %s: no second one", earlier.type,
                          earlier.id, self.group_name, earlier.lifecycle_state,
                          (earlier.freeform_tags or {}).get("airflow-run"))
            return self.wait_or_defer(context, self.hook.lifecycle_spec(earlier.id, ["AVAILABLE"]),
                                      {"volume_group_id": earlier.volume_group_id,
                                       "volume_group_backup_id": earlier.id, "group": self.group_name,
                                       "backup_type": earlier.type})
        volumes = self.hook.check_group_members(self.volume_ids, region=self.region)
        group_id = self._group(context, volumes)
        details = oci.core.models.CreateVolumeGroupBackupDetails(
            volume_group_id=group_id, type=self.backup_type,
            display_name=f"{self.group_name}-{context['ti'].run_id}"[:255],
            freeform_tags=self.managed_tags(context, {GROUP_TAG: self.group_name}))
        import contextlib

        from quiesce.bracket import Bracket

        if self._quiesce:  # one bracket for the group: every member's application, one point in time
            self._bracket = Bracket(self.hook, self._quiesce, context, self.log, self.region)
        with self._bracket or contextlib.nullcontext():
            backup = self.create_unless_failed(self.retry_token(context, "group-backup"), lambda t: storage.
                                               create_volume_group_backup(details, opc_retry_token=t)).data
            if self._bracket:
                self._bracket.wait_point_in_time(backup.id)
        self.link(context, backup.id)
        self.log.info("%s backup %s of volume group %s (%s)", self.backup_type, backup.id, group_id, self.group_name)
        result = {"volume_group_id": group_id, "volume_group_backup_id": backup.id, "group": self.group_name,
                  "backup_type": self.backup_type}
        if self._bracket:
            self._bracket.tag([backup.id, *(backup.volume_backup_ids or [])])
            result["consistency"] = self._bracket.evidence
        return self.wait_or_defer(context, self.hook.lifecycle_spec(backup.id, ["AVAILABLE"]), result)

    def finish(self, context, result: dict) -> dict:
        storage = self.hook.get_client("blockstorage", self.region)
        done = storage.get_volume_group_backup(result["volume_group_backup_id"]).data
        members, member_backups = {}, []
        for member_id in done.volume_backup_ids:
            member = self.hook.get_resource(member_id, self.region)
            members[getattr(member, "volume_id", None) or member.boot_volume_id] = member_id
            member_backups.append(backup_result(member, self.hook.region))
        summary = {k: v for k, v in backup_result(done, self.hook.region).items()
                   if k in ("backup_id", "type", "size_in_gbs", "unique_size_in_gbs", "unique_size_in_mbs",
                            "time_created")}
        # a resumed task was not validated again: what execute_step() resolved rides in `result`
        return {**summary, "volume_group_id": result["volume_group_id"], "volume_group_backup_id": done.id,
                "backup_type": result["backup_type"], "members": members, "member_backups": member_backups,
                "group": result["group"], "verify": bool((self.planned or {}).get("verify", True)),
                "dr_region": (self.planned or {}).get("dr_region"),
                "region": self.hook.region, **({"consistency": result["consistency"]} if result.get("consistency")
                                               else {})}
