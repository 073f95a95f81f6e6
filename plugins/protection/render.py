"""The page as one HTML document (inline CSS and SVG charts: nothing to build, nothing fetched at run time), and
the CSV auditors download. Every value from OCI or a report is escaped."""

from __future__ import annotations

import csv
import io
from html import escape

from protection.snapshots import Status
from protection.view import STATES, VOLUME_FIELDS, age_text, ui_base

COLOURS = {"made": "#4a6fa5", "verified": "#2e8540", "failed": "#c0392b"}
LINE_COLOURS = ("#4a6fa5", "#e67e22", "#2e8540", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#d35400",
                "#2c3e50", "#b7950b")
CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:16px;color:#1d1d1f;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px}
.meta{color:#555;font-size:12px}.tiles{display:flex;gap:12px;margin:12px 0}
.tile{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:110px}
.tile b{display:block;font-size:22px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #e5e5e5;padding:4px 6px;
text-align:left;vertical-align:top}th{background:#f6f6f6;position:sticky;top:0}
.ok{color:#fff;background:#2e8540}.bad{color:#fff;background:#c0392b}.warn{color:#1d1d1f;background:#f1c40f}
.badge{border-radius:4px;padding:1px 6px;font-weight:600;font-size:12px;white-space:nowrap}
.ev{color:#555;font-size:12px;max-width:380px}.banner{border:1px solid #e0a800;background:#fff3cd;padding:8px 12px;
border-radius:6px;margin:8px 0}.num{text-align:right;white-space:nowrap}a{color:#1a5fb4}
.tile.ok{background:#e7f4ea;color:#1d1d1f}.tile.at_risk{background:#fdf3d0;color:#1d1d1f}
.tile.out{background:#f9e0dd;color:#1d1d1f}.tile.not_protected{background:#eee;color:#1d1d1f}
.legend span{margin-right:12px;font-size:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
"""


def e(value) -> str:
    return escape("" if value is None else str(value))


def when(stamp: str | None) -> str:
    return stamp[:19].replace("T", " ") if stamp else "-"


def utc(stamp: str | None) -> str:
    """A time as the page shows it: UTC, labelled."""
    return f"{when(stamp)} UTC" if stamp else "-"


def ago(seconds: float | None) -> str:
    """An age as people say it: "7 h ago"."""
    return f"{age_text(seconds)} ago" if seconds is not None else ""


STATE_BADGES = {"ok": "ok", "at_risk": "warn", "out": "bad", "not_protected": "none"}


def badge(text: str, kind: str) -> str:
    return f'<span class="badge {kind}">{e(text)}</span>'


def sparkline(values: list, width: int = 120, height: int = 24) -> str:
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if not points:
        return ""
    top = max(v for _, v in points) or 1
    step = width / max(len(values) - 1, 1)
    coords = " ".join(f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in points)
    last = points[-1][1]
    x, y = coords.split(" ")[-1].split(",")
    return (f'<svg width="{width}" height="{height}" role="img" aria-label="RTO trend, last {last / 60:.1f} min">'
            f'<polyline fill="none" stroke="#4a6fa5" stroke-width="1.5" points="{coords}"/>'
            f'<circle cx="{x}" cy="{y}" r="2" fill="#4a6fa5"/></svg>')


def nights_chart(history: list[dict], width: int = 900, height: int = 180) -> str:
    """Per night: backups made, verified and failed, as grouped bars."""
    if not history:
        return "<p>No nightly run yet.</p>"
    top = max(max(n["made"], n["verified"], n["failed"]) for n in history) or 1
    slot = width / len(history)
    bar = max(min(slot / 4, 14), 1)
    base = height - 30
    parts = [f'<svg width="{width}" height="{height}" role="img" aria-label="backups per night">',
             f'<line x1="0" y1="{base}" x2="{width}" y2="{base}" stroke="#999"/>']
    for i, night in enumerate(history):
        x = i * slot + slot / 2 - 1.5 * bar
        for j, key in enumerate(("made", "verified", "failed")):
            h = night[key] / top * (base - 10)
            parts.append(f'<rect x="{x + j * bar:.1f}" y="{base - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{COLOURS[key]}"><title>{e(night["night"])} {key}: {night[key]}</title></rect>')
        if len(history) <= 10 or i % max(len(history) // 10, 1) == 0:
            parts.append(f'<text x="{i * slot + slot / 2:.1f}" y="{height - 12}" font-size="10" '
                         f'text-anchor="middle">{e(night["night"][5:16].replace("T", " "))}</text>')
    parts.append(f'<text x="2" y="10" font-size="10">max {top}</text></svg>')
    legend = "".join(f'<span><i style="background:{c}"></i>{k}</span>' for k, c in COLOURS.items())
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def rto_chart(history: list[dict], names: dict[str, str], width: int = 900, height: int = 200, lines: int = 10) -> str:
    """RTO per volume per night: the `lines` volumes with the longest restores (every volume has its sparkline)."""
    series: dict[str, list] = {}
    for i, night in enumerate(history):
        for vol, rto in night["rto"].items():
            series.setdefault(vol, [None] * len(history))[i] = rto
    if not series:
        return "<p>No restore measured yet.</p>"
    chosen = sorted(series, key=lambda v: -max(x for x in series[v] if x is not None))[:lines]
    top = max(x for v in chosen for x in series[v] if x is not None) or 1
    step = width / max(len(history) - 1, 1)
    base = height - 20
    parts = [f'<svg width="{width}" height="{height}" role="img" aria-label="restore time per volume">',
             f'<line x1="0" y1="{base}" x2="{width}" y2="{base}" stroke="#999"/>',
             f'<text x="2" y="10" font-size="10">max {top / 60:.1f} min</text>']
    legend = []
    for n, vol in enumerate(chosen):
        colour = LINE_COLOURS[n % len(LINE_COLOURS)]
        pts = " ".join(f"{i * step:.1f},{base - v / top * (base - 14):.1f}" for i, v in enumerate(series[vol])
                       if v is not None)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{pts}">'
                     f'<title>{e(names.get(vol, vol))}</title></polyline>')
        parts += [f'<circle cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="2.5" fill="{colour}"/>'
                  for p in pts.split(" ")] if len(history) <= 31 else []
        legend.append(f'<span><i style="background:{colour}"></i>{e(names.get(vol, vol))}</span>')
    return "".join(parts) + '</svg><div class="legend">' + "".join(legend) + "</div>"


def group_note(group: str | None) -> str:
    """A grouped volume is backed up with its `backup-group` as one volume group backup: one point in time."""
    if not group:
        return ""
    return f'<div class="ev" title="one volume group backup: crash-consistent with its group">group {e(group)}</div>'


def link(href: str | None, text: str, top: bool = True) -> str:
    """A link into Airflow's UI (`data-ui`: the page's script opens it in the UI around the frame, see UI_LINKS);
    the OCI Console's in a new tab."""
    if not href:
        return ""
    where = "data-ui" if top else 'target="_blank" rel="noopener"'
    return f'<a href="{e(href)}" {where}>{e(text)}</a>'


def evidence_links(part: dict, ui: str, backup_text: str = "backup") -> str:
    links = [link(part.get("run_url") and ui + part["run_url"], "run"),
             link(part.get("task_url") and ui + part["task_url"], "task log"),
             link(part.get("console_url"), backup_text, top=False)]
    return " · ".join(x for x in links if x)


def attempt_cell(attempt: dict | None, ui: str) -> str:
    if not attempt:
        return "-"
    status = badge(attempt["status"], "bad") if attempt["failed"] else e(attempt["status"])
    return (f'<span class="t">{e(utc(attempt["time"]))}</span> <span class="ev">{e(ago(attempt["age_seconds"]))}</span>'
            f'<br>{status}<div class="ev">{evidence_links(attempt, ui)}</div>')


def good_cell(good: dict | None, ui: str) -> str:
    if not good:
        return badge("none", "bad") + '<div class="ev">no good verified backup</div>'
    return (f'<span class="t">{e(utc(good["time"]))}</span> <span class="ev">{e(ago(good["age_seconds"]))}</span>'
            f'<div class="ev">verified {e(good["level"] or "")} {e(utc(good["verified_at"]))}: {e(good["evidence"])}'
            f'</div><div class="ev">{evidence_links(good, ui)}</div>')


def rto_cell(r: dict) -> str:
    """RTO in minutes, against the policy's `rto_minutes` when it sets one."""
    minutes, target = r["rto_minutes"], r["rto_target_minutes"]
    if minutes is None:
        return "-" if target is None else f'-<div class="ev">target {target:g} min</div>'
    if target is None:
        return f'{minutes:g} min<div class="ev">no target</div>'
    kind = "ok" if minutes <= target else "bad"
    return badge(f"{minutes:g} min", kind) + f'<div class="ev">target {target:g} min</div>'


def protected_rows(rows: list[dict], base: str = "") -> str:
    ui = ui_base(base)
    out = []
    for r in rows:
        v = r["verification"]
        state = badge(STATES[r["state"]], STATE_BADGES[r["state"]])
        rpo = f"{age_text(r['rpo_seconds'])}" if r["rpo_seconds"] is not None else "-"
        unique = r["unique_size"] or "-"
        out.append(
            f'<tr data-volume="{e(r["display_name"])}" data-state="{e(r["state"])}" '
            f'data-verification="{e(v["result"])}" data-compliance="{"compliant" if r["compliant"] else "overdue"}" '
            f'data-group="{e(r["group"] or "")}">'
            f'<td>{link(r["console_url"], r["display_name"], top=False)}<div class="ev">{e(r["kind"])}</div></td>'
            f'<td>{state}<div class="ev">{e(r["state_reason"])}</div></td>'
            f"<td>{e(r['policy'])}{group_note(r['group'])}</td>"
            f"<td>{attempt_cell(r['last_attempt'], ui)}<div class=\"ev\">{e(r['last_backup_type'] or '-')}, "
            f"{e(unique)}</div><div class=\"ev\">{e(r.get('last_backup_consistency') or '')}</div></td>"
            f"<td>{good_cell(r['last_good_backup'], ui)}</td><td class=\"num\">{rto_cell(r)}</td>"
            f"<td class=\"num\">{e(rpo)}<div class=\"ev\">target {age_text(r['rpo_target_seconds'])}</div></td>"
            f"<td>{e(r['dr_copy'])}</td><td class=\"num\">{r['backups_kept']}</td>"
            f"<td>{sparkline(r['rto_history'])}</td>"
            f'<td><a class="restore" href="{e(base + r["restore_url"])}">Restore…</a></td></tr>')
    return "".join(out)


def fleet_rows(fleets: list[dict]) -> str:
    out = []
    for image in fleets:
        hosts = ", ".join(f"{e(i['hostname'])} ({e(i['lifecycle_state'])})" for i in image["instances"]) or "-"
        out.append(f'<tr><td><a href="{e(image["console_url"])}" target="_blank" rel="noopener">'
                   f'{e(image["display_name"])}</a></td><td>{e(image["dag"])}</td><td>{e(image["lifecycle_state"])}</td>'
                   f"<td>{e(when(image['time_created']))}</td><td>{hosts}</td></tr>")
    return "".join(out) or '<tr><td colspan="5">No image made by the DAGs yet.</td></tr>'


# The UI shows the page in a sandboxed frame (scripts, same origin, forms: no top navigation, no pop-ups), so a
# plain link would open Airflow's UI inside its own frame. A link into the UI instead moves the UI around the
# frame: its router follows the history entry pushed on it (a same-origin frame may). Outside a frame, or if
# that fails, the link is an ordinary link.
UI_LINKS = """
function openInUi(href) {
  try {
    const ui = window.parent;
    if (ui === window) return false;
    ui.history.pushState(null, "", href);
    ui.dispatchEvent(new ui.PopStateEvent("popstate", {state: null}));
    return true;
  } catch (err) { return false; }
}
document.addEventListener("click", (event) => {
  const a = event.target.closest("a[data-ui]");
  if (!a || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  if (openInUi(a.href)) event.preventDefault();
});
"""


def clock_note(view: dict) -> str:
    """Which clock the page's times come from, and by how much it differs from Airflow's when it does."""
    clock = view.get("clock") or {}
    base = ("Times are UTC. Backup, verification and report times, and every age, are on OCI's clock; run times "
            "in Airflow are on Airflow's clock.")
    if not clock.get("differs"):
        return f'<div class="meta" id="clock">{e(base)} The two agree.</div>'
    offset = clock["offset_seconds"]
    side = "ahead of" if offset > 0 else "behind"
    return (f'<div class="banner" id="clock" role="note">{e(base)} OCI\'s clock is {e(age_text(abs(offset)))} '
            f"{side} Airflow's (measured at the last read of OCI), so an age here and a run's time in Airflow do not "
            f"line up.</div>")


def tiles(totals: dict) -> str:
    """One tile per state; they add up to the number of volumes."""
    cells = "".join(f'<div class="tile {state}" data-state="{state}"><b>{totals[state]}</b>{e(label)}</div>'
                    for state, label in STATES.items())
    return (f'<div class="tiles" id="tiles" data-volumes="{totals["volumes"]}">{cells}'
            f'<div class="tile"><b>{totals["volumes"]}</b>volumes</div></div>')


def page(view: dict, status: Status, base: str = "") -> str:
    totals = view["totals"]
    banner = ""
    if status.stale:
        shown = (f"Showing OCI data from {utc(status.data_time)} (OCI time)" if status.data_time
                 else "No OCI data to show yet")
        banner = f'<div class="banner" role="alert" id="stale">Stale data. {e(shown)}. {e(status.reason)}</div>'
    names = {r["volume_id"]: r["display_name"] for r in view["protected"]}
    unprotected = "".join(
        f'<tr data-volume="{e(u["display_name"])}" data-state="not_protected"><td>'
        f'{link(u["console_url"], u["display_name"], top=False)}</td><td>{e(u["kind"])}</td>'
        f"<td>{e(u['reason'])}</td></tr>" for u in view["unprotected"]) or '<tr><td colspan="3">None.</td></tr>'
    config = view["config"]
    count = len(view["compartments"])
    scope = f"{count} compartment{'s' if count != 1 else ''}" + (
        f" (the configured {len(config.compartment_ids)} and those below them)" if config.include_subcompartments
        else "")
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>OCI Protection</title>
<style>{CSS}</style></head><body>
<h1>OCI Protection</h1>
<div class="meta">OCI data as of {e(utc(status.data_time))} (OCI time), region {e(view['region'] or '-')};
{e(scope)}, compartments and policies from the {e(config.source)}; tag <code>{e(config.tag_key)}</code>.
<a href="{base}/api/protection">JSON</a> · <a href="{base}/protection.csv">CSV</a></div>
{clock_note(view)}
{banner}
{tiles(totals)}
<h2 id="protected">Protected volumes</h2>
<table id="protected-volumes"><thead><tr><th>Volume</th><th>State</th><th>Policy, group</th><th>Last attempt</th>
<th>Last good verified backup</th><th>RTO</th><th>RPO now</th><th>DR copy</th><th>Backups kept</th>
<th>RTO, last nights</th><th></th></tr></thead>
<tbody>{protected_rows(view['protected'], base) or '<tr><td colspan="11">No tagged volume.</td></tr>'}</tbody></table>
<h2 id="not-protected">Not protected</h2>
<table id="unprotected-volumes"><thead><tr><th>Volume</th><th>Kind</th><th>Why</th></tr></thead>
<tbody>{unprotected}</tbody></table>
<h2 id="history">History, last {len(view['history'])} nights</h2>
{nights_chart(view['history'])}
<h3>Restore time (RTO) per volume</h3>
{rto_chart(view['history'], names)}
<h2 id="fleets">Images and fleets</h2>
<table id="fleets-table"><thead><tr><th>Image</th><th>Made by</th><th>State</th><th>Created</th>
<th>Instances (hostname)</th></tr></thead><tbody>{fleet_rows(view['fleets'])}</tbody></table>
<script>{UI_LINKS}</script>
</body></html>"""


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutral(value):
    """A CSV cell a spreadsheet will not run: text starting with =, +, -, @, tab or carriage return gets a leading
    apostrophe (OWASP's advice on CSV injection); numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(view: dict) -> str:
    """Every volume, one row each with its state (the protected ones first); the verification spread over four
    columns, the last attempt and the last good verified backup over two each. No cell can run as a formula."""
    buf = io.StringIO()
    fields = [f for f in VOLUME_FIELDS if f not in ("verification", "restore_url")]
    fields[fields.index("last_good_backup") + 1:fields.index("last_good_backup") + 1] = ["last_good_backup_time"]
    fields[fields.index("last_attempt") + 1:fields.index("last_attempt") + 1] = ["last_attempt_time"]
    fields[fields.index("last_verified_time") + 1:fields.index("last_verified_time") + 1] = [
        "verification", "verification_level", "verification_evidence", "verification_backup_id"]
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", quoting=csv.QUOTE_ALL)
    writer.writeheader()
    for row in view["protected"]:
        v, attempt, good = row["verification"], row["last_attempt"] or {}, row["last_good_backup"] or {}
        cells = {**row, "verification": v["result"], "verification_level": v["level"],
                 "verification_evidence": v["evidence"], "verification_backup_id": v["backup_id"],
                 "last_attempt": attempt.get("status"), "last_attempt_time": attempt.get("time"),
                 "last_good_backup": good.get("backup_id"), "last_good_backup_time": good.get("time")}
        writer.writerow({k: neutral(value) for k, value in cells.items()})
    for row in view["unprotected"]:  # every volume once: the rows add up as the tiles do
        writer.writerow({k: neutral(value) for k, value in {**row, "state_reason": row["reason"]}.items()})
    return buf.getvalue()
