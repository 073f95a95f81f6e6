"""Crash-consistent backups of volumes that belong together (a database's data and log volumes): OCI backs up
the volumes of one volume group at one point in time, as one volume group backup, and restores it as a new
volume group. Volumes share a group when they carry the same `backup-group` tag value.

`OciPlanGroupBackupsOperator` plans one item per group of the nightly's discovered volumes;
`OciBackupVolumeGroupOperator` keeps one volume group per tag value (made, or its members updated, when the
tagged volumes changed) and backs it up; `OciRestoreVolumeGroupOperator` restores a volume group backup as a new
group; `OciVerifyGroupRestoreOperator` checks every restored member, as a single volume's test restore is
checked, and tags the group backup and its members verified when all pass. The nightly maps the three over the
planned groups (`protect_group`).
"""

from __future__ import annotations

import time

from common.errors import OciInputError, OciWaitError
from common.ids import ocid_kind, validate_ocid
from common.tags import GROUP_TAG, VERIFIED_LEVELS, restored_tags
from common.xcom import VERIFY_XCOM_KEY
from forms.checks import validate_backup_type
from forms.params import listed
from hooks.block_storage import backup_result
from triggers.results import group_api_rows, group_verification

from operators.backup_policy import OciPlanBackupsOperator, choose_verifications, group_item
from operators.base import OciBaseOperator, oci_template_fields
from operators.verify import OciVerifyRestoreOperator, mark_failed


class OciPlanGroupBackupsOperator(OciPlanBackupsOperator):
    """FULL or INCREMENTAL per `backup-group` (from that group's volume group backups and OCI's clock, as for a
    volume), and whether its new group backup gets a test restore. Runs after `OciPlanBackupsOperator`, whose
    preflight covers the whole run.

    XCom: a list, one dict per group: group, display_name, kind (`volumegroup`), policy, volume_ids, members
    ([{volume_id, display_name, kind, size_in_gbs}]), compartment_id, availability_domain, region, size_in_gbs,
    backup_type, reason, verification_due, last_verified_backup_id, dr_region, planned_at, verify."""

    def execute(self, context) -> list[dict]:
        self.validate()
        now = self.hook.server_time()
        plan = []
        for name, members in sorted(self._groups.items()):
            item = group_item(name, members)
            plan.append(self.planned(item, self.hook.list_group_backups(name, item["compartment_id"],
                                                                        item["region"]), now, context))
        choose_verifications(plan, self._policies)
        self.log_plan(plan)
        return plan


class OciBackupVolumeGroupOperator(OciBaseOperator):
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

    def execute(self, context) -> dict:
        import oci

        self.validate()
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
        # a resumed task was not validated again: what execute() resolved rides in `result`
        return {**summary, "volume_group_id": result["volume_group_id"], "volume_group_backup_id": done.id,
                "backup_type": result["backup_type"], "members": members, "member_backups": member_backups,
                "group": result["group"], "verify": bool((self.planned or {}).get("verify", True)),
                "dr_region": (self.planned or {}).get("dr_region"),
                "region": self.hook.region, **({"consistency": result["consistency"]} if result.get("consistency")
                                               else {})}


class OciRestoreVolumeGroupOperator(OciBaseOperator):
    """Restore a volume group backup as a new volume group (every member restored from the same point in
    time); wait (or defer) for it AVAILABLE. `freeform_tags` go on the group and, in the create request itself, on
    each restored volume (OCI tags a restored volume like its member backup unless the request gives tags, so
    without them a test restore of protected volumes would look protected and grouped itself):
    `airflow-temporary` marks a test restore for the teardown, and such a restore keeps none of its backup's tags.

    XCom: volume_group_id, volumes ({restored volume id: member backup id}), seconds_to_available (OCI's clock,
    from the group's creation to the end of the wait), region; with ``verification_level`` ``api``, also
    verification (the group's check, as OciVerifyGroupRestoreOperator's XCom).

    :param volume_group_backup_id: the volume group backup to restore (templated)
    :param display_name: the new volume group's display name (1 to 255 characters); None: the backup's with
        ``-restore`` (templated)
    :param availability_domain: the availability domain to restore in; None: the backed-up group's (templated)
    :param freeform_tags: freeform tags added to the volume group and to each restored volume (the managing DAG's
        tags are added too) (templated)
    :param compartment_id: the compartment to restore in; None: the backup's (templated)
    :param verification_level: a test restore's verification level; at ``api`` the restore checks every member
        itself (AVAILABLE with its member backup's size) and carries the group's check as ``verification`` (also
        under that XCom key), as OciVerifyGroupRestoreOperator would; a failed check fails the task, naming the
        group; other levels and None: no check here (templated)
    :param backup: the group backup (``OciBackupVolumeGroupOperator``'s XCom), for the member backups' sizes at
        the ``api`` level (templated)
    """

    plan_operation = "CreateVolumeGroup"
    template_fields = oci_template_fields("volume_group_backup_id", "display_name", "availability_domain",
                                          "freeform_tags", "compartment_id", "verification_level", "backup")

    def __init__(self, *, volume_group_backup_id: str, display_name: str | None = None,
                 availability_domain: str | None = None, freeform_tags: dict | None = None,
                 compartment_id: str | None = None, verification_level: str | None = None,
                 backup: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        self.verification_level = verification_level
        self.backup = backup
        self.compartment_id = compartment_id
        self.volume_group_backup_id = volume_group_backup_id
        self.display_name = display_name
        self.availability_domain = availability_domain
        self.freeform_tags = freeform_tags

    def validate_inputs(self) -> None:
        validate_ocid(self.volume_group_backup_id, "volume_group_backup_id", "volumegroupbackup")
        if self.verification_level is not None and self.verification_level not in VERIFIED_LEVELS:
            raise OciInputError(f"verification_level {self.verification_level!r}: one of {VERIFIED_LEVELS} or None")
        if self.verification_level == "api" and not isinstance((self.backup or {}).get("member_backups"), list):
            raise OciInputError(f"backup: the XCom dict of the group backup task (with 'member_backups'), got "
                                f"{type(self.backup).__name__}")

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
        return self.wait_or_defer(context, self.hook.lifecycle_spec(group.id, ["AVAILABLE"]),
                                  {"volume_group_id": group.id})

    def finish(self, context, result: dict) -> dict:
        import oci

        storage = self.hook.get_client("blockstorage", self.region)
        group = storage.get_volume_group(result["volume_group_id"]).data
        seconds = round((self.hook.server_time() - group.time_created).total_seconds(), 1)
        volumes, seen = {}, []
        for volume_id in group.volume_ids:
            volume = self.hook.get_resource(volume_id, self.region)
            volumes[volume_id] = volume.source_details.id
            seen.append({"id": volume_id, "lifecycle_state": volume.lifecycle_state,
                         "size_in_gbs": volume.size_in_gbs, "source_backup_id": volume.source_details.id})
            # OCI applies the request's tags to the restored volumes; should a member still differ (a member
            # backup's tags), it is tagged now: a test restore must never look protected or grouped
            tags = {**restored_tags(volume.freeform_tags, self.freeform_tags),
                    **self.managed_tags(context, self.freeform_tags)}
            if self.freeform_tags and (volume.freeform_tags or {}) != tags:
                if ocid_kind(volume_id) == "bootvolume":
                    storage.update_boot_volume(volume_id, oci.core.models.UpdateBootVolumeDetails(freeform_tags=tags))
                else:
                    storage.update_volume(volume_id, oci.core.models.UpdateVolumeDetails(freeform_tags=tags))
        self._made.clear()
        xcom = {"volume_group_id": group.id, "volumes": volumes, "seconds_to_available": seconds,
                "region": self.hook.region}
        if self.verification_level == "api":  # the members were just read: that read is the check
            xcom[VERIFY_XCOM_KEY] = check = group_verification(
                group_api_rows(seen, self.backup["member_backups"]), self.backup, xcom, "api", 0.0)
            failure = settle_group_check(self, context, check, self.backup)
            if failure:
                from airflow.sdk.exceptions import AirflowFailException

                raise AirflowFailException(failure)  # not retried: a new try would check the same restore
        return xcom


class OciVerifyGroupRestoreOperator(OciVerifyRestoreOperator):
    """Prove every volume of a restored volume group usable, each as OciVerifyRestoreOperator checks one (`api`;
    `boot` for boot volumes; `script`: attached read-only to the verifier in turn and checked through Run
    Command). When every member passes, the group backup and each member backup are tagged `verified-at`.

    `restored` is OciRestoreVolumeGroupOperator's XCom, `backup` OciBackupVolumeGroupOperator's.

    XCom: volume_group_backup_id, restored_volume_group_id, level, passed, detail, members (one result per
    member: source_id, backup_id, restored_volume_id, level, passed, detail, ...), restore_seconds, check_seconds,
    verified_at (also under key `verification`)."""

    def validate_inputs(self) -> None:
        for name, value, key in (("restored", self.restored, "volumes"), ("backup", self.backup, "member_backups")):
            if not isinstance(value, dict) or not isinstance(value.get(key), dict | list):
                raise OciInputError(f"{name}: the XCom dict of the upstream group task (with {key!r}), got "
                                    f"{type(value).__name__}")
        validate_ocid(self.backup.get("volume_group_backup_id"), "backup.volume_group_backup_id", "volumegroupbackup")
        if self.level == "script":
            validate_ocid(self.verifier_instance_id, "verifier_instance_id", "instance")
        if self.level == "boot" and any(ocid_kind(v) == "bootvolume" for v in self.restored["volumes"]):
            validate_ocid(self.subnet_id, "subnet_id", "subnet")

    def retry_token(self, context, purpose: str = "", request=None) -> str:
        """One token per member for each request of its check: the members' checks are alike (the same device,
        script and backup time), and one token would adopt the first member's attachment or command."""
        return super().retry_token(context, f"{purpose}:{self.restored.get('volume_id')}", request)

    def execute(self, context) -> dict:
        self.validate()
        started = time.time()
        group_restored, group_backup = self.restored, self.backup
        member_backups = {b["backup_id"]: b for b in group_backup["member_backups"]}
        results = []
        try:
            for volume_id, backup_id in sorted(group_restored["volumes"].items()):
                self.restored, self.backup = {"volume_id": volume_id}, member_backups[backup_id]
                level = self.effective_level
                row = {"source_id": self.backup.get("source_id"), "backup_id": backup_id,
                       "restored_volume_id": volume_id, "level": level, "passed": False, "detail": ""}
                try:
                    self.run_checks(context, level, row)
                    row["passed"] = True
                except (OciWaitError, OciInputError, RuntimeError) as exc:
                    row["detail"] = str(exc)
                self.log.info("member %s (backup %s, %s level): %s %s", row["source_id"], backup_id, level,
                              "PASS" if row["passed"] else "FAIL", row["detail"])
                results.append(row)
        finally:
            self.restored, self.backup = group_restored, group_backup
        result = group_verification(results, group_backup, group_restored, self.level,
                                    round(time.time() - started, 3))
        failure = settle_group_check(self, context, result, group_backup)
        if failure:
            raise OciWaitError(failure)
        return result


def settle_group_check(op: OciBaseOperator, context, result: dict, group_backup: dict) -> str | None:
    """After a group's check (the verify task's, or an `api`-level restore's): tag the group backup and every
    member backup `verified-at`, or the group backup as failed; push the check under `verification`. Returns
    the failure's message (naming the group) for the caller to raise, or None."""
    if result["passed"]:
        checked_at = op.hook.server_time()
        op.hook.mark_verified(group_backup["volume_group_backup_id"], result["level"], checked_at, op.region)
        for row in result["members"]:
            op.hook.mark_verified(row["backup_id"], row["level"], checked_at, op.region)
        result["verified_at"] = checked_at.isoformat()
    else:
        mark_failed(op.hook, {"backup_id": group_backup["volume_group_backup_id"], "level": result["level"]},
                    op.region, op.log)
    context["ti"].xcom_push(key=VERIFY_XCOM_KEY, value=result)
    if result["passed"]:
        return None
    return (f"verification FAILED for backup group {group_backup.get('group')!r} (group backup "
            f"{result['volume_group_backup_id']}, {result['level']} level): {result['detail']}")
