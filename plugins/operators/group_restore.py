"""Restoring a volume group backup as a new volume group, and proving every restored member usable:
`OciRestoreVolumeGroupOperator` restores (and, at the `api` level, checks) it; `OciVerifyGroupRestoreOperator`
checks each member as a single volume's test restore is checked, and tags the group backup and its members
verified when all pass."""

from __future__ import annotations

import time

from common.errors import OciInputError, OciWaitError
from common.ids import ocid_kind, validate_ocid
from common.tags import restored_tags
from common.verification import check_level, check_level_inputs
from common.xcom import VERIFY_XCOM_KEY
from triggers.results import group_api_rows, group_verification

from operators.base import OciBaseOperator, OciWaitingOperator, oci_template_fields
from operators.verify import OciVerifyRestoreOperator, mark_failed


class OciRestoreVolumeGroupOperator(OciWaitingOperator):
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
        check_level(self.verification_level, optional=True)
        if self.verification_level == "api" and not isinstance((self.backup or {}).get("member_backups"), list):
            raise OciInputError(f"backup: the XCom dict of the group backup task (with 'member_backups'), got "
                                f"{type(self.backup).__name__}")

    def execute_step(self, context) -> dict:
        import oci

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
        check_level_inputs(self.level, self.verifier_instance_id, self.subnet_id,
                           boots=any(ocid_kind(v) == "bootvolume" for v in self.restored["volumes"]))

    def retry_token(self, context, purpose: str = "", request=None) -> str:
        """One token per member for each request of its check: the members' checks are alike (the same device,
        script and backup time), and one token would adopt the first member's attachment or command."""
        return super().retry_token(context, f"{purpose}:{self.restored.get('volume_id')}", request)

    def execute_step(self, context) -> dict:
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
