"""Nightly protection policy: the policy model and its rules (which volumes, FULL or INCREMENTAL, which backups
to verify, which to prune), as plain functions; discovery.py, backup_plan.py and retention.py hold the operators.

Decisions come from the backups that exist in OCI and OCI's own clock, never from the weekday, so a missed
night heals itself. Protected volumes that share a `backup-group` tag value are planned as one volume group
(one crash-consistent group backup), never one by one. What this project made is known by its tags
(`managed-by`, `airflow-dag`); a backup that passed a test restore carries `verified-at`, so "the newest
verified backup" is read from OCI, not kept here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from common.errors import OciInputError
from common.ids import validate_region
from common.tags import GROUP_TAG, MANAGED_TAG, MANAGED_VALUE, VERIFIED_TAG, VERIFY_FAILED_TAG, newest_verified

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
