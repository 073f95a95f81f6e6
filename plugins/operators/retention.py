"""Retention: what expired backups the nightly deletes (read from OCI, list calls only) and the operator that
deletes them, behind the approval gate when there is one."""

from __future__ import annotations

from datetime import datetime

from common import config
from common.errors import OciWaitError
from common.tags import newest_verified
from common.xcom import PRUNE_XCOM_KEY, RETENTION_PLAN_KEY
from forms.params import flag

from operators.backup_policy import (
    BackupPolicy,
    group_item,
    group_members,
    load_policies,
    protected,
    retention_candidates,
)
from operators.base import OciBaseOperator, oci_template_fields


def retention_plan(hook, volumes: list[dict], policies: dict[str, BackupPolicy], now: datetime,
                   dag_id: str, region: str | None = None) -> tuple[list[dict], int, list[str]]:
    """What retention deletes, read from OCI (list calls only): (the backups, each with ``backup_id``, ``name``
    (its volume's display name, or ``group NAME``), ``volume_id`` (None for a group backup), ``group`` (for a group
    backup), ``type`` and ``time_created``; how many backups it keeps; the volumes and groups it leaves alone for
    want of a restorable verified backup). The approval gate and retention itself both read it."""
    doomed, kept, unverified = [], 0, []

    def apply(name: str, policy: BackupPolicy, backups: list[dict], row: dict) -> None:
        nonlocal kept
        found = retention_candidates(backups, policy, now, dag_id)
        kept += len(backups) - len(found)
        keep = newest_verified(backups)
        if keep is None:
            unverified.append(name)
        why = (f"made by {dag_id}, older than retention_days {policy.retention_days:g}; the newest verified backup "
               f"{(keep or {}).get('backup_id')} is kept")
        doomed.extend({"backup_id": b["backup_id"], "name": name, **row, "type": b["type"],
                       "time_created": b["time_created"], "why": why} for b in found)

    # a grouped volume's backups are its group backups' members: they go with their group backup
    single = [volume for volume in protected(volumes) if not volume.get("group")]
    backups = hook.backups_by_volume(single, region)  # a few list calls, not two per volume
    for volume in single:
        apply(volume["display_name"], policies.get(volume.get("policy"), policies["default"]),
              backups[volume["volume_id"]], {"volume_id": volume["volume_id"]})
    for name, members in sorted(group_members(protected(volumes), check=False).items()):
        item = group_item(name, members)
        apply(f"group {name}", policies.get(item["policy"], policies["default"]),
              hook.list_group_backups(name, item["compartment_id"], item["region"]),
              {"volume_id": None, "group": name})
    return doomed, kept, unverified


class OciPruneBackupsOperator(OciBaseOperator):
    """Retention: delete this DAG's expired backups (never another's, never the newest verified one); for a
    `backup-group`, its expired volume group backups by the same rule. Behind an approval gate
    (``OciApprovePruneOperator``), it deletes only backups the gate listed, and none when the gate asked a person
    and no approval came.

    XCom: dry_run, deleted, failed, kept, checked_at, held (backups the gate did not clear) (also under key
    `prune`).

    :param volumes: the discovered volumes (``OciDiscoverVolumesOperator``'s XCom) (templated)
    :param policies: backup policies by name, whose ``retention_days`` decide what has expired; a ``default`` entry
        is required (templated)
    :param dry_run: only report what would be deleted (templated)
    :param approval_task_id: the task id of the approval gate before retention; None: no gate
    """

    plan_operation = "DeleteVolumeBackup"
    template_fields = oci_template_fields("volumes", "policies", "dry_run")

    def __init__(self, *, volumes: list[dict], policies: dict, dry_run: bool = False,
                 approval_task_id: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.volumes = volumes
        self.policies = policies
        self.dry_run = dry_run
        self.approval_task_id = approval_task_id

    def validate_inputs(self) -> None:
        self._policies = load_policies(self.policies)
        self.dry_run = flag(self.dry_run, "dry_run")

    def plan_instead(self, context) -> None:
        """A plan run applies retention as a dry run: each deletion is listed with why it is allowed."""
        self.dry_run = True

    def cleared(self, ti) -> set[str] | None:
        """The backup ids the approval gate lets retention delete (None: no gate, all). Its plan, when it asked
        nobody (no more than the limit) or a person approved; nothing when it failed or no answer came."""
        if not self.approval_task_id:
            return None
        plan = ti.xcom_pull(task_ids=self.approval_task_id, key=RETENTION_PLAN_KEY)
        if not plan and not config.APPROVAL_RETENTION_OVER.value():
            return None  # the gate is off where this runs (it skipped itself before reading OCI)
        if not plan:
            self.log.warning("%s left no plan (it failed before it read OCI): retention deletes nothing",
                             self.approval_task_id)
            return set()
        approved = (ti.xcom_pull(task_ids=self.approval_task_id, key="decision") or {}).get("approved")
        if plan["asked"] and not approved:
            self.log.warning("retention of %d backups was not approved (no answer in time): nothing deleted",
                             len(plan["backup_ids"]))
            return set()
        return set(plan["backup_ids"])

    def execute_step(self, context) -> dict:
        now = self.hook.server_time()
        dag_id = context["ti"].dag_id
        deleted, failed, held = [], [], []
        doomed, kept, unverified = retention_plan(self.hook, self.volumes, self._policies, now, dag_id,
                                                   self.region)
        for name in unverified:
            self.log.warning("%s: no restorable verified backup, so none of its backups is pruned", name)
        cleared = None if self.dry_run else self.cleared(context["ti"])
        for backup in doomed:
            done = {k: v for k, v in backup.items() if k != "name"}
            if cleared is not None and backup["backup_id"] not in cleared:
                self.log.info("keeping %s of %s: the approval gate did not clear it", backup["backup_id"],
                              backup["name"])
                held.append(done)
                continue
            self.log.info("%s %s of %s (%s, made %s)", "would delete" if self.dry_run else "deleting",
                          backup["backup_id"], backup["name"], backup["type"], backup["time_created"])
            if not self.dry_run:
                try:  # a group backup takes its member backups with it
                    self.hook.delete_resource(backup["backup_id"], self.region)
                except Exception as exc:  # recorded; the other deletions go on, the task fails at the end
                    failed.append(done | {"error": f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"})
                    continue
            deleted.append(done)
        result = {"dry_run": bool(self.dry_run), "deleted": deleted, "failed": failed, "kept": kept + len(held),
                  "held": held, "checked_at": now.isoformat()}
        context["ti"].xcom_push(key=PRUNE_XCOM_KEY, value=result)
        if failed:
            raise OciWaitError(f"retention could not delete {len(failed)} backups: " + "; ".join(
                f"{f['backup_id']}: {f['error']}" for f in failed))
        return result
