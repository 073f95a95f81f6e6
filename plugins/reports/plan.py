"""A plan run's report (common/plan.py): what the run checked and what it would do, each step with the OCI call it
would make, as the run's note (Markdown) and the report's XCom. Pure: the report operators pass what they read.
"""

from __future__ import annotations

from reports.names import note, short_ocid, shorten_ocids

HEADERS = ["Would", "OCI call", "On"]
NIGHTLY_ROWS = ("protect_volume.", "protect_group.", "copy_to_dr_region", "prune_backups")


def step_rows(calls: list[dict], pending: list[dict]) -> list[dict]:
    """The recorded calls (tasks that reached their call and skipped it), then the mutating tasks after them."""
    rows = [{"task": c["task_id"] + (f"[{c['map_index']}]" if c.get("map_index", -1) >= 0 else ""),
             "operation": c["operation"], "on": c.get("detail") or ""} for c in calls]
    rows += [{"task": p["task_id"], "operation": p["operation"], "on": "after the calls above (when asked for)"}
             for p in pending]
    return rows


def on_demand_plan(title: str, request: dict, checked: list[str], calls: list[dict], pending: list[dict],
                   launches: list[dict]) -> dict:
    """The plan of an on-demand run: the references checked, the steps, the instances it would launch."""
    return {"plan_only": True, "title": title, "checked": checked, "steps": step_rows(calls, pending),
            "launches": launches}


def nightly_plan(plan: list[dict], groups: list[dict], prune: dict | None, calls: list[dict], pending: list[dict],
                 discovered: list[dict]) -> dict:
    """The plan of a nightly run: per volume its backup type and why; the DR copies; retention's deletions and why
    each is allowed; the other steps."""
    volumes = [{"volume_id": i["volume_id"], "display_name": i.get("display_name"), "backup_type": i["backup_type"],
                "reason": i.get("reason"), "operation": ("CreateBootVolumeBackup" if i.get("kind") == "bootvolume"
                                                         else "CreateVolumeBackup"),
                "verify": bool(i.get("verify")), "dr_region": i.get("dr_region"),
                "adopt_backup_id": i.get("adopt_backup_id")} for i in plan or []]
    volumes += [{"volume_id": None, "display_name": f"group {g.get('group')}", "backup_type": g.get("backup_type"),
                 "reason": g.get("reason"), "operation": "CreateVolumeGroupBackup", "verify": bool(g.get("verify")),
                 "dr_region": g.get("dr_region"), "adopt_backup_id": None} for g in groups or []]
    copies = [{"volume": v["display_name"], "destination_region": v["dr_region"],
               "operation": "CopyVolumeGroupBackup" if v["volume_id"] is None else
               "CopyBootVolumeBackup" if v["operation"] == "CreateBootVolumeBackup" else "CopyVolumeBackup"}
              for v in volumes if v["dr_region"]]
    # the mapped backups and copies are the volume and copy rows; retention is the deletion rows
    calls = [c for c in calls if not c["task_id"].startswith(NIGHTLY_ROWS)]
    pending = [p for p in pending if not p["task_id"].startswith(NIGHTLY_ROWS)]
    deletions = [{k: d.get(k) for k in ("backup_id", "volume_id", "group", "type", "time_created", "why")}
                 for d in (prune or {}).get("deleted", [])] if isinstance(prune, dict) else []
    return {"plan_only": True, "title": "nightly backup", "checked": [v["volume_id"] for v in discovered or []
                                                                      if isinstance(v, dict)],
            "volumes": volumes, "dr_copies": copies, "retention": deletions,
            "steps": step_rows(calls, pending)}


def render_text(result: dict) -> str:
    """The whole plan for the task's log (the note is cut at Airflow's 1000 characters; the log is not)."""
    lines = [f"PLAN ONLY ({result['title']}): nothing was changed. It would:"]
    for v in result.get("volumes", []):
        lines.append(f"- {v['operation']} {v['backup_type']} of {v['display_name']} ({v['volume_id'] or 'group'}): "
                     f"{v['reason']}" + ("; then a test restore and its verification" if v["verify"] else ""))
    for c in result.get("dr_copies", []):
        lines.append(f"- {c['operation']} of {c['volume']}'s new backup to {c['destination_region']}")
    for d in result.get("retention", []):
        lines.append(f"- DeleteVolumeBackup {d['backup_id']} ({d['type']}, made {d['time_created']}): {d['why']}")
    for launch in result.get("launches", []):
        lines.append(f"- LaunchInstance hostname {launch['hostname']} on {launch['shape']} ({launch['os_type']})")
    for s in result["steps"]:
        lines.append(f"- step {s['task']}: {s['operation']} {s['on']}")
    lines.append(f"Checked before the plan: {len(result['checked'])} reference(s): " + ", ".join(result["checked"]))
    return "\n".join(lines)


def render_note(result: dict) -> str:
    """The run's note: one row per thing the run would do, the rows a person must see first."""
    rows = [[f"{v['backup_type']} backup of {v['display_name']}", v["operation"], shorten_ocids(v["reason"] or "")]
            for v in result.get("volumes", [])]
    rows += [[f"DR copy of {c['volume']}", c["operation"], c["destination_region"]]
             for c in result.get("dr_copies", [])]
    rows += [["delete backup (retention)", "DeleteVolumeBackup", f"{short_ocid(d['backup_id'])}: {d['why']}"]
             for d in result.get("retention", [])]
    rows += [[f"launch {x['hostname']}", "LaunchInstance", x["shape"]] for x in result.get("launches", [])]
    rows += [[s["task"], s["operation"], shorten_ocids(s["on"])[:120]] for s in result["steps"]]
    checked = ", ".join(short_ocid(c) for c in result["checked"][:6]) + (" …" if len(result["checked"]) > 6 else "")
    return note(f"OCI {result['title']}: PLAN ONLY, nothing changed", HEADERS, rows,
                [f"Checked first: {len(result['checked'])} reference(s) ({checked}) and the permissions they need"])
