"""Golden image: a custom image of a configured instance, optionally exported, optionally rolled out as a fleet.

Parse-time cost: this file imports only Airflow and the project's operator and hook modules (they import the
OCI SDK inside their methods). Nothing here calls an API; the request is read and checked at run time.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from airflow.sdk import DAG, AssetAlias, Param, task
from hooks.fleet import IMAGE_ASSET_ALIAS, OPTIONAL_OCID, fleet_params
from hooks.oci import RETRY_BUDGET
from operators.base import wait_settings
from operators.compute import OciLaunchInstanceOperator
from operators.images import OciCreateImageFromInstanceOperator, OciExportImageOperator

DAG_ID = "oci_golden_image"
log = logging.getLogger(__name__)
# How often waits look at OCI (backoff from the first to the second); tests shorten them.
WAIT = wait_settings()
IMAGE_ID = "{{ ti.xcom_pull(task_ids='create_golden_image')['image_id'] }}"

DOC = """
### Golden image

Makes a **custom image of an instance** you have configured (the golden image), optionally **exports** it to
Object Storage, and optionally **launches a fleet** from it, each instance with its own hostname.

**Source**: `instance_id` (RUNNING or STOPPED). OCI stops a running instance while its image is taken (several
minutes) and starts it again; `create_golden_image` waits until it is back.

**iSCSI volumes** (`iscsi_policy`): OCI images an instance only with its iSCSI volumes disconnected.
- `refuse` (default): the run fails before anything changes, naming each iSCSI attachment (volume, device).
- `detach_and_reattach`: through Run Command the instance logs out of each iSCSI target and removes its iscsid
  node records, the attachments are detached, the image is made, and each volume is attached again with the
  same type and device (also when imaging fails). Paravirtualized volumes are never touched.

**Export** (optional): `export_bucket` (+ `export_namespace`, your tenancy's Object Storage namespace) gets the
image as `export_format` (VMDK or QCOW2) at `export_object_name` (default `golden-images/<image name>.<format>`).

**Fleet** (optional): `fleet_count` instances named by `hostname_pattern` (`web-{index:02d}` gives web-01,
web-02, ...) with one `os_type`, or an explicit `fleet` list of `{"hostname": ..., "os_type": ...}`; `shape`
(+ `ocpus` / `memory_in_gbs`), `subnet_id`, `availability_domain`, `ssh_authorized_keys` (Linux). Hostnames are
checked before anything changes (labels, Windows names at most 15 characters, no duplicates, none in use in
the subnet).

**Runs in parallel, one image per instance at a time.** Runs for *different* instances run side by side (up to
`max_active_runs`). OCI makes one image of an instance at a time and refuses another one for 20 minutes after
the last one started; runs for the *same* instance are serialised by `create_golden_image` itself: it waits
while the instance is busy imaging, and when OCI answers 409 inside the 20-minute window it waits with backoff
and asks again (never failing on the window, never hammering) until the window opens. No pool is needed (a pool
would serialise all instances, not each one). If an overlapping run of the same instance re-attached iSCSI
volumes meanwhile, the next attempt is refused for iSCSI and the task's retry detaches them again.

Tasks: `validate_request` (every field, before any API call) → `check_fleet_hostnames` (read-only) →
`create_golden_image` → `export_image` (only with `export_bucket`) → `launch_fleet` (one per instance, each
waits RUNNING) → `report` (image, export, instances, hostnames and IPs; an Asset event `oci://<region>/<image id>`
through the alias `oci-images`; the run fails when something asked for was not made). Everything made is kept.
"""


with DAG(
    DAG_ID,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=16,  # different instances image in parallel; the same instance waits in create_golden_image
    render_template_as_native_obj=True,
    dagrun_timeout=timedelta(hours=8),
    doc_md=DOC,
    tags=["oci", "image", "golden-image", "on-demand"],
    default_args={"owner": "platform", **RETRY_BUDGET.task_args(),
                  "execution_timeout": timedelta(hours=2)},
    params={
        "instance_id": Param("", type="string", pattern=OPTIONAL_OCID,
                             description="The configured instance to image (required)"),
        "image_name": Param("", type="string", maxLength=255,
                            description="Display name of the image (default: golden-<instance>-<time>)"),
        "iscsi_policy": Param("refuse", enum=["refuse", "detach_and_reattach"],
                              description="iSCSI volumes attached: fail naming them, or log out, detach, image "
                                          "and re-attach"),
        "launch_mode": Param("", enum=["", "NATIVE", "EMULATED", "PARAVIRTUALIZED", "CUSTOM"],
                             description="Launch mode of the image (empty: the instance's)"),
        "compartment_id": Param("", type="string", pattern=OPTIONAL_OCID,
                                description="Compartment of the image (empty: the instance's)"),
        "export_bucket": Param("", type="string", pattern=r"^[A-Za-z0-9._-]{0,256}$",
                               description="Export the image to this bucket (empty: no export)"),
        "export_namespace": Param("", type="string",
                                  description="Object Storage namespace of the bucket (Tenancy details)"),
        "export_object_name": Param("", type="string", maxLength=1024,
                                    description="Object name (default: golden-images/<image name>.<format>)"),
        "export_format": Param("VMDK", enum=["VMDK", "QCOW2"]),
        **fleet_params("web-{index:02d}"),
    },
) as dag:

    @task(multiple_outputs=True)
    def validate_request(params=None, dag_run=None) -> dict:
        """Every field, before any API call: the instance, the iSCSI policy, the export, the fleet's hostnames."""
        from hooks.errors import OciInputError
        from hooks.fleet import resolve_fleet
        from hooks.oci import validate_ocid
        from hooks.params import given
        from operators.images import IMAGE_FORMATS, LAUNCH_MODES

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
        when = getattr(dag_run, "run_after", None) or datetime.now()
        image_name = blank("image_name") or f"golden-{instance_id[-8:]}-{when:%Y%m%d-%H%M%S}"
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
        fleet = resolve_fleet(params)
        log.info("request: image %r of %s (iSCSI: %s)%s; fleet %s", image_name, instance_id, policy,
                 f", export to {export_bucket}/{export_object} as {export_format}" if export_bucket else "",
                 [(f["hostname"], f["os_type"]) for f in fleet] or "none")
        return {"instance_id": instance_id, "image_name": image_name, "detach_iscsi": policy == "detach_and_reattach",
                "iscsi_policy": policy, "launch_mode": launch_mode, "compartment_id": blank("compartment_id"),
                "image_tags": {"golden-image-of": instance_id},
                "export": bool(export_bucket), "export_bucket": export_bucket, "export_namespace": export_namespace,
                "export_object_name": export_object if export_bucket else None, "export_format": export_format,
                "fleet": fleet}

    @task
    def check_fleet_hostnames(fleet: list[dict]) -> list[dict]:
        """Read-only, before the instance is stopped for imaging: the subnet takes hostnames and none is in use
        there. Returns one launch request per instance, the list `launch_fleet` maps over."""
        from hooks.fleet import check_hostnames_free
        from hooks.oci import OciHook

        check_hostnames_free(OciHook(), fleet)
        return fleet

    request = validate_request()
    fleet = check_fleet_hostnames(request["fleet"])
    create = OciCreateImageFromInstanceOperator(
        task_id="create_golden_image", instance_id=request["instance_id"], display_name=request["image_name"],
        detach_iscsi=request["detach_iscsi"], launch_mode=request["launch_mode"],
        compartment_id=request["compartment_id"], freeform_tags=request["image_tags"],
        # the wait for the 20-minute window and the imaging itself both count against max_wait
        max_wait=3 * 3600, execution_timeout=timedelta(hours=4), **WAIT)
    export = OciExportImageOperator(
        task_id="export_image", image_id=IMAGE_ID, enabled=request["export"], namespace=request["export_namespace"],
        bucket=request["export_bucket"], object_name=request["export_object_name"],
        export_format=request["export_format"], max_wait=6 * 3600, execution_timeout=timedelta(hours=6), **WAIT)
    launch = OciLaunchInstanceOperator.partial(
        task_id="launch_fleet", image_id=IMAGE_ID, trigger_rule="none_failed",  # runs after a skipped export too
        map_index_template="{{ task.hostname }}", **WAIT,
    ).expand_kwargs(fleet)

    # retries=0: the report reads what the run left; another try would read the same and fail the same
    @task(trigger_rule="all_done", retries=0, outlets=[AssetAlias(IMAGE_ASSET_ALIAS)])
    def report(ti=None, outlet_events=None) -> dict:
        """What was made, from each task's XCom (a task that failed left none); an Asset event for the image;
        fails the run when something asked for was not made (after listing what exists)."""
        from hooks.errors import OciWaitError
        from hooks.fleet import add_image_event, instance_lines, pull_mapped

        request = ti.xcom_pull(task_ids="validate_request")
        if not request:
            raise OciWaitError("nothing was done: the request was refused (see validate_request)")
        image = ti.xcom_pull(task_ids="create_golden_image")
        exported = ti.xcom_pull(task_ids="export_image") if request["export"] else None
        instances = pull_mapped(ti, "launch_fleet", len(request["fleet"]))
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
        if request["export"]:
            if exported:
                obj = exported["object"]
                lines.append(f"- exported as {exported['export_format']} to {obj['namespace']}/{obj['bucket']}/"
                             f"{obj['name']} ({exported['size_bytes']} bytes)")
            else:
                problems.append(f"the image was not exported to {request['export_bucket']}")
        fleet_lines, rows, missing = instance_lines(instances, request["fleet"])
        lines += fleet_lines
        problems += missing
        lines += [f"! {p}" for p in problems]
        log.info("\n%s", "\n".join(lines))
        result = {"image": image and {k: image.get(k) for k in ("image_id", "display_name", "lifecycle_state",
                                                                "size_in_mbs", "instance_id", "instance_state",
                                                                "detached", "reattached", "region")},
                  "export": exported, "instances": rows, "hostnames": [r["hostname"] for r in rows],
                  "private_ips": [r["private_ip"] for r in rows], "problems": problems}
        if image:
            add_image_event(outlet_events, image, {"image_id": image["image_id"],
                                                   "display_name": image["display_name"],
                                                   "source_instance_id": request["instance_id"],
                                                   "export": exported and exported["object"],
                                                   "instances": [r["instance_id"] for r in rows]})
        if problems:
            ti.xcom_push(key="report", value=result)
            raise OciWaitError("golden image incomplete: " + "; ".join(problems))
        return result

    fleet >> create >> export >> launch >> report()
