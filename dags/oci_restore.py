"""Restore a volume from a backup (a chosen one, or a volume's newest verified one), optionally attached or booted.

Parse-time cost: this file imports only Airflow and the project's operator and hook modules (they import the
OCI SDK inside their methods). Nothing here calls an API; the request is read and checked at run time.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from airflow.sdk import DAG, Param, task
from hooks.oci import RETRY_BUDGET
from hooks.params import DEFAULT_SHAPE, DEVICE_PATTERN, OPTIONAL_HOSTNAME, OPTIONAL_OCID
from operators.base import wait_settings
from operators.compute import OciLaunchInstanceOperator
from operators.volumes import OciAttachVolumeOperator, OciRestoreVolumeOperator

DAG_ID = "oci_restore"
log = logging.getLogger("airflow.task")  # a task function's logging reaches its task log
# How often waits look at OCI (backoff from the first to the second); tests shorten them.
WAIT = wait_settings()

DOC = """
### Restore from a backup

Restores a **block volume backup** (to a new block volume) or a **boot volume backup** (to a new boot volume).
The source volume is never touched.

**Which backup** (give one):
- `backup_id`: exactly this backup (it must be AVAILABLE);
- `volume_id`: that volume's **newest verified backup**, the newest one carrying the `verified-at` tag that a
  passed test restore of the nightly DAG sets. With no verified backup the run **fails** and says so, unless
  `allow_unverified` is on: then the newest AVAILABLE backup is used, with a warning in the log and the report.

**Where**: `availability_domain` (empty: the source volume's), `compartment_id` (empty: the backup's),
`display_name` (empty: `<backup name>-restore`).

**Then, optionally**:
- a restored **block volume** is attached to `attach_instance_id` (paravirtualized, at `device` if given);
- on a restored **boot volume** an instance is launched (`launch_instance`) with `hostname`, `shape`,
  `ocpus`/`memory_in_gbs` (Flex shapes), `subnet_id` and `os_type` (Windows gets cloudbase-init to rename the
  computer, since OCI does not apply a custom hostname to a Windows instance launched from a restore).

Tasks: `validate_request` (every field checked before any API call) → `choose_backup` → `restore_volume`
(deferrable; its time to AVAILABLE is the restore time, the RTO) → `attach_restored_volume` /
`launch_on_restored_boot_volume` → `report`. The restored volume gets the backup's tags back (so a restore of a
protected volume is protected by the nightly DAG), plus `restored-from-backup`; it is **kept**.
"""

with DAG(
    DAG_ID,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    render_template_as_native_obj=True,
    dagrun_timeout=timedelta(hours=12),
    doc_md=DOC,
    tags=["oci", "restore", "on-demand"],
    default_args={"owner": "platform", **RETRY_BUDGET.task_args(),
                  "execution_timeout": timedelta(hours=8)},
    params={
        "backup_id": Param("", type="string", pattern=OPTIONAL_OCID,
                           description="Restore exactly this volume backup or boot volume backup"),
        "volume_id": Param("", type="string", pattern=OPTIONAL_OCID,
                           description="Or: restore this volume's newest verified backup"),
        "allow_unverified": Param(False, type="boolean",
                                  description="With volume_id: use the newest AVAILABLE backup when none is "
                                              "verified"),
        "availability_domain": Param("", type="string", description="AD of the new volume (empty: the source's)"),
        "compartment_id": Param("", type="string", pattern=OPTIONAL_OCID,
                                description="Compartment of the new volume (empty: the backup's)"),
        "display_name": Param("", type="string", maxLength=255,
                              description="Name of the new volume (empty: <backup name>-restore)"),
        "attach_instance_id": Param("", type="string", pattern=OPTIONAL_OCID,
                                    description="Attach a restored block volume to this instance"),
        "device": Param("", type="string", pattern=DEVICE_PATTERN,
                        description="Device path for the attachment, like /dev/oracleoci/oraclevdd (empty: none)"),
        "launch_instance": Param(False, type="boolean",
                                 description="Launch an instance on a restored boot volume"),
        "hostname": Param("", type="string", pattern=OPTIONAL_HOSTNAME, maxLength=63,
                          description="Hostname of the new instance (required to launch; unique in the subnet)"),
        "os_type": Param("linux", enum=["linux", "windows"]),
        "shape": Param(DEFAULT_SHAPE, type="string", pattern=r"^(VM|BM)\.[A-Za-z0-9.]+$"),
        "ocpus": Param(1, type="number", minimum=1, maximum=64, description="OCPUs for a Flex shape"),
        "memory_in_gbs": Param(16, type="number", minimum=1, maximum=1024, description="Memory for a Flex shape"),
        "subnet_id": Param("", type="string", pattern=OPTIONAL_OCID,
                           description="Subnet of the new instance (required to launch)"),
    },
) as dag:

    @task(multiple_outputs=True)
    def validate_request(params=None) -> dict:
        """Every field, before any API call: which backup, and what an attach or a launch needs."""
        from hooks.errors import OciInputError
        from hooks.oci import ocid_kind, validate_ocid
        from hooks.params import given
        from hooks.user_data import validate_hostname, validate_os_type

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
                "subnet_id": blank("subnet_id")}

    @task(multiple_outputs=True)
    def choose_backup(request: dict) -> dict:
        """The given backup, or the volume's newest verified one (newest AVAILABLE only when allowed)."""
        import oci
        from hooks.errors import OciInputError
        from hooks.oci import OciHook
        from operators.backup_policy import VERIFIED_TAG, all_backups, newest_verified
        from operators.backups import backup_result

        hook = OciHook()
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
            backups = all_backups(hook, {"volume_id": volume.id, "compartment_id": volume.compartment_id,
                                         "region": hook.region})
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
                log.warning("volume %s: no verified backup; allow_unverified: restoring the newest AVAILABLE "
                            "backup %s of %s, which was never test-restored", volume.id, backup["backup_id"],
                            backup["time_created"])
        tags = backup["freeform_tags"]
        restore_tags = {"restored-from-backup": backup["backup_id"]}
        log.info("restoring %s backup %s (%s) of %s, made %s; chosen by %s; verified: %s", backup["type"],
                 backup["backup_id"], backup["display_name"], backup["source_id"], backup["time_created"], chosen_by,
                 tags.get(VERIFIED_TAG) or "never")
        return {"backup_id": backup["backup_id"], "kind": backup["kind"], "source_id": backup["source_id"],
                "type": backup["type"], "display_name": backup["display_name"], "size_in_gbs": backup["size_in_gbs"],
                "time_created": backup["time_created"], "verified_at": tags.get(VERIFIED_TAG) or None,
                "verified_level": tags.get("verified-level") or None, "chosen_by": chosen_by,
                "restore_tags": restore_tags}

    request = validate_request()
    chosen = choose_backup(request)
    restore = OciRestoreVolumeOperator(
        task_id="restore_volume", backup_id=chosen["backup_id"], availability_domain=request["availability_domain"],
        compartment_id=request["compartment_id"], display_name=request["display_name"],
        freeform_tags=chosen["restore_tags"], **WAIT)
    restored_id = "{{ ti.xcom_pull(task_ids='restore_volume')['volume_id'] }}"
    restored_compartment = "{{ ti.xcom_pull(task_ids='restore_volume')['compartment_id'] }}"
    attach = OciAttachVolumeOperator(
        task_id="attach_restored_volume", instance_id=request["attach_instance_id"], volume_id=restored_id,
        device=request["device"], enabled=request["attach"], **WAIT)
    launch = OciLaunchInstanceOperator(
        task_id="launch_on_restored_boot_volume", boot_volume_id=restored_id, hostname=request["hostname"],
        os_type=request["os_type"], shape=request["shape"], shape_config=request["shape_config"],
        subnet_id=request["subnet_id"], compartment_id=restored_compartment,
        enabled=request["launch"], **WAIT)

    @task(trigger_rule="all_done", retries=0)
    def report(ti=None) -> dict:
        """Which backup, the new volume and its restore time (RTO), the attachment or instance; fails the run when
        something asked for was not done (the restored volume is kept either way)."""
        from hooks.errors import OciWaitError

        def pull(task_id):
            try:
                return ti.xcom_pull(task_ids=task_id)
            except Exception:  # a task that never ran has no XCom
                return None

        request, backup, restored = pull("validate_request"), pull("choose_backup"), pull("restore_volume")
        if not request or not backup:
            raise OciWaitError("nothing was restored: the request was refused (see validate_request and "
                               "choose_backup)")
        attached = pull("attach_restored_volume") if request["attach"] else None
        instance = pull("launch_on_restored_boot_volume") if request["launch"] else None
        problems = []
        if not restored:
            problems.append(f"backup {backup['backup_id']} was not restored")
        if request["attach"] and not attached:
            problems.append(f"the restored volume was not attached to {request['attach_instance_id']}")
        if request["launch"] and not instance:
            problems.append(f"no instance was launched on the restored boot volume (hostname {request['hostname']})")
        lines = [f"Restore of {backup['type']} backup {backup['backup_id']} ({backup['display_name']}) of "
                 f"{backup['source_id']}, made {backup['time_created']}, chosen by {backup['chosen_by']}, verified "
                 f"{backup['verified_at'] or 'never'}"]
        if restored:
            lines.append(f"- new {restored['kind']} {restored['volume_id']} ({restored['display_name']}, "
                         f"{restored['size_in_gbs']} GB, {restored['availability_domain']}), AVAILABLE after "
                         f"{restored['seconds_to_available']} s")
        if attached:
            lines.append(f"- attached to {attached['instance_id']} at {attached['device'] or 'no device path'} "
                         f"({attached['attachment_id']})")
        if instance:
            lines.append(f"- instance {instance['instance_id']} RUNNING, hostname {instance['hostname']}, private IP "
                         f"{instance['private_ip']}")
        lines += [f"! {p}" for p in problems]
        log.info("\n%s", "\n".join(lines))
        result = {"backup": backup, "restored": restored, "attachment": attached, "instance": instance,
                  "rto_seconds": restored and restored.get("seconds_to_available"), "problems": problems}
        if problems:
            ti.xcom_push(key="report", value=result)
            raise OciWaitError("restore incomplete: " + "; ".join(problems))
        return result

    restore >> [attach, launch] >> report()
