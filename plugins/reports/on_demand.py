"""What the on-demand DAGs' reports share: the report a workflow module declares (`OnDemandReport`: its title, its
builder and its note), an approval gate's part of a report, and the run's note.

A builder takes the values the DAG hands OciRunReportOperator (operators.on_demand), already read from XCom (None
for what a task did not leave; a list per mapped task, None where a map index left nothing), and returns (lines,
result, problems, title). A problem is something asked for that was not made; the operator fails the run when
there is one. The builders are in the workflow modules (plugins/workflows/).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reports.names import note, short_ocid, shorten_ocids

Builder = Callable[[dict, Any], tuple[list[str], dict, list[str], str]]


@dataclass(frozen=True)
class OnDemandReport:
    """An on-demand workflow's report: `title` names the run in the notes of a plan run and a refused request,
    `build` (values, context) -> (lines, result, problems, title), `note` (result) -> the rows of the run note's
    table (None: the note lists only the problems)."""

    title: str
    build: Builder
    note: Callable[[dict], list[list]] | None = None


def each(values: list | None, count: int) -> list:
    """A mapped task's values, one per item it was mapped over: None for an index that left nothing, and for
    every index when the task never expanded."""
    return (list(values or []) + [None] * count)[:count]


def gate_part(values: dict, asked_for: bool, what: str, untouched: str) -> tuple[dict | None, bool, list, list]:
    """An approval gate's part of a report (operators/approval.py), from its XComs in `values` (`asked`,
    `decision`): (the decision, whether the step was refused by a Reject or no answer in time, problems, lines)."""
    asked = values.get("asked") if asked_for else None
    approval = values.get("decision") if asked else None
    problems, lines = [], []
    if approval:
        said = f"by {approval['by']} at {approval['at']}{': ' + approval['reason'] if approval['reason'] else ''}"
        lines.append(f"- {what} {'approved' if approval['approved'] else 'REJECTED'} {said}")
        if not approval["approved"]:
            problems.append(f"the {what} was rejected {said}; {untouched}")
    elif asked:
        problems.append(f"no approval of the {what} within {asked['timeout_minutes']:g} min; {untouched}")
    return approval, bool(asked) and not (approval or {}).get("approved"), problems, lines


# -- the run's note: what was made, by name, with short OCIDs --------------------------------------------------
NOTE_HEADERS = ["What", "Name", "OCID", "State"]


def fleet_rows(result: dict) -> list[list]:
    """The note's rows of a launched fleet."""
    return [["instance", r["hostname"], short_ocid(r["instance_id"]), f"{r['lifecycle_state']}, {r['private_ip']}"]
            for r in result.get("instances") or []]


def approval_rows(result: dict) -> list[list]:
    """Who decided on an approval gate (operators/approval.py), when and why."""
    a = result.get("approval")
    if not a:
        return []
    return [[f"{'approved' if a['approved'] else 'REJECTED'} by", a["by"], "-",
             f"{str(a['at'])[:16]}{', ' + a['reason'][:80] if a['reason'] else ''}"]]


def image_note(result: dict) -> list[list]:
    """The note's rows of an image workflow (VMDK migration, golden image): the image, its upload or export,
    the fleet."""
    image = result.get("image")
    rows = [["image", image["display_name"], short_ocid(image["image_id"]), image["lifecycle_state"]]] if image \
        else []
    if result.get("upload"):
        rows.append(["uploaded", result["upload"].get("uri", "-").rsplit("/o/", 1)[-1], "-",
                     f"{result['upload']['size_bytes']} bytes"])
    if result.get("export"):
        obj = result["export"]["object"]
        rows.append(["exported", f"{obj['bucket']}/{obj['name']}", "-", result["export"]["export_format"]])
    return rows + fleet_rows(result)


def render_note(rows_of: Callable[[dict], list[list]] | None, title: str, result: dict, problems: list[str]) -> str:
    """An on-demand run's note: what it made, one table row each (`rows_of`, a report's `note`), by name with a
    short OCID; the problems after. Without `rows_of`, or without a result, the note lists only the problems."""
    rows = rows_of(result) if rows_of and result else []
    heading = f"OCI {title}: " + ("nothing done" if not result else f"INCOMPLETE, {len(problems)} problem(s)"
                                  if problems else "done")
    return note(heading, NOTE_HEADERS, rows, [f"! {shorten_ocids(p)[:300]}" for p in problems])
