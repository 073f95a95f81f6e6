"""The parts of the on-demand DAGs (emergency clone, restore, VMDK migration, golden image) that are not a single
OCI call: reading a trigger request, resolving what to clone, choosing a backup, checking a fleet, and the run
report. Each is an operator, so your own DAG can use the same parts.

A request is checked in two passes, both before the first mutating call: every field on its own (no API call
at all), then every reference it names with read-only calls (instances, subnets, hostnames in use, availability
domains, buckets). The checks themselves live in operators.request_checks, one function per rule.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable
from datetime import datetime
from typing import Any

from common.errors import OciInputError, OciWaitError
from common.tags import VERIFIED_TAG
from forms.params import DEFAULT_SHAPE, given, listed
from guest.user_data import validate_hostname, validate_os_type
from hooks.block_storage import backup_result
from hooks.oci import RETRY_BUDGET, ocid_kind, validate_ocid

from operators import request_checks as checks
from operators.base import OciBaseOperator, oci_template_fields


# -- requests: fields first (no call), then references (read-only calls) ---------------------------------------
def clone_request(params: dict, hook, context) -> dict:
    """Emergency clone: what to clone, and what a launch needs."""
    def blank(name):
        return given(params, name)

    instance_id, volume_ids = blank("instance_id"), listed(params.get("volume_ids") or [])  # a CLI may give "a,b"
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
    request = {"instance_id": instance_id, "volume_ids": volume_ids, "launch": launch,
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
        checks.check_availability_domain(hook, request["availability_domain"])
    if request["subnet_id"]:
        checks.check_subnet(hook, request["subnet_id"], needs_dns_label=launch)
    return request


def restore_request(params: dict, hook, context) -> dict:
    """Restore: which backup, and what an attach or a launch needs."""
    def blank(name):
        return given(params, name)

    backup_id, volume_id = blank("backup_id"), blank("volume_id")
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
        checks.check_display_name(params["display_name"])
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
               "subnet_id": blank("subnet_id"), "in_place": in_place, "instance_id": blank("instance_id")}
    # references
    if request["availability_domain"]:
        checks.check_availability_domain(hook, request["availability_domain"])
    if in_place:
        from operators.boot_swap import swap_target

        source = volume_id or checks.check_backup(hook, backup_id).boot_volume_id
        instance = swap_target(hook, request["instance_id"], source)
        ad = request["availability_domain"]
        if ad and ad != instance.availability_domain:
            raise OciInputError(f"availability_domain {ad!r}: instance {instance.id} is in "
                                f"{instance.availability_domain}; its boot volume is restored there")
        request.update(instance_id=instance.id, availability_domain=instance.availability_domain)
    if attach_to:
        instance = checks.check_instance(hook, attach_to, "attach_instance_id")
        ad = request["availability_domain"]
        if ad and ad != instance.availability_domain:
            raise OciInputError(f"availability_domain {ad!r}: instance {attach_to} is in "
                                f"{instance.availability_domain}; a volume attaches only in its own AD")
    if launch:
        subnet = checks.check_subnet(hook, request["subnet_id"])
        checks.check_hostnames_free(hook, [{"hostname": request["hostname"], "subnet_id": subnet.id}], "hostname")
        ad = request["availability_domain"]
        if not ad:  # the launch boots where the restore lands: the source boot volume's AD
            source = volume_id or checks.check_backup(hook, backup_id).boot_volume_id
            ad = _availability_domain_of(hook, source)
        if ad:
            hook.check_shape(ad, shape, shape_config, config_field="")
    return request


def migration_request(params: dict, hook, context) -> dict:
    """VMDK migration: exactly one source form, the image's fields, the fleet's hostnames."""
    from disks.headers import IMAGE_FORMATS
    from forms.fleet import resolve_fleet
    from forms.object_uri import parse_object_uri

    from operators.images import IMPORT_LAUNCH_MODES

    def blank(name):
        return given(params, name)

    uri, local = blank("source_uri"), blank("local_path")
    namespace, bucket, object_name = blank("namespace"), blank("bucket"), blank("object_name")
    if params.get("source_image_type") not in IMAGE_FORMATS:
        raise OciInputError(f"source_image_type {params.get('source_image_type')!r}: one of {IMAGE_FORMATS}")
    if uri and local:
        raise OciInputError(f"source_uri {uri!r} and local_path {local!r}: give one source")
    upload = None
    if local:
        if not isinstance(local, str) or not os.path.isabs(local):
            raise OciInputError(f"local_path {local!r}: an absolute path on the Airflow worker")
        if not bucket:
            raise OciInputError(f"bucket: required to upload local_path {local!r} (the bucket it goes to)")
        checks.check_bucket_name(bucket)
        object_name = object_name or f"migrations/{os.path.basename(local)}"
        checks.check_object_name(object_name)
        real = checks.check_local_file(local)
        checks.check_local_disk(real, params.get("source_image_type"))
        upload = {"local_path": real, "bucket": bucket, "object_name": object_name, "namespace": namespace,
                  "part_size_mb": params.get("part_size_mb") or 128}
        source_label = f"{local} (uploaded to {bucket}/{object_name})"
    elif uri:
        if namespace or bucket or object_name:
            raise OciInputError("source_uri and namespace/bucket/object_name: give one or the other, not both")
        target = parse_object_uri(uri, "source_uri")
        checks.check_object_name(target["object"], "source_uri object")
        object_name, source_label = target["object"], uri
    else:
        missing = [n for n, v in (("namespace", namespace), ("bucket", bucket), ("object_name", object_name))
                   if not v]
        if missing:
            raise OciInputError(f"source: give source_uri, or namespace, bucket and object_name (missing "
                                f"{missing}), or local_path")
        checks.check_bucket_name(bucket)
        checks.check_object_name(object_name)
        source_label = f"{namespace}/{bucket}/{object_name}"
    if params.get("launch_mode") not in IMPORT_LAUNCH_MODES:
        raise OciInputError(f"launch_mode {params.get('launch_mode')!r}: one of {IMPORT_LAUNCH_MODES}")
    if blank("compartment_id"):
        validate_ocid(params["compartment_id"], "compartment_id", "compartment")
    image_name = blank("image_name") or posixpath.basename(object_name).rsplit(".", 1)[0] or "migrated-image"
    checks.check_display_name(image_name, "image_name")
    fleet = resolve_fleet(params)
    request = {"upload": upload, "upload_enabled": bool(upload), "source_label": source_label,
               # what the import reads when nothing is uploaded (an upload's own URI otherwise)
               "source_uri": None if upload else uri,
               "namespace": None if upload or uri else namespace,
               "bucket": None if upload or uri else bucket,
               "object_name": None if upload or uri else object_name,
               "image_name": image_name, "source_image_type": params["source_image_type"],
               "launch_mode": params["launch_mode"], "operating_system": blank("operating_system"),
               "operating_system_version": blank("operating_system_version"),
               "compartment_id": blank("compartment_id"), "fleet": fleet}
    # references: the bucket an upload goes to (the fleet is checked by check_fleet_hostnames)
    if upload:
        checks.check_bucket(hook, namespace, bucket)
    return request


def golden_image_request(params: dict, hook, context) -> dict:
    """Golden image: the instance, the iSCSI policy, the export, the fleet's hostnames."""
    from disks.headers import IMAGE_FORMATS
    from forms.fleet import resolve_fleet

    from operators.images import LAUNCH_MODES

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
    checks.check_display_name(image_name, "image_name")
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
        checks.check_bucket_name(export_bucket, "export_bucket")
        checks.check_object_name(export_object, "export_object_name")
    fleet = resolve_fleet(params)
    request = {"instance_id": instance_id, "image_name": image_name, "detach_iscsi": policy == "detach_and_reattach",
               "iscsi_policy": policy, "launch_mode": launch_mode, "compartment_id": blank("compartment_id"),
               "image_tags": {"golden-image-of": instance_id},
               "export": bool(export_bucket), "export_bucket": export_bucket, "export_namespace": export_namespace,
               "export_object_name": export_object if export_bucket else None, "export_format": export_format,
               "fleet": fleet}
    # references: the instance and the export bucket (the fleet is checked by check_fleet_hostnames)
    checks.check_instance(hook, instance_id, states=("RUNNING", "STOPPED", "CREATING_IMAGE", "STARTING",
                                                     "STOPPING", "PROVISIONING"))
    if export_bucket:
        checks.check_bucket(hook, export_namespace, export_bucket, "export_bucket")
    return request


REQUESTS: dict[str, Callable[[dict, Any, Any], dict]] = {
    "emergency_clone": clone_request, "restore": restore_request, "vmdk_migration": migration_request,
    "golden_image": golden_image_request}


class OciValidateRequestOperator(OciBaseOperator):
    """Read a DAG run's request (its params) with one of REQUESTS, or your own function (params, hook, context)
    -> dict: every field first with no API call, then every reference with read-only calls. XCom: the request,
    and each of its keys under its own key (so `task.output["hostname"]` works)."""

    template_fields = oci_template_fields()

    def __init__(self, *, request: str | Callable[[dict, Any, Any], dict], **kwargs):
        super().__init__(**kwargs)
        self.multiple_outputs = True
        self.request = request

    def validate_inputs(self) -> None:
        if (isinstance(self.request, str) and self.request not in REQUESTS) or not (
                isinstance(self.request, str) or callable(self.request)):
            raise OciInputError(f"request {self.request!r}: one of {sorted(REQUESTS)} or a function")

    def execute(self, context) -> dict:
        self.validate()
        parse = REQUESTS[self.request] if isinstance(self.request, str) else self.request
        result = parse(dict(context["params"]), self.hook, context)
        self.log.info("request accepted: %s", {k: v for k, v in result.items() if k != "fleet"})
        return result


class OciCheckFleetOperator(OciBaseOperator):
    """Read-only, before anything is made: every fleet instance's availability domain exists, its subnet takes
    hostnames, and none of the hostnames is in use there. Returns the fleet (the list launches map over).

    XCom: the fleet, a list of instance dicts (what the launches map over)."""

    template_fields = oci_template_fields("fleet")

    def __init__(self, *, fleet: list[dict] | Any, **kwargs):
        super().__init__(**kwargs)
        self.fleet = fleet

    def validate_inputs(self) -> None:
        if not isinstance(self.fleet, list | tuple) or not all(isinstance(f, dict) for f in self.fleet):
            raise OciInputError(f"fleet {str(self.fleet)[:80]!r}: a list of launch requests (dicts)")

    def execute(self, context) -> list[dict]:
        self.validate()
        return checks.check_fleet(self.hook, list(self.fleet))


# -- run reports ------------------------------------------------------------------------------------------------
class OciRunReportOperator(OciBaseOperator):
    """The last task of an on-demand DAG: what was made, from each task's XCom (a task that failed left none);
    an Asset event for an image; fails the run when something asked for was not made, after logging what exists
    (the report is also pushed under key `report`). `report` is one of REPORTS or your own function
    (pull, context) -> (lines, result, problems).

    XCom: the report's result dict (also under key `report`)."""

    template_fields = oci_template_fields()

    def __init__(self, *, report: str | Callable, trigger_rule: str = "all_done", **kwargs):
        super().__init__(trigger_rule=trigger_rule, **kwargs)
        self.retries = 0  # the report reads what the run left; another try would read the same and fail the same
        self.report = report

    def validate_inputs(self) -> None:
        from reports.on_demand import REPORTS

        if not (self.report in REPORTS or callable(self.report)):
            raise OciInputError(f"report {self.report!r}: one of {sorted(REPORTS)} or a function")

    def execute(self, context) -> dict:
        from reports.on_demand import REPORTS

        self.validate()
        ti = context["ti"]

        def pull(task_id: str, index: int | None = None, key: str = "return_value"):
            try:
                if index is None:
                    return ti.xcom_pull(task_ids=task_id, key=key)
                return ti.xcom_pull(task_ids=task_id, map_indexes=index, key=key)
            except Exception:  # a task that never ran has no XCom
                return None

        build = REPORTS[self.report] if isinstance(self.report, str) else self.report
        lines, result, problems, title = build(pull, context)
        lines.append(f"- retries: {RETRY_BUDGET.describe()}")
        lines += [f"! {p}" for p in problems]
        self.log.info("\n%s", "\n".join(lines))
        if problems:
            ti.xcom_push(key="report", value=result)
            raise OciWaitError(f"{title} incomplete: " + "; ".join(problems))
        return result


# -- what to clone, which backup ------------------------------------------------------------------------------
def _availability_domain_of(hook, boot_volume_id: str | None) -> str | None:
    """The AD of a boot volume, or None when it is gone (a restore then needs its AD given; that is checked
    where the restore reads the backup)."""
    import oci

    if not boot_volume_id:
        return None
    try:
        return hook.get_client("blockstorage").get_boot_volume(boot_volume_id).data.availability_domain
    except oci.exceptions.ServiceError as err:
        if err.status != 404:
            raise
        return None


def _launch_defaults(hook, compute, request: dict, source) -> dict:
    """Subnet, shape and shape config of an instance on a clone: the request's, else the source instance's."""

    subnet_id = request["subnet_id"]
    if not subnet_id and source is not None:
        vnics = sorted((a for a in hook.list_all(
            compute.list_vnic_attachments, source.compartment_id, instance_id=source.id)
            if a.lifecycle_state == "ATTACHED"), key=lambda a: a.nic_index or 0)
        subnet_id = vnics[0].subnet_id if vnics else None
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
    subnet = checks.check_subnet(hook, subnet_id)
    checks.check_hostnames_free(hook, [{"hostname": request["hostname"], "subnet_id": subnet.id}], "hostname")
    hook.log.info("launch on the clone: subnet %s, shape %s %s", subnet_id, shape, shape_config or "")
    return {"subnet_id": subnet_id, "shape": shape, "shape_config": shape_config}


class OciResolveCloneSourcesOperator(OciBaseOperator):
    """The volumes an emergency clone copies (read-only): an instance's boot volume and attached block volumes,
    or the listed volumes, boot volume first, each with its attachment type and device on the source, the
    arguments of its clone and of its attachment to a new instance, and what a launch on the clone needs
    (subnet, shape; defaulted from the source instance; the subnet and hostname checked). One dict per volume,
    the list `clone_volume` maps over.

    XCom: a list, one dict per volume: source_id, kind, display_name, size_in_gbs, availability_domain, device,
    attachment_type, attached_to, source_instance_id, clone, attach, launch."""

    template_fields = oci_template_fields("request")

    def __init__(self, *, request: dict | Any, **kwargs):
        super().__init__(**kwargs)
        self.request = request

    def validate_inputs(self) -> None:
        if not isinstance(self.request, dict):
            raise OciInputError(f"request {str(self.request)[:80]!r}: the checked request (validate_request's XCom)")

    def execute(self, context) -> list[dict]:

        self.validate()
        request, hook = self.request, self.hook
        compute = hook.get_client("compute", self.region)
        live = ("ATTACHING", "ATTACHED")
        source_instance = None
        found: list[tuple[Any, dict]] = []  # (volume, attachment facts)
        if request["instance_id"]:
            source_instance = checks.check_instance(hook, request["instance_id"], states=())
            if source_instance.lifecycle_state in ("TERMINATING", "TERMINATED"):
                raise OciInputError(f"instance_id {source_instance.id!r}: is {source_instance.lifecycle_state}; "
                                    f"clone its volumes by volume_ids instead")
            boots = [a for a in hook.list_all(
                compute.list_boot_volume_attachments, source_instance.availability_domain,
                source_instance.compartment_id, instance_id=source_instance.id) if a.lifecycle_state in live]
            atts = [a for a in hook.list_all(
                compute.list_volume_attachments, source_instance.compartment_id,
                instance_id=source_instance.id) if a.lifecycle_state in live]
            for att in boots:
                found.append((hook.get_resource(att.boot_volume_id), {}))
            for att in sorted(atts, key=lambda a: a.device or "~"):
                found.append((hook.get_resource(att.volume_id),
                              {"device": att.device, "attachment_type": att.attachment_type,
                               "is_read_only": bool(att.is_read_only), "attached_to": att.instance_id}))
            self.log.info("instance %s (%s): boot volume and %d attached block volume(s)", source_instance.id,
                          source_instance.display_name, len(atts))
        else:
            for i, volume_id in enumerate(request["volume_ids"]):
                volume = checks.check_volume(hook, volume_id, f"volume_ids[{i}]")
                facts: dict = {}
                if ocid_kind(volume_id) == "volume":
                    att = next((a for a in hook.list_all(
                        compute.list_volume_attachments, volume.compartment_id, volume_id=volume_id)
                        if a.lifecycle_state in live), None)
                    if att:
                        facts = {"device": att.device, "attachment_type": att.attachment_type,
                                 "is_read_only": bool(att.is_read_only), "attached_to": att.instance_id}
                else:
                    att = next((a for a in hook.list_all(
                        compute.list_boot_volume_attachments, volume.availability_domain, volume.compartment_id,
                        boot_volume_id=volume_id) if a.lifecycle_state in live), None)
                    if att:  # the instance it boots: the default shape and subnet of a launch
                        source_instance = compute.get_instance(att.instance_id).data
                found.append((volume, facts))
            found.sort(key=lambda pair: ocid_kind(pair[0].id) != "bootvolume")
        not_ready = [f"{v.display_name} ({v.id}) is {v.lifecycle_state}" for v, _ in found
                     if v.lifecycle_state != "AVAILABLE"]
        if not_ready:
            raise OciInputError("volumes to clone must be AVAILABLE: " + "; ".join(not_ready))
        if not found:
            raise OciInputError(f"instance_id {request['instance_id']!r}: no attached boot or block volume found")

        launch = {"subnet_id": request["subnet_id"], "shape": request["shape"], "shape_config": None}
        if request["launch"]:
            launch.update(_launch_defaults(hook, compute, request, source_instance))
            # the launch's shape in the AD it will boot in, before the first clone is made
            hook.check_shape(request["availability_domain"] or found[0][0].availability_domain, launch["shape"],
                             launch["shape_config"], config_field="")
        items, used_devices = [], set()
        for volume, facts in found:
            kind = ocid_kind(volume.id)
            device = facts.get("device")
            if device and device in used_devices:  # sources of different instances at one path: OCI chooses
                self.log.warning("%s: device %s is taken by another clone; attaching without a device path",
                                 volume.display_name, device)
                device = None
            used_devices.add(device)
            clone = {"volume_id": volume.id, "freeform_tags": {"cloned-from": volume.id}}
            clone.update({k: request[k] for k in ("availability_domain", "compartment_id") if request[k]})
            attach = {"device": device, "attachment_type": facts.get("attachment_type") or "paravirtualized",
                      "is_read_only": facts.get("is_read_only", False),
                      "enabled": request["attach"] and kind == "volume"}
            items.append({"source_id": volume.id, "kind": kind, "display_name": volume.display_name,
                          "size_in_gbs": volume.size_in_gbs, "availability_domain": volume.availability_domain,
                          "device": device, "attachment_type": facts.get("attachment_type"),
                          "attached_to": facts.get("attached_to"),
                          "source_instance_id": source_instance.id if source_instance else None,
                          "clone": clone, "attach": attach, "launch": launch})
        return items


class OciChooseBackupOperator(OciBaseOperator):
    """The backup a restore uses (read-only): the request's `backup_id` (it must be AVAILABLE), or the newest
    verified backup of its `volume_id` (the newest AVAILABLE one only with `allow_unverified`). XCom: the
    backup's facts and `restore_tags`, each also under its own key."""

    template_fields = oci_template_fields("request")

    def __init__(self, *, request: dict | Any, **kwargs):
        super().__init__(**kwargs)
        self.multiple_outputs = True
        self.request = request

    def validate_inputs(self) -> None:
        if not isinstance(self.request, dict):
            raise OciInputError(f"request {str(self.request)[:80]!r}: the checked request (validate_request's XCom)")

    def execute(self, context) -> dict:
        import oci

        from operators.backup_policy import newest_verified

        self.validate()
        request, hook = self.request, self.hook
        if request["backup_id"]:
            try:
                backup = backup_result(hook.get_resource(request["backup_id"]), hook.region)
            except oci.exceptions.ServiceError as err:
                if err.status == 404:
                    raise OciInputError(f"backup_id {request['backup_id']!r}: not found in {hook.region}") from None
                raise
            if backup["lifecycle_state"] != "AVAILABLE":
                raise OciInputError(f"backup_id {backup['backup_id']!r}: is {backup['lifecycle_state']}, only an "
                                    f"AVAILABLE backup can be restored")
            chosen_by = "backup_id"
        else:
            try:
                volume = hook.get_resource(request["volume_id"])
            except oci.exceptions.ServiceError as err:
                if err.status == 404:
                    raise OciInputError(f"volume_id {request['volume_id']!r}: not found in {hook.region} (OCI "
                                        f"forgets deleted volumes after a while); restore by backup_id") from None
                raise
            backups = hook.list_backups(volume.id, volume.compartment_id, hook.region)
            available = [b for b in backups if b["lifecycle_state"] == "AVAILABLE"]  # newest first
            backup = newest_verified(available)
            chosen_by = "newest verified"
            if backup is None:
                newest = available[0] if available else None
                about = (f"{len(available)} AVAILABLE backup(s), none tagged {VERIFIED_TAG!r}; the newest is "
                         f"{newest['backup_id']} of {newest['time_created']}") if newest else "no AVAILABLE backup"
                if newest is None or not request["allow_unverified"]:
                    raise OciInputError(
                        f"volume_id {volume.id!r} ({volume.display_name}): no verified backup to restore ({about}). "
                        + ("Restore a backup by backup_id, set allow_unverified=true to use the newest AVAILABLE "
                           "one, or let the nightly DAG verify one first" if newest else
                           "Back it up first"))
                backup, chosen_by = newest, "newest AVAILABLE (unverified: allow_unverified)"
                self.log.warning("volume %s: no verified backup; allow_unverified: restoring the newest AVAILABLE "
                                 "backup %s of %s, which was never test-restored", volume.id, backup["backup_id"],
                                 backup["time_created"])
        tags = backup["freeform_tags"]
        self.log.info("restoring %s backup %s (%s) of %s, made %s; chosen by %s; verified: %s", backup["type"],
                      backup["backup_id"], backup["display_name"], backup["source_id"], backup["time_created"],
                      chosen_by, tags.get(VERIFIED_TAG) or "never")
        result = {"backup_id": backup["backup_id"], "kind": backup["kind"], "source_id": backup["source_id"],
                  "type": backup["type"], "display_name": backup["display_name"],
                  "size_in_gbs": backup["size_in_gbs"], "time_created": backup["time_created"],
                  "verified_at": tags.get(VERIFIED_TAG) or None, "verified_level": tags.get("verified-level") or None,
                  "chosen_by": chosen_by, "restore_tags": {"restored-from-backup": backup["backup_id"]}}
        return result
