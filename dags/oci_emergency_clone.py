"""Emergency clone: point-in-time deep copies of boot and block volumes, optionally brought up on a new instance.

Parse-time cost: this file imports only Airflow and the project's operator and hook modules (they import the
OCI SDK inside their methods). Nothing here calls an API; the request is read and checked at run time.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from airflow.sdk import DAG, Param, task
from hooks.oci import OCID_RE, RETRY_BUDGET
from hooks.params import DEFAULT_SHAPE, OPTIONAL_HOSTNAME, OPTIONAL_OCID
from hooks.params import OPTIONAL_SHAPE_PATTERN as SHAPE_PATTERN
from operators.base import wait_settings
from operators.compute import OciLaunchInstanceOperator
from operators.volumes import OciAttachVolumeOperator, OciCloneVolumeOperator

DAG_ID = "oci_emergency_clone"
log = logging.getLogger("airflow.task")  # a task function's logging reaches its task log
# How often waits look at OCI (backoff from the first to the second); tests shorten them.
WAIT = wait_settings()

DOC = """
### Emergency clone

Makes an immediate, **point-in-time deep copy** (an OCI *clone*) of boot and/or block volumes, with no
backup/restore round-trip. Each clone holds the source's bytes as they were when its clone request was
accepted; writes to the source afterwards do not reach it.

**What to clone** (give one):
- `instance_id`: the instance's **boot volume and every attached block volume**;
- `volume_ids`: a list of block volume and/or boot volume OCIDs.

**Optionally bring it up** (`launch_instance`): a new instance is launched on the **cloned boot volume** with
`hostname` (Linux: `hostname_label` + cloud-init; Windows: cloudbase-init renames the computer), `shape`,
`ocpus`/`memory_in_gbs` (Flex shapes), `subnet_id` and `os_type`; the cloned block volumes are attached to it
(`attach_cloned_volumes`) with the **same attachment type and device paths as on the source** when known.
Unset shape and subnet default to the source instance's.

Tasks: `validate_request` (every field checked before any API call) → `resolve_volumes` (the boot volume
attachment and volume attachments of the instance) → `clone_volume` (one per volume) → `launch_on_clone` →
`attach_cloned_volume` (one per block volume) → `report` (what was made; the run fails if anything was not).

Notes:
- Clones of several volumes are requested in parallel, each consistent on its own; for one crash-consistent
  point across volumes, put them in a volume group and clone the group.
- A clone keeps the source's freeform tags (so a clone of a protected volume carries `backup-policy` and is
  backed up by the nightly DAG) plus `cloned-from` and this DAG's `managed-by`/`airflow-*` tags.
- Clones and the instance are **kept**: they are the result. Delete them yourself when done.
"""


def _launch_plan(field: str) -> str:
    """Jinja for what resolve_volumes planned for a launch (the same on every item)."""
    return "{{ ti.xcom_pull(task_ids='resolve_volumes')[0]['launch']['" + field + "'] }}"


def _clone_of(index: int | str, field: str) -> str:
    """Jinja for a field of the clone made by `clone_volume` at a map index (native rendering keeps types)."""
    return "{{ ti.xcom_pull(task_ids='clone_volume', map_indexes=" + str(index) + ")['" + field + "'] }}"


def _launch_defaults(hook, compute, request: dict, source) -> dict:
    """Subnet, shape and shape config of the new instance: the request's, else the source instance's."""
    import oci
    from hooks.errors import OciInputError

    subnet_id = request["subnet_id"]
    if not subnet_id and source is not None:
        vnics = sorted((a for a in oci.pagination.list_call_get_all_results(
            compute.list_vnic_attachments, source.compartment_id, instance_id=source.id).data
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
    hook.log.info("launch on the clone: subnet %s, shape %s %s", subnet_id, shape, shape_config or "")
    return {"subnet_id": subnet_id, "shape": shape, "shape_config": shape_config}


with DAG(
    DAG_ID,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    render_template_as_native_obj=True,
    dagrun_timeout=timedelta(hours=6),
    doc_md=DOC,
    tags=["oci", "clone", "on-demand"],
    default_args={"owner": "platform", **RETRY_BUDGET.task_args(),
                  "execution_timeout": timedelta(hours=2)},
    params={
        "instance_id": Param("", type="string", pattern=OPTIONAL_OCID,
                             description="Clone this instance's boot volume and all its attached block volumes"),
        "volume_ids": Param([], type="array", items={"type": "string", "pattern": OCID_RE.pattern},
                            uniqueItems=True, description="Or: block volume and boot volume OCIDs to clone"),
        "availability_domain": Param("", type="string",
                                     description="AD for the clones (empty: each source's own AD)"),
        "compartment_id": Param("", type="string", pattern=OPTIONAL_OCID,
                                description="Compartment for the clones (empty: each source's)"),
        "launch_instance": Param(False, type="boolean",
                                 description="Launch an instance on the cloned boot volume"),
        "hostname": Param("", type="string", pattern=OPTIONAL_HOSTNAME, maxLength=63,
                          description="Hostname of the new instance (required to launch; unique in the subnet)"),
        "os_type": Param("linux", enum=["linux", "windows"]),
        "shape": Param("", type="string", pattern=SHAPE_PATTERN,
                       description=f"Shape (empty: the source instance's, else {DEFAULT_SHAPE})"),
        "ocpus": Param(None, type=["null", "number"], minimum=1, maximum=64,
                       description="OCPUs for a Flex shape (empty: the source instance's, else 1)"),
        "memory_in_gbs": Param(None, type=["null", "number"], minimum=1, maximum=1024,
                               description="Memory for a Flex shape (empty: the source's, else 16 GB per OCPU)"),
        "subnet_id": Param("", type="string", pattern=OPTIONAL_OCID,
                           description="Subnet of the new instance (empty: the source instance's)"),
        "attach_cloned_volumes": Param(True, type="boolean",
                                       description="Attach the cloned block volumes to the new instance"),
    },
) as dag:

    @task(multiple_outputs=True)
    def validate_request(params=None) -> dict:
        """Every field, before any API call: what to clone, and what a launch needs."""
        from hooks.errors import OciInputError
        from hooks.oci import ocid_kind, validate_ocid
        from hooks.params import given
        from hooks.user_data import validate_hostname, validate_os_type

        def blank(name):
            return given(params, name)

        instance_id, volume_ids = blank("instance_id"), params.get("volume_ids") or []
        if isinstance(volume_ids, str):  # a CLI trigger may give "a,b"
            volume_ids = [v.strip() for v in volume_ids.split(",") if v.strip()]
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
        return request

    @task
    def resolve_volumes(request: dict) -> list[dict]:
        """The volumes to clone, boot volume first, each with its attachment type and device on the source, the
        arguments of its clone and of its attachment to the new instance, and what a launch on the clone needs
        (subnet, shape), defaulted from the source instance."""
        import oci
        from hooks.errors import OciInputError
        from hooks.oci import OciHook, ocid_kind

        hook = OciHook()
        compute = hook.get_client("compute")
        live = ("ATTACHING", "ATTACHED")
        source_instance = None
        found: list[tuple[object, dict]] = []  # (volume, attachment facts)
        if request["instance_id"]:
            source_instance = compute.get_instance(request["instance_id"]).data
            if source_instance.lifecycle_state in ("TERMINATING", "TERMINATED"):
                raise OciInputError(f"instance_id {source_instance.id!r}: is {source_instance.lifecycle_state}; "
                                    f"clone its volumes by volume_ids instead")
            boots = [a for a in oci.pagination.list_call_get_all_results(
                compute.list_boot_volume_attachments, source_instance.availability_domain,
                source_instance.compartment_id, instance_id=source_instance.id).data if a.lifecycle_state in live]
            atts = [a for a in oci.pagination.list_call_get_all_results(
                compute.list_volume_attachments, source_instance.compartment_id,
                instance_id=source_instance.id).data if a.lifecycle_state in live]
            for att in boots:
                found.append((hook.get_resource(att.boot_volume_id), {}))
            for att in sorted(atts, key=lambda a: a.device or "~"):
                found.append((hook.get_resource(att.volume_id),
                              {"device": att.device, "attachment_type": att.attachment_type,
                               "is_read_only": bool(att.is_read_only), "attached_to": att.instance_id}))
            hook.log.info("instance %s (%s): boot volume and %d attached block volume(s)", source_instance.id,
                          source_instance.display_name, len(atts))
        else:
            for volume_id in request["volume_ids"]:
                volume = hook.get_resource(volume_id)
                facts: dict = {}
                if ocid_kind(volume_id) == "volume":
                    att = next((a for a in oci.pagination.list_call_get_all_results(
                        compute.list_volume_attachments, volume.compartment_id, volume_id=volume_id).data
                        if a.lifecycle_state in live), None)
                    if att:
                        facts = {"device": att.device, "attachment_type": att.attachment_type,
                                 "is_read_only": bool(att.is_read_only), "attached_to": att.instance_id}
                else:
                    att = next((a for a in oci.pagination.list_call_get_all_results(
                        compute.list_boot_volume_attachments, volume.availability_domain, volume.compartment_id,
                        boot_volume_id=volume_id).data if a.lifecycle_state in live), None)
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
        items, used_devices = [], set()
        for volume, facts in found:
            kind = ocid_kind(volume.id)
            device = facts.get("device")
            if device and device in used_devices:  # sources of different instances at one path: OCI chooses
                hook.log.warning("%s: device %s is taken by another clone; attaching without a device path",
                                 volume.display_name, device)
                device = None
            used_devices.add(device)
            tags = {"cloned-from": volume.id}
            clone = {"source_volume_id": volume.id, "freeform_tags": tags}
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

    request = validate_request()
    resolved = resolve_volumes(request)
    clones = OciCloneVolumeOperator.partial(task_id="clone_volume", **WAIT).expand_kwargs(
        resolved.map(lambda item: item["clone"]))
    # resolve_volumes puts the boot volume first: when launching, clone 0 is the cloned boot volume.
    launch = OciLaunchInstanceOperator(
        task_id="launch_on_clone", boot_volume_id=_clone_of(0, "volume_id"), hostname=request["hostname"],
        os_type=request["os_type"], shape=_launch_plan("shape"), shape_config=_launch_plan("shape_config"),
        subnet_id=_launch_plan("subnet_id"), compartment_id=_clone_of(0, "compartment_id"), enabled=request["launch"],
        **WAIT)
    # Mapped over the same list as clone_volume, so map index i is the clone of volume i.
    attach = OciAttachVolumeOperator.partial(
        task_id="attach_cloned_volume", instance_id="{{ ti.xcom_pull(task_ids='launch_on_clone')['instance_id'] }}",
        volume_id=_clone_of("ti.map_index", "volume_id"), **WAIT,
    ).expand_kwargs(resolved.map(lambda item: item["attach"]))

    @task(trigger_rule="all_done", retries=0)
    def report(ti=None) -> dict:
        """What was made, from each task's XCom (a task that failed left none); fails the run when something
        asked for was not made, after listing what exists (clones are kept either way)."""
        from hooks.errors import OciWaitError

        def pull(task_id, index=None):
            try:
                return ti.xcom_pull(task_ids=task_id, map_indexes=index) if index is not None \
                    else ti.xcom_pull(task_ids=task_id)
            except Exception:  # a task that never ran has no XCom
                return None

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
        if request["launch"] and not instance:
            problems.append(f"no instance was launched on the cloned boot volume (hostname {request['hostname']})")
        lines = [f"Emergency clone of {request['instance_id'] or 'volumes'}: {sum(1 for r in rows if r['clone_id'])}"
                 f" of {len(rows)} volume(s) cloned"]
        for r in rows:
            lines.append(f"- {r['display_name']} ({r['kind']}, {r['size_in_gbs']} GB) {r['source_id']} -> "
                         f"{r['clone_id'] or 'NOT CLONED'}"
                         + (f", attached at {r['attached_device'] or 'no device path'}" if r["attachment_id"] else ""))
        if instance:
            lines.append(f"- instance {instance['instance_id']} RUNNING, hostname {instance['hostname']}, private IP "
                         f"{instance['private_ip']}, boot volume {instance['boot_volume_id']}")
        lines += [f"! {p}" for p in problems]
        log.info("\n%s", "\n".join(lines))
        result = {"source_instance_id": resolved[0]["source_instance_id"], "volumes": rows, "instance": instance,
                  "problems": problems}
        if problems:
            ti.xcom_push(key="report", value=result)
            raise OciWaitError("emergency clone incomplete: " + "; ".join(problems))
        return result

    resolved >> clones >> launch >> attach >> report()
