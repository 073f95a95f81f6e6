"""The nightly report: per volume the backup, its sizes, the restore time (RTO), the verification and the
age of the newest verified backup (RPO); to the log, XCom, Asset events and the DAG run's note.

The report runs after the teardown, reads what each mapped volume task left in XCom (a failed task leaves
none, which is itself the finding), and fails the run when any backup or verification failed. A `backup-group`
has a line of its own (its group backup, verification and DR copy), with a line per member below it.
"""

from __future__ import annotations

from common.errors import OciWaitError
from common.ids import asset_uri
from common.tags import newest_verified
from common.xcom import PRUNE_XCOM_KEY, TEARDOWN_XCOM_KEY, VERIFY_XCOM_KEY
from hooks.block_storage import OciBlockStorageHook
from reports.nightly import build_group_row, build_row, dr_copy_text, render_note, render_text

from operators.base import OciBaseOperator, oci_template_fields

ASSET_ALIAS = "oci-verified-backups"


class OciBackupReportOperator(OciBaseOperator):
    """Collect the mapped results into one report; emit an Asset event per verified volume; fail on failure.

    XCom: generated_at, volumes (one row per volume), groups (one row per backup group, with its members),
    pruned, totals (of the volumes), failed_steps, duplicates (backups kept beside the one a row used), skipped
    (discovered volumes not protected, and why).

    :param plan: the backup plan (``OciPlanBackupsOperator``'s XCom): one row per planned volume (templated)
    :param group_id: the task group whose mapped tasks (backup, restore, verification) are read per volume
    :param prune_result: retention's XCom (``OciPruneBackupsOperator``), for the pruned backups (templated)
    :param note_conn_id: the Airflow REST API connection the report is written through as the run's note
    :param steps: task ids outside the group whose failure also fails the run (DR copy, teardown, retention)
    :param groups: the group plan (``OciPlanGroupBackupsOperator``'s XCom): one row per backup group (templated)
    :param groups_group_id: the task group whose mapped tasks (backup_group, restore_for_test, verify_restore,
        copy_to_dr_region) are read per backup group
    :param retention_gate: the task id of the approval gate before retention (``OciApprovePruneOperator``); None:
        no gate. Its decision goes into the report; a gate that failed (no answer in time) fails the run
    :param discovered: the discovered volumes (``OciDiscoverVolumesOperator``'s XCom): those not planned
        (``skipped``: temporaries, members of a volume group the project did not make) are named (templated)
    """

    hook_class = OciBlockStorageHook

    template_fields = oci_template_fields("plan", "groups", "prune_result", "discovered")

    def __init__(self, *, plan: list[dict], group_id: str = "protect_volume", prune_result: dict | None = None,
                 note_conn_id: str = "airflow_api", steps: list[str] | None = None, groups: list[dict] | None = None,
                 groups_group_id: str = "protect_group", discovered: list[dict] | None = None,
                 retention_gate: str | None = None, **kwargs):
        from airflow.sdk import AssetAlias

        kwargs.setdefault("trigger_rule", "all_done")
        kwargs.setdefault("outlets", [AssetAlias(ASSET_ALIAS)])
        super().__init__(**kwargs)
        self.plan = plan
        self.group_id = group_id
        self.prune_result = prune_result
        self.groups = groups
        self.groups_group_id = groups_group_id
        self.discovered = discovered
        self.note_conn_id = note_conn_id
        # steps outside the per-volume group whose failure fails the run: DR copy, teardown, retention
        self.steps = list(steps or [])
        self.retention_gate = retention_gate
        if retention_gate:
            self.steps.append(retention_gate)

    def _pull(self, ti, task: str, index: int, key: str = "return_value", group_id: str | None = None):
        from common.xcom import xcom_value

        try:
            return xcom_value(ti.xcom_pull(task_ids=f"{group_id or self.group_id}.{task}", map_indexes=index,
                                           key=key))
        except Exception:  # a task that never ran has no XCom
            return None

    def failed_steps(self, ti) -> list[dict]:
        """The closing steps that did not succeed, read from Airflow (a step that crashed pushed nothing),
        with what each one recorded: the teardown's leftovers, retention's failed deletions, the copy's volume."""
        if not self.steps:
            return []
        states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id], task_ids=self.steps).get(ti.run_id, {})
        failed, copies = [], None
        for key, state in sorted(states.items()):
            if state not in ("failed", "upstream_failed"):
                continue
            step, _, index = key.rpartition("_") if key not in self.steps else (key, "", "")
            detail = "failed"
            if step == "delete_test_restores":
                outcome = ti.xcom_pull(task_ids=step, key=TEARDOWN_XCOM_KEY) or {}
                left = outcome.get("leftovers") or []
                detail = ("temporaries left: " + "; ".join(f"{x['name']} ({x['id']}): {x['error']}" for x in left)
                          if left else "failed before it listed the temporaries")
            elif step == "prune_backups":
                outcome = ti.xcom_pull(task_ids=step, key=PRUNE_XCOM_KEY) or {}
                bad = outcome.get("failed") or []
                detail = ("backups not deleted: " + "; ".join(f"{f['backup_id']}: {f['error']}" for f in bad)
                          if bad else "failed before it applied retention")
            elif step == self.retention_gate:
                asked = ti.xcom_pull(task_ids=step, key="asked")
                detail = (f"no approval of retention within {asked['timeout_minutes']:g} min; nothing deleted"
                          if asked else "failed before it asked; nothing deleted")
            elif index.isdigit():
                if copies is None:  # pulled once, however many copies failed
                    copies = ti.xcom_pull(task_ids="select_dr_copies") or []
                item = copies[int(index)] if int(index) < len(copies) else {}
                detail = (f"copy of the backup of {item.get('volume_id') or item.get('backup_id')} to "
                          f"{item.get('destination_region')}")
            failed.append({"step": key if not index else f"{step}[{index}]", "state": state, "detail": detail})
        return failed

    def plan_report(self, context) -> dict:
        """A plan run (common/plan.py): what the run would do, as the note; no Asset event, nothing verified."""
        from common import plan
        from hooks.airflow_api import set_run_note
        from reports import plan as report

        ti, dag = context["ti"], context["dag"]
        calls = plan.recorded(ti, dag)
        result = report.nightly_plan(self.plan or [], self.groups or [], self.prune_result, calls,
                                     plan.not_reached(dag, calls), self.discovered or [])
        self.log.info("\n%s", report.render_text(result))
        self.log.info(set_run_note(ti.dag_id, ti.run_id, report.render_note(result), self.note_conn_id))
        ti.xcom_push(key="note", value=report.render_note(result))
        return result

    def execute(self, context) -> dict:
        from airflow.sdk import Asset, AssetAlias
        from hooks.airflow_api import set_run_note


        ti = context["ti"]
        from common.plan import plan_run

        if plan_run(context):
            return self.plan_report(context)
        now = self.hook.server_time()
        rows = []
        backups = self.hook.backups_by_volume(self.plan or [], self.region)  # a few calls, not two per volume
        for index, item in enumerate(self.plan or []):
            backup = self._pull(ti, "backup_volume", index)
            restore = self._pull(ti, "restore_for_test", index)
            # at `api` level the restore checked itself and carries the check (pushed under the same key too,
            # which is all a restore whose check failed leaves)
            verification = (restore or {}).get(VERIFY_XCOM_KEY) or self._pull(
                ti, "verify_restore", index, VERIFY_XCOM_KEY) or (
                None if restore else self._pull(ti, "restore_for_test", index, VERIFY_XCOM_KEY))
            newest = newest_verified(backups[item["volume_id"]])
            rows.append(build_row(item, backup, restore, verification, newest, now))
        groups = []
        for index, item in enumerate(self.groups or []):
            pulled = [self._pull(ti, task, index, key, self.groups_group_id) for task, key in (
                ("backup_group", "return_value"), ("restore_for_test", "return_value"),
                ("verify_restore", VERIFY_XCOM_KEY))]
            pulled[2] = pulled[2] or (pulled[1] or {}).get(VERIFY_XCOM_KEY) or self._pull(
                ti, "restore_for_test", index, VERIFY_XCOM_KEY, self.groups_group_id)
            newest = newest_verified(self.hook.list_group_backups(item["group"], item["compartment_id"],
                                                                  item.get("region")))
            copy = self._pull(ti, "copy_to_dr_region", index, group_id=self.groups_group_id)
            groups.append(build_group_row(item, *pulled, newest, now, copy))
        pruned = (self.prune_result or {}).get("deleted", []) if isinstance(self.prune_result, dict) else []
        skipped = [{k: v.get(k) for k in ("volume_id", "display_name", "skipped")}
                   for v in self.discovered or [] if isinstance(v, dict) and v.get("skipped")]
        report = {"generated_at": now.isoformat(), "volumes": rows, "groups": groups, "pruned": pruned,
                  "skipped": skipped,
                  "totals": {"volumes": len(rows), "backed_up": sum(1 for r in rows if r["backup_id"]),
                             "verified": sum(1 for r in rows if r["status"] == "verified"),
                             "failed": sum(1 for r in rows if r["failed"]), "pruned": len(pruned)},
                  "duplicates": [{"display_name": r["display_name"], **d} for r in rows + groups
                                 for d in r["duplicates"]]}
        report["failed_steps"] = self.failed_steps(ti)
        if self.retention_gate:  # who approved or rejected retention, when and why (None: nobody was asked)
            report["retention_approval"] = ti.xcom_pull(task_ids=self.retention_gate, key="decision")
        text = render_text(report)
        self.log.info("\n%s", text)
        for r in rows:
            if r["status"] == "verified":
                asset = Asset(name=f"oci-volume-{r['volume_id']}",
                              uri=asset_uri(self.hook.region, r["volume_id"]))
                context["outlet_events"][AssetAlias(ASSET_ALIAS)].add(asset, extra={
                    "backup_id": r["backup_id"], "type": r["type"], "rpo_hours": r["rpo_hours"]})
        self.log.info(set_run_note(ti.dag_id, ti.run_id, render_note(report), self.note_conn_id))
        failed = [r for r in rows + groups if r["failed"]]
        if failed or report["failed_steps"]:
            ti.xcom_push(key="report", value=report)
            problems = [f"{r['display_name']} ({r['volume_id'] or 'backup group'}): {r['status']}"
                        + (f" - {r['consistency']['text']}" if (r.get("consistency") or {}).get("failed") else "")
                        + (f" - {r['verification']['detail']}" if r["verification"] else "")
                + (dr_copy_text(r["dr_copy"]) if (r.get("dr_copy") or {}).get("failed") else "") for r in failed]
            problems += [f"step {s['step']} {s['state']}: {s['detail']}" for s in report["failed_steps"]]
            raise OciWaitError("backup run failed for: " + "; ".join(problems))
        return report
