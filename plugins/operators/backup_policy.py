"""Nightly protection policy: which volumes, FULL or INCREMENTAL, which backups to verify, which to prune.

Decisions come from the backups that exist in OCI and OCI's own clock, never from the weekday, so a missed
night heals itself. Protected volumes that share a `backup-group` tag value are planned as one volume group
(one crash-consistent group backup), never one by one. What this project made is known by its tags
(`managed-by`, `airflow-dag`); a backup that passed a test restore carries `verified-at`, so "the newest
verified backup" is read from OCI, not kept here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from common import config
from common.errors import OciInputError, OciWaitError
from common.ids import ocid_kind, validate_ocid, validate_region
from common.tags import (
    GROUP_TAG,
    MANAGED_TAG,
    MANAGED_VALUE,
    TEMPORARY_TAG,
    VERIFIED_LEVELS,
    VERIFIED_TAG,
    VERIFY_FAILED_TAG,
    newest_verified,
)
from common.xcom import PRUNE_XCOM_KEY, RETENTION_PLAN_KEY
from forms.params import flag, listed
from quiesce.spec import QUIESCE_TAG, plan_quiesce

from operators.base import OciBaseOperator, oci_template_fields

VERIFY_MODES = ("all", "sample")


@dataclass(frozen=True)
class BackupPolicy:
    """One policy, chosen by the value of a volume's policy tag (`backup-policy: gold`)."""

    name: str = "default"
    full_interval_days: float = 7.0
    retention_days: float = 30.0
    verify: str = "all"
    verify_sample: int = 1
    verify_every_days: float = 7.0
    dr_region: str | None = None
    rto_minutes: float | None = None  # the restore time promised (optional): the Protection page compares to it
    # a new run adopts this DAG's unverified backup of a volume younger than this (a killed or failed run's)
    # instead of making a second one; 0: never
    adopt_within_hours: float = 12.0
    quiesce: str | None = None  # quiesce/spec.py: for the policy's volumes without a backup-quiesce tag
    max_quiesce_seconds: float = 30.0
    on_quiesce_failure: str = "fail"

    @classmethod
    def from_dict(cls, name: str, raw: dict) -> BackupPolicy:
        unknown = set(raw) - {f for f in cls.__dataclass_fields__ if f != "name"}
        if unknown:
            raise OciInputError(f"policy {name!r}: unknown fields {sorted(unknown)}")
        policy = cls(name=name, **raw)
        for field in ("full_interval_days", "retention_days", "verify_every_days"):
            value = getattr(policy, field)
            if not isinstance(value, int | float) or value <= 0:
                raise OciInputError(f"policy {name!r} {field} {value!r}: must be a number of days greater than 0")
        if policy.rto_minutes is not None and (not isinstance(policy.rto_minutes, int | float)
                                               or isinstance(policy.rto_minutes, bool) or policy.rto_minutes <= 0):
            raise OciInputError(f"policy {name!r} rto_minutes {policy.rto_minutes!r}: must be a number of minutes "
                                f"greater than 0")
        if not isinstance(policy.adopt_within_hours, int | float) or policy.adopt_within_hours < 0:
            raise OciInputError(f"policy {name!r} adopt_within_hours {policy.adopt_within_hours!r}: a number of hours "
                                f">= 0 (0: a new run never adopts an earlier run's unverified backup)")
        if policy.verify not in VERIFY_MODES:
            raise OciInputError(f"policy {name!r} verify {policy.verify!r}: one of {VERIFY_MODES}")
        if not isinstance(policy.verify_sample, int) or policy.verify_sample < 0:
            raise OciInputError(f"policy {name!r} verify_sample {policy.verify_sample!r}: an integer >= 0")
        if policy.retention_days < policy.full_interval_days:
            raise OciInputError(f"policy {name!r} retention_days {policy.retention_days}: must be at least "
                                f"full_interval_days ({policy.full_interval_days}) so a FULL is always kept")
        if policy.dr_region:
            validate_region(policy.dr_region, f"policy {name!r} dr_region")
        from quiesce.spec import policy_settings

        policy_settings(name, raw)
        return policy


def load_policies(raw: dict) -> dict[str, BackupPolicy]:
    if not isinstance(raw, dict) or "default" not in raw:
        raise OciInputError("policies: a mapping of policy name to settings, with a 'default' entry")
    return {name: BackupPolicy.from_dict(name, settings or {}) for name, settings in raw.items()}


def _ts(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def is_ours(backup: dict, dag_id: str | None = None) -> bool:
    tags = backup.get("freeform_tags") or {}
    return tags.get(MANAGED_TAG) == MANAGED_VALUE and (dag_id is None or tags.get("airflow-dag") == dag_id)


def plan_backup_type(backups: list[dict], policy: BackupPolicy, now: datetime) -> tuple[str, str]:
    """FULL when no AVAILABLE FULL backup is younger than the policy's full interval (or none exists)."""
    fulls = [b for b in backups if b.get("type") == "FULL" and b.get("lifecycle_state") == "AVAILABLE"]
    if not fulls:
        return "FULL", "no FULL backup exists"
    last = max(_ts(b["time_created"]) for b in fulls)
    age = now - last
    if age >= timedelta(days=policy.full_interval_days):
        return "FULL", f"last FULL is {age.total_seconds() / 86400:.1f} days old (interval {policy.full_interval_days})"
    return "INCREMENTAL", f"last FULL {age.total_seconds() / 86400:.1f} days ago"


# states of a backup that is, or will be, restorable: a run adopts one of these instead of making another
LIVE_BACKUP_STATES = ("REQUEST_RECEIVED", "CREATING", "COMMITTED", "AVAILABLE")


def of_run(backup: dict, dag_id: str, run_id: str) -> bool:
    """Made by this DAG run (any of its tries): the `airflow-run` tag every create writes."""
    tags = backup.get("freeform_tags") or {}
    return is_ours(backup, dag_id) and tags.get("airflow-run") == run_id[:250]


def adoption(backups: list[dict], policy: BackupPolicy, now: datetime, dag_id: str,
             run_id: str) -> tuple[dict | None, list[dict], str]:
    """The backup of one volume (or group) this run takes instead of making one, the duplicates beside it, and
    why. An earlier try of this run (a killed worker, a cleared run) made one: it is this run's backup. Else an
    unverified backup of this DAG younger than the policy's `adopt_within_hours` (a killed or failed run's) is
    adopted and verified, not backed up again. Any other backup of the same kind is a duplicate: reported, never
    silently kept (and never deleted here: a person decides). Member backups of a group backup never count."""
    live = [b for b in backups if is_ours(b, dag_id) and b.get("lifecycle_state") in LIVE_BACKUP_STATES
            and not b.get("volume_group_backup_id")]
    own = [b for b in live if of_run(b, dag_id, run_id)]
    if own:
        # the one the earlier try's later steps most likely used: verified, then AVAILABLE, then the first made
        own.sort(key=lambda b: (not (b.get("freeform_tags") or {}).get(VERIFIED_TAG),
                                b.get("lifecycle_state") != "AVAILABLE", b.get("time_created") or ""))
        return own[0], own[1:], f"adopting {own[0]['backup_id']}, made by an earlier try of this run"
    window = timedelta(hours=policy.adopt_within_hours)
    tags = [b.get("freeform_tags") or {} for b in live]
    young = [b for b, t in zip(live, tags, strict=True) if window and not t.get(VERIFIED_TAG)
             and not t.get(VERIFY_FAILED_TAG) and b.get("time_created") and now - _ts(b["time_created"]) < window]
    if not young:
        return None, [], ""
    young.sort(key=lambda b: b["time_created"], reverse=True)
    keep = young[0]
    age = (now - _ts(keep["time_created"])).total_seconds() / 3600
    run = (keep.get("freeform_tags") or {}).get("airflow-run")
    return keep, young[1:], (f"adopting {keep['backup_id']} of run {run}, {age:.1f} h old and not verified "
                             f"(within adopt_within_hours {policy.adopt_within_hours}): verified, not made again")


def duplicate_rows(duplicates: list[dict]) -> list[dict]:
    """What the report says of each duplicate backup: which, made when and by which run."""
    return [{"backup_id": b["backup_id"], "type": b.get("type"), "time_created": b.get("time_created"),
             "lifecycle_state": b.get("lifecycle_state"),
             "run": (b.get("freeform_tags") or {}).get("airflow-run")} for b in duplicates]


def verification_due(backups: list[dict], policy: BackupPolicy, now: datetime) -> bool:
    """Every volume is proven restorable at least once per `verify_every_days`."""
    last = newest_verified(backups)
    return last is None or now - _ts(last["time_created"]) >= timedelta(days=policy.verify_every_days)


def choose_verifications(items: list[dict], policies: dict[str, BackupPolicy]) -> None:
    """Mark `verify` on each planned item: all, or those due plus `verify_sample` more per policy."""
    sampled: dict[str, int] = {}
    for item in items:
        policy = policies[item["policy"]]
        # a backup adopted from an earlier run was never proven: this run verifies it
        if policy.verify == "all" or item["verification_due"] or item.get("adopted_run"):
            item["verify"] = True
        elif sampled.get(policy.name, 0) < policy.verify_sample:
            sampled[policy.name] = sampled.get(policy.name, 0) + 1
            item["verify"] = True
        else:
            item["verify"] = False


def retention_candidates(backups: list[dict], policy: BackupPolicy, now: datetime, dag_id: str) -> list[dict]:
    """Backups to delete: AVAILABLE, made by this DAG, older than retention. The rule that comes first: a volume
    is never left without a restorable verified backup. Its newest AVAILABLE verified backup is kept whatever its
    age; when it has none (every verified one deleted by hand, tonight's verification failed), nothing of it is
    deleted until one passes again. Never one made by anyone else, and never a member of a volume group backup on
    its own (it goes when its group backup goes)."""
    keep = newest_verified(backups)
    if keep is None:
        return []
    cutoff = now - timedelta(days=policy.retention_days)
    return [b for b in backups
            if is_ours(b, dag_id) and b.get("lifecycle_state") == "AVAILABLE" and not b.get("volume_group_backup_id")
            and _ts(b["time_created"]) < cutoff and b["backup_id"] != keep["backup_id"]]


def group_members(volumes: Iterable[dict], check: bool = True) -> dict[str, list[dict]]:
    """The discovered volumes that share a `backup-group` value, by that value, each list ordered by volume id.

    A volume group lives in one availability domain, and one group backup is made on one schedule: with `check`,
    a group whose members are in several ADs or carry different policies is refused, naming the volumes and the
    rule (the plan raises it before any backup; backing them one by one would silently drop the consistency the
    tag asked for)."""
    groups: dict[str, list[dict]] = {}
    for volume in volumes:
        if volume.get("group"):
            groups.setdefault(volume["group"], []).append(volume)
    for name, members in groups.items():
        members.sort(key=lambda v: v["volume_id"])
        if not check:
            continue
        for field, rule in (("availability_domain", "a volume group's volumes share one availability domain"),
                            ("policy", f"one {GROUP_TAG} is backed up on one policy")):
            if len({v[field] for v in members}) > 1:
                which = ", ".join(f"{v['display_name']} ({v['volume_id']}): {v[field]}" for v in members)
                raise OciInputError(f"{GROUP_TAG} {name!r}: {rule}; its volumes differ in {field}: {which}. "
                                    f"Give them one {field.replace('_', ' ')} or different {GROUP_TAG} values")
    return groups


class OciDiscoverVolumesOperator(OciBaseOperator):
    """Block and boot volumes carrying the policy tag, in the given compartments (and, with
    `include_subcompartments`, every compartment below them) and every AD.

    The project's own temporaries (restored test volumes) carry `airflow-temporary` and are `skipped`, as are the
    members of a volume group the project did not make (someone else's, or a test restore's): the plan names them.
    Tag values are trimmed.

    A volume that also carries `backup-group` names its group (None otherwise); one carrying `backup-group`
    without the policy tag is not protected, and a warning says so.

    XCom: a list, one dict per volume: volume_id, kind, display_name, policy, group, compartment_id,
    availability_domain, size_in_gbs, region, tag_values (the two tags as written), skipped (only on a volume not
    to protect: why).

    :param compartment_ids: the compartments to search: a list of OCIDs, or one comma-separated string (templated)
    :param tag_key: the freeform tag whose value names a volume's backup policy (empty: ``default``) (templated)
    :param include_subcompartments: also search every compartment below the given ones (templated)
    """

    template_fields = oci_template_fields("compartment_ids", "tag_key", "include_subcompartments")

    def __init__(self, *, compartment_ids: list[str] | str, tag_key: str = "backup-policy",
                 include_subcompartments: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.compartment_ids = compartment_ids
        self.tag_key = tag_key
        self.include_subcompartments = include_subcompartments

    def validate_inputs(self) -> None:
        self.compartment_ids = listed(self.compartment_ids)
        if not self.compartment_ids:
            raise OciInputError("compartment_ids: at least one compartment OCID")
        for i, comp in enumerate(self.compartment_ids):
            validate_ocid(comp, f"compartment_ids[{i}]")
        if not self.tag_key or not isinstance(self.tag_key, str):
            raise OciInputError(f"tag_key {self.tag_key!r}: a freeform tag key")
        self.include_subcompartments = flag(self.include_subcompartments, "include_subcompartments")

    def execute(self, context) -> list[dict]:
        self.validate()
        found: list[dict] = []
        compartments = self.hook.compartment_tree(self.compartment_ids, self.include_subcompartments)
        if len(compartments) > len(self.compartment_ids):
            self.log.info("scanning %d compartments (%d below the configured ones)", len(compartments),
                          len(compartments) - len(self.compartment_ids))
        groups: dict[str, str | None] = {}  # volume group id -> why its volumes are not ours to plan (None: ours)
        for comp in compartments:
            for vol in self.hook.volumes_in(comp, self.region):
                tags = vol.freeform_tags or {}
                if tags.get(GROUP_TAG) and self.tag_key not in tags and not tags.get(TEMPORARY_TAG):
                    self.log.warning("%s (%s): has %s=%r but no %s tag, so it is not protected", vol.display_name,
                                     vol.id, GROUP_TAG, tags[GROUP_TAG], self.tag_key)
                if self.tag_key not in tags or vol.lifecycle_state != "AVAILABLE":
                    continue
                group = (tags.get(GROUP_TAG) or "").strip() or None
                item = {"volume_id": vol.id, "kind": ocid_kind(vol.id), "display_name": vol.display_name,
                        "policy": (tags[self.tag_key] or "").strip() or "default", "group": group,
                        "quiesce": (tags.get(QUIESCE_TAG) or "").strip() or None,
                        "compartment_id": vol.compartment_id,
                        "availability_domain": vol.availability_domain, "size_in_gbs": vol.size_in_gbs,
                        "region": self.hook.region,
                        # as written on the volume, for the plan's check of near-identical values
                        "tag_values": {self.tag_key: tags[self.tag_key], GROUP_TAG: tags.get(GROUP_TAG)}}
                skipped = self.not_ours_to_plan(vol, tags, groups)
                if skipped:
                    self.log.info("not planning %s (%s): %s", vol.display_name, vol.id, skipped)
                    item["skipped"] = skipped
                found.append(item)
        self.log.info("discovered %d tagged volumes: %s", len(protected(found)),
                      [v["display_name"] for v in protected(found)])
        return found

    def not_ours_to_plan(self, vol, tags: dict, groups: dict[str, str | None]) -> str | None:
        """Why a tagged volume must not be planned, or None. A test restore carries the temporary marker (and
        the tags of what it was restored from); a volume in a volume group this project did not make (someone
        else's, or a test restore's) cannot join the group its tag names, and backing it up would back up a
        test volume as production."""
        if tags.get(TEMPORARY_TAG):
            return f"a temporary of this project ({TEMPORARY_TAG})"
        group_id = getattr(vol, "volume_group_id", None)
        if not group_id:
            return None
        if group_id not in groups:
            group = self.hook.get_resource(group_id, self.region)
            gtags = group.freeform_tags or {}
            if gtags.get(TEMPORARY_TAG):
                groups[group_id] = (f"a member of volume group {group.display_name!r} ({group_id}), a test restore "
                                    f"of this project")
            elif gtags.get(MANAGED_TAG) != MANAGED_VALUE or not gtags.get(GROUP_TAG):
                groups[group_id] = (f"a member of volume group {group.display_name!r} ({group_id}), which this "
                                    f"project did not make; a volume is in one volume group at most")
            else:
                groups[group_id] = None
        return groups[group_id]


def protected(volumes: Iterable[dict] | None) -> list[dict]:
    """The discovered volumes the run protects: not those discovery marked `skipped` (temporaries, members of a
    volume group the project did not make), which the plan names instead."""
    return [v for v in volumes or [] if not v.get("skipped")]


def check_tag_values(volumes: Iterable[dict]) -> None:
    """Tag values are trimmed, so `db` and `db ` would silently be one group, and `db` and `DB` two: a value
    that differs from another only in whitespace or case is refused, naming both and their volumes."""
    spelled: dict[tuple[str, str], dict[str, list[str]]] = {}
    for volume in volumes:
        for key, raw in (volume.get("tag_values") or {}).items():
            if isinstance(raw, str) and raw.strip():
                spelled.setdefault((key, raw.strip().casefold()), {}).setdefault(raw, []).append(
                    volume["display_name"])
    for (key, _), values in sorted(spelled.items()):
        if len(values) > 1:
            which = "; ".join(f"{raw!r} on {', '.join(sorted(names))}" for raw, names in sorted(values.items()))
            raise OciInputError(f"tag {key}: values that differ only in whitespace or case: {which}. Give these "
                                f"volumes one spelling")


RUN_COMMAND_PLUGIN = "Compute Instance Run Command"


class OciPlanBackupsOperator(OciBaseOperator):
    """FULL or INCREMENTAL per volume, and whether its new backup gets a test restore.

    It is also the preflight: everything the run will need is checked before the first backup (a verifier
    that is no instance, a subnet missing at `boot` level or an unknown DR region would otherwise be found
    after N backups were made).

    Volumes of a `backup-group` are not planned here (OciPlanGroupBackupsOperator plans their group), but their
    grouping is checked here, before any backup.

    XCom: a list, one dict per volume: the discovered volume's fields plus policy, backup_type, reason,
    verification_due, last_verified_backup_id, dr_region, planned_at, verify, adopt_backup_id, adopted_run,
    duplicates.

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
        level = self.verification_level
        if level is not None and level not in VERIFIED_LEVELS:
            raise OciInputError(f"verification_level {level!r}: one of {VERIFIED_LEVELS}")
        if level == "script":
            if not self.verifier_instance_id:
                raise OciInputError("verifier_instance_id: required for the script verification level")
            validate_ocid(self.verifier_instance_id, "verifier_instance_id", "instance")
        if level == "boot" and any(v.get("kind") == "bootvolume" for v in self.volumes or []):
            if not self.subnet_id:
                raise OciInputError("subnet_id: required for the boot verification level (test instances boot "
                                    "in it)")
            validate_ocid(self.subnet_id, "subnet_id", "subnet")
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
        import oci

        def read(field: str, value: str, call):
            try:
                return call(value).data
            except oci.exceptions.ServiceError as err:
                if err.status in (400, 404):
                    raise OciInputError(f"{field} {value!r}: not found in region {self.hook.region} "
                                        f"({err.status} {err.code})") from None
                raise

        if self.verification_level == "script":
            inst = read("verifier_instance_id", self.verifier_instance_id,
                        self.hook.get_client("compute", self.region).get_instance)
            if inst.lifecycle_state != "RUNNING":
                raise OciInputError(f"verifier_instance_id {inst.id!r}: is {inst.lifecycle_state}, must be RUNNING "
                                    f"(Run Command runs the check on it)")
            agent = inst.agent_config
            disabled = [p.name for p in (getattr(agent, "plugins_config", None) or [])
                        if p.name == RUN_COMMAND_PLUGIN and p.desired_state == "DISABLED"]
            if agent and (agent.is_management_disabled or agent.are_all_plugins_disabled or disabled):
                raise OciInputError(f"verifier_instance_id {inst.id!r}: the Oracle Cloud Agent plugin "
                                    f"'{RUN_COMMAND_PLUGIN}' must be enabled (agent_config)")
        if self.verification_level == "boot" and self.subnet_id:
            read("subnet_id", self.subnet_id, self.hook.get_client("network", self.region).get_subnet)
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

    def execute(self, context) -> list[dict]:
        self.validate()
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
        return plan


def group_item(name: str, members: list[dict]) -> dict:
    """What a group's plan item says before its backups are read: the group (kind `volumegroup`), where its
    volume group lives (its first member's compartment and AD) and its members."""
    first = members[0]
    return {"group": name, "display_name": name, "kind": "volumegroup", "policy": first["policy"],
            "volume_ids": [v["volume_id"] for v in members], "compartment_id": first["compartment_id"],
            "availability_domain": first["availability_domain"], "region": first.get("region"),
            "size_in_gbs": sum(v.get("size_in_gbs") or 0 for v in members),
            "members": [{k: v.get(k) for k in ("volume_id", "display_name", "kind", "size_in_gbs", "policy", "quiesce")}
                        for v in members]}


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

    def execute(self, context) -> dict:
        self.validate()
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
