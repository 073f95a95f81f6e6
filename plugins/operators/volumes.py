"""Volumes: clone, restore from a backup, attach, detach, delete; block and boot volumes alike.

A clone is OCI's immediate point-in-time deep copy; a restore makes a new volume from a backup and takes time
that grows with size, so its time (the RTO) is measured and returned.
"""

from __future__ import annotations

from common.errors import OciInputError
from common.ids import ocid_kind, validate_ocid
from common.tags import inherited, restored_tags
from common.verification import check_level
from common.xcom import VERIFY_XCOM_KEY
from forms.checks import check_backup_id, check_volume_id
from forms.params import flag
from hooks.block_storage import OciBlockStorageHook
from triggers.results import new_volume_xcom, verified, volume_result

from operators.base import OciWaitingOperator, oci_template_fields, renamed

ATTACHMENT_TYPES = ("paravirtualized", "iscsi")


class _NewVolumeOperator(OciWaitingOperator):
    """Shared by clone and restore: create with a retry token, remember for on_kill, link, wait AVAILABLE."""

    hook_class = OciBlockStorageHook

    end_task = "new_volume"  # triggers.results.new_volume_xcom, which `finish` uses too
    multiple_outputs = True  # `task.output["volume_id"]`

    def create_volume(self, context, kind: str, details, check: dict | None = None) -> dict:
        client = self.hook.get_client("blockstorage", self.region)
        create = client.create_volume if kind == "volume" else client.create_boot_volume
        made = create(details, opc_retry_token=self.retry_token(context)).data
        self.remember(made.id)
        self.link(context, made.id)
        self.log.info("%s %s requested (%s)", kind, made.id, made.lifecycle_state)
        # ready_at: the trigger fills in OCI's clock at the first look that saw the volume AVAILABLE
        result = volume_result(made, self.hook.region) | {"ready_at": None} | ({"check": check} if check else {})
        return self.wait_or_defer(context, self.hook.lifecycle_spec(made.id, ["AVAILABLE"]), result)

    def finish(self, context, result: dict) -> dict:
        """The XCom as the trigger would have ended the task with it (`new_volume_xcom`): the time to AVAILABLE
        (a restore's RTO) on OCI's clock, to the trigger's first look that saw it AVAILABLE or to this read right
        after a blocking wait; never this machine's clock, so it does not include the time a deferred task
        waited to resume. An `api`-level check's failure fails the task here, after tagging the backup."""
        import oci

        service, getter, _, _ = self.hook.resource_api(result["volume_id"])
        response = getattr(self.hook.get_client(service, self.region), getter)(result["volume_id"])
        xcom = new_volume_xcom(oci.util.to_dict(response.data),
                               {**result, "region": self.hook.region, "read_at": response.headers["date"]})
        self._made.clear()  # it is made: no longer on_kill's to remove
        mark = verified(xcom)
        if mark:
            self.hook.mark_verified(*mark, self.region)
        check = xcom.get(VERIFY_XCOM_KEY)
        if check and not check["passed"]:
            from airflow.sdk.exceptions import AirflowFailException

            from operators.verify import failure_text, mark_failed

            mark_failed(self.hook, check, self.region, self.log)
            context["ti"].xcom_push(key=VERIFY_XCOM_KEY, value=check)
            # not retried: a new try would check the same restored volume again
            raise AirflowFailException(failure_text(self.hook, check, self.region))
        return xcom


class OciCloneVolumeOperator(_NewVolumeOperator):
    """Clone a block volume or boot volume into a new volume of the same kind.

    XCom: volume_id, kind, display_name, availability_domain, compartment_id, size_in_gbs, lifecycle_state, region,
    seconds_to_available, rto_source.

    :param volume_id: the block volume or boot volume to clone (templated)
    :param display_name: the new volume's display name (1 to 255 characters); None: the source's with ``-clone``
        (templated)
    :param availability_domain: the availability domain to clone into; None: the source's (templated)
    :param size_in_gbs: the clone's size; None: the source's
    :param freeform_tags: freeform tags added to the clone, after the source's own (the managing DAG's tags are
        added too) (templated)
    :param compartment_id: the compartment to clone into; None: the source's (templated)
    :param source_volume_id: deprecated: the old name of ``volume_id``
    """

    plan_operation = "CreateVolume"
    template_fields = oci_template_fields("volume_id", "display_name", "availability_domain", "freeform_tags",
                                          "compartment_id")
    renamed_arguments = {"source_volume_id": "volume_id"}
    required_arguments = ("volume_id",)

    def __init__(self, *, volume_id: str | None = None, display_name: str | None = None,
                 availability_domain: str | None = None, size_in_gbs: int | None = None,
                 freeform_tags: dict | None = None, compartment_id: str | None = None,
                 source_volume_id: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.compartment_id = compartment_id
        self.volume_id = renamed("volume_id", volume_id, "source_volume_id", source_volume_id)
        self.display_name = display_name
        self.availability_domain = availability_domain
        self.size_in_gbs = size_in_gbs
        self.freeform_tags = freeform_tags

    def validate_inputs(self) -> None:
        check_volume_id(self.volume_id)  # the same rule as the clone's and restore's forms (forms/checks.py)

    def execute_step(self, context) -> dict:
        import oci

        kind = ocid_kind(self.volume_id)
        source = self.hook.get_resource(self.volume_id, self.region)
        common = {"compartment_id": self.compartment_id or source.compartment_id,
                  "availability_domain": self.availability_domain or source.availability_domain,
                  "display_name": self.display_name or f"{source.display_name}-clone",
                  "size_in_gbs": self.size_in_gbs or source.size_in_gbs,
                  "freeform_tags": self.managed_tags(context, {**inherited(source.freeform_tags),
                                                               **(self.freeform_tags or {})})}
        m = oci.core.models
        if kind == "volume":
            details = m.CreateVolumeDetails(source_details=m.VolumeSourceFromVolumeDetails(id=source.id), **common)
        else:
            details = m.CreateBootVolumeDetails(source_details=m.BootVolumeSourceFromBootVolumeDetails(id=source.id),
                                                **common)
        return self.create_volume(context, kind, details)


class OciRestoreVolumeOperator(_NewVolumeOperator):
    """Restore a volume backup (→ block volume) or boot volume backup (→ boot volume) into a new volume.

    XCom: volume_id, kind, display_name, availability_domain, compartment_id, size_in_gbs, lifecycle_state, region,
    seconds_to_available, rto_source With ``verification_level`` ``api``, also verification (source_id, backup_id,
    restored_volume_id, level, passed, restore_seconds, detail, check_seconds, verified_at).

    :param backup_id: the volume backup (restored as a block volume) or boot volume backup (as a boot volume)
        (templated)
    :param availability_domain: the availability domain to restore in; None: the source volume's (templated)
    :param display_name: the new volume's display name (1 to 255 characters); None: the backup's with ``-restore``
        (templated)
    :param size_in_gbs: the new volume's size; None: the backup's
    :param freeform_tags: freeform tags added to the volume, after the backup's own (the managing DAG's tags are
        added too); with ``airflow-temporary`` (a test restore) the backup's own are not copied, so the restore
        never looks protected or grouped, from the create request on (templated)
    :param compartment_id: the compartment to restore in; None: the backup's (templated)
    :param verification_level: a test restore's verification level; at ``api`` (and at ``boot`` for a block volume,
        which is checked at ``api`` level) the restore checks itself (AVAILABLE
        with the backup's size, in the look that ends the wait) and carries the result as ``verification`` (also
        under that XCom key), tagging the backup ``verified-at``; a failed check fails the task, naming the volume;
        other levels and None: no check here (templated)
    """

    plan_operation = "CreateVolume"
    template_fields = oci_template_fields("backup_id", "display_name", "availability_domain", "freeform_tags",
                                          "compartment_id", "verification_level")

    def __init__(self, *, backup_id: str, availability_domain: str | None = None, display_name: str | None = None,
                 size_in_gbs: int | None = None, freeform_tags: dict | None = None,
                 compartment_id: str | None = None, verification_level: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.verification_level = verification_level
        self.compartment_id = compartment_id
        self.backup_id = backup_id
        self.availability_domain = availability_domain
        self.display_name = display_name
        self.size_in_gbs = size_in_gbs
        self.freeform_tags = freeform_tags

    def validate_inputs(self) -> None:
        check_backup_id(self.backup_id)  # the same rule as the restore's form (workflows/restore.py)
        check_level(self.verification_level, optional=True)

    def execute_step(self, context) -> dict:
        import oci

        backup = self.hook.get_resource(self.backup_id, self.region)
        if backup.lifecycle_state != "AVAILABLE":
            raise OciInputError(f"backup_id {self.backup_id!r}: is {backup.lifecycle_state}, must be AVAILABLE")
        is_boot = ocid_kind(self.backup_id) == "bootvolumebackup"
        ad = self.availability_domain or self._source_ad(backup, is_boot)
        common = {"compartment_id": self.compartment_id or backup.compartment_id, "availability_domain": ad,
                  "display_name": self.display_name or f"{backup.display_name}-restore",
                  "size_in_gbs": self.size_in_gbs or backup.size_in_gbs,
                  "freeform_tags": self.managed_tags(context, {
                      **restored_tags(backup.freeform_tags, self.freeform_tags), **(self.freeform_tags or {})})}
        m = oci.core.models
        # api level (and boot level for a block volume, which cannot boot): the look that ends the wait is the
        # check (triggers/results.py, new_volume_xcom)
        check = {"level": "api", "backup_id": backup.id, "size_in_gbs": backup.size_in_gbs,
                 "source_id": backup.boot_volume_id if is_boot else backup.volume_id} \
            if self.verification_level == "api" or (self.verification_level == "boot" and not is_boot) else None
        if is_boot:
            details = m.CreateBootVolumeDetails(
                source_details=m.BootVolumeSourceFromBootVolumeBackupDetails(id=backup.id), **common)
            return self.create_volume(context, "bootvolume", details, check)
        details = m.CreateVolumeDetails(source_details=m.VolumeSourceFromVolumeBackupDetails(id=backup.id), **common)
        return self.create_volume(context, "volume", details, check)

    def _source_ad(self, backup, is_boot: bool) -> str:
        """Restore next to the source volume unless told otherwise; a copied backup has no source here."""
        source_id = backup.boot_volume_id if is_boot else backup.volume_id
        try:
            return self.hook.get_resource(source_id, self.region).availability_domain
        except Exception as exc:
            raise OciInputError(f"availability_domain: required, the source volume of {backup.id} is not "
                                f"readable in this region ({exc.__class__.__name__})") from exc


class OciAttachVolumeOperator(OciWaitingOperator):
    """Attach a block volume to an instance (paravirtualized or iSCSI) at a device path; wait ATTACHED.

    XCom: attachment_id, instance_id, volume_id, attachment_type, device, lifecycle_state, region; iqn, ipv4, port
    for iSCSI.

    :param instance_id: the instance to attach to (templated)
    :param volume_id: the block volume to attach (templated)
    :param attachment_type: ``paravirtualized`` or ``iscsi``
    :param device: the device path on the instance, such as ``/dev/oracleoci/oraclevdb``; None: OCI's choice
        (templated)
    :param is_read_only: attach read-only
    :param display_name: the attachment's display name (templated)
    """

    hook_class = OciBlockStorageHook
    plan_operation = "AttachVolume"
    template_fields = oci_template_fields("instance_id", "volume_id", "device", "display_name")

    def __init__(self, *, instance_id: str, volume_id: str, attachment_type: str = "paravirtualized",
                 device: str | None = None, is_read_only: bool = False, display_name: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.instance_id = instance_id
        self.volume_id = volume_id
        self.attachment_type = attachment_type
        self.device = device
        self.is_read_only = is_read_only
        self.display_name = display_name

    def validate_inputs(self) -> None:
        validate_ocid(self.instance_id, "instance_id", "instance")
        validate_ocid(self.volume_id, "volume_id", "volume")
        self.is_read_only = flag(self.is_read_only, "is_read_only")
        if self.attachment_type not in ATTACHMENT_TYPES:
            raise OciInputError(f"attachment_type {self.attachment_type!r}: one of {ATTACHMENT_TYPES}")
        if self.device is not None and not self.device.startswith("/dev/"):
            raise OciInputError(f"device {self.device!r}: a device path starts with /dev/ "
                                f"(OCI's consistent paths are /dev/oracleoci/oraclevd[b-z])")

    def execute_step(self, context) -> dict:
        import oci

        m = oci.core.models
        cls = m.AttachParavirtualizedVolumeDetails if self.attachment_type == "paravirtualized" \
            else m.AttachIScsiVolumeDetails
        details = cls(instance_id=self.instance_id, volume_id=self.volume_id, device=self.device,
                      is_read_only=self.is_read_only, display_name=self.display_name)
        client = self.hook.get_client("compute", self.region)
        made = client.attach_volume(details, opc_retry_token=self.retry_token(context)).data
        self.remember(made.id)
        self.link(context, made.id, instance_id=self.instance_id)
        result = {"attachment_id": made.id, "instance_id": self.instance_id, "volume_id": self.volume_id,
                  "attachment_type": self.attachment_type, "device": made.device, "region": self.hook.region}
        return self.wait_or_defer(context, self.hook.lifecycle_spec(made.id, ["ATTACHED"]), result)

    def finish(self, context, result: dict) -> dict:
        att = self.hook.get_resource(result["attachment_id"], self.region)
        self._made.clear()
        extra = {"iqn": att.iqn, "ipv4": att.ipv4, "port": att.port} if att.attachment_type == "iscsi" else {}
        return {**result, "device": att.device, "lifecycle_state": att.lifecycle_state, **extra}


class OciDetachVolumeOperator(OciWaitingOperator):
    """Detach a volume attachment; wait DETACHED. Detaching what is already gone is success.

    XCom: attachment_id, detached, existed (whether it was still attached), region.

    :param attachment_id: the volume attachment to end; already detached or gone is success (templated)
    """

    hook_class = OciBlockStorageHook
    plan_operation = "DetachVolume"
    template_fields = oci_template_fields("attachment_id")

    def __init__(self, *, attachment_id: str, **kwargs):
        super().__init__(**kwargs)
        self.attachment_id = attachment_id

    def validate_inputs(self) -> None:
        validate_ocid(self.attachment_id, "attachment_id", "volumeattachment")

    def execute_step(self, context) -> dict:
        existed = self.hook.delete_resource(self.attachment_id, self.region)
        result = {"attachment_id": self.attachment_id, "detached": True, "existed": existed,
                  "region": self.hook.region}
        return self.wait_or_defer(context, self.hook.lifecycle_spec(self.attachment_id, ["DETACHED"], []), result)


class OciDeleteVolumeOperator(OciWaitingOperator):
    """Delete a block or boot volume; wait TERMINATED. Already gone is success (teardowns rerun safely).

    XCom: volume_id, deleted, existed, region.

    :param volume_id: the block volume or boot volume to delete; already gone is success (templated)
    """

    hook_class = OciBlockStorageHook
    plan_operation = "DeleteVolume"
    template_fields = oci_template_fields("volume_id")

    def __init__(self, *, volume_id: str, **kwargs):
        super().__init__(**kwargs)
        self.volume_id = volume_id

    def validate_inputs(self) -> None:
        check_volume_id(self.volume_id)  # the same rule as the clone's and restore's forms (forms/checks.py)

    def execute_step(self, context) -> dict:
        existed = self.hook.delete_resource(self.volume_id, self.region)
        result = {"volume_id": self.volume_id, "deleted": True, "existed": existed, "region": self.hook.region}
        return self.wait_or_defer(context, self.hook.lifecycle_spec(self.volume_id, ["TERMINATED"], []), result)
