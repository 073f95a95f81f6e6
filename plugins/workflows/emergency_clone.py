"""The emergency clone workflow (dags/oci_emergency_clone.py): its trigger form, its request, the two small steps the
DAG runs as tasks on the clones, and its report, in one place.

The DAG wires these to the generic operators: `params()` is the DAG's form, `check_request` is what
OciValidateRequestOperator runs (`validate`, then `check_references`), `REPORT` is what OciRunReportOperator builds
from the values the DAG hands it (XComArgs of the tasks, never task ids).
"""

from __future__ import annotations

from common.errors import OciInputError, OciWaitError
from common.ids import OCID_RE, ocid_kind, validate_ocid
from forms.approval import approval_timeout, approval_users
from forms.checks import both_given, check_volume_id
from forms.params import (
    AD_EXAMPLES,
    DEFAULT_SHAPE,
    OCID_SHAPES,
    OPTIONAL_HOSTNAME,
    OPTIONAL_SHAPE_PATTERN,
    SHAPE_EXAMPLES,
    choice_field,
    exclusive,
    field,
    given,
    listed,
    ocid_field,
    plan_field,
    text_field,
)
from guest.user_data import validate_hostname, validate_os_type
from reports.names import short_ocid
from reports.on_demand import OnDemandReport, approval_rows, each, gate_part

# the form's sections, in the order a person decides
WHAT, WHERE, THEN = "What to clone", "Where to", "Afterwards (optional): launch an instance on the clone"


def params() -> dict:
    """The emergency clone's trigger form."""
    return {
        # What to clone: one of instance_id and volume_ids
        "instance_id": ocid_field("instance", "Instance", "Clone its boot volume and every attached block volume. "
                                  + exclusive("volume_ids"), WHAT),
        "volume_ids": field([], "array", "Or: volumes", "Block volume and boot volume OCIDs, one per line. Example: "
                            f"{OCID_SHAPES['volume']}. " + exclusive("instance_id"), WHAT,
                            items={"type": "string", "pattern": OCID_RE.pattern}, uniqueItems=True),
        # Where to
        "availability_domain": text_field("Availability domain", "For the clones (empty: each source's own). "
                                          f"Example: {AD_EXAMPLES[0]}", WHERE, examples=AD_EXAMPLES),
        "compartment_id": ocid_field("compartment", "Compartment", "For the clones (empty: each source's)", WHERE),
        # Afterwards: bring it up
        "launch_instance": field(False, "boolean", "Launch an instance on the clone",
                                 "Boot a new instance from the cloned boot volume", THEN),
        "hostname": text_field("Hostname", "Of the new instance (required to launch; unique in the subnet). "
                               "Example: app1-clone", THEN, pattern=OPTIONAL_HOSTNAME, maxLength=63),
        "os_type": choice_field("linux", ["linux", "windows"], "Guest OS", "Windows gets cloudbase-init to rename "
                                "the computer", THEN),
        "shape": text_field("Shape", f"Empty: the source instance's, else {DEFAULT_SHAPE}", THEN,
                            pattern=OPTIONAL_SHAPE_PATTERN, examples=SHAPE_EXAMPLES),
        "ocpus": field(None, "number", "OCPUs", "For a Flex shape, 1 to 64 (empty: the source instance's, else 1)",
                       THEN, minimum=1, maximum=64),
        "memory_in_gbs": field(None, "number", "Memory (GB)", "For a Flex shape, 1 to 1024 (empty: the source's, "
                               "else 16 GB per OCPU)", THEN, minimum=1, maximum=1024),
        "subnet_id": ocid_field("subnet", "Subnet", "Of the new instance (empty: the source instance's)", THEN),
        "attach_cloned_volumes": field(True, "boolean", "Attach the cloned block volumes",
                                       "To the new instance, at the source's device paths", THEN),
        "approvers": field(None, "array", "Launch: approvers", "The Airflow user ids who may approve the launch, "
                           "where the deployment asks for an approval (empty: anyone who may answer). Example: alice",
                           THEN, items={"type": "string"}),
        "approval_timeout_minutes": field(60, "number", "Launch: approval timeout (minutes)", "Then the run fails "
                                          "with no instance launched; 0.1 to 10080", THEN, minimum=0.1,
                                          maximum=10080),
        "plan_only": plan_field(),  # check everything, change nothing (common/plan.py)
    }


# -- the request ---------------------------------------------------------------------------------------------------
def validate(params: dict, context=None) -> dict:
    """Every field on its own, no API call: what to clone, and what a launch needs."""
    def blank(name):
        return given(params, name)

    instance_id, volume_ids = blank("instance_id"), listed(params.get("volume_ids") or [])  # a CLI may give "a,b"
    both_given(("instance_id", instance_id), ("volume_ids", volume_ids))
    if bool(instance_id) == bool(volume_ids):
        raise OciInputError(f"instance_id {instance_id!r} and volume_ids {volume_ids!r}: give exactly one "
                            f"(an instance means its boot volume and all attached block volumes)")
    if instance_id:
        validate_ocid(instance_id, "instance_id", "instance")
    for i, volume_id in enumerate(volume_ids):
        check_volume_id(volume_id, f"volume_ids[{i}]")
    if len(set(volume_ids)) != len(volume_ids):
        raise OciInputError(f"volume_ids {volume_ids!r}: a volume is listed twice")
    for name in ("compartment_id", "subnet_id"):
        if blank(name):
            validate_ocid(params[name], name, "compartment" if name == "compartment_id" else "subnet")
    launch = bool(params.get("launch_instance"))
    approvers = [u["id"] for u in approval_users(params.get("approvers"))]
    if approvers and not launch:
        raise OciInputError(f"approvers {approvers!r}: only with launch_instance (the approval before the launch)")
    request = {"instance_id": instance_id, "volume_ids": volume_ids, "launch": launch, "approvers": approvers,
               "approval_timeout_minutes": approval_timeout(params.get("approval_timeout_minutes")),
               "attach": launch and bool(params.get("attach_cloned_volumes", True)),
               "availability_domain": blank("availability_domain"), "compartment_id": blank("compartment_id"),
               "hostname": blank("hostname"), "os_type": params.get("os_type") or "linux",
               "shape": blank("shape"), "ocpus": blank("ocpus"), "memory_in_gbs": blank("memory_in_gbs"),
               "subnet_id": blank("subnet_id")}
    if launch:
        boots = [v for v in volume_ids if ocid_kind(v) == "bootvolume"]
        if volume_ids and len(boots) != 1:
            raise OciInputError(f"volume_ids: launch_instance needs exactly one boot volume among them, "
                                f"got {len(boots)}")
        validate_os_type(request["os_type"])
        validate_hostname(request["hostname"], request["os_type"])
        shape = request["shape"]
        if shape and not shape.startswith(("VM.", "BM.")):
            raise OciInputError(f"shape {shape!r}: an OCI shape name like {DEFAULT_SHAPE}")
        if (request["ocpus"] or request["memory_in_gbs"]) and shape and not shape.endswith(".Flex"):
            raise OciInputError(f"ocpus/memory_in_gbs: only for a Flex shape, not {shape!r}")
    return request


def check_references(request: dict, hook, context=None) -> dict:
    """The references the request names, read-only (the volumes themselves are read by resolve_volumes,
    OciResolveCloneSourcesOperator, with the launch's subnet and shape defaulted from the source)."""
    if request["availability_domain"]:
        hook.check_availability_domain(request["availability_domain"])
    if request["subnet_id"]:
        hook.check_subnet(request["subnet_id"], needs_dns_label=request["launch"])
    return request


def check_request(params: dict, hook, context) -> dict:
    """The clone's request: `validate`, then `check_references` (OciValidateRequestOperator's `request`)."""
    return check_references(validate(params, context), hook, context)


# -- the steps the DAG runs as tasks on the clones -------------------------------------------------------------------
def launch_plan(resolved: list[dict], clones: list) -> dict:
    """What the launch on the clone needs: the request's launch plan and the clone of the boot volume (which
    OciResolveCloneSourcesOperator lists first). A clone a trigger ended arrives as JSON text (common/xcom.py)."""
    from common.xcom import xcom_value

    boot = xcom_value(clones[0])
    return {**resolved[0]["launch"], "boot_volume_id": boot["volume_id"], "compartment_id": boot["compartment_id"]}


def attach_arguments(pair: tuple) -> dict:
    """Attach arguments of source volume i with the id of its clone: `zip` pairs them by map index."""
    from common.xcom import xcom_value

    item, clone = pair
    return {**item["attach"], "volume_id": xcom_value(clone)["volume_id"]}


# -- the report ----------------------------------------------------------------------------------------------------
def report(values: dict, context) -> tuple[list[str], dict, list[str], str]:
    """What the run cloned, attached and launched. `values`: request, resolved (resolve_volumes' list), clones and
    attachments (one per resolved volume), instance, asked and decision (the approval gate's)."""
    request, resolved = values["request"], values["resolved"]
    if not request or not resolved:
        raise OciWaitError("nothing was cloned: the request was refused (see validate_request and "
                           "resolve_volumes)")
    clones, attachments = each(values["clones"], len(resolved)), each(values["attachments"], len(resolved))
    problems, rows = [], []
    for source, clone, attached in zip(resolved, clones, attachments, strict=True):
        attached = attached if request["attach"] and source["kind"] == "volume" else None
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
    instance = values["instance"] if request["launch"] else None
    approval, refused, gate_problems, gate_lines = gate_part(
        values, request["launch"], "launch", "no instance was launched (the clones are kept)")
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


def note(result: dict) -> list[list]:
    """The run note's rows: each clone, the instance, who approved the launch."""
    rows = [[f"clone of {r['display_name']}", r["clone_name"], short_ocid(r["clone_id"]),
             ("AVAILABLE" if r["clone_id"] else "NOT CLONED") + (f", at {r['attached_device']}"
                                                                  if r["attached_device"] else "")]
            for r in result["volumes"]]
    if result.get("instance"):
        i = result["instance"]
        rows.append(["instance", i["hostname"], short_ocid(i["instance_id"]), f"RUNNING, {i['private_ip']}"])
    return rows + approval_rows(result)


REPORT = OnDemandReport("emergency clone", report, note)
