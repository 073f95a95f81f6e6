"""What each on-demand DAG's report says: a builder per DAG, (pull, context) -> (lines, result, problems, title).

`pull(task_id, index=None, key="return_value")` reads a task's XCom (None when the task left none). A problem is
something asked for that was not made; OciRunReportOperator (operators.on_demand) fails the run when there is one.
"""

from __future__ import annotations

from common.errors import OciWaitError

from reports.fleet import add_image_event, fleet_part
from reports.names import note, short_ocid, shorten_ocids


def _mapped(pull, task_id: str, count: int) -> list:
    return [pull(task_id, i) for i in range(count)]


def gate_part(pull, task_id: str, asked_for: bool, what: str, untouched: str) -> tuple[dict | None, bool, list, list]:
    """An approval gate's part of a report (operators/approval.py): (the decision, whether the step was refused by
    a Reject or no answer in time, problems, lines)."""
    asked = pull(task_id, key="asked") if asked_for else None
    approval = pull(task_id, key="decision") if asked else None
    problems, lines = [], []
    if approval:
        said = f"by {approval['by']} at {approval['at']}{': ' + approval['reason'] if approval['reason'] else ''}"
        lines.append(f"- {what} {'approved' if approval['approved'] else 'REJECTED'} {said}")
        if not approval["approved"]:
            problems.append(f"the {what} was rejected {said}; {untouched}")
    elif asked:
        problems.append(f"no approval of the {what} within {asked['timeout_minutes']:g} min; {untouched}")
    return approval, bool(asked) and not (approval or {}).get("approved"), problems, lines


def clone_report(pull, context) -> tuple[list[str], dict, list[str], str]:
    request, resolved = pull("validate_request"), pull("resolve_volumes")
    if not request or not resolved:
        raise OciWaitError("nothing was cloned: the request was refused (see validate_request and "
                           "resolve_volumes)")
    problems, rows = [], []
    for i, source in enumerate(resolved):
        clone = pull("clone_volume", i)
        attached = pull("attach_cloned_volume", i) if request["attach"] and source["kind"] == "volume" else None
        source = {k: v for k, v in source.items() if k not in ("clone", "attach", "launch")}
        rows.append({**source, "clone_id": clone and clone["volume_id"],
                     "clone_name": clone and clone["display_name"],
                     "seconds_to_available": clone and clone.get("seconds_to_available"),
                     "attachment_id": attached and attached["attachment_id"],
                     "attached_device": attached and attached["device"]})
        if not clone:
            problems.append(f"clone of {source['display_name']} ({source['source_id']}) was not made")
        elif request["attach"] and source["kind"] == "volume" and not attached:
            problems.append(f"clone {clone['volume_id']} of {source['display_name']} was not attached")
    instance = pull("launch_on_clone") if request["launch"] else None
    approval, refused, gate_problems, gate_lines = gate_part(
        pull, "approve_launch", request["launch"], "launch", "no instance was launched (the clones are kept)")
    problems += gate_problems
    if request["launch"] and not instance and not refused:
        problems.append(f"no instance was launched on the cloned boot volume (hostname {request['hostname']})")
    lines = [f"Emergency clone of {request['instance_id'] or 'volumes'}: {sum(1 for r in rows if r['clone_id'])}"
             f" of {len(rows)} volume(s) cloned"]
    for r in rows:
        lines.append(f"- {r['display_name']} ({r['kind']}, {r['size_in_gbs']} GB) {r['source_id']} -> "
                     f"{r['clone_id'] or 'NOT CLONED'}"
                     + (f", attached at {r['attached_device'] or 'no device path'}" if r["attachment_id"] else ""))
    lines += gate_lines
    if instance:
        lines.append(f"- instance {instance['instance_id']} RUNNING, hostname {instance['hostname']}, private IP "
                     f"{instance['private_ip']}, boot volume {instance['boot_volume_id']}")
    result = {"source_instance_id": resolved[0]["source_instance_id"], "volumes": rows, "instance": instance,
              "approval": approval,
              "problems": problems}
    return lines, result, problems, "emergency clone"


def restore_report(pull, context) -> tuple[list[str], dict, list[str], str]:
    request, backup, restored = pull("validate_request"), pull("choose_backup"), pull("restore_volume")
    if not request or not backup:
        raise OciWaitError("nothing was restored: the request was refused (see validate_request and "
                           "choose_backup)")
    attached = pull("attach_restored_volume") if request["attach"] else None
    instance = pull("launch_on_restored_boot_volume") if request["launch"] else None
    swapped = pull("swap_boot_volume") if request.get("in_place") else None
    approval, refused, problems, gate_lines = gate_part(
        pull, "approve_swap", bool(request.get("in_place")), "in-place restore",
        f"instance {request['instance_id']} was not touched")
    # an earlier run's unfinished swap this run finished with that run's restored boot volume (nothing restored)
    adopted = request.get("unfinished_swap")
    swap_state = pull("swap_boot_volume", key="swap_state") if request.get("in_place") and not swapped else None
    if not restored and not adopted:
        problems.append(f"backup {backup['backup_id']} was not restored")
    if request["attach"] and not attached:
        problems.append(f"the restored volume was not attached to {request['attach_instance_id']}")
    if request["launch"] and not instance:
        problems.append(f"no instance was launched on the restored boot volume (hostname {request['hostname']})")
    if request.get("in_place") and not swapped and not refused:
        if swap_state:  # what the failed swap read back from OCI, and its repair step when no try was left
            problems.append(f"the swap into {request['instance_id']} did not finish: {swap_state['message']}")
        else:
            problems.append(f"the swap into {request['instance_id']} did not run or was killed, so nothing says "
                            f"where the instance stands: see swap_boot_volume's log; a re-run of this request "
                            f"finishes or rolls back a swap it left unfinished")
    lines = [f"Restore of {backup['type']} backup {backup['backup_id']} ({backup['display_name']}) of "
             f"{backup['source_id']}, made {backup['time_created']}, chosen by {backup['chosen_by']}, verified "
             f"{backup['verified_at'] or 'never'}"]
    if restored:
        lines.append(f"- new {restored['kind']} {restored['volume_id']} ({restored['display_name']}, "
                     f"{restored['size_in_gbs']} GB, {restored['availability_domain']}), AVAILABLE after "
                     f"{restored['seconds_to_available']} s")
    if adopted:
        found_on = f"on {adopted['boot_volume_id']}" if adopted["boot_volume_id"] else "with no boot volume"
        did = "found finished" if adopted["found"] == "done" else "finished the unfinished"
        lines.append(f"- not restored again: this run {did} swap {adopted['old']} -> {adopted['new']} of instance "
                     f"{adopted['instance_id']} that run {adopted['run']} started (found {adopted['lifecycle_state']} "
                     f"{found_on}); its restored boot volume {adopted['new']} is the restore")
    if attached:
        lines.append(f"- attached to {attached['instance_id']} at {attached['device'] or 'no device path'} "
                     f"({attached['attachment_id']})")
    if instance:
        lines.append(f"- instance {instance['instance_id']} RUNNING, hostname {instance['hostname']}, private IP "
                     f"{instance['private_ip']}")
    lines += gate_lines
    if swapped:
        lines.append(f"- swapped in place into instance {swapped['instance_id']}: it is {swapped['lifecycle_state']} "
                     f"on the restored boot volume {swapped['boot_volume_id']} (hostname {swapped['hostname_label']}, "
                     f"private IP {swapped['private_ip']}); the old boot volume {swapped['old_boot_volume_id']} is "
                     f"kept ({swapped['old_boot_volume_state']}): delete it once the restore is accepted")
    result = {"backup": backup, "restored": restored, "attachment": attached, "instance": instance,
              "swap": swapped, "unfinished_swap": adopted, "swap_state": swap_state, "approval": approval,
              "rto_seconds": restored and restored.get("seconds_to_available"), "problems": problems}
    return lines, result, problems, "restore"


def migration_report(pull, context) -> tuple[list[str], dict, list[str], str]:
    request = pull("validate_request")
    if not request:
        raise OciWaitError("nothing was done: the request was refused (see validate_request)")
    uploaded = pull("upload_disk") if request["upload_enabled"] else None
    image = pull("import_image")
    instances = _mapped(pull, "launch_instance", len(request["fleet"]))
    problems = []
    lines = [f"VMDK migration of {request['source_label']} ({request['source_image_type']})"]
    if request["upload_enabled"]:
        if uploaded:
            lines.append(f"- uploaded {uploaded['size_bytes']} bytes in {uploaded['parts']} part(s) to "
                         f"{uploaded['uri']}")
        else:
            problems.append(f"{request['upload']['local_path']} was not uploaded")
    if image:
        lines.append(f"- image {image['display_name']} {image['image_id']} {image['lifecycle_state']}, "
                     f"{image['size_in_mbs']} MB (virtual disk {image['virtual_size_bytes']} bytes)")
    else:
        problems.append(f"image {request['image_name']!r} was not imported")
    fleet = fleet_part(instances, request["fleet"], lines, problems)
    result = {"image": image and {k: image.get(k) for k in ("image_id", "display_name", "lifecycle_state",
                                                            "size_in_mbs", "virtual_size_bytes",
                                                            "source_image_type", "source", "region")},
              "upload": uploaded, **fleet, "problems": problems}
    if image:
        add_image_event(context["outlet_events"], image, {"image_id": image["image_id"],
                                                          "display_name": image["display_name"],
                                                          "source": image["source"],
                                                          "instances": [r["instance_id"] for r in fleet["instances"]]})
    return lines, result, problems, "VMDK migration"


def golden_image_report(pull, context) -> tuple[list[str], dict, list[str], str]:
    request = pull("validate_request")
    if not request:
        raise OciWaitError("nothing was done: the request was refused (see validate_request)")
    image = pull("create_golden_image")
    exported = pull("export_image") if request["export"] else None
    instances = _mapped(pull, "launch_fleet", len(request["fleet"]))
    problems = []
    lines = [f"Golden image of {request['instance_id']} (iSCSI policy {request['iscsi_policy']})"]
    if image:
        lines.append(f"- image {image['display_name']} {image['image_id']} {image['lifecycle_state']}, "
                     f"{image['size_in_mbs']} MB; instance {image['instance_state']} again")
        reattached = list(image["reattached"] or [])
        for i, entry in enumerate(image["detached"]):
            new = reattached[i] if i < len(reattached) else None
            lines.append(f"- iSCSI volume {entry['volume_id']} at {entry['device']}: detached "
                         f"{entry['attachment_id']}, re-attached {new or 'NOT RE-ATTACHED'}")
    else:
        problems.append(f"no image of {request['instance_id']} was made")
    # volumes a failed try detached and could not re-attach (recorded on the task's failure)
    for entry in pull("create_golden_image", key="not_reattached") or []:
        problems.append(f"iSCSI volume {entry['volume_id']} (device {entry['device']}) is DETACHED from "
                        f"{request['instance_id']}: re-attach failed ({entry.get('error', 'unknown error')})")
    if request["export"]:
        if exported:
            obj = exported["object"]
            lines.append(f"- exported as {exported['export_format']} to {obj['namespace']}/{obj['bucket']}/"
                         f"{obj['name']} ({exported['size_bytes']} bytes)")
        else:
            problems.append(f"the image was not exported to {request['export_bucket']}")
    fleet = fleet_part(instances, request["fleet"], lines, problems)
    result = {"image": image and {k: image.get(k) for k in ("image_id", "display_name", "lifecycle_state",
                                                            "size_in_mbs", "instance_id", "instance_state",
                                                            "detached", "reattached", "region")},
              "export": exported, **fleet, "problems": problems}
    if image:
        add_image_event(context["outlet_events"], image, {"image_id": image["image_id"],
                                                          "display_name": image["display_name"],
                                                          "source_instance_id": request["instance_id"],
                                                          "export": exported and exported["object"],
                                                          "instances": [r["instance_id"] for r in fleet["instances"]]})
    return lines, result, problems, "golden image"


REPORTS = {"emergency_clone": clone_report, "restore": restore_report, "vmdk_migration": migration_report,
           "golden_image": golden_image_report}


# -- the run's note: what was made, by name, with short OCIDs --------------------------------------------------
NOTE_HEADERS = ["What", "Name", "OCID", "State"]


def _fleet_rows(result: dict) -> list[list]:
    return [["instance", r["hostname"], short_ocid(r["instance_id"]), f"{r['lifecycle_state']}, {r['private_ip']}"]
            for r in result.get("instances") or []]


def _approval_rows(result: dict) -> list[list]:
    """Who decided on an approval gate (operators/approval.py), when and why."""
    a = result.get("approval")
    if not a:
        return []
    return [[f"{'approved' if a['approved'] else 'REJECTED'} by", a["by"], "-",
             f"{str(a['at'])[:16]}{', ' + a['reason'][:80] if a['reason'] else ''}"]]


def clone_note(result: dict) -> list[list]:
    rows = [[f"clone of {r['display_name']}", r["clone_name"], short_ocid(r["clone_id"]),
             ("AVAILABLE" if r["clone_id"] else "NOT CLONED") + (f", at {r['attached_device']}"
                                                                  if r["attached_device"] else "")]
            for r in result["volumes"]]
    if result.get("instance"):
        i = result["instance"]
        rows.append(["instance", i["hostname"], short_ocid(i["instance_id"]), f"RUNNING, {i['private_ip']}"])
    return rows + _approval_rows(result)


def restore_note(result: dict) -> list[list]:
    b, new = result["backup"], result.get("restored")
    rows = [[f"{b['type']} backup", b["display_name"], short_ocid(b["backup_id"]),
             f"made {str(b['time_created'])[:16]}, verified {str(b['verified_at'] or 'never')[:16]}"]]
    if new:
        rows.append([f"new {new['kind']}", new["display_name"], short_ocid(new["volume_id"]),
                     f"AVAILABLE after {new['seconds_to_available']} s"])
    if result.get("attachment"):
        a = result["attachment"]
        rows.append(["attached to", short_ocid(a["instance_id"]), short_ocid(a["attachment_id"]),
                     a["device"] or "no device path"])
    if result.get("instance"):
        i = result["instance"]
        rows.append(["instance", i["hostname"], short_ocid(i["instance_id"]), f"RUNNING, {i['private_ip']}"])
    if result.get("swap"):
        s = result["swap"]
        rows.append(["swapped into", s["hostname_label"], short_ocid(s["instance_id"]), s["lifecycle_state"]])
        rows.append(["old boot volume (kept)", "-", short_ocid(s["old_boot_volume_id"]), s["old_boot_volume_state"]])
    return rows + _approval_rows(result)


def image_note(result: dict) -> list[list]:
    image = result.get("image")
    rows = [["image", image["display_name"], short_ocid(image["image_id"]), image["lifecycle_state"]]] if image \
        else []
    if result.get("upload"):
        rows.append(["uploaded", result["upload"].get("uri", "-").rsplit("/o/", 1)[-1], "-",
                     f"{result['upload']['size_bytes']} bytes"])
    if result.get("export"):
        obj = result["export"]["object"]
        rows.append(["exported", f"{obj['bucket']}/{obj['name']}", "-", result["export"]["export_format"]])
    return rows + _fleet_rows(result)


NOTES = {"emergency_clone": clone_note, "restore": restore_note, "vmdk_migration": image_note,
         "golden_image": image_note}


def render_note(report: str, title: str, result: dict, problems: list[str]) -> str:
    """An on-demand run's note: what it made, one table row each, by name with a short OCID; the problems after.
    A report of your own (not in NOTES) gets its problems only."""
    rows = NOTES[report](result) if report in NOTES and result else []
    heading = f"OCI {title}: " + ("nothing done" if not result else f"INCOMPLETE, {len(problems)} problem(s)"
                                  if problems else "done")
    return note(heading, NOTE_HEADERS, rows, [f"! {shorten_ocids(p)[:300]}" for p in problems])
