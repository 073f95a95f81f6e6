"""Backups: create (block, boot or volume group; FULL or INCREMENTAL), copy to another region, delete, list.

OCI facts honoured: a backup inherits its volume's tags (we add ours, so retention knows what this project
made); manual backups never expire, so retention is ours; a copy lives in the destination region and is waited
for there with that region's client.
"""

from __future__ import annotations

from common.errors import OciInputError, OciWaitError
from common.ids import ocid_kind, validate_ocid, validate_region
from forms.checks import validate_backup_type
from hooks.block_storage import backup_result
from triggers.results import CARRIED, backup_xcom

from operators.base import OciBaseOperator, OciWaitingOperator, oci_template_fields, renamed

# source OCID type → (create method, details model, id field, backup kind)
SOURCES = {
    "volume": ("create_volume_backup", "CreateVolumeBackupDetails", "volume_id", "volumebackup"),
    "bootvolume": ("create_boot_volume_backup", "CreateBootVolumeBackupDetails", "boot_volume_id", "bootvolumebackup"),
    "volumegroup": ("create_volume_group_backup", "CreateVolumeGroupBackupDetails", "volume_group_id",
                    "volumegroupbackup"),
}
COPIES = {
    "volumebackup": ("copy_volume_backup", "CopyVolumeBackupDetails"),
    "bootvolumebackup": ("copy_boot_volume_backup", "CopyBootVolumeBackupDetails"),
    "volumegroupbackup": ("copy_volume_group_backup", "CopyVolumeGroupBackupDetails"),
}


class OciCreateBackupOperator(OciWaitingOperator):
    """Back up a block volume, boot volume or volume group; wait AVAILABLE; return sizes for the report.

    XCom: backup_id, kind, source_id, type, display_name, lifecycle_state, size_in_gbs, unique_size_in_gbs,
    unique_size_in_mbs, time_created, freeform_tags, region; with `quiesce`, consistency; with `planned`, also
    availability_domain, verify, dr_region and volume_name (the item's display_name) for the volume's later tasks.

    Give `planned`, an item of the nightly's plan (OciPlanBackupsOperator's return value), instead of volume_id,
    backup_type, adopt_backup_id and quiesce: a mapped task resolves each argument taken from its item by pulling
    the whole plan, so one argument is one pull where four were four (at 1000 volumes, 0.25 MB each).

    :param volume_id: the block volume, boot volume or volume group to back up (templated)
    :param backup_type: ``FULL`` or ``INCREMENTAL`` (templated)
    :param display_name: the new backup's display name (1 to 255 characters); None: the task id and run id
        (templated)
    :param freeform_tags: freeform tags added to the backup (the managing DAG's tags are added too) (templated)
    :param adopt_backup_id: a backup of ``volume_id`` that an earlier run or try made (the nightly plan's
        ``adopt_backup_id``): waited for and returned instead of making another, unless it is gone or failed
        (templated)
    :param planned: an item of the nightly plan, instead of the four above (templated)
    :param source_id: deprecated: the old name of ``volume_id``
    :param quiesce: quiesce the application on the volume around OCI's point in time (docs/quiesce.md): a spec
        such as ``postgres:pg_orders``, ``mariadb:shop``, ``oracle:erp``, ``fsfreeze:/data`` or
        ``script:<pre>,<post>[,<timeout>]``, or the nightly plan's ``quiesce``; None: crash-consistent (templated)
    :param max_quiesce_seconds: the longest the application stays quiesced; past it the bracket closes and the
        backup is crash-consistent; None: the plan's, else 30
    :param on_quiesce_failure: ``fail`` (XCom ``consistency.failed``; the nightly report fails the run) or
        ``crash_consistent`` (accepted); also whether a quiesce that cannot start stops the backup; None: the
        plan's, else ``fail``
    """

    @property
    def plan_operation(self) -> str:  # type: ignore[override]
        """CreateBootVolumeBackup for a boot volume (known once volume_id is rendered)."""
        boot = isinstance(self.volume_id, str) and ".bootvolume." in self.volume_id
        return "CreateBootVolumeBackup" if boot else "CreateVolumeBackup"
    template_fields = oci_template_fields("volume_id", "backup_type", "display_name", "freeform_tags",
                                          "adopt_backup_id", "quiesce", "planned")
    end_task = "backup"  # triggers.results.backup_xcom, which `finish` uses too
    renamed_arguments = {"source_id": "volume_id"}
    required_arguments = ("volume_id",)  # or `planned`, which fills it
    multiple_outputs = True  # `task.output["backup_id"]`

    def __init__(self, *, volume_id: str | None = None, backup_type: str = "INCREMENTAL",
                 display_name: str | None = None, freeform_tags: dict | None = None,
                 adopt_backup_id: str | None = None, source_id: str | None = None,
                 quiesce: str | dict | None = None, max_quiesce_seconds: float | None = None,
                 on_quiesce_failure: str | None = None, planned: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        self.planned = planned
        self.volume_id = renamed("volume_id", volume_id, "source_id", source_id)
        self.backup_type = backup_type
        self.display_name = display_name
        self.freeform_tags = freeform_tags
        self.adopt_backup_id = adopt_backup_id
        self.quiesce = quiesce
        self.max_quiesce_seconds = max_quiesce_seconds
        self.on_quiesce_failure = on_quiesce_failure
        self._bracket = None

    def validate_inputs(self) -> None:
        if self.planned is not None:
            if not isinstance(self.planned, dict) or not self.planned.get("volume_id"):
                raise OciInputError(f"planned {self.planned!r}: an item of the nightly plan (with volume_id)")
            self.volume_id, self.adopt_backup_id = self.planned["volume_id"], self.planned.get("adopt_backup_id")
            self.backup_type = self.planned.get("backup_type", self.backup_type)
            self.quiesce = self.planned.get("quiesce")
        validate_ocid(self.volume_id, "volume_id")
        if ocid_kind(self.volume_id) not in SOURCES:
            raise OciInputError(f"volume_id {self.volume_id!r}: must be a volume, boot volume or volume group OCID")
        validate_backup_type(self.backup_type)
        if self.adopt_backup_id:
            validate_ocid(self.adopt_backup_id, "adopt_backup_id", SOURCES[ocid_kind(self.volume_id)][3])

        from quiesce.spec import normalised

        self._quiesce = normalised(self.quiesce, [self.volume_id], self.max_quiesce_seconds, self.on_quiesce_failure)

    def earlier_backup(self, context) -> dict | None:
        """The backup of `volume_id` to take instead of making one: `adopt_backup_id` while it lives, else one an
        earlier try of this very task made (its tags name the run and the task), found in OCI: a cleared or
        killed try's XCom is gone, and a token can change with the request."""
        from operators.backup_policy import LIVE_BACKUP_STATES

        if ocid_kind(self.volume_id) == "volumegroup":
            return None  # a group's backups: OciBackupVolumeGroupOperator adopts them
        ti = context["ti"]
        if not self.adopt_backup_id and getattr(ti, "try_number", 2) <= 1:
            return None  # the plan found none of this run's, and no earlier try of this task exists: no list call
        backups = self.hook.list_backups(self.volume_id, region=self.region)
        live = [b for b in backups if b["lifecycle_state"] in LIVE_BACKUP_STATES and not b["volume_group_backup_id"]]
        if self.adopt_backup_id:
            wanted = [b for b in live if b["backup_id"] == self.adopt_backup_id]
            if wanted:
                return wanted[0]
            self.log.warning("adopt_backup_id %s: not a live backup of %s any more; making a new one",
                             self.adopt_backup_id, self.volume_id)
        mine = [b for b in live if b["freeform_tags"].get("airflow-dag") == ti.dag_id
                and b["freeform_tags"].get("airflow-run") == ti.run_id[:250]
                and b["freeform_tags"].get("airflow-task") == ti.task_id]
        return min(mine, key=lambda b: b["time_created"] or "") if mine else None

    def on_kill(self) -> None:
        if self._bracket is not None:  # the application leaves backup mode first, whatever else is undone
            self._bracket.close(aborting=True)
        super().on_kill()

    def execute_step(self, context) -> dict:
        import contextlib

        import oci
        from quiesce.bracket import Bracket

        earlier = self.earlier_backup(context)
        if earlier:
            self.link(context, earlier["backup_id"])
            self.log.info("adopting %s backup %s of %s (%s), made by run %s: no second backup", earlier["type"],
                          earlier["backup_id"], self.volume_id, earlier["lifecycle_state"],
                          earlier["freeform_tags"].get("airflow-run"))
            if self._quiesce:  # the earlier try's bracket may still hold the application: end it first
                Bracket(self.hook, self._quiesce, context, self.log, self.region).recover()
            return self.wait_or_defer(context, self.hook.lifecycle_spec(earlier["backup_id"], ["AVAILABLE"]),
                                      {"backup_id": earlier["backup_id"], "region": self.hook.region,
                                       **self.carried()})
        if self._quiesce:
            self._bracket = Bracket(self.hook, self._quiesce, context, self.log, self.region)
        with self._bracket or contextlib.nullcontext():
            made = self._request(context, oci)
            if self._bracket:
                self._bracket.wait_point_in_time(made.id)
        result = {"backup_id": made.id, "region": self.hook.region, **self.carried()}
        if self._bracket:
            self._bracket.tag([made.id])
            result["consistency"] = self._bracket.evidence
            if result["consistency"]["failed"]:
                self.log.error("backup %s is %s", made.id, result["consistency"]["text"])
        targets = ["AVAILABLE", "COMMITTED"] if ocid_kind(made.id) == "volumegroupbackup" else ["AVAILABLE"]
        return self.wait_or_defer(context, self.hook.lifecycle_spec(made.id, targets), result)

    def carried(self) -> dict:
        """The plan values the XCom passes on to the volume's later tasks (triggers/results.py, CARRIED)."""
        if self.planned is None:
            return {}
        item = {**self.planned, "volume_name": self.planned.get("display_name")}
        return {key: item.get(key) for key in CARRIED}

    def _request(self, context, oci):
        method, model, id_field, _ = SOURCES[ocid_kind(self.volume_id)]
        details = getattr(oci.core.models, model)(
            **{id_field: self.volume_id}, type=self.backup_type,
            display_name=self.display_name or f"{self.task_id}-{context['ti'].run_id}"[:255],
            freeform_tags=self.managed_tags(context, self.freeform_tags))
        client = self.hook.get_client("blockstorage", self.region)
        # the hook folds the body into the token; a re-run of this run adopts what its earlier try made above
        # (the plan reads it back and keeps its type), so a changed body means a changed intent
        made = getattr(client, method)(details, opc_retry_token=self.retry_token(context)).data
        self.remember(made.id)
        self.link(context, made.id)
        self.log.info("%s backup %s of %s requested", self.backup_type, made.id, self.volume_id)
        return made

    def finish(self, context, result: dict) -> dict:
        import oci

        self._made.clear()
        return backup_xcom(oci.util.to_dict(self.hook.get_resource(result["backup_id"], self.region)),
                           {**result, "region": self.hook.region})


class OciCopyBackupOperator(OciWaitingOperator):
    """Copy a volume, boot volume or volume group backup to another region (DR) and wait there for it to be
    AVAILABLE. A volume group backup's copy is one request that copies every member backup with it; a copy of any
    backup already in the destination region (an earlier try's or run's) is adopted, not made again.

    Give `backup_id`, or `volume_id` (a volume or boot volume) to copy the backup this DAG run made of it: how
    the nightly maps its copies over the volumes that have a DR region, without knowing backup ids up front.

    XCom: backup_id, kind, source_id, type, display_name, lifecycle_state, size_in_gbs, unique_size_in_gbs,
    unique_size_in_mbs, time_created, freeform_tags, region (the destination region), source_backup_id; for a
    volume group backup also member_backup_ids (the member copies in the destination region).

    :param destination_region: the region to copy to; must differ from the backup's (templated)
    :param backup_id: the volume, boot volume or volume group backup to copy; or give ``volume_id`` (templated)
    :param volume_id: a volume or boot volume: copy the backup this DAG run made of it (templated)
    :param display_name: the copy's display name; None: OCI's default (templated)
    :param source_id: deprecated: the old name of ``volume_id``
    """

    plan_operation = "CopyVolumeBackup"
    template_fields = oci_template_fields("backup_id", "volume_id", "destination_region", "display_name")
    renamed_arguments = {"source_id": "volume_id"}

    def __init__(self, *, destination_region: str, backup_id: str | None = None, volume_id: str | None = None,
                 display_name: str | None = None, source_id: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.backup_id = backup_id
        self.volume_id = renamed("volume_id", volume_id, "source_id", source_id)
        self.destination_region = destination_region
        self.display_name = display_name

    def validate_inputs(self) -> None:
        if bool(self.backup_id) == bool(self.volume_id):
            raise OciInputError("backup_id, volume_id: give exactly one (a backup, or the volume whose backup of "
                                "this run is copied)")
        if self.volume_id:
            validate_ocid(self.volume_id, "volume_id")
            if ocid_kind(self.volume_id) not in ("volume", "bootvolume"):
                raise OciInputError(f"volume_id {self.volume_id!r}: must be a volume or boot volume OCID")
        else:
            validate_ocid(self.backup_id, "backup_id")
            if ocid_kind(self.backup_id) not in COPIES:
                raise OciInputError(f"backup_id {self.backup_id!r}: only volume, boot volume and volume group backups "
                                    f"are copied")
        validate_region(self.destination_region, "destination_region")
        if self.destination_region == (self.region or self.hook.region):
            raise OciInputError(f"destination_region {self.destination_region!r}: must differ from the source region")

    def backup_of_this_run(self, context) -> str:
        """The newest AVAILABLE backup of `volume_id` tagged with this DAG run (copies excluded)."""
        ti = context["ti"]
        mine = [b for b in self.hook.list_backups(self.volume_id, region=self.region, lifecycle_state="AVAILABLE")
                if b["freeform_tags"].get("airflow-dag") == ti.dag_id
                and b["freeform_tags"].get("airflow-run") == ti.run_id[:250] and b["region"] == self.hook.region]
        if not mine:
            raise OciWaitError(f"volume_id {self.volume_id!r}: no AVAILABLE backup made by run {ti.run_id} to copy "
                               f"(its backup failed or is not done)")
        return mine[0]["backup_id"]

    def execute_step(self, context) -> dict:
        import oci

        if self.volume_id:
            self.backup_id = self.backup_of_this_run(context)
        method, model = COPIES[ocid_kind(self.backup_id)]
        details = getattr(oci.core.models, model)(destination_region=self.destination_region,
                                                  display_name=self.display_name)
        client = self.hook.get_client("blockstorage", self.region)
        made = self.earlier_copy(client)
        if made is None:
            made = getattr(client, method)(self.backup_id, details, opc_retry_token=self.retry_token(context)).data
            self.remember(made.id, self.destination_region)
        self.link(context, made.id, region=self.destination_region)
        spec = self.hook.lifecycle_spec(made.id, ["AVAILABLE"], region=self.destination_region)
        return self.wait_or_defer(context, spec, {"backup_id": made.id, "source_backup_id": self.backup_id,
                                                  "region": self.destination_region})

    def earlier_copy(self, client):
        """A copy of this backup already in the destination region (not failed or deleted): a re-run, or a new
        run that adopted this backup, takes it instead of copying again (a token changes with the task, the map
        index and the run)."""
        kind = ocid_kind(self.backup_id)
        there = self.hook.get_client("blockstorage", self.destination_region)
        gone = ("FAULTY", "TERMINATING", "TERMINATED")
        if kind == "volumegroupbackup":
            source = client.get_volume_group_backup(self.backup_id).data
            copies = [c for c in self.hook.list_all(there.list_volume_group_backups, source.compartment_id)
                      if c.source_volume_group_backup_id == self.backup_id]
        else:
            source = self.hook.get_resource(self.backup_id, self.region)
            lister, field = ((there.list_volume_backups, "source_volume_backup_id") if kind == "volumebackup"
                             else (there.list_boot_volume_backups, "source_boot_volume_backup_id"))
            copies = [c for c in self.hook.list_all(lister, source.compartment_id, **{field: self.backup_id})
                      if getattr(c, field, None) == self.backup_id]
        for copy in copies:
            if copy.lifecycle_state not in gone:
                self.log.info("adopting copy %s of %s in %s", copy.id, self.backup_id, self.destination_region)
                return copy
        return None

    def finish(self, context, result: dict) -> dict:
        self._made.clear()
        copy = self.hook.get_resource(result["backup_id"], self.destination_region)
        extra = {"source_backup_id": result["source_backup_id"]}
        if ocid_kind(copy.id) == "volumegroupbackup":
            extra["member_backup_ids"] = list(copy.volume_backup_ids or [])
        return backup_result(copy, self.destination_region) | extra


class OciDeleteBackupOperator(OciWaitingOperator):
    """Delete a backup of any kind; already gone is success.

    XCom: backup_id, deleted, existed, region.

    :param backup_id: the backup to delete (volume, boot volume or volume group backup); already gone is success
        (templated)
    """

    plan_operation = "DeleteVolumeBackup"
    template_fields = oci_template_fields("backup_id")

    def __init__(self, *, backup_id: str, **kwargs):
        super().__init__(**kwargs)
        self.backup_id = backup_id

    def validate_inputs(self) -> None:
        validate_ocid(self.backup_id, "backup_id")
        if ocid_kind(self.backup_id) not in ("volumebackup", "bootvolumebackup", "volumegroupbackup"):
            raise OciInputError(f"backup_id {self.backup_id!r}: must be a backup OCID")

    def execute_step(self, context) -> dict:
        existed = self.hook.delete_resource(self.backup_id, self.region)
        return self.wait_or_defer(context, self.hook.lifecycle_spec(self.backup_id, ["TERMINATED"], []),
                                  {"backup_id": self.backup_id, "deleted": True, "existed": existed,
                                   "region": self.hook.region})


class OciListBackupsOperator(OciBaseOperator):
    """The backups of one volume or boot volume, newest first, every page.

    XCom: a list of backups, newest first, each: backup_id, kind, source_id, type, display_name, lifecycle_state,
    size_in_gbs, unique_size_in_gbs, unique_size_in_mbs, time_created, freeform_tags, region.

    :param volume_id: the block volume or boot volume whose backups are listed (templated)
    :param lifecycle_state: only backups in this state; None: every state (templated)
    :param compartment_id: the compartment to list in; None: the volume's (templated)
    """

    template_fields = oci_template_fields("volume_id", "lifecycle_state", "compartment_id")

    def __init__(self, *, volume_id: str, lifecycle_state: str | None = "AVAILABLE",
                 compartment_id: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.compartment_id = compartment_id
        self.volume_id = volume_id
        self.lifecycle_state = lifecycle_state

    def validate_inputs(self) -> None:
        validate_ocid(self.volume_id, "volume_id")
        if ocid_kind(self.volume_id) not in ("volume", "bootvolume"):
            raise OciInputError(f"volume_id {self.volume_id!r}: must be a volume or boot volume OCID")

    def execute_step(self, context) -> list[dict]:
        backups = self.hook.list_backups(self.volume_id, self.compartment_id, self.region, self.lifecycle_state)
        self.log.info("%d backups of %s", len(backups), self.volume_id)
        return backups

