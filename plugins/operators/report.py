"""The nightly report: per volume the backup, its sizes, the restore time (RTO), the verification and the
age of the newest verified backup (RPO); to the log, XCom, Asset events and the DAG run's note.

The report runs after the teardown, reads what each mapped volume task left in XCom (a failed task leaves
none, which is itself the finding), and fails the run when any backup or verification failed. A `backup-group`
has a line of its own (its group backup, verification and DR copy), with a line per member below it.
"""

from __future__ import annotations

from typing import Any

from common.errors import OciInputError, OciWaitError
from common.ids import asset_uri
from common.tags import newest_verified
from common.xcom import PRUNE_XCOM_KEY, TEARDOWN_XCOM_KEY, VERIFY_XCOM_KEY
from hooks.block_storage import OciBlockStorageHook
from reports.nightly import build_group_row, build_row, dr_copy_text, render_note, render_text

from operators.base import OciBaseOperator, oci_template_fields

ASSET_ALIAS = "oci-verified-backups"
VOLUME_ROLES = ("backup", "restore", "verify")
GROUP_ROLES = ("backup", "restore", "verify", "copy")


class OciBackupReportOperator(OciBaseOperator):
    """Collect the mapped results into one report; emit an Asset event per verified volume; fail on failure.

    The DAG hands it the tasks it reads (never their ids as strings): each volume's and each group's steps, by
    role, and the closing steps whose failure fails the run. A mapped output is read in one or two queries, not
    one per volume (operators/task_values.py).

    XCom: generated_at, volumes (one row per volume), groups (one row per backup group, with its members),
    pruned, totals (of the volumes), failed_steps, duplicates (backups kept beside the one a row used), skipped
    (discovered volumes not protected, and why).

    :param plan: the backup plan (``OciPlanBackupsOperator``'s XCom): one row per planned volume (templated)
    :param volume_tasks: the per-volume tasks (mapped over ``plan``) by role: ``backup``, ``restore`` (the test
        restore), ``verify`` (its check)
    :param prune_result: retention's XCom (``OciPruneBackupsOperator``), for the pruned backups (templated)
    :param note_conn_id: the Airflow REST API connection the report is written through as the run's note
    :param groups: the group plan (``OciPlanGroupBackupsOperator``'s XCom): one row per backup group (templated)
    :param group_tasks: the per-group tasks (mapped over ``groups``) by role: ``backup``, ``restore``, ``verify``,
        ``copy`` (the DR copy)
    :param copies: the DR copies of the volume backups, mapped over ``select_dr_copies(plan)``; a failed one fails
        the run
    :param teardown: the teardown of the test restores; its failure fails the run, naming what it left
    :param prune: retention (``OciPruneBackupsOperator``); its failure fails the run, naming what it did not delete
    :param retention_gate: the approval gate before retention (``OciApprovePruneOperator``); None: no gate. Its
        decision goes into the report; a gate that failed (no answer in time) fails the run
    :param discovered: the discovered volumes (``OciDiscoverVolumesOperator``'s XCom): those not planned
        (``skipped``: temporaries, members of a volume group the project did not make) are named (templated)
    """

    hook_class = OciBlockStorageHook

    template_fields = oci_template_fields("plan", "groups", "prune_result", "discovered")

    def __init__(self, *, plan: list[dict], volume_tasks: dict[str, Any], prune_result: dict | None = None,
                 note_conn_id: str = "airflow_api", groups: list[dict] | None = None,
                 group_tasks: dict[str, Any] | None = None, copies: Any = None, teardown: Any = None,
                 prune: Any = None, retention_gate: Any = None, discovered: list[dict] | None = None, **kwargs):
        from airflow.sdk import AssetAlias

        kwargs.setdefault("trigger_rule", "all_done")
        kwargs.setdefault("outlets", [AssetAlias(ASSET_ALIAS)])
        super().__init__(**kwargs)
        self.plan = plan
        self.volume_tasks = volume_tasks
        self.prune_result = prune_result
        self.groups = groups
        self.group_tasks = group_tasks or {}
        self.discovered = discovered
        self.note_conn_id = note_conn_id
        self.copies, self.teardown, self.prune, self.retention_gate = copies, teardown, prune, retention_gate

    def validate_inputs(self) -> None:
        for name, tasks, roles in (("volume_tasks", self.volume_tasks, VOLUME_ROLES),
                                   ("group_tasks", self.group_tasks, GROUP_ROLES if self.group_tasks else ())):
            if not isinstance(tasks, dict) or set(roles) - set(tasks):
                raise OciInputError(f"{name} {str(tasks)[:80]!r}: the tasks by role, {list(roles)}")

    def steps(self) -> list[tuple[str, Any]]:
        """The closing steps whose failure fails the run, each with its role."""
        return [(role, task) for role, task in (("copy", self.copies), ("teardown", self.teardown),
                                                ("prune", self.prune), ("gate", self.retention_gate)) if task]

    def failed_steps(self, ti) -> list[dict]:
        """The closing steps that did not succeed, read from Airflow (a step that crashed pushed nothing),
        with what each one recorded: the teardown's leftovers, retention's failed deletions, the copy's volume."""
        from operators.backup_plan import select_dr_copies
        from operators.task_values import one, states, task_id_of

        steps = {task_id_of(task): (role, task) for role, task in self.steps()}
        if not steps:
            return []
        failed, copies = [], None
        for key, state in sorted(states(ti, [task for _, task in steps.values()]).items()):
            if state not in ("failed", "upstream_failed"):
                continue
            step, _, index = key.rpartition("_") if key not in steps else (key, "", "")
            role, task = steps.get(step, (None, None))
            detail = "failed"
            if role == "teardown":
                outcome = one(ti, task, TEARDOWN_XCOM_KEY) or {}
                left = outcome.get("leftovers") or []
                detail = ("temporaries left: " + "; ".join(f"{x['name']} ({x['id']}): {x['error']}" for x in left)
                          if left else "failed before it listed the temporaries")
            elif role == "prune":
                outcome = one(ti, task, PRUNE_XCOM_KEY) or {}
                bad = outcome.get("failed") or []
                detail = ("backups not deleted: " + "; ".join(f"{f['backup_id']}: {f['error']}" for f in bad)
                          if bad else "failed before it applied retention")
            elif role == "gate":
                asked = one(ti, task, "asked")
                detail = (f"no approval of retention within {asked['timeout_minutes']:g} min; nothing deleted"
                          if asked else "failed before it asked; nothing deleted")
            elif index.isdigit():
                if copies is None:  # the items the copies were mapped over, from the plan: no query at all
                    copies = select_dr_copies(self.plan or [])
                item = copies[int(index)] if int(index) < len(copies) else {}
                detail = (f"copy of the backup of {item.get('volume_id') or item.get('backup_id')} to "
                          f"{item.get('destination_region')}")
            failed.append({"step": key if not index else f"{step}[{index}]", "state": state, "detail": detail})
        return failed

    def read(self, ti, tasks: dict[str, Any], items: list[dict]) -> list[tuple]:
        """Per planned item: its backup, test restore, check (and, for a group, DR copy), each mapped output read
        in one or two queries (operators/task_values.py). At `api` level the restore checked itself and carries
        the check; a restore whose check failed leaves only the check, under the same key (read for those alone)."""
        from operators.task_values import mapped, one

        if not items:
            return []
        count, group = len(items), "copy" in tasks
        tested = [i for i, item in enumerate(items) if item.get("verify")]  # the others' restores are skipped
        backups = mapped(ti, tasks["backup"], count)
        restores = mapped(ti, tasks["restore"], count, expected=tested)
        checks = mapped(ti, tasks["verify"], count, VERIFY_XCOM_KEY, expected=tested)
        copies = mapped(ti, tasks["copy"], count, expected=[i for i, item in enumerate(items)
                                                            if item.get("dr_region")]) if group else [None] * count
        rows = []
        for index, (backup, restore, check, copy) in enumerate(zip(backups, restores, checks, copies, strict=True)):
            if group:
                verification = check or (restore or {}).get(VERIFY_XCOM_KEY)
            else:
                verification = (restore or {}).get(VERIFY_XCOM_KEY) or check
            if not verification and (group or not restore) and index in tested:
                verification = one(ti, tasks["restore"], VERIFY_XCOM_KEY, index)
            elif not verification:
                verification = None
            rows.append((backup, restore, verification, copy) if group else (backup, restore, verification))
        return rows

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

    def execute_step(self, context) -> dict:
        from airflow.sdk import Asset, AssetAlias
        from hooks.airflow_api import set_run_note

        ti = context["ti"]
        from common.plan import plan_run

        if plan_run(context):
            return self.plan_report(context)
        now = self.hook.server_time()
        rows = []
        backups = self.hook.backups_by_volume(self.plan or [], self.region)  # a few calls, not two per volume
        for item, (backup, restore, verification) in zip(self.plan or [], self.read(ti, self.volume_tasks,
                                                                                     self.plan or []), strict=True):
            newest = newest_verified(backups[item["volume_id"]])
            rows.append(build_row(item, backup, restore, verification, newest, now))
        groups = []
        for item, (backup, restore, verification, copy) in zip(self.groups or [], self.read(
                ti, self.group_tasks, self.groups or []), strict=True):
            newest = newest_verified(self.hook.list_group_backups(item["group"], item["compartment_id"],
                                                                  item.get("region")))
            groups.append(build_group_row(item, backup, restore, verification, newest, now, copy))
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
            from operators.task_values import one

            report["retention_approval"] = one(ti, self.retention_gate, "decision")
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
