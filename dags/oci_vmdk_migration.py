"""VMDK/QCOW2 migration: a disk image from another platform becomes an OCI custom image and, optionally, a fleet.

Parse-time cost: this file imports only Airflow and the project's operator and hook modules (they import the
OCI SDK inside their methods). Nothing here calls an API; the request is read and checked at run time.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta

from airflow.sdk import DAG, AssetAlias, Param, task
from hooks.fleet import IMAGE_ASSET_ALIAS, OPTIONAL_OCID, fleet_params
from hooks.oci import RETRY_BUDGET
from operators.base import wait_settings
from operators.compute import OciLaunchInstanceOperator
from operators.images import OciImportImageOperator
from operators.object_storage import OciUploadFileOperator

DAG_ID = "oci_vmdk_migration"
log = logging.getLogger(__name__)
# How often waits look at OCI (backoff from the first to the second); tests shorten them.
WAIT = wait_settings()

DOC = """
### VMDK migration

Turns a **VMDK or QCOW2 disk image** (exported from VMware, KVM, another cloud) into an **OCI custom image**, and
optionally launches a **fleet** of instances from it, each with its own hostname.

**Source** (give one):
- `source_uri`: the object's URI, `https://objectstorage.<region>.oraclecloud.com/n/<namespace>/b/<bucket>/o/<object>`;
- `namespace`, `bucket` and `object_name` of an object already in Object Storage;
- `local_path`: a file on the Airflow worker, **uploaded first** to `bucket` / `object_name` (default
  `migrations/<file name>`) in parts of `part_size_mb` (multipart, parallel, resumable by a retry, MD5 checked).

**Image**: `image_name` (default: the object's file name), `source_image_type` (`VMDK` monolithicSparse or
streamOptimized, or `QCOW2`), `launch_mode`, `operating_system` / `operating_system_version`, `compartment_id`
(default: the bucket's). Before the import the object is checked: it exists, its first bytes are a header of
that type, and its virtual disk is at most 400 GB (OCI would fail the import only minutes later).

**Fleet** (optional): `fleet_count` instances named by `hostname_pattern` (`app-{index:02d}` gives app-01, app-02,
...) with one `os_type`, or an explicit `fleet` list of `{"hostname": ..., "os_type": "linux"|"windows"}` for a
mixed fleet; `shape` (+ `ocpus` / `memory_in_gbs` for Flex shapes), `subnet_id`, `availability_domain`,
`ssh_authorized_keys` (Linux). Linux instances get their hostname through the VNIC's `hostname_label` and
cloud-init; Windows instances also get cloudbase-init user data that renames the computer and reboots once.
Hostnames are checked before anything is made (valid labels, Windows names at most 15 characters and not all
digits, no duplicates in the fleet, none already taken in the subnet).

Tasks: `validate_request` (every field, before any API call) → `check_fleet_hostnames` (read-only: the subnet
has a DNS label and none of the hostnames is in use there) → `upload_disk` (only for `local_path`) →
`import_image` (deferred while OCI imports) → `launch_instance` (one per instance, each waits RUNNING) →
`report` (image, instances, hostnames and IPs in the log and XCom; an Asset event `oci://<region>/<image id>`
through the alias `oci-images`; the run fails when something asked for was not made).

The image and instances are **kept**: they are the result. An uploaded object stays in its bucket.
"""


def _upload(field: str) -> str:
    """Jinja for a field of the upload validate_request planned (None when nothing is uploaded)."""
    return "{{ (ti.xcom_pull(task_ids='validate_request', key='upload') or {}).get('" + field + "') }}"


with DAG(
    DAG_ID,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=8,
    render_template_as_native_obj=True,
    dagrun_timeout=timedelta(hours=12),
    doc_md=DOC,
    tags=["oci", "migration", "image", "on-demand"],
    default_args={"owner": "platform", **RETRY_BUDGET.task_args(),
                  "execution_timeout": timedelta(hours=2)},
    params={
        "source_uri": Param("", type="string", pattern=r"^(https://([a-z0-9-]+\.)?objectstorage\..+/n/.+/b/.+/o/.+)?$",
                            description="Object Storage URI of the disk image (or namespace/bucket/object_name, "
                                        "or local_path)"),
        "namespace": Param("", type="string", description="Object Storage namespace of the object"),
        "bucket": Param("", type="string", pattern=r"^[A-Za-z0-9._-]{0,256}$",
                        description="Bucket of the object (also where local_path is uploaded to)"),
        "object_name": Param("", type="string", maxLength=1024,
                             description="Object name (for local_path: default migrations/<file name>)"),
        "local_path": Param("", type="string", pattern=r"^(/.*)?$",
                            description="Absolute path of a disk image on the Airflow worker, to upload first"),
        "part_size_mb": Param(128, type="integer", minimum=1, maximum=51200,
                              description="Multipart upload part size in MiB (local_path)"),
        "image_name": Param("", type="string", maxLength=255,
                            description="Display name of the image (default: the object's file name)"),
        "source_image_type": Param("VMDK", enum=["VMDK", "QCOW2"]),
        "launch_mode": Param("PARAVIRTUALIZED", enum=["PARAVIRTUALIZED", "NATIVE", "EMULATED"],
                             description="PARAVIRTUALIZED for modern guests; EMULATED for old ones without "
                                         "virtio drivers"),
        "operating_system": Param("", type="string", description="e.g. Oracle Linux, Windows"),
        "operating_system_version": Param("", type="string", description="e.g. 9, Server 2022 Standard"),
        "compartment_id": Param("", type="string", pattern=OPTIONAL_OCID,
                                description="Compartment of the image (empty: the bucket's)"),
        **fleet_params(),
    },
) as dag:

    @task(multiple_outputs=True)
    def validate_request(params=None) -> dict:
        """Every field, before any API call: exactly one source form, the image's fields, the fleet's hostnames."""
        import posixpath

        from hooks.errors import OciInputError
        from hooks.fleet import resolve_fleet
        from hooks.oci import validate_ocid
        from hooks.params import given
        from operators.images import IMAGE_FORMATS, IMPORT_LAUNCH_MODES, parse_object_uri

        def blank(name):
            return given(params, name)

        uri, local = blank("source_uri"), blank("local_path")
        namespace, bucket, object_name = blank("namespace"), blank("bucket"), blank("object_name")
        if uri and local:
            raise OciInputError(f"source_uri {uri!r} and local_path {local!r}: give one source")
        upload = None
        if local:
            if not os.path.isabs(local):
                raise OciInputError(f"local_path {local!r}: an absolute path on the Airflow worker")
            if not bucket:
                raise OciInputError(f"bucket: required to upload local_path {local!r} (the bucket it goes to)")
            object_name = object_name or f"migrations/{os.path.basename(local)}"
            upload = {"local_path": local, "bucket": bucket, "object_name": object_name, "namespace": namespace,
                      "part_size_mb": params.get("part_size_mb") or 128}
            source_label = f"{local} (uploaded to {bucket}/{object_name})"
        elif uri:
            if namespace or bucket or object_name:
                raise OciInputError("source_uri and namespace/bucket/object_name: give one or the other, not both")
            target = parse_object_uri(uri, "source_uri")
            object_name, source_label = target["object"], uri
        else:
            missing = [n for n, v in (("namespace", namespace), ("bucket", bucket), ("object_name", object_name))
                       if not v]
            if missing:
                raise OciInputError(f"source: give source_uri, or namespace, bucket and object_name (missing "
                                    f"{missing}), or local_path")
            source_label = f"{namespace}/{bucket}/{object_name}"
        if params.get("source_image_type") not in IMAGE_FORMATS:
            raise OciInputError(f"source_image_type {params.get('source_image_type')!r}: one of {IMAGE_FORMATS}")
        if params.get("launch_mode") not in IMPORT_LAUNCH_MODES:
            raise OciInputError(f"launch_mode {params.get('launch_mode')!r}: one of {IMPORT_LAUNCH_MODES}")
        if blank("compartment_id"):
            validate_ocid(params["compartment_id"], "compartment_id", "compartment")
        image_name = blank("image_name") or posixpath.basename(object_name).rsplit(".", 1)[0] or "migrated-image"
        if len(image_name) > 255:
            raise OciInputError(f"image_name {image_name[:40]!r}...: at most 255 characters")
        fleet = resolve_fleet(params)
        log.info("request: %s image %r from %s; fleet %s", params["source_image_type"], image_name, source_label,
                 [(f["hostname"], f["os_type"]) for f in fleet] or "none")
        return {"upload": upload, "upload_enabled": bool(upload), "source_label": source_label,
                # what the import reads when nothing is uploaded (an upload's own URI otherwise)
                "source_uri": None if upload else uri,
                "namespace": None if upload or uri else namespace,
                "bucket": None if upload or uri else bucket,
                "object_name": None if upload or uri else object_name,
                "image_name": image_name, "source_image_type": params["source_image_type"],
                "launch_mode": params["launch_mode"], "operating_system": blank("operating_system"),
                "operating_system_version": blank("operating_system_version"),
                "compartment_id": blank("compartment_id"), "fleet": fleet}

    @task
    def check_fleet_hostnames(fleet: list[dict]) -> list[dict]:
        """Read-only, before the upload and import (hours): the subnet takes hostnames and none is in use there.
        Returns one launch request per instance, the list `launch_instance` maps over."""
        from hooks.fleet import check_hostnames_free
        from hooks.oci import OciHook

        check_hostnames_free(OciHook(), fleet)
        return fleet

    request = validate_request()
    fleet = check_fleet_hostnames(request["fleet"])
    upload_disk = OciUploadFileOperator(
        task_id="upload_disk", enabled=request["upload_enabled"], local_path=_upload("local_path"),
        bucket=_upload("bucket"), object_name=_upload("object_name"), namespace=_upload("namespace"),
        part_size_mb=_upload("part_size_mb"), execution_timeout=timedelta(hours=8), **WAIT)
    import_image = OciImportImageOperator(
        task_id="import_image", trigger_rule="none_failed",  # runs after a skipped upload too
        display_name=request["image_name"],
        # the upload's URI when a local file went up, else the request's (None when given as a tuple)
        source_uri="{{ ti.xcom_pull(task_ids='upload_disk')['uri'] "
                   "if ti.xcom_pull(task_ids='validate_request', key='upload_enabled') "
                   "else ti.xcom_pull(task_ids='validate_request', key='source_uri') }}",
        namespace=request["namespace"], bucket=request["bucket"], object_name=request["object_name"],
        source_image_type=request["source_image_type"], launch_mode=request["launch_mode"],
        operating_system=request["operating_system"], operating_system_version=request["operating_system_version"],
        compartment_id=request["compartment_id"], max_wait=8 * 3600, execution_timeout=timedelta(hours=8), **WAIT)
    launch = OciLaunchInstanceOperator.partial(
        task_id="launch_instance", image_id="{{ ti.xcom_pull(task_ids='import_image')['image_id'] }}",
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
        uploaded = ti.xcom_pull(task_ids="upload_disk") if request["upload_enabled"] else None
        image = ti.xcom_pull(task_ids="import_image")
        instances = pull_mapped(ti, "launch_instance", len(request["fleet"]))
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
        fleet_lines, rows, missing = instance_lines(instances, request["fleet"])
        lines += fleet_lines
        problems += missing
        lines += [f"! {p}" for p in problems]
        log.info("\n%s", "\n".join(lines))
        result = {"image": image and {k: image.get(k) for k in ("image_id", "display_name", "lifecycle_state",
                                                                "size_in_mbs", "virtual_size_bytes",
                                                                "source_image_type", "source", "region")},
                  "upload": uploaded, "instances": rows, "hostnames": [r["hostname"] for r in rows],
                  "private_ips": [r["private_ip"] for r in rows], "problems": problems}
        if image:
            add_image_event(outlet_events, image, {"image_id": image["image_id"],
                                                   "display_name": image["display_name"],
                                                   "source": image["source"],
                                                   "instances": [r["instance_id"] for r in rows]})
        if problems:
            ti.xcom_push(key="report", value=result)
            raise OciWaitError("VMDK migration incomplete: " + "; ".join(problems))
        return result

    fleet >> upload_disk >> import_image >> launch >> report()
