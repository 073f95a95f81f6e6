"""The restore DAG's trigger form, pre-filled from the URL: the Protection page's "Restore…" link.

Airflow 3.3's own trigger form takes no values from its URL (its UI has no trigger route and its form reads no
query parameter), so a link cannot open it pre-filled. This page draws the same form from the restore DAG's
Params as Airflow stored them (titles, descriptions, sections, enums, defaults), fills in any Param the URL
names (`?volume_id=ocid1...`), and triggers the run through Airflow's REST API as the logged-in user (the API
checks that user's permission and the Params' schemas, exactly as the UI's form does), then opens the run.
"""

from __future__ import annotations

import json
from html import escape

from protection.render import CSS, UI_LINKS
from protection.view import RESTORE_DAG, ui_base


def dag_params(dag_id: str = RESTORE_DAG) -> dict | None:
    """The DAG's Params as Airflow's API server has them (the serialized DAG): name → value, schema, description.
    None when the DAG is not in Airflow's database yet."""
    from airflow.models.serialized_dag import SerializedDagModel

    dag = SerializedDagModel.get_dag(dag_id)
    if dag is None:
        return None
    return {name: param.dump() for name, param in dag.params.items()}


def types_of(schema: dict) -> set[str]:
    kind = schema.get("type")
    return set(kind) if isinstance(kind, list) else {kind} if kind else set()


def field(name: str, param: dict, given: str | None) -> str:
    """One Param as a labelled input; `given` (from the URL) replaces its default."""
    schema = param.get("schema") or {}
    kinds = types_of(schema)
    default = param.get("value")
    label = schema.get("title") or name
    help_text = param.get("description") or schema.get("description") or ""
    ident = f"p-{name}"
    attrs = f'id="{escape(ident)}" name="{escape(name)}" data-default="{escape(json.dumps(default))}"'
    if schema.get("enum"):
        chosen = given if given is not None else default
        options = "".join(f'<option value="{escape(json.dumps(v))}"{" selected" if v == chosen else ""}>'
                          f'{escape(str(v))}</option>' for v in schema["enum"])
        control = f'<select {attrs} data-kind="json">{options}</select>'
    elif "boolean" in kinds:
        on = given.lower() == "true" if given is not None else bool(default)
        control = f'<input type="checkbox" {attrs} data-kind="boolean"{" checked" if on else ""}>'
    elif kinds & {"object", "array"}:
        text = given if given is not None else json.dumps(default, indent=1) if default is not None else ""
        control = f'<textarea {attrs} data-kind="json" rows="3" cols="60">{escape(text)}</textarea>'
    elif kinds & {"number", "integer"}:
        value = given if given is not None else "" if default is None else str(default)
        control = f'<input type="number" step="any" {attrs} data-kind="number" value="{escape(value)}">'
    else:
        value = given if given is not None else "" if default is None else str(default)
        control = f'<input type="text" size="70" {attrs} data-kind="text" value="{escape(value)}">'
    prefilled = ' class="given"' if given is not None else ""
    return (f'<div class="field"><label for="{escape(ident)}"{prefilled}>{escape(str(label))}</label> {control}'
            f'<div class="ev">{escape(str(help_text))}</div></div>')


SCRIPT = """
const form = document.getElementById("trigger");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const out = document.getElementById("result");
  const conf = {};
  try {
    for (const el of form.querySelectorAll("[data-kind]")) {
      const kind = el.dataset.kind, fallback = JSON.parse(el.dataset.default);
      let value;
      if (kind === "boolean") value = el.checked;
      else if (kind === "json") value = el.value.trim() === "" ? null : JSON.parse(el.value);
      else if (kind === "number") value = el.value.trim() === "" ? null : Number(el.value);
      else value = el.value.trim() === "" && (fallback === null || fallback === "") ? fallback : el.value.trim();
      if (JSON.stringify(value) !== JSON.stringify(fallback)) conf[el.name] = value;
    }
  } catch (err) { out.textContent = "Not JSON: " + err.message; return; }
  const response = await fetch(form.dataset.api, {method: "POST", credentials: "same-origin",
    headers: {"content-type": "application/json"}, body: JSON.stringify({logical_date: null, conf: conf})});
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail || body);
    out.textContent = "Airflow refused the run (" + response.status + "): " + detail;
    return;
  }
  const run = form.dataset.runs + encodeURIComponent(body.dag_run_id);
  if (!openInUi(run)) window.location.href = run;
});
"""


def restore_page(params: dict | None, query: dict[str, str], base: str, dag_id: str = RESTORE_DAG) -> str:
    """The form: the Params grouped by their `section` (in the DAG's order), those named in the URL filled in."""
    ui = ui_base(base)
    head = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Trigger {escape(dag_id)}</title>'
            f"<style>{CSS}.field{{margin:8px 0}}.field label{{font-weight:600;display:inline-block;min-width:200px}}"
            f".given{{background:#fdf3d0}}fieldset{{border:1px solid #ddd;border-radius:6px;margin:8px 0}}"
            f"</style></head><body><h1>Trigger {escape(dag_id)}</h1>")
    if params is None:
        return head + (f'<p role="alert">The DAG {escape(dag_id)} is not in Airflow yet (not parsed).</p>'
                       f'<p><a href="{escape(base)}/">Back to OCI Protection</a></p></body></html>')
    sections: dict[str, list[str]] = {}
    for name, param in params.items():
        section = (param.get("schema") or {}).get("section") or "Run parameters"
        sections.setdefault(section, []).append(field(name, param, query.get(name)))
    body = "".join(f"<fieldset><legend>{escape(str(title))}</legend>{''.join(fields)}</fieldset>"
                   for title, fields in sections.items())
    filled = ", ".join(f"{k} = {v}" for k, v in query.items() if k in params)
    api = f"{ui}/api/v2/dags/{dag_id}/dagRuns"
    runs = f"{ui}/dags/{dag_id}/runs/"
    return (head + f'<div class="meta">Filled in from the OCI Protection page: {escape(filled or "nothing")}. '
            f'Airflow checks every value when the run is created. <a href="{escape(ui)}/dags/{escape(dag_id)}" '
            f'data-ui>The DAG in Airflow</a> · <a href="{escape(base)}/">Back to OCI Protection</a></div>'
            f'<form id="trigger" data-api="{escape(api)}" data-runs="{escape(runs)}">{body}'
            f'<button type="submit" id="trigger-submit">Trigger</button></form>'
            f'<p id="result" role="alert"></p><script>{UI_LINKS}{SCRIPT}</script></body></html>')
