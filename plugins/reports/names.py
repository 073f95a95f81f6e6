"""Names a person reads in the Airflow UI: a mapped task's map index (`map_index_template`) and the short OCIDs
of the run notes.

Airflow 3 renders a task's `map_index_template` with the task's own context when the task ends (also when it
fails), so the templates here look the name up in the XCom the mapping came from: the n-th mapped task of a
group expanded over a list is the list's n-th item (`ti.map_index`). A template that cannot find its item
renders the bare index, never an error.
"""

from __future__ import annotations


def item_name(task_id: str, key: str = "display_name") -> str:
    """The map index template of a task mapped over `task_id`'s list: the `key` of the item at its map index."""
    return ("{% set items = ti.xcom_pull(task_ids='" + task_id + "') or [] %}"
            "{{ items[ti.map_index]['" + key + "'] if ti.map_index < items | length else ti.map_index }}")


def planned_name(backup_task_id: str) -> str:
    """The map index template of the tasks of a group mapped over plan items, whose backup task takes the item
    (`planned`): the backup task reads the name from its own rendered item; the later tasks from the backup's
    `volume_name` XCom at their map index. One small read, where `item_name` pulls the whole plan."""
    return ("{%- if task.planned is defined and task.planned -%}{{ task.planned['display_name'] }}"
            "{%- else -%}{{ ti.xcom_pull(task_ids='" + backup_task_id + "', key='volume_name', "
            "map_indexes=ti.map_index) or ti.map_index }}{%- endif -%}")


def volume_name(task_id: str, plan_task_id: str) -> str:
    """The map index template of a task mapped over `task_id`'s list of {volume_id, ...} items: the volume's
    display name, looked up in `plan_task_id`'s list (which has volume_id and display_name), and where it goes."""
    return ("{% set items = ti.xcom_pull(task_ids='" + task_id + "') or [] %}"
            "{% set item = items[ti.map_index] if ti.map_index < items | length else {} %}"
            "{% set named = (ti.xcom_pull(task_ids='" + plan_task_id + "') or [])"
            " | selectattr('volume_id', 'equalto', item.get('volume_id')) | list %}"
            "{{ named[0]['display_name'] if named else ti.map_index }}"
            "{{ ' → ' ~ item['destination_region'] if item.get('destination_region') else '' }}")


def short_ocid(ocid: str | None) -> str:
    """An OCID shortened for a note or a table cell: its kind and the last 6 characters
    (ocid1.volume.oc1.iad.abuwcl…x7k2qa → volume…x7k2qa). None gives '-'."""
    if not ocid:
        return "-"
    parts = str(ocid).split(".")
    if len(parts) < 5 or not parts[0].startswith("ocid"):
        return str(ocid)
    return f"{parts[1]}…{parts[-1][-6:]}"


def shorten_ocids(text: str) -> str:
    """Every OCID in a message shortened (`short_ocid`), so a note's line stays readable and short."""
    import re

    return re.sub(r"ocid1\.[a-z0-9]+\.oc[0-9]+\.[a-z0-9-]*\.[a-z0-9]+", lambda m: short_ocid(m.group()), text)


def cell(value) -> str:
    """A value in a Markdown table cell: no pipe or newline breaks the table."""
    return "-" if value in (None, "") else str(value).replace("|", "\\|").replace("\n", " ")


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table (Airflow renders a run's note as Markdown)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def note(heading: str, headers: list[str], rows: list[list], tail: list[str] | None = None,
         limit: int = 1000) -> str:
    """A run's note: a bold heading line, a Markdown table and a few closing lines, within `limit` characters
    (Airflow's note column). Rows that do not fit are left out, counted in a last line that points to the log;
    rows are kept in the order given (put the ones a person must see first)."""
    tail = list(tail or [])
    kept = list(rows)
    while True:
        left_out = len(rows) - len(kept)
        more = [f"… {left_out} more row(s): see the report task's log"] if left_out else []
        body = [table(headers, kept), ""] if kept else []
        text = "\n".join([f"**{heading}**", "", *body, *tail, *more]).rstrip()
        if len(text) <= limit or not kept:
            return text[:limit]
        kept.pop()
