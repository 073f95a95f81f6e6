"""The nightly's plan and preflight: FULL or INCREMENTAL per volume and per `backup-group`, which new backups
get a test restore, and everything the run needs checked before its first backup; and the two plain functions the
DAG runs as tasks on the plan (`verify_on_worker`, `select_dr_copies`)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from common.errors import OciInputError
from common.tags import newest_verified
from common.verification import check_level, check_level_inputs
from quiesce.spec import plan_quiesce

from operators.backup_policy import (
    BackupPolicy,
    adoption,
    check_tag_values,
    choose_verifications,
    duplicate_rows,
    group_item,
    group_members,
    load_policies,
    of_run,
    plan_backup_type,
    protected,
    verification_due,
)
from operators.base import OciBaseOperator, oci_template_fields

# Each task mapped over the plan (the `protect_volume` group, its grid names, the DR copies) pulls the whole list to
# read its own item, so what is pulled N times per run holds only what those tasks read; the full plan, read once
# by the report, is XCom `backup_plan` (at 1000 volumes: 0.3 MB pulled per task instead of 0.7 MB)
TASK_KEYS = ("volume_id", "display_name", "backup_type", "availability_domain", "verify", "adopt_backup_id",
             "quiesce", "dr_region")
FULL_PLAN_KEY = "backup_plan"


class OciPlanBackupsOperator(OciBaseOperator):
    """FULL or INCREMENTAL per volume, and whether its new backup gets a test restore.

    It is also the preflight: everything the run will need is checked before the first backup (a verifier
    that is no instance, a subnet missing at `boot` level or an unknown DR region would otherwise be found
    after N backups were made).

    Volumes of a `backup-group` are not planned here (OciPlanGroupBackupsOperator plans their group), but their
    grouping is checked here, before any backup.

    XCom `backup_plan`: a list, one dict per volume: the discovered volume's fields plus policy, backup_type,
    reason, verification_due, last_verified_backup_id, dr_region, planned_at, verify, adopt_backup_id, adopted_run,
    duplicates. The return value: the same list with only the TASK_KEYS, what the mapped tasks read.

    `adopt_backup_id` is the backup an earlier try of this run, or a killed earlier run (`adopted_run`), made: taken
    instead of a new one; `duplicates` are the other backups of the volume such runs made: reported, not deleted.
    Volumes discovery marked `skipped` are named in the log, not planned.

    :param volumes: the discovered volumes (``OciDiscoverVolumesOperator``'s XCom) (templated)
    :param policies: backup policies by name (``full_interval_days``, ``retention_days``, ``verify``,
        ``verify_sample``, ``verify_every_days``, ``dr_region``); a ``default`` entry is required (templated)
    :param verification_level: the level this run verifies test restores at (``api``, ``boot`` or ``script``): the
        preflight checks what it needs; None: no such check (templated)
    :param verifier_instance_id: the instance that checks restored volumes at the ``script`` level (templated)
    :param subnet_id: the subnet for test instances at the ``boot`` level (templated)
    """

    template_fields = oci_template_fields("volumes", "policies", "verification_level", "verifier_instance_id",
                                          "subnet_id")

    def __init__(self, *, volumes: list[dict], policies: dict, verification_level: str | None = None,
                 verifier_instance_id: str | None = None, subnet_id: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.volumes = volumes
        self.policies = policies
        self.verification_level = verification_level
        self.verifier_instance_id = verifier_instance_id
        self.subnet_id = subnet_id

    def validate_inputs(self) -> None:
        self._policies = load_policies(self.policies)
        check_level(self.verification_level, optional=True)
        check_level_inputs(self.verification_level, self.verifier_instance_id, self.subnet_id,
                           boots=any(v.get("kind") == "bootvolume" for v in self.volumes or []))
        check_tag_values(protected(self.volumes))
        self._groups = group_members(protected(self.volumes))

    def policy_of(self, item: dict) -> BackupPolicy:
        """The item's policy; an unknown name falls back to 'default' with a warning."""
        if item["policy"] not in self._policies:
            self.log.warning("%s: policy %r unknown, using 'default'", item["display_name"], item["policy"])
            return self._policies["default"]
        return self._policies[item["policy"]]

    def planned(self, item: dict, backups: list[dict], now: datetime, context) -> dict:
        """The plan item of a volume or group from its existing backups and OCI's clock. Made once per run: what
        an earlier try of this run made is read back from OCI (its backups carry the run id), so a re-run plans
        what the first try planned, and the backup steps adopt it (`adopt_backup_id`) instead of making another.
        """
        ti = context["ti"]
        policy = self.policy_of(item)
        adopted, duplicates, why = adoption(backups, policy, now, ti.dag_id, ti.run_id)
        before = [b for b in backups if not of_run(b, ti.dag_id, ti.run_id)]  # what the first try saw
        backup_type, reason = plan_backup_type(before, policy, now)
        if adopted:
            backup_type, reason = adopted["type"], why
        last_verified = newest_verified(before)
        adopted_run = (adopted.get("freeform_tags") or {}).get("airflow-run") if adopted else None
        if duplicates:
            self.log.warning("%s: %d duplicate backups found (reported, not deleted): %s", item["display_name"],
                             len(duplicates), [b["backup_id"] for b in duplicates])
        return {**item, "policy": policy.name, "backup_type": backup_type, "reason": reason,
                "verification_due": verification_due(before, policy, now),
                "last_verified_backup_id": last_verified["backup_id"] if last_verified else None,
                "dr_region": policy.dr_region, "planned_at": now.isoformat(),
                "adopt_backup_id": adopted["backup_id"] if adopted else None,
                "adopted_run": adopted_run if adopted_run != ti.run_id[:250] else None,
                "duplicates": duplicate_rows(duplicates),
                "quiesce": plan_quiesce(item.get("members") or [item], asdict(policy))}

    def log_plan(self, plan: list[dict]) -> None:
        for item in plan:
            self.log.info("%-30s %-12s verify=%-5s %s", item["display_name"], item["backup_type"], item["verify"],
                          item["reason"])

    def preflight(self) -> None:
        """Read what the run will use; refuse with the field and the rule before anything is made."""
        if self.verification_level == "script":
            self.hook.check_verifier(self.verifier_instance_id, region=self.region)
        if self.verification_level == "boot" and self.subnet_id:
            # test instances boot with no hostname (operators/verify.py), so the subnet needs no DNS label
            self.hook.check_subnet(self.subnet_id, needs_dns_label=False, region=self.region)
        # the permissions the run needs, proved by reads before its first backup (hooks/permissions.py)
        self.hook.prove_reads(self.hook.nightly_reads(self.volumes, self.verification_level,
                                                      self.verifier_instance_id, self.subnet_id))
        from quiesce.checks import preflight as quiesce_preflight

        quiesce_preflight(self.hook, self.volumes or [], {n: asdict(p) for n, p in self._policies.items()},
                          self.region)
        for policy in self._policies.values():
            if policy.dr_region:
                try:
                    self.hook.get_client("blockstorage", policy.dr_region)
                except OciInputError as exc:
                    raise OciInputError(f"policy {policy.name!r} dr_region {policy.dr_region!r}: not a region "
                                        f"this connection knows ({exc})") from None

    def execute_step(self, context) -> list[dict]:
        self.preflight()
        now = self.hook.server_time()
        wanted = [volume for volume in protected(self.volumes) if not volume.get("group")]
        backups = self.hook.backups_by_volume(wanted, self.region)  # a few list calls, not two per volume
        plan = [self.planned(volume, backups[volume["volume_id"]], now, context) for volume in wanted]
        choose_verifications(plan, self._policies)
        self.log_plan(plan)
        for volume in self.volumes or []:
            if volume.get("skipped"):
                self.log.warning("not protected: %s (%s): %s", volume["display_name"], volume["volume_id"],
                                 volume["skipped"])
        if self._groups:
            self.log.info("%d volumes in %d backup groups are planned by group: %s", sum(map(
                len, self._groups.values())), len(self._groups), sorted(self._groups))
        context["ti"].xcom_push(key=FULL_PLAN_KEY, value=plan)
        return [{key: item.get(key) for key in TASK_KEYS} for item in plan]


class OciPlanGroupBackupsOperator(OciPlanBackupsOperator):
    """FULL or INCREMENTAL per `backup-group` (from that group's volume group backups and OCI's clock, as for a
    volume), and whether its new group backup gets a test restore. Runs after `OciPlanBackupsOperator`, whose
    preflight covers the whole run.

    XCom: a list, one dict per group: group, display_name, kind (`volumegroup`), policy, volume_ids, members
    ([{volume_id, display_name, kind, size_in_gbs}]), compartment_id, availability_domain, region, size_in_gbs,
    backup_type, reason, verification_due, last_verified_backup_id, dr_region, planned_at, verify."""

    def execute_step(self, context) -> list[dict]:
        now = self.hook.server_time()
        plan = []
        for name, members in sorted(self._groups.items()):
            item = group_item(name, members)
            plan.append(self.planned(item, self.hook.list_group_backups(name, item["compartment_id"],
                                                                        item["region"]), now, context))
        choose_verifications(plan, self._policies)
        self.log_plan(plan)
        return plan


def verify_on_worker(level: str) -> str:
    """Once per run: skipped at `api` level, so no verify_restore starts (the restores checked themselves)."""
    if level == "api":
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException("api level: each test restore is checked where its wait ends")
    return level


def select_dr_copies(plan: list[dict]) -> list[dict]:
    """The volumes whose policy names a DR region (once per run): the DR copy is mapped over these only,
    so no task starts just to skip itself."""
    # a backup the plan adopted (an earlier run's) is copied by its id: it is not "this run's backup"
    return [({"backup_id": i["adopt_backup_id"]} if i.get("adopt_backup_id") else {"volume_id": i["volume_id"]})
            | {"destination_region": i["dr_region"]} for i in plan if i["dr_region"]]
