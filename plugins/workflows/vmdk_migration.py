"""The VMDK migration workflow (dags/oci_vmdk_migration.py): its trigger form, its request and its report, in one
place.

The DAG wires these to the generic operators: `params()` is the DAG's form, `check_request` is what
OciValidateRequestOperator runs (`validate`, then `check_references`), `REPORT` is what OciRunReportOperator builds
from the values the DAG hands it (XComArgs of the tasks, never task ids).
"""

from __future__ import annotations

import os
import posixpath

from common.errors import OciInputError, OciWaitError
from common.ids import check_bucket_name, validate_ocid
from disks.headers import IMAGE_FORMATS, IMPORT_LAUNCH_MODES
from forms.checks import both_given, check_display_name, check_local_disk, check_local_file, check_object_name
from forms.fleet import fleet_params, resolve_fleet, resolve_shape_compatibility
from forms.object_uri import parse_object_uri
from forms.params import choice_field, exclusive, field, given, ocid_field, plan_field, text_field
from reports.fleet import add_image_event, fleet_part
from reports.on_demand import OnDemandReport, each, image_note

# the form's sections, in the order a person decides
WHICH, IMAGE = "Which disk image", "The image"


def params() -> dict:
    """The migration's trigger form: the disk image (a URI, or namespace + bucket + object name, or a local file
    uploaded to the bucket first), the image, the fleet."""
    return {
        "source_uri": text_field("Object Storage URI", "Of the disk image. Example: https://objectstorage.us-ashburn-"
                                 "1.oraclecloud.com/n/<namespace>/b/<bucket>/o/disk.vmdk. "
                                 + exclusive("namespace/bucket/object_name", "local_path"), WHICH,
                                 pattern=r"^(https://([a-z0-9-]+\.)?objectstorage\..+/n/.+/b/.+/o/.+)?$"),
        "namespace": text_field("Or: namespace", "Object Storage namespace of the object (or of the bucket a local "
                                "file goes to). Example: axaxnpcrorw5", WHICH),
        "bucket": text_field("Bucket", "Of the object, or where local_path is uploaded to. Example: migrations. "
                             + exclusive("source_uri"), WHICH, pattern=r"^[A-Za-z0-9._-]{0,256}$"),
        "object_name": text_field("Object name", "Example: disks/app1.vmdk (for local_path: default "
                                  "migrations/<file name>)", WHICH, maxLength=1024),
        "local_path": text_field("Or: file on the worker", "Absolute path of a disk image on the Airflow worker, "
                                 "uploaded to the bucket first (under OCI_UPLOAD_ROOTS). Example: /data/app1.vmdk. "
                                 + exclusive("source_uri"), WHICH, pattern=r"^(/.*)?$"),
        "part_size_mb": field(128, "integer", "Upload part size (MiB)", "Multipart upload parts for local_path, 1 to "
                              "51200", WHICH, minimum=1, maximum=51200),
        # The image
        "image_name": text_field("Image name", "Empty: the object's file name. Example: app1-migrated", IMAGE,
                                 maxLength=255),
        "source_image_type": choice_field("VMDK", ["VMDK", "QCOW2"], "Disk format", "VMDK (monolithicSparse or "
                                          "streamOptimized) or QCOW2", IMAGE),
        "launch_mode": choice_field("PARAVIRTUALIZED", ["PARAVIRTUALIZED", "NATIVE", "EMULATED"], "Launch mode",
                                    "PARAVIRTUALIZED for modern guests; EMULATED for old ones without virtio drivers",
                                    IMAGE),
        "operating_system": text_field("Operating system", "Example: Oracle Linux, Windows", IMAGE,
                                       examples=["Oracle Linux", "Ubuntu", "Windows"]),
        "operating_system_version": text_field("OS version", "Example: 9, Server 2022 Standard", IMAGE),
        "compartment_id": ocid_field("compartment", "Compartment", "Of the image (empty: the bucket's)", IMAGE),
        **fleet_params(),
        "plan_only": plan_field(),  # check everything, change nothing (common/plan.py)
    }


# -- the request ---------------------------------------------------------------------------------------------------
def validate(params: dict, context=None) -> dict:
    """Every field on its own, no API call: exactly one source form, the image's fields, the fleet's hostnames."""
    def blank(name):
        return given(params, name)

    uri, local = blank("source_uri"), blank("local_path")
    namespace, bucket, object_name = blank("namespace"), blank("bucket"), blank("object_name")
    if params.get("source_image_type") not in IMAGE_FORMATS:
        raise OciInputError(f"source_image_type {params.get('source_image_type')!r}: one of {IMAGE_FORMATS}")
    both_given(("source_uri", uri), ("local_path", local), "give one source")
    for name, value in (("bucket", bucket), ("namespace", namespace), ("object_name", object_name)):
        both_given(("source_uri", uri), (name, value), "give one source (a URI names its bucket and object)")
    upload = None
    if local:
        if not isinstance(local, str) or not os.path.isabs(local):
            raise OciInputError(f"local_path {local!r}: an absolute path on the Airflow worker")
        if not bucket:
            raise OciInputError(f"bucket: required to upload local_path {local!r} (the bucket it goes to)")
        check_bucket_name(bucket)
        object_name = object_name or f"migrations/{os.path.basename(local)}"
        check_object_name(object_name)
        real = check_local_file(local)
        check_local_disk(real, params.get("source_image_type"))
        upload = {"local_path": real, "bucket": bucket, "object_name": object_name, "namespace": namespace,
                  "part_size_mb": params.get("part_size_mb") or 128}
        source_label = f"{local} (uploaded to {bucket}/{object_name})"
    elif uri:
        if namespace or bucket or object_name:
            raise OciInputError("source_uri and namespace/bucket/object_name: give one or the other, not both")
        target = parse_object_uri(uri, "source_uri")
        check_object_name(target["object"], "source_uri object")
        object_name, source_label = target["object"], uri
    else:
        missing = [n for n, v in (("namespace", namespace), ("bucket", bucket), ("object_name", object_name))
                   if not v]
        if missing:
            raise OciInputError(f"source: give source_uri, or namespace, bucket and object_name (missing "
                                f"{missing}), or local_path")
        check_bucket_name(bucket)
        check_object_name(object_name)
        source_label = f"{namespace}/{bucket}/{object_name}"
    if params.get("launch_mode") not in IMPORT_LAUNCH_MODES:
        raise OciInputError(f"launch_mode {params.get('launch_mode')!r}: one of {IMPORT_LAUNCH_MODES}")
    if blank("compartment_id"):
        validate_ocid(params["compartment_id"], "compartment_id", "compartment")
    image_name = blank("image_name") or posixpath.basename(object_name).rsplit(".", 1)[0] or "migrated-image"
    check_display_name(image_name, "image_name")
    fleet = resolve_fleet(params)
    return {"upload": upload, "upload_enabled": bool(upload), "source_label": source_label,
            # what the import reads when nothing is uploaded (an upload's own URI otherwise)
            "source_uri": None if upload else uri,
            "namespace": None if upload or uri else namespace,
            "bucket": None if upload or uri else bucket,
            "object_name": None if upload or uri else object_name,
            # the upload's arguments, one key each (`request["upload_bucket"]`); None when nothing goes up
            **{f"upload_{key}": (upload or {}).get(key) for key in ("local_path", "bucket", "object_name",
                                                                    "namespace", "part_size_mb")},
            "image_name": image_name, "source_image_type": params["source_image_type"],
            "launch_mode": params["launch_mode"], "operating_system": blank("operating_system"),
            "operating_system_version": blank("operating_system_version"),
            "compartment_id": blank("compartment_id"), "fleet": fleet,
            "shape_compatibility": resolve_shape_compatibility(params, fleet)}


def check_references(request: dict, hook, context=None) -> dict:
    """The bucket an upload goes to, and the permissions the run needs, proved before its first change
    (hooks/permissions.py) in the bucket of the disk image (an import's object is itself checked by import_image)
    and the image's compartment. The fleet is checked by check_fleet_hostnames (OciCheckFleetOperator)."""
    upload, uri = request["upload"], request["source_uri"]
    namespace, bucket = (upload["namespace"], upload["bucket"]) if upload else (request["namespace"],
                                                                                request["bucket"])
    if upload:
        namespace = hook.check_bucket(namespace, bucket)
    where = parse_object_uri(uri, "source_uri") if uri else {"namespace": namespace, "bucket": bucket, "region": None}
    if where["region"] in (None, hook.region):
        objects = hook.get_client("object_storage")
        ns = namespace if upload else hook.check_bucket(where["namespace"], where["bucket"],
                                                        "source_uri" if uri else "bucket")
        compartment_id = request["compartment_id"] or objects.get_bucket(ns, where["bucket"]).data.compartment_id
        hook.prove_reads(hook.migration_reads(ns, where["bucket"], compartment_id, bool(request["fleet"])))
    return request


def check_request(params: dict, hook, context) -> dict:
    """The migration's request: `validate`, then `check_references` (OciValidateRequestOperator's `request`)."""
    return check_references(validate(params, context), hook, context)


# -- the report ----------------------------------------------------------------------------------------------------
def report(values: dict, context) -> tuple[list[str], dict, list[str], str]:
    """What the run uploaded, imported and launched, and the image's Asset event. `values`: request, uploaded,
    image, instances (one per fleet entry)."""
    request = values["request"]
    if not request:
        raise OciWaitError("nothing was done: the request was refused (see validate_request)")
    uploaded = values["uploaded"] if request["upload_enabled"] else None
    image = values["image"]
    instances = each(values["instances"], len(request["fleet"]))
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


REPORT = OnDemandReport("vmdk migration", report, image_note)
