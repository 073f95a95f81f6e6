"""The callbacks the DAG files wire: `on_run_failure` (DAG-level: one mail per failed run, never one per mapped
task), `on_run_success` (the nightly's opt-in summary), `record_error` (task-level: keeps the first line of a
failed task's error in XCom for the run's mail), and `rpo_at_risk` (the nightly's DeadlineAlert callback, run by
the triggerer). None of them raises: a notifier that cannot deliver never changes a run's outcome."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def base_url() -> str:
    """Where people open Airflow: `[api] base_url`, as Airflow's own links use it."""
    try:
        from airflow.configuration import conf

        return conf.get("api", "base_url", fallback="") or "http://localhost:8080"
    except Exception:
        return "http://localhost:8080"


def notify_settings(dag, conf: dict | None) -> dict:
    """The notification keys of this run in the documented order: Params defaults, the Variable named after the
    DAG, the trigger conf; checked (an unknown connection or a malformed address raises OciInputError)."""
    from common.config import layered, parse_variable

    from notify.config import check_notify

    variable = parse_variable(dag.dag_id, variable_text(dag.dag_id))
    config = layered(dag.params.dump(), variable, conf or {}, dag_id=dag.dag_id)
    return check_notify(config)


def variable_text(key: str) -> str | None:
    """A Variable's text where a DAG callback runs: through the Task SDK in the DAG processor, from the metadata
    database in dag.test() (whose callbacks run outside any task, with no Task SDK channel)."""
    from notify.facts import _sdk

    if _sdk():
        from airflow.sdk import Variable

        return Variable.get(key, default=None)
    from airflow.models.variable import Variable as StoredVariable

    return StoredVariable.get(key, default_var=None)


def _conf_of(context) -> dict:
    run = context.get("dag_run")
    return dict(getattr(run, "conf", None) or {})


def on_run_failure(context) -> None:
    """A DAG's on_failure_callback: one mail (and webhook message) naming what failed."""
    from notify.deliver import deliver
    from notify.facts import read_run
    from notify.message import failure_mail

    dag, run_id = context["dag"], context["run_id"]
    try:
        values = notify_settings(dag, _conf_of(context))
        if not values["notify_to"] and not values["notify_webhook_conn_id"]:
            log.info("%s %s failed; notifications are off (notify_to is empty)", dag.dag_id, run_id)
            return
        deliver(failure_mail(read_run(dag, run_id), base_url()), values)
    except Exception as err:  # never let a notification change the run
        log.warning("failure notification of %s %s not sent: %s: %s", dag.dag_id, run_id, type(err).__name__,
                    str(err).splitlines()[0] if str(err) else "")


def on_run_success(context) -> None:
    """The nightly's on_success_callback: the summary mail when `notify_summary` is on."""
    from reports.nightly import render_text

    from notify.deliver import deliver
    from notify.facts import REPORT_TASK, _sdk, _xcom_orm, _xcom_sdk
    from notify.message import summary_mail

    dag, run_id = context["dag"], context["run_id"]
    try:
        values = notify_settings(dag, _conf_of(context))
        if not values["notify_summary"] or not (values["notify_to"] or values["notify_webhook_conn_id"]):
            log.info("%s %s: no summary (notify_summary off or nobody to tell)", dag.dag_id, run_id)
            return
        pull = _xcom_sdk if _sdk() else _xcom_orm
        report = pull(dag.dag_id, run_id, REPORT_TASK, "return_value", -1) or {}
        config = pull(dag.dag_id, run_id, "resolve_config", "return_value", -1) or {}
        mail = summary_mail(dag.dag_id, run_id, report, config.get("policies") or {}, base_url(), render_text(report))
        deliver(mail, values)
    except Exception as err:
        log.warning("summary of %s %s not sent: %s: %s", dag.dag_id, run_id, type(err).__name__,
                    str(err).splitlines()[0] if str(err) else "")


def record_error(context) -> None:
    """A task's on_failure_callback (its last try): the error's first line in XCom `notify_error`, read by the
    run's one failure mail. Airflow's secret masker has already redacted the exception text it logs; this
    keeps only a line of it."""
    from notify.facts import ERROR_XCOM_KEY
    from notify.message import first_line

    try:
        error = context.get("exception")
        line = first_line(f"{type(error).__name__}: {error}" if error else "")
        if line:
            from airflow.sdk._shared.secrets_masker import redact
            context["ti"].xcom_push(key=ERROR_XCOM_KEY, value=str(redact(line)))
    except Exception as err:
        log.warning("error line not recorded: %s", type(err).__name__)


def rpo_deadline_hours() -> float:
    """`OCI_RPO_DEADLINE_HOURS`, or (0) the smallest RPO target (`verify_every_days`) of the Params' policies."""
    from common.config import NIGHTLY_DEFAULTS, RPO_DEADLINE_HOURS

    hours = RPO_DEADLINE_HOURS.value()
    if hours:
        return float(hours)
    days = [float((p or {}).get("verify_every_days", 7.0)) for p in NIGHTLY_DEFAULTS["policies"].values()]
    return min(days or [7.0]) * 24


def rpo_deadline(dag_id: str):
    """The nightly's DeadlineAlert: its logical date plus `rpo_deadline_hours()`, then `rpo_at_risk` (None when
    `OCI_RPO_DEADLINE` is off)."""
    from datetime import timedelta

    from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference
    from common.config import RPO_DEADLINE

    if not RPO_DEADLINE.value():
        return None
    hours = rpo_deadline_hours()
    return DeadlineAlert(reference=DeadlineReference.DAGRUN_LOGICAL_DATE, interval=timedelta(hours=hours),
                         callback=AsyncCallback("notify.callbacks.rpo_at_risk",
                                                kwargs={"dag_id": dag_id, "interval_hours": hours}))


async def rpo_at_risk(dag_id: str = "", interval_hours: float = 0.0, context: dict | None = None) -> None:
    """The nightly's DeadlineAlert callback (in the triggerer): the run is not finished `interval_hours` after
    its logical date. Mails "RPO at risk" with the run's notification keys (Params, Variable, its conf)."""
    import asyncio

    await asyncio.to_thread(_rpo_at_risk, dag_id, interval_hours, context or {})


def _rpo_at_risk(dag_id: str, interval_hours: float, context: dict) -> None:
    from common.config import NIGHTLY_DEFAULTS, layered, parse_variable

    from notify.config import check_notify
    from notify.deliver import deliver
    from notify.message import plain_mail, protection_url, run_url

    try:
        from airflow.sdk import Variable

        run = context.get("dag_run") or {}
        run_id, conf = run.get("dag_run_id") or run.get("run_id") or "", run.get("conf") or {}
        variable = parse_variable(dag_id, Variable.get(dag_id, default=None))
        values = check_notify(layered(NIGHTLY_DEFAULTS, variable, conf, dag_id=dag_id))
        if not values["notify_to"] and not values["notify_webhook_conn_id"]:
            return
        lines = [f"DAG {dag_id}, run {run_id}: still running {interval_hours:g} h after its logical date; the "
                 f"volumes it protects pass their RPO target if it does not finish.",
                 "", f"Run in Airflow: {run_url(base_url(), dag_id, run_id)}",
                 f"OCI Protection: {protection_url(base_url())}"]
        deliver(plain_mail(f"[OCI] {dag_id} RPO at risk: {run_id} still running", lines), values)
    except Exception as err:
        log.warning("RPO-at-risk notification of %s not sent: %s: %s", dag_id, type(err).__name__,
                    str(err).splitlines()[0] if str(err) else "")
