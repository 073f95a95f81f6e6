"""The golden image workflow (dags/oci_golden_image.py): its trigger form, its request and its report, in one place.

The DAG wires these to the generic operators: `params()` is the DAG's form, `check_request` is what
OciValidateRequestOperator runs (`validate`, then `check_references`), `REPORT` is what OciRunReportOperator builds
from the values the DAG hands it (XComArgs of the tasks, never task ids).
"""

from __future__ import annotations

from datetime import datetime

from common.errors import OciInputError, OciWaitError
from common.ids import check_bucket_name, validate_ocid
from disks.headers import IMAGE_FORMATS, LAUNCH_MODES
from forms.checks import check_display_name, check_object_name
from forms.fleet import fleet_params, resolve_fleet, resolve_shape_compatibility
from forms.params import choice_field, given, ocid_field, plan_field, text_field
from reports.fleet import add_image_event, fleet_part
from reports.on_demand import OnDemandReport, each, image_note

# the form's sections, in the order a person decides
WHICH, IMAGE, EXPORT = "Which instance", "The image", "Afterwards (optional): export to Object Storage"


def params() -> dict:
    """The golden image's trigger form: the instance, the image, its export, the fleet."""
    return {
        # Which instance
        "instance_id": ocid_field("instance", "Instance (required)", "The configured instance to image, RUNNING or "
                                  "STOPPED", WHICH),
        "iscsi_policy": choice_field("refuse", ["refuse", "detach_and_reattach"], "iSCSI volumes attached",
                                     "refuse: fail naming them; detach_and_reattach: log out, detach, image and "
                                     "re-attach", WHICH),
        # The image
        "image_name": text_field("Image name", "Empty: golden-<instance>-<time>. Example: web-golden-2026-12",
                                 IMAGE, maxLength=255),
        "launch_mode": choice_field(None, [None, "NATIVE", "EMULATED", "PARAVIRTUALIZED", "CUSTOM"], "Launch mode",
                                    "Of the image (empty: the instance's)", IMAGE),
        "compartment_id": ocid_field("compartment", "Compartment", "Of the image (empty: the instance's)", IMAGE),
        # Export
        "export_bucket": text_field("Export to bucket", "Empty: no export. Example: golden-images", EXPORT,
                                    pattern=r"^[A-Za-z0-9._-]{0,256}$"),
        "export_namespace": text_field("Namespace", "Your tenancy's Object Storage namespace (Tenancy details), "
                                       "required with a bucket. Example: axaxnpcrorw5", EXPORT),
        "export_object_name": text_field("Object name", "Empty: golden-images/<image name>.<format>", EXPORT,
                                         maxLength=1024),
        "export_format": choice_field("VMDK", ["VMDK", "QCOW2"], "Format", "Of the exported image", EXPORT),
        **fleet_params("web-{index:02d}"),
        "plan_only": plan_field(),  # check everything, change nothing (common/plan.py)
    }


# -- the request ---------------------------------------------------------------------------------------------------
def validate(params: dict, context=None) -> dict:
    """Every field on its own, no API call: the instance, the iSCSI policy, the export, the fleet's hostnames."""
    def blank(name):
        return given(params, name)

    instance_id = blank("instance_id")
    if not instance_id:
        raise OciInputError("instance_id: required (the instance to image)")
    validate_ocid(instance_id, "instance_id", "instance")
    policy = params.get("iscsi_policy")
    if policy not in ("refuse", "detach_and_reattach"):
        raise OciInputError(f"iscsi_policy {policy!r}: 'refuse' or 'detach_and_reattach'")
    launch_mode = blank("launch_mode")
    if launch_mode is not None and launch_mode not in LAUNCH_MODES:
        raise OciInputError(f"launch_mode {launch_mode!r}: one of {LAUNCH_MODES} or empty")
    if blank("compartment_id"):
        validate_ocid(params["compartment_id"], "compartment_id", "compartment")
    run = (context or {}).get("dag_run")
    when = getattr(run, "run_after", None) or datetime.now()
    image_name = blank("image_name") or f"golden-{instance_id[-8:]}-{when:%Y%m%d-%H%M%S}"
    check_display_name(image_name, "image_name")
    export_bucket, export_namespace = blank("export_bucket"), blank("export_namespace")
    export_format = params.get("export_format") or "VMDK"
    if export_format not in IMAGE_FORMATS:
        raise OciInputError(f"export_format {export_format!r}: one of {IMAGE_FORMATS}")
    if export_bucket and not export_namespace:
        raise OciInputError(f"export_namespace: required with export_bucket {export_bucket!r} (your tenancy's "
                            f"Object Storage namespace, under Tenancy details in the console)")
    if not export_bucket and (export_namespace or blank("export_object_name")):
        raise OciInputError("export_bucket: required when export_namespace or export_object_name is given")
    export_object = blank("export_object_name") or f"golden-images/{image_name}.{export_format.lower()}"
    if export_bucket:
        check_bucket_name(export_bucket, "export_bucket")
        check_object_name(export_object, "export_object_name")
    fleet = resolve_fleet(params)
    return {"instance_id": instance_id, "image_name": image_name, "detach_iscsi": policy == "detach_and_reattach",
            "iscsi_policy": policy, "launch_mode": launch_mode, "compartment_id": blank("compartment_id"),
            "image_tags": {"golden-image-of": instance_id},
            "export": bool(export_bucket), "export_bucket": export_bucket, "export_namespace": export_namespace,
            "export_object_name": export_object if export_bucket else None, "export_format": export_format,
            "fleet": fleet, "shape_compatibility": resolve_shape_compatibility(params, fleet)}


def check_references(request: dict, hook, context=None) -> dict:
    """The instance and the export bucket, read-only, and the permissions the run needs, proved before its first
    change (hooks/permissions.py). The fleet is checked by check_fleet_hostnames (OciCheckFleetOperator)."""
    export_bucket, export_namespace = request["export_bucket"], request["export_namespace"]
    instance = hook.check_instance(request["instance_id"], states=("RUNNING", "STOPPED", "CREATING_IMAGE",
                                                                   "STARTING", "STOPPING", "PROVISIONING"))
    if export_bucket:
        hook.check_bucket(export_namespace, export_bucket, "export_bucket")
    hook.prove_reads(hook.golden_image_reads(instance, export_namespace, export_bucket, bool(request["fleet"])))
    return request


def check_request(params: dict, hook, context) -> dict:
    """The golden image's request: `validate`, then `check_references` (OciValidateRequestOperator's `request`)."""
    return check_references(validate(params, context), hook, context)


# -- the report ----------------------------------------------------------------------------------------------------
def report(values: dict, context) -> tuple[list[str], dict, list[str], str]:
    """What the run imaged, exported and launched, and the image's Asset event. `values`: request, image,
    not_reattached (the imaging task's `not_reattached` XCom), exported, instances (one per fleet entry)."""
    request = values["request"]
    if not request:
        raise OciWaitError("nothing was done: the request was refused (see validate_request)")
    image = values["image"]
    exported = values["exported"] if request["export"] else None
    instances = each(values["instances"], len(request["fleet"]))
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
    for entry in values["not_reattached"] or []:
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


REPORT = OnDemandReport("golden image", report, image_note)
