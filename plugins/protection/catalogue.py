"""Where the page's data comes from: OCI is the catalogue, Airflow's metadata the history.

OCI: every volume and boot volume of the configured compartments (with the protection tag or without), every
backup (one list call per compartment and kind, not one per volume, so 500 volumes cost a few paged calls), the
`verified-at`/`verified-level` tags the nightly DAG writes on a backup that passed a test restore, the DR-region
copies, and the images and instances the DAGs made (`managed-by` tag). OCI's clock is "now", as in the DAG.

Airflow: the nightly DAG's runs, the `report` task's XCom of each (restore time, evidence line, failures: a failed
verification leaves no tag in OCI, only the report says what was seen), and the configuration the latest run
resolved (`resolve_config`); before any run, the nightly's configuration as a run would resolve it without a
trigger conf: its Params defaults, then the Variable named after it (common/config.py).
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass, field
from datetime import UTC, datetime

from common import config as settings
from common.config import NIGHTLY_DEFAULTS, layered, parse_variable
from common.errors import OciInputError
from common.ids import ocid_kind
from common.tags import MANAGED_TAG, MANAGED_VALUE, TEMPORARY_TAG
from forms.params import flag, listed
from hooks.oci import OciHook

DAG_ID = settings.PROTECTION_DAG.value()
HISTORY_NIGHTS = 30
REPORT_TASK = "report"
CONFIG_TASK = "resolve_config"
# the nightly's plans: a mapped task's map index is its item's position in its plan (expand_kwargs / expand)
PLAN_TASKS = {"plan_backups": "protect_volume", "plan_groups": "protect_group"}


@dataclass
class Config:
    """What to look at: the nightly DAG's own settings, as its latest run resolved them."""

    compartment_ids: list[str]
    tag_key: str = "backup-policy"
    policies: dict = field(default_factory=dict)
    source: str = "defaults"
    include_subcompartments: bool = False


def parse_time(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# -- OCI --------------------------------------------------------------------------------------------------
def no_retry():
    """The page reads with one try per call (the clients are shared with the operators, whose strategy retries for
    minutes): a failing OCI becomes a stale-data banner within a second, and the next refresh is the retry."""
    import oci

    return oci.retry.NoneRetryStrategy()


def _volume(vol) -> dict:
    return {"volume_id": vol.id, "display_name": vol.display_name, "kind": ocid_kind(vol.id),
            "compartment_id": vol.compartment_id, "lifecycle_state": vol.lifecycle_state,
            "size_in_gbs": vol.size_in_gbs, "freeform_tags": dict(vol.freeform_tags or {})}


def _backup(b, region: str) -> dict:
    return {"backup_id": b.id, "source_id": getattr(b, "volume_id", None) or getattr(b, "boot_volume_id", None),
            "source_backup_id": getattr(b, "source_volume_backup_id", None)
            or getattr(b, "source_boot_volume_backup_id", None),
            "type": b.type, "lifecycle_state": b.lifecycle_state, "time_created": _iso(b.time_created),
            "unique_size_in_mbs": getattr(b, "unique_size_in_mbs", None),  # boot volume backups: GB only
            "unique_size_in_gbs": getattr(b, "unique_size_in_gbs", None), "size_in_gbs": b.size_in_gbs,
            "freeform_tags": dict(b.freeform_tags or {}), "region": region}


def read_oci(hook: OciHook, config: Config) -> dict:
    """One consistent read of the catalogue; raises whatever OCI raised (the caller keeps the last good one)."""
    region = hook.region
    storage, identity, compute = (hook.get_client(s) for s in ("blockstorage", "identity", "compute"))
    # OCI's clock, as hook.server_time() reads it, in one try; this machine's clock at the same moment, so the page
    # can say when the two differ (times on the page are OCI's)
    now = email.utils.parsedate_to_datetime(identity.list_regions(retry_strategy=no_retry()).headers["date"])
    local = datetime.now(UTC)
    dr_regions = sorted({p.get("dr_region") for p in config.policies.values() if p and p.get("dr_region")})
    volumes, backups, copies, images, instances = [], [], [], [], []
    once = {"retry_strategy": no_retry()}  # every page in one try
    # the compartments the nightly scans: the configured ones and, with include_subcompartments, every one below
    compartments = hook.compartment_tree(config.compartment_ids, config.include_subcompartments)
    for comp in compartments:
        volumes += [_volume(v) for v in hook.volumes_in(comp, **once)
                    if v.lifecycle_state not in ("TERMINATED", "TERMINATING")
                    and not (v.freeform_tags or {}).get(TEMPORARY_TAG)]
        for lister in (storage.list_volume_backups, storage.list_boot_volume_backups):
            backups += [_backup(b, region) for b in hook.list_all(lister, comp, **once)
                        if b.lifecycle_state == "AVAILABLE"]
        for dr in dr_regions:
            dr_storage = hook.get_client("blockstorage", dr)
            for lister in (dr_storage.list_volume_backups, dr_storage.list_boot_volume_backups):
                copies += [_backup(b, dr) for b in hook.list_all(lister, comp, **once)
                           if b.lifecycle_state != "TERMINATED"]
        images += [{"image_id": i.id, "display_name": i.display_name, "lifecycle_state": i.lifecycle_state,
                    "time_created": _iso(i.time_created), "dag": (i.freeform_tags or {}).get("airflow-dag"),
                    "size_in_mbs": i.size_in_mbs}
                   for i in hook.list_all(compute.list_images, comp, **once)
                   if (i.freeform_tags or {}).get(MANAGED_TAG) == MANAGED_VALUE and i.lifecycle_state != "DELETED"]
        instances += [{"instance_id": i.id, "display_name": i.display_name, "lifecycle_state": i.lifecycle_state,
                       "image_id": getattr(i.source_details, "image_id", None) or i.image_id,
                       "hostname": (i.freeform_tags or {}).get("hostname") or i.display_name}
                      for i in hook.list_all(compute.list_instances, comp, **once) if i.lifecycle_state != "TERMINATED"]
    return {"now": _iso(now), "local_time": _iso(local), "compartments": compartments, "region": region,
            "volumes": volumes, "backups": backups, "copies": copies,
            "images": images, "instances": instances, "dr_regions": dr_regions}


# -- Airflow ----------------------------------------------------------------------------------------------
def airflow_key(dag_id: str = DAG_ID) -> tuple:
    """What changes when a run starts or ends: the cheap query that says whether the history must be read again."""
    from airflow import settings
    from airflow.models import DagRun
    from sqlalchemy import func, select

    with settings.Session() as session:
        return tuple(session.execute(select(func.count(DagRun.id), func.max(DagRun.id), func.max(DagRun.end_date))
                                     .where(DagRun.dag_id == dag_id)).one())


def read_airflow(dag_id: str = DAG_ID, nights: int = HISTORY_NIGHTS) -> dict:
    """The last `nights` runs of the nightly DAG with their report (a failed run keeps it under key `report`),
    and the configuration the newest run resolved."""
    from airflow import settings
    from airflow.models import DagRun
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    with settings.Session() as session:
        runs, offset = [], 0
        while len(runs) < nights:  # the last `nights` runs that are nights: a plan run (plan_only in its conf) is not
            page = session.execute(select(DagRun.id, DagRun.run_id, DagRun.state, DagRun.run_type, DagRun.start_date,
                                          DagRun.end_date, DagRun.conf).where(DagRun.dag_id == dag_id)
                                   .order_by(DagRun.id.desc()).offset(offset).limit(nights)).all()
            runs += [r for r in page if not (r.conf or {}).get("plan_only")][:nights - len(runs)]
            offset += nights
            if len(page) < nights:
                break
        ids = [r.id for r in runs]
        xcoms = session.execute(select(XComModel.dag_run_id, XComModel.task_id, XComModel.key, XComModel.value)
                                .where(XComModel.dag_run_id.in_(ids), XComModel.map_index == -1,
                                       XComModel.task_id.in_((REPORT_TASK, CONFIG_TASK, *PLAN_TASKS)),
                                       XComModel.key.in_(("return_value", "report")))).all() if ids else []
    values: dict[tuple, object] = {}
    for row in xcoms:
        values[(row.dag_run_id, row.task_id, row.key)] = XComModel.deserialize_value(row)
    history, config = [], None
    for run in runs:  # newest first
        report = values.get((run.id, REPORT_TASK, "return_value")) or values.get((run.id, REPORT_TASK, "report"))
        run_config = values.get((run.id, CONFIG_TASK, "return_value"))
        if (isinstance(run_config, dict) and run_config.get("plan_only")) or (
                isinstance(report, dict) and report.get("plan_only")):
            continue  # a plan run (plan_only) backed nothing up: not a night of the history
        history.append({"run_id": run.run_id, "state": str(run.state), "run_type": str(run.run_type),
                        "start_date": _iso(run.start_date), "end_date": _iso(run.end_date),
                        "report": report if isinstance(report, dict) else None,
                        "tasks": mapped_tasks({t: values.get((run.id, t, "return_value")) for t in PLAN_TASKS})})
        if config is None and isinstance(values.get((run.id, CONFIG_TASK, "return_value")), dict):
            config = values[(run.id, CONFIG_TASK, "return_value")]
    return {"runs": history, "config": config}


def mapped_tasks(plans: dict) -> dict[str, dict]:
    """Which mapped task group handled each volume in a run, and at which map index: a plan item's position is its
    map index (`protect_volume` over `plan_backups`, `protect_group` over `plan_groups`, each member of a group)."""
    tasks: dict[str, dict] = {}
    for plan_task, group_id in PLAN_TASKS.items():
        plan = plans.get(plan_task)
        for index, item in enumerate(plan if isinstance(plan, list) else []):
            if not isinstance(item, dict):
                continue
            for volume_id in [item.get("volume_id"), *(item.get("volume_ids") or [])]:
                if volume_id:
                    tasks[volume_id] = {"group_id": group_id, "map_index": index}
    return tasks


def read_variable(dag_id: str = DAG_ID) -> dict | None:
    """The Variable named after the DAG (None when unset), read as the api-server reads Variables."""
    from airflow.models.variable import Variable

    return parse_variable(dag_id, Variable.get(dag_id, default_var=None))


def resolve_config(airflow: dict, variable=read_variable) -> Config:
    """The newest run's resolved configuration; before any run, the nightly's Params defaults overridden by its
    Variable (the order every run uses, less a trigger's conf). An unreadable Variable configures nothing and
    the page says why."""
    raw = airflow.get("config")
    if raw and raw.get("compartment_ids"):
        comps = raw["compartment_ids"]
        return Config([c for c in listed(comps) if c.strip()],
                      raw.get("tag_key") or "backup-policy", raw.get("policies") or {}, "latest nightly run",
                      subtree(raw.get("include_subcompartments")))
    try:
        given = variable(DAG_ID)
        values = layered(NIGHTLY_DEFAULTS, given, dag_id=DAG_ID)
    except OciInputError as err:
        return Config([], source=str(err))
    return Config(listed(values["compartment_ids"] or []), values["tag_key"] or "backup-policy",
                  values["policies"] or {}, f"Variable {DAG_ID!r}" if given else "defaults",
                  subtree(values.get("include_subcompartments")))


def subtree(value) -> bool:
    """include_subcompartments as the nightly reads it; a value it would refuse scans no subtree here."""
    try:
        return flag(value if value is not None else False, "include_subcompartments")
    except OciInputError:
        return False

