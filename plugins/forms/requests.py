"""The on-demand DAGs' requests (emergency clone, restore, VMDK migration, golden image): a DAG run's params read
into one checked request dict, for OciValidateRequestOperator (operators/on_demand.py) or your own DAG.

A request is checked in two passes, both before the first mutating call: every field on its own (no API call
at all: forms.checks, forms.fleet), then every reference it names with the hook's read-only checks
(hooks/references.py: instances, subnets, hostnames in use, availability domains, buckets).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable
from datetime import datetime
from typing import Any

from common.errors import OciInputError
from common.ids import check_bucket_name, ocid_kind, validate_ocid
from disks.headers import IMAGE_FORMATS, IMPORT_LAUNCH_MODES, LAUNCH_MODES
from guest.user_data import validate_hostname, validate_os_type

from forms.approval import approval_timeout, approval_users
from forms.checks import check_display_name, check_local_disk, check_local_file, check_object_name
from forms.fleet import resolve_fleet, resolve_shape_compatibility
from forms.object_uri import parse_object_uri
from forms.params import DEFAULT_SHAPE, given, listed


def both_given(first: tuple[str, Any], second: tuple[str, Any], hint: str = "give exactly one") -> None:
    """Two fields that exclude each other, both set (a form shows both, a person may fill both): refused, naming
    the two fields and their values, before anything else is read."""
    (name, value), (other, other_value) = first, second
    if value not in (None, "", []) and other_value not in (None, "", []):
        raise OciInputError(f"{name} {value!r} and {other} {other_value!r}: both given, but they exclude each other; "
                            f"{hint}")


def clone_request(params: dict, hook, context) -> dict:
    """Emergency clone: what to clone, and what a launch needs."""
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
        validate_ocid(volume_id, f"volume_ids[{i}]")
        if ocid_kind(volume_id) not in ("volume", "bootvolume"):
            raise OciInputError(f"volume_ids[{i}] {volume_id!r}: must be a block volume or boot volume OCID")
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
    # references
    if request["availability_domain"]:
        hook.check_availability_domain(request["availability_domain"])
    if request["subnet_id"]:
        hook.check_subnet(request["subnet_id"], needs_dns_label=launch)
    return request


def restore_request(params: dict, hook, context) -> dict:
    """Restore: which backup, and what an attach or a launch needs."""
    def blank(name):
        return given(params, name)

    backup_id, volume_id = blank("backup_id"), blank("volume_id")
    both_given(("backup_id", backup_id), ("volume_id", volume_id))
    if bool(backup_id) == bool(volume_id):
        raise OciInputError(f"backup_id {backup_id!r} and volume_id {volume_id!r}: give exactly one (a volume "
                            f"means its newest verified backup)")
    if backup_id:
        validate_ocid(backup_id, "backup_id")
        if ocid_kind(backup_id) not in ("volumebackup", "bootvolumebackup"):
            raise OciInputError(f"backup_id {backup_id!r}: must be a volume backup or boot volume backup OCID")
        restores_to = "volume" if ocid_kind(backup_id) == "volumebackup" else "bootvolume"
    else:
        validate_ocid(volume_id, "volume_id")
        if ocid_kind(volume_id) not in ("volume", "bootvolume"):
            raise OciInputError(f"volume_id {volume_id!r}: must be a block volume or boot volume OCID")
        restores_to = ocid_kind(volume_id)
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
    request = {"backup_id": backup_id, "volume_id": volume_id, "restores_to": restores_to,
               "allow_unverified": bool(params.get("allow_unverified")),
               "availability_domain": blank("availability_domain"), "compartment_id": blank("compartment_id"),
               "display_name": blank("display_name"), "attach": bool(attach_to), "attach_instance_id": attach_to,
               "device": blank("device"), "launch": launch, "hostname": blank("hostname"),
               "os_type": params.get("os_type") or "linux", "shape": shape, "shape_config": shape_config,
               "subnet_id": blank("subnet_id"), "in_place": in_place, "instance_id": blank("instance_id"),
               "approvers": approvers,
               "approval_timeout_minutes": approval_timeout(params.get("approval_timeout_minutes"))}
    # references
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
            hook.check_shape(ad, shape, shape_config, config_field="")
    if attach_instance is not None or subnet is not None:  # the permissions an attach or launch needs
        hook.prove_reads(hook.restore_reads(attach_instance, subnet))  # before the first change (hooks/permissions.py)
    return request


def migration_request(params: dict, hook, context) -> dict:
    """VMDK migration: exactly one source form, the image's fields, the fleet's hostnames."""
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
    request = {"upload": upload, "upload_enabled": bool(upload), "source_label": source_label,
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
    # references: the bucket an upload goes to (the fleet is checked by check_fleet_hostnames)
    if upload:
        namespace = hook.check_bucket(namespace, bucket)
    # the permissions the run needs, proved before its first change (hooks/permissions.py), in the bucket of the
    # disk image (an import's object is itself checked by import_image) and the image's compartment
    where = parse_object_uri(uri, "source_uri") if uri else {"namespace": namespace, "bucket": bucket, "region": None}
    if where["region"] in (None, hook.region):
        objects = hook.get_client("object_storage")
        ns = namespace if upload else hook.check_bucket(where["namespace"], where["bucket"],
                                                        "source_uri" if uri else "bucket")
        compartment_id = blank("compartment_id") or objects.get_bucket(ns, where["bucket"]).data.compartment_id
        hook.prove_reads(hook.migration_reads(ns, where["bucket"], compartment_id, bool(fleet)))
    return request


def golden_image_request(params: dict, hook, context) -> dict:
    """Golden image: the instance, the iSCSI policy, the export, the fleet's hostnames."""
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
    request = {"instance_id": instance_id, "image_name": image_name, "detach_iscsi": policy == "detach_and_reattach",
               "iscsi_policy": policy, "launch_mode": launch_mode, "compartment_id": blank("compartment_id"),
               "image_tags": {"golden-image-of": instance_id},
               "export": bool(export_bucket), "export_bucket": export_bucket, "export_namespace": export_namespace,
               "export_object_name": export_object if export_bucket else None, "export_format": export_format,
               "fleet": fleet, "shape_compatibility": resolve_shape_compatibility(params, fleet)}
    # references: the instance and the export bucket (the fleet is checked by check_fleet_hostnames)
    instance = hook.check_instance(instance_id, states=("RUNNING", "STOPPED", "CREATING_IMAGE", "STARTING",
                                                        "STOPPING", "PROVISIONING"))
    if export_bucket:
        hook.check_bucket(export_namespace, export_bucket, "export_bucket")
    # the permissions the run needs, proved before its first change (hooks/permissions.py)
    hook.prove_reads(hook.golden_image_reads(instance, export_namespace, export_bucket, bool(fleet)))
    return request


REQUESTS: dict[str, Callable[[dict, Any, Any], dict]] = {
    "emergency_clone": clone_request, "restore": restore_request, "vmdk_migration": migration_request,
    "golden_image": golden_image_request}


def launch_defaults(hook, request: dict, source) -> dict:
    """Subnet, shape and shape config of an instance on a clone: the request's, else the source instance's."""

    subnet_id = request["subnet_id"]
    if not subnet_id and source is not None:
        subnet_id = hook.primary_subnet_id(source)
    if not subnet_id:
        raise OciInputError("subnet_id: required to launch (the boot volume is not attached to an instance "
                            "whose subnet could be used)")
    shape = request["shape"] or (source.shape if source is not None else DEFAULT_SHAPE)
    shape_config = None
    if shape.endswith(".Flex"):
        current = getattr(source, "shape_config", None) if source is not None and source.shape == shape else None
        ocpus = request["ocpus"] or (current.ocpus if current else 1)
        memory = request["memory_in_gbs"] or (current.memory_in_gbs if current and not request["ocpus"]
                                              else ocpus * 16)
        shape_config = {"ocpus": float(ocpus), "memory_in_gbs": float(memory)}
    elif request["ocpus"] or request["memory_in_gbs"]:
        raise OciInputError(f"ocpus/memory_in_gbs: only for a Flex shape; the source's shape is {shape!r}")
    # the launch's references, before the first clone is made
    subnet = hook.check_subnet(subnet_id)
    hook.check_hostnames_free([{"hostname": request["hostname"], "subnet_id": subnet.id}], "hostname")
    hook.log.info("launch on the clone: subnet %s, shape %s %s", subnet_id, shape, shape_config or "")
    return {"subnet_id": subnet_id, "shape": shape, "shape_config": shape_config}


def clone_launch_plan(resolved: list[dict], clones: list) -> dict:
    """What the launch on the clone needs: the request's launch plan and the clone of the boot volume (which
    OciResolveCloneSourcesOperator lists first). A clone a trigger ended arrives as JSON text (common/xcom.py)."""
    from common.xcom import xcom_value

    boot = xcom_value(clones[0])
    return {**resolved[0]["launch"], "boot_volume_id": boot["volume_id"], "compartment_id": boot["compartment_id"]}


def clone_attach_arguments(pair: tuple) -> dict:
    """Attach arguments of source volume i with the id of its clone: `zip` pairs them by map index."""
    from common.xcom import xcom_value

    item, clone = pair
    return {**item["attach"], "volume_id": xcom_value(clone)["volume_id"]}
