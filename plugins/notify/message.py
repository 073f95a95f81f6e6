"""What the mails and the webhook say, built from plain data (no Airflow, no network): a run's facts in, a
`Mail` out. The subjects are the contract people filter on: `[OCI] <dag_id> failed: <n> of <m> volumes` for
the nightly, `[OCI] <dag_id> failed: <step>` for the on-demand DAGs."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from urllib.parse import quote

PREFIX = "[OCI]"
FAILED_STATES = ("failed", "upstream_failed")


@dataclass
class Mail:
    subject: str
    text: str
    html: str


@dataclass
class RunFacts:
    """What a finished run left: its task states (`task` or `task[map_index]`), the first error line each failed
    task recorded, and its report's XCom (the nightly's report, or an on-demand DAG's result)."""

    dag_id: str
    run_id: str
    states: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    report: dict | None = None


def first_line(text) -> str:
    """An error's first non-empty line, at most 300 characters (a mail names, the log explains)."""
    for line in str(text or "").splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


def run_url(base_url: str, dag_id: str, run_id: str) -> str:
    return f"{base_url.rstrip('/')}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def protection_url(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/oci/"


def _volume_lines(report: dict) -> tuple[list[str], int, int]:
    """The nightly report's failed volumes and groups, one line each, and (failed, all) volume counts: a backup
    group's members count as volumes, failed when their group failed."""
    lines, failed, total = [], 0, 0
    for row in report.get("volumes") or []:
        total += 1
        if row.get("failed"):
            failed += 1
            lines.append(f"volume {row.get('display_name')} ({row.get('volume_id')}): {row.get('status')}"
                         + _detail(row))
    for group in report.get("groups") or []:
        members = group.get("members") or []
        total += len(members)
        if group.get("failed"):
            failed += len(members)
            names = ", ".join(str(m.get("display_name")) for m in members)
            lines.append(f"group {group.get('group') or group.get('display_name')} ({names}): {group.get('status')}"
                         + _detail(group))
    return lines, failed, total


def _detail(row: dict) -> str:
    check = row.get("verification") or {}
    detail = first_line(check.get("detail")) if isinstance(check, dict) else ""
    return f" - {detail}" if detail else ""


def failed_steps(facts: RunFacts) -> list[str]:
    """The tasks that failed themselves (not those skipped for an upstream failure), in task order."""
    return [key for key, state in facts.states.items() if state == "failed"]


def failure_mail(facts: RunFacts, base_url: str) -> Mail:
    """One mail for one failed run, however many mapped tasks failed."""
    report = facts.report or {}
    steps = failed_steps(facts)
    lines = [f"DAG {facts.dag_id}, run {facts.run_id}: failed.", ""]
    if "totals" in report:
        found, failed, total = _volume_lines(report)
        subject = f"{PREFIX} {facts.dag_id} failed: {failed} of {total} volumes"
        if found:
            lines += ["Volumes and groups:"] + [f"- {x}" for x in found] + [""]
        for step in report.get("failed_steps") or []:
            lines.append(f"- step {step.get('step')} {step.get('state')}: {first_line(step.get('detail'))}")
    else:
        own = [s for s in steps if s.split("[")[0] != "report"] or steps or ["unknown step"]
        subject = f"{PREFIX} {facts.dag_id} failed: {own[0]}"
        named = _instances_and_volumes(report)
        if named:
            lines += ["Resources:"] + [f"- {x}" for x in named] + [""]
        for problem in report.get("problems") or []:
            lines.append(f"- {first_line(problem)}")
    if steps:
        lines += ["", "Failed steps:"]
        lines += [f"- {s}" + (f": {facts.errors[s]}" if facts.errors.get(s) else "") for s in steps]
    lines += ["", f"Run in Airflow: {run_url(base_url, facts.dag_id, facts.run_id)}",
              f"OCI Protection: {protection_url(base_url)}"]
    text = "\n".join(lines).replace("\n\n\n", "\n\n")
    return Mail(subject, text, _as_html(text))


def _instances_and_volumes(result: dict) -> list[str]:
    """The instances and volumes an on-demand report names (clone, restore, migration, golden image)."""
    named = []
    for vol in result.get("volumes") or []:
        if isinstance(vol, dict):
            named.append(f"volume {vol.get('display_name')} ({vol.get('source_id') or vol.get('volume_id')})")
    for key in ("source_instance_id", "instance_id"):
        if result.get(key):
            named.append(f"instance {result[key]}")
    instance = result.get("instance")
    if isinstance(instance, dict) and instance.get("instance_id"):
        named.append(f"instance {instance.get('hostname') or '-'} ({instance['instance_id']})")
    return named


def _as_html(text: str) -> str:
    """The plain text as HTML, links clickable: the same words in both parts."""
    out = []
    for line in text.splitlines():
        escaped = html.escape(line)
        for word in line.split():
            if word.startswith(("http://", "https://")):
                escaped = escaped.replace(html.escape(word), f'<a href="{html.escape(word)}">{html.escape(word)}</a>')
        out.append(escaped)
    return "<html><body><pre style=\"font-family:sans-serif\">" + "\n".join(out) + "</pre></body></html>"


def rpo_target_hours(policy: str | None, policies: dict) -> float:
    """A policy's RPO target, as the OCI Protection page reads it: `verify_every_days` (default 7), in hours."""
    raw = policies.get(policy or "default") or policies.get("default") or {}
    return float(raw.get("verify_every_days", 7.0)) * 24


def summary_rows(report: dict, policies: dict) -> list[dict]:
    """Every volume the report speaks of (a group's members carry their group's status), each with its RPO
    target and whether it is breached."""
    rows = [dict(r) for r in report.get("volumes") or []]
    for group in report.get("groups") or []:
        rows += [{**m, "policy": group.get("policy"), "failed": group.get("failed"), "status": group.get("status"),
                  "rpo_hours": group.get("rpo_hours"), "type": group.get("type")} for m in group.get("members") or []]
    for r in rows:
        r["rpo_target_hours"] = rpo_target_hours(r.get("policy"), policies)
        r["rpo_breached"] = r.get("rpo_hours") is None or r["rpo_hours"] > r["rpo_target_hours"]
    return rows


def summary_mail(dag_id: str, run_id: str, report: dict, policies: dict, base_url: str, text_table: str) -> Mail:
    """The nightly's summary (opt-in): protected (newest verified backup within its RPO target), failed and
    unprotected (no verified backup at all) counts, the RPO breaches, and the report's table."""
    rows = summary_rows(report, policies)
    failed = [r for r in rows if r.get("failed")]
    unprotected = [r for r in rows if not r.get("failed") and r.get("rpo_hours") is None]
    breaches = [r for r in rows if r["rpo_breached"]]
    protected = [r for r in rows if not r.get("failed") and not r["rpo_breached"]]
    subject = (f"{PREFIX} {dag_id} summary: {len(protected)} protected, {len(failed)} failed, {len(unprotected)} "
               f"unprotected, {len(breaches)} RPO breaches")
    head = [f"DAG {dag_id}, run {run_id}", f"Protected: {len(protected)}", f"Failed: {len(failed)}",
            f"Unprotected: {len(unprotected)}", f"RPO breaches: {len(breaches)}"]
    head += [f"- {r.get('display_name')} ({r.get('volume_id')}): RPO "
             f"{'-' if r.get('rpo_hours') is None else r['rpo_hours']} h, target {r['rpo_target_hours']:g} h"
             for r in breaches]
    links = [("Run in Airflow", run_url(base_url, dag_id, run_id)), ("OCI Protection", protection_url(base_url))]
    text = "\n".join([*head, "", text_table, "", *(f"{name}: {url}" for name, url in links)])
    esc = html.escape
    table = "".join(
        f"<tr><td>{esc(str(r.get('display_name')))}</td><td>{esc(str(r.get('status')))}</td>"
        f"<td>{esc(str(r.get('type') or '-'))}</td><td>{esc(str(r.get('rto_seconds') or '-'))}</td>"
        f"<td>{esc(str('-' if r.get('rpo_hours') is None else r['rpo_hours']))}</td>"
        f"<td>{r['rpo_target_hours']:g}</td></tr>" for r in rows)
    body = ("<html><body>" + "".join(f"<p>{esc(x)}</p>" for x in head)
            + "<table border=\"1\"><tr><th>Volume</th><th>Status</th><th>Type</th><th>RTO (s)</th><th>RPO (h)</th>"
              "<th>RPO target (h)</th></tr>" + table + "</table>"
            + "".join(f'<p><a href="{esc(url)}">{esc(name)}</a></p>' for name, url in links) + "</body></html>")
    return Mail(subject, text, body)


def plain_mail(subject: str, lines: list[str]) -> Mail:
    text = "\n".join(lines)
    return Mail(subject, text, _as_html(text))


def webhook_payload(mail: Mail) -> dict:
    """A generic JSON webhook body: `text` is what Slack-compatible incoming webhooks (Mattermost, Slack,
    Rocket.Chat) show; `title` and `summary` are what a Teams workflow reads."""
    return {"text": f"*{mail.subject}*\n{mail.text}", "title": mail.subject, "summary": mail.subject}
