"""The restore workflow (dags/oci_restore.py): its trigger form, its request and its report, in one place.

The DAG wires these to the generic operators: `params()` is the DAG's form, `check_request` is what
OciValidateRequestOperator runs (every field first with no API call, `validate`; then every reference the request
names with read-only calls, `check_references`), and `REPORT` is what OciRunReportOperator builds from the values
the DAG hands it (XComArgs of the tasks, never task ids).
"""

from __future__ import annotations

from common.errors import OciInputError, OciWaitError
from common.ids import ocid_kind, validate_ocid
from forms.approval import approval_timeout, approval_users
from forms.checks import both_given, check_backup_id, check_display_name, check_volume_id
from forms.params import (
    AD_EXAMPLES,
    DEFAULT_SHAPE,
    DEVICE_PATTERN,
    OPTIONAL_HOSTNAME,
    SHAPE_EXAMPLES,
    choice_field,
    exclusive,
    field,
    given,
    ocid_field,
    plan_field,
    text_field,
)
from guest.user_data import validate_hostname, validate_os_type
from reports.names import short_ocid
from reports.on_demand import OnDemandReport, approval_rows, gate_part

# the form's sections, in the order a person decides
WHICH, WHERE, THEN = "Which backup", "Where to", "Afterwards (optional): attach, launch, or swap in place"


def params() -> dict:
    """The restore's trigger form."""
    return {
        # Which backup: one of backup_id and volume_id
        "backup_id": ocid_field("volumebackup", "Backup", "Restore exactly this volume backup or boot volume backup "
                                "(AVAILABLE). " + exclusive("volume_id"), WHICH),
        "volume_id": ocid_field("volume", "Or: the newest verified backup of volume", "A block or boot volume: its "
                                "newest backup that passed a test restore. " + exclusive("backup_id"), WHICH),
        "allow_unverified": field(False, "boolean", "Allow an unverified backup", "With a volume: use its newest "
                                  "AVAILABLE backup when none is verified (a warning in the report)", WHICH),
        # Where to
        "availability_domain": text_field("Availability domain", "Of the new volume (empty: the source volume's). "
                                          f"Example: {AD_EXAMPLES[0]}", WHERE, examples=AD_EXAMPLES),
        "compartment_id": ocid_field("compartment", "Compartment", "Of the new volume (empty: the backup's)", WHERE),
        "display_name": text_field("Name of the new volume", "Empty: <backup name>-restore. Example: db-data-restore",
                                   WHERE, maxLength=255),
        # Afterwards: attach, launch, or swap in place (one of them, or nothing)
        "attach_instance_id": ocid_field("instance", "Attach to instance", "Attach a restored block volume to this "
                                         "instance (paravirtualized). " + exclusive("launch_instance", "in_place"),
                                         THEN),
        "device": text_field("Device path", "For the attachment (empty: none). Example: /dev/oracleoci/oraclevdd",
                             THEN, pattern=DEVICE_PATTERN, examples=["/dev/oracleoci/oraclevdb",
                                                                     "/dev/oracleoci/oraclevdc"]),
        "launch_instance": field(False, "boolean", "Launch an instance on it", "Boot a new instance from a restored "
                                 "boot volume. " + exclusive("attach_instance_id", "in_place"), THEN),
        "hostname": text_field("Hostname", "Of the new instance (required to launch; unique in the subnet; Windows: "
                               "at most 15 characters). Example: app1-restored", THEN, pattern=OPTIONAL_HOSTNAME,
                               maxLength=63),
        "os_type": choice_field("linux", ["linux", "windows"], "Guest OS", "Windows gets cloudbase-init to rename "
                                "the computer", THEN),
        "shape": field(DEFAULT_SHAPE, "string", "Shape", f"Of the new instance. Example: {DEFAULT_SHAPE}", THEN,
                       pattern=r"^(VM|BM)\.[A-Za-z0-9.]+$", examples=SHAPE_EXAMPLES),
        "ocpus": field(1, "number", "OCPUs", "For a Flex shape, 1 to 64", THEN, minimum=1, maximum=64),
        "memory_in_gbs": field(16, "number", "Memory (GB)", "For a Flex shape, 1 to 1024", THEN, minimum=1,
                               maximum=1024),
        "subnet_id": ocid_field("subnet", "Subnet", "Of the new instance (required to launch)", THEN),
        "in_place": field(False, "boolean", "Swap in place", "Instead of a new instance: swap the restored boot "
                          "volume into the existing instance (it keeps its OCID, IPs and hostname; the old boot volume "
                          "is kept). " + exclusive("launch_instance", "attach_instance_id"), THEN),
        "instance_id": ocid_field("instance", "In place: instance", "Empty: the one booted from the backup's source "
                                  "boot volume", THEN),
        "approvers": field(None, "array", "In place: approvers", "The Airflow user ids who may approve the swap "
                           "before the instance stops (empty: anyone who may answer required actions). Example: alice",
                           THEN, items={"type": "string"}),
        "approval_timeout_minutes": field(60, "number", "In place: approval timeout (minutes)", "Then the run fails "
                                          "with nothing changed; 0.1 to 10080", THEN, minimum=0.1, maximum=10080),
        "plan_only": plan_field(),  # check everything, change nothing (common/plan.py)
    }


# -- the request ---------------------------------------------------------------------------------------------------
def validate(params: dict, context=None) -> dict:
    """Every field on its own, no API call: which backup, and what an attach, a launch or a swap needs."""
    def blank(name):
        return given(params, name)

    backup_id, volume_id = blank("backup_id"), blank("volume_id")
    both_given(("backup_id", backup_id), ("volume_id", volume_id))
    if bool(backup_id) == bool(volume_id):
        raise OciInputError(f"backup_id {backup_id!r} and volume_id {volume_id!r}: give exactly one (a volume "
                            f"means its newest verified backup)")
    if backup_id:
        check_backup_id(backup_id)
        restores_to = "volume" if ocid_kind(backup_id) == "volumebackup" else "bootvolume"
    else:
        restores_to = ocid_kind(check_volume_id(volume_id))
    if blank("compartment_id"):
        validate_ocid(params["compartment_id"], "compartment_id", "compartment")
    if blank("display_name"):
        check_display_name(params["display_name"])
    attach_to, launch = blank("attach_instance_id"), bool(params.get("launch_instance"))
    if attach_to and launch:
        raise OciInputError("attach_instance_id and launch_instance: one or the other (a block volume is "
                            "attached, a boot volume is booted)")
    if attach_to:
        validate_ocid(attach_to, "attach_instance_id", "instance")
        if restores_to != "volume":
            raise OciInputError("attach_instance_id: the restore makes a boot volume; attach restores block "
                                "volumes (launch_instance boots a boot volume)")
        device = blank("device")
        if device is not None and not device.startswith("/dev/oracleoci/oraclevd"):
            raise OciInputError(f"device {device!r}: an OCI consistent device path like /dev/oracleoci/oraclevdd")
    elif blank("device"):
        raise OciInputError(f"device {params['device']!r}: only with attach_instance_id")
    in_place = bool(params.get("in_place"))
    if in_place:
        if restores_to != "bootvolume":
            raise OciInputError("in_place: the restore makes a block volume; in place swaps a restored boot volume "
                                "into its instance (use attach_instance_id for a block volume)")
        if launch or attach_to:
            raise OciInputError("in_place and launch_instance/attach_instance_id: one or the other (in place keeps "
                                "the instance, launch_instance makes a new one)")
        if blank("instance_id"):
            validate_ocid(params["instance_id"], "instance_id", "instance")
    elif blank("instance_id"):
        raise OciInputError(f"instance_id {params['instance_id']!r}: only with in_place")
    approvers = [u["id"] for u in approval_users(params.get("approvers"))]
    if approvers and not in_place:
        raise OciInputError(f"approvers {approvers!r}: only with in_place (the approval before the instance stops)")
    shape, shape_config = params.get("shape") or DEFAULT_SHAPE, None
    if launch:
        if restores_to != "bootvolume":
            raise OciInputError("launch_instance: the restore makes a block volume; an instance launches on a "
                                "boot volume (use attach_instance_id for a block volume)")
        validate_os_type(params.get("os_type") or "linux")
        validate_hostname(blank("hostname"), params.get("os_type") or "linux")
        validate_ocid(blank("subnet_id"), "subnet_id", "subnet")
        if not shape.startswith(("VM.", "BM.")):
            raise OciInputError(f"shape {shape!r}: an OCI shape name like {DEFAULT_SHAPE}")
        if shape.endswith(".Flex"):
            shape_config = {"ocpus": float(params.get("ocpus") or 1),
                            "memory_in_gbs": float(params.get("memory_in_gbs") or 16)}
    return {"backup_id": backup_id, "volume_id": volume_id, "restores_to": restores_to,
            "allow_unverified": bool(params.get("allow_unverified")),
            "availability_domain": blank("availability_domain"), "compartment_id": blank("compartment_id"),
            "display_name": blank("display_name"), "attach": bool(attach_to), "attach_instance_id": attach_to,
            "device": blank("device"), "launch": launch, "hostname": blank("hostname"),
            "os_type": params.get("os_type") or "linux", "shape": shape, "shape_config": shape_config,
            "subnet_id": blank("subnet_id"), "in_place": in_place, "instance_id": blank("instance_id"),
            "approvers": approvers,
            "approval_timeout_minutes": approval_timeout(params.get("approval_timeout_minutes"))}


def check_references(request: dict, hook, context=None) -> dict:
    """Every reference the request names, read-only (hooks/references.py), and the permissions an attach or a
    launch needs; an in-place restore also finds an earlier run's unfinished swap to finish instead."""
    backup_id, volume_id, in_place = request["backup_id"], request["volume_id"], request["in_place"]
    attach_to, launch, shape = request["attach_instance_id"], request["launch"], request["shape"]
    if request["availability_domain"]:
        hook.check_availability_domain(request["availability_domain"])
    # an earlier run's unfinished swap of this request is finished with its own restored boot volume (no restore)
    request.update(unfinished_swap=None, restore=True)
    if in_place:
        source = volume_id or hook.check_backup(backup_id).boot_volume_id
        run_id = (context or {}).get("run_id")
        instance = hook.swap_target(request["instance_id"], source, run_id=run_id)
        ad = request["availability_domain"]
        if ad and ad != instance.availability_domain:
            raise OciInputError(f"availability_domain {ad!r}: instance {instance.id} is in "
                                f"{instance.availability_domain}; its boot volume is restored there")
        request.update(instance_id=instance.id, availability_domain=instance.availability_domain)
        unfinished = hook.swap_to_finish(instance, backup_id, source, run_id)
        request.update(unfinished_swap=unfinished, restore=unfinished is None)
    attach_instance = subnet = None
    if attach_to:
        instance = attach_instance = hook.check_instance(attach_to, "attach_instance_id")
        ad = request["availability_domain"]
        if ad and ad != instance.availability_domain:
            raise OciInputError(f"availability_domain {ad!r}: instance {attach_to} is in "
                                f"{instance.availability_domain}; a volume attaches only in its own AD")
    if launch:
        subnet = hook.check_subnet(request["subnet_id"])
        hook.check_hostnames_free([{"hostname": request["hostname"], "subnet_id": subnet.id}], "hostname")
        ad = request["availability_domain"]
        if not ad:  # the launch boots where the restore lands: the source boot volume's AD
            source = volume_id or hook.check_backup(backup_id).boot_volume_id
            ad = hook.boot_volume_availability_domain(source)
        if ad:
            hook.check_shape(ad, shape, request["shape_config"], config_field="")
    if attach_instance is not None or subnet is not None:  # the permissions an attach or launch needs
        hook.prove_reads(hook.restore_reads(attach_instance, subnet))  # before the first change (hooks/permissions.py)
    return request


def check_request(params: dict, hook, context) -> dict:
    """The restore's request: `validate`, then `check_references` (OciValidateRequestOperator's `request`)."""
    return check_references(validate(params, context), hook, context)


# -- the report ----------------------------------------------------------------------------------------------------
def report(values: dict, context) -> tuple[list[str], dict, list[str], str]:
    """What the run restored, attached, launched or swapped. `values`: request, backup (choose_backup's XCom),
    restored, attached, instance, swapped, swap_state (the swap's `swap_state` XCom), asked and decision (the
    approval gate's); None for what a task did not leave."""
    request, backup, restored = values["request"], values["backup"], values["restored"]
    if not request or not backup:
        raise OciWaitError("nothing was restored: the request was refused (see validate_request and "
                           "choose_backup)")
    attached = values["attached"] if request["attach"] else None
    instance = values["instance"] if request["launch"] else None
    swapped = values["swapped"] if request.get("in_place") else None
    approval, refused, problems, gate_lines = gate_part(
        values, bool(request.get("in_place")), "in-place restore", f"instance {request['instance_id']} was not touched")
    # an earlier run's unfinished swap this run finished with that run's restored boot volume (nothing restored)
    adopted = request.get("unfinished_swap")
    swap_state = values["swap_state"] if request.get("in_place") and not swapped else None
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


def note(result: dict) -> list[list]:
    """The run note's rows: the backup, the new volume, its attachment, instance or swap, who approved."""
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
    return rows + approval_rows(result)


REPORT = OnDemandReport("restore", report, note)
