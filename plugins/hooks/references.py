"""OciHook's read-only checks of the references a request names (mixed into OciHook: the same clients, retries
and paging): regions, instances, the verifier instance, subnets, volumes, backups, availability domains, buckets,
free hostnames, the instance an in-place restore swaps into.

Each makes only Get/List/Head calls and raises OciInputError naming the field, the value and the rule, so a DAG
or operator runs every one of them before its first mutating call.
"""

from __future__ import annotations

from typing import Any

from common.errors import OciInputError, shown
from common.ids import ocid_kind, validate_ocid, validate_region

RUN_COMMAND_PLUGIN = "Compute Instance Run Command"


def _not_found(err) -> bool:
    return getattr(err, "status", None) == 404


class OciReferenceChecks:
    """Checks of what a request refers to, for OciHook (which provides get_client, list_all, region, tenancy_id,
    boot_attachments)."""

    def check_region(self, region: Any, field: str = "region") -> str:
        """A region identifier this connection can reach (an endpoint for it, or one the SDK knows).

        :param region: the region identifier
        :param field: the request field named in errors
        """

        validate_region(region, field)
        try:
            self.get_client("identity", region)
        except OciInputError as exc:
            raise OciInputError(f"{field} {region!r}: not reachable with this connection ({exc})") from None
        return region

    def _get_checked(self, field: str, value: str, kind: str, service: str, getter: str,
                     region: str | None = None):
        import oci

        validate_ocid(value, field, kind)
        try:
            return getattr(self.get_client(service, region), getter)(value).data
        except oci.exceptions.ServiceError as err:
            if _not_found(err):
                raise OciInputError(f"{field} {value!r}: no such {kind} in {region or self.region} (or no access "
                                    f"to it)") from None
            raise

    def _get_block_storage(self, field: str, value: Any, getters: dict[str, str], region: str | None = None):
        """A Block Storage resource by OCID with the getter of its kind (`getters`: OCID kind -> getter; an OCID of
        another kind is refused as not of the first kind)."""

        kind = ocid_kind(value) if isinstance(value, str) else ""
        kind = kind if kind in getters else next(iter(getters))
        return self._get_checked(field, value, kind, "blockstorage", getters[kind], region)

    def check_instance(self, instance_id: Any, field: str = "instance_id",
                       states: tuple[str, ...] = ("RUNNING", "STOPPED"), region: str | None = None):
        """The instance (SDK model), which must exist and be in one of `states`.

        :param instance_id: the instance's OCID
        :param field: the request field named in errors
        :param states: the lifecycle states accepted; empty: any
        :param region: its region; None: the connection's
        """
        instance = self._get_checked(field, instance_id, "instance", "compute", "get_instance", region)
        if states and instance.lifecycle_state not in states:
            raise OciInputError(f"{field} {instance_id!r}: is {instance.lifecycle_state}; must be one of {states}")
        return instance

    def check_verifier(self, instance_id: Any, field: str = "verifier_instance_id", region: str | None = None):
        """The verifier instance (SDK model) of the `script` verification level: it must be RUNNING with the Oracle
        Cloud Agent's Run Command plugin enabled, since Run Command runs the check of each restored volume on it.

        :param instance_id: the instance's OCID
        :param field: the request field named in errors
        :param region: its region; None: the connection's
        """
        instance = self.check_instance(instance_id, field, ("RUNNING",), region)
        agent = instance.agent_config
        disabled = [p.name for p in (getattr(agent, "plugins_config", None) or [])
                    if p.name == RUN_COMMAND_PLUGIN and p.desired_state == "DISABLED"]
        if agent and (agent.is_management_disabled or agent.are_all_plugins_disabled or disabled):
            raise OciInputError(f"{field} {instance_id!r}: the Oracle Cloud Agent plugin '{RUN_COMMAND_PLUGIN}' must "
                                f"be enabled (agent_config), since Run Command runs the check on it")
        return instance

    def check_subnet(self, subnet_id: Any, field: str = "subnet_id", needs_dns_label: bool = True,
                     region: str | None = None):
        """The subnet (SDK model), which must exist and (to give VNICs hostnames) have a DNS label.

        :param subnet_id: the subnet's OCID
        :param field: the request field named in errors
        :param needs_dns_label: refuse a subnet without a DNS label
        :param region: its region; None: the connection's
        """
        subnet = self._get_checked(field, subnet_id, "subnet", "network", "get_subnet", region)
        if needs_dns_label and not subnet.dns_label:
            raise OciInputError(f"{field} {subnet_id!r}: the subnet has no DNS label, so its VNICs cannot have "
                                f"hostnames")
        return subnet

    def check_volume(self, volume_id: Any, field: str = "volume_id", region: str | None = None):
        """A block or boot volume (SDK model), which must exist.

        :param volume_id: the volume's or boot volume's OCID
        :param field: the request field named in errors
        :param region: its region; None: the connection's
        """
        return self._get_block_storage(field, volume_id, {"volume": "get_volume", "bootvolume": "get_boot_volume"},
                                       region)

    def check_backup(self, backup_id: Any, field: str = "backup_id", region: str | None = None):
        """A volume backup or boot volume backup (SDK model), which must exist.

        :param backup_id: the backup's OCID
        :param field: the request field named in errors
        :param region: its region; None: the connection's
        """
        return self._get_block_storage(field, backup_id, {"volumebackup": "get_volume_backup",
                                                          "bootvolumebackup": "get_boot_volume_backup"}, region)

    def check_group_members(self, volume_ids: list[str], field: str = "volume_ids", region: str | None = None) -> list:
        """The volumes of a volume group to be (SDK models): AVAILABLE and in one availability domain (a volume
        group's rule).

        :param volume_ids: the block and boot volumes
        :param field: the request field named in errors
        :param region: their region; None: the connection's
        """
        volumes = [self.get_resource(v, region) for v in volume_ids]
        ads = sorted({v.availability_domain for v in volumes})
        if len(ads) > 1:
            raise OciInputError(f"{field}: a volume group's volumes share one availability domain; these are in {ads}")
        not_ready = [f"{v.id} is {v.lifecycle_state}" for v in volumes if v.lifecycle_state != "AVAILABLE"]
        if not_ready:
            raise OciInputError(f"{field}: must be AVAILABLE: " + "; ".join(not_ready))
        return volumes

    def check_availability_domain(self, name: Any, field: str = "availability_domain",
                                  region: str | None = None) -> str:
        """An availability domain of the region, by its full name (like Uocm:US-ASHBURN-AD-1); returns it stripped.

        :param name: the availability domain's name
        :param field: the request field named in errors
        :param region: the region; None: the connection's
        """
        if not isinstance(name, str) or not name.strip():
            raise OciInputError(f"{field} {shown(name)}: an availability domain name like Uocm:US-ASHBURN-AD-1")
        known = self.availability_domains(region=region)
        if name.strip() not in known:
            raise OciInputError(f"{field} {shown(name)}: not an availability domain of {region or self.region}; "
                                f"one of {known}")
        return name.strip()

    def hostname_users(self, subnet: Any, hostnames: list[str], region: str | None = None) -> list[tuple[str, Any]]:
        """(hostname, VNIC attachment) for each live VNIC in the subnet whose hostname label is one of `hostnames`
        (compared without case, as DNS does), looked up among the VNIC attachments of the subnet's compartment.

        :param subnet: the SDK Subnet
        :param hostnames: the hostnames asked for
        :param region: the subnet's region; None: the connection's
        """
        from hooks.compute import LIVE_ATTACHMENT

        wanted = {name.lower(): name for name in hostnames}
        network = self.get_client("network", region)
        users = []
        for att in self.list_all(self.get_client("compute", region).list_vnic_attachments, subnet.compartment_id):
            if att.subnet_id != subnet.id or att.lifecycle_state not in LIVE_ATTACHMENT:
                continue
            label = (network.get_vnic(att.vnic_id).data.hostname_label or "").lower()
            if label in wanted:
                users.append((wanted[label], att))
        return users

    def check_hostnames_free(self, fleet: list[dict], field: str = "fleet") -> None:
        """Refuse hostnames already used in their subnet, and subnets without a DNS label (read-only: the subnet,
        the VNIC attachments of its compartment, their VNICs). OCI would accept such a launch and fail it later.

        :param fleet: planned instances, each with hostname and subnet_id
        :param field: the request field named in errors
        """
        taken = []
        for subnet_id in sorted({f["subnet_id"] for f in fleet}):
            subnet = self.check_subnet(subnet_id, "subnet_id")
            names = [f["hostname"] for f in fleet if f["subnet_id"] == subnet_id]
            taken += [f"{name} (VNIC {att.vnic_id} of instance {att.instance_id})"
                      for name, att in self.hostname_users(subnet, names)]
        if taken:
            raise OciInputError(f"{field}: hostname(s) already used in the subnet: {'; '.join(taken)}; hostnames "
                                f"must be unique in a subnet")

    def swap_target(self, instance_id: str | None, source_boot_volume_id: str | None, field: str = "instance_id",
                    region: str | None = None, run_id: str | None = None):
        """The instance an in-place restore swaps into (SDK model): `instance_id`, or else the instance booted
        from the backup's source boot volume, or, when that boot volume is detached, the instance whose swap record
        names it (an unfinished swap, or one `run_id` finished: a re-run after a kill). It must be RUNNING or
        STOPPED (any live state while a swap is unfinished on it) and have a boot volume attached (or a swap under
        way).

        :param instance_id: the instance; None: the one booted from `source_boot_volume_id`
        :param source_boot_volume_id: the restored backup's source boot volume
        :param field: the request field named in errors
        :param region: their region; None: the connection's
        :param run_id: the run asking (its own finished swap is found again)
        """
        import oci
        from common.tags import SWAP_TAG, swap_record

        from hooks.compute import LIVE_ATTACHMENT

        if not instance_id:
            if not source_boot_volume_id:
                raise OciInputError(f"{field}: required for an in-place restore of a backup whose source boot "
                                    f"volume is unknown here")
            try:
                boot = self.get_client("blockstorage", region).get_boot_volume(source_boot_volume_id).data
            except oci.exceptions.ServiceError as err:
                if not _not_found(err):
                    raise
                raise OciInputError(f"{field}: the backup's source boot volume {source_boot_volume_id} is gone; "
                                    f"give the instance to restore in place") from None
            user = self.attachment_of(boot, region)
            instance_id = user.instance_id if user else self._swapped_out_of(boot, field, region, run_id)
        instance = self._get_checked(field, instance_id, "instance", "compute", "get_instance", region)
        pending = swap_record((instance.freeform_tags or {}).get(SWAP_TAG))
        states = ("RUNNING", "STOPPED", "STOPPING", "STARTING") if pending else ("RUNNING", "STOPPED")
        if instance.lifecycle_state not in states:
            raise OciInputError(f"{field} {instance_id!r}: is {instance.lifecycle_state}; must be one of {states}")
        if not pending and not [a for a in self.boot_attachments(instance, region)
                                if a.lifecycle_state in LIVE_ATTACHMENT]:
            raise OciInputError(f"{field} {instance_id!r}: has no boot volume attached (nothing to swap)")
        return instance

    def _swapped_out_of(self, boot: Any, field: str, region: str | None, run_id: str | None) -> str:
        """The instance a detached boot volume was swapped out of, by the swap records on the instances of its
        compartment: an unfinished swap naming it (old or new), or a finished one `run_id` made. Raises naming
        the instance when another run finished that swap (restoring into it again needs instance_id)."""
        from common.tags import SWAP_TAG, SWAPPED_TAG, swap_record

        done_by_other = None
        for instance in self.list_all(self.get_client("compute", region).list_instances, boot.compartment_id):
            if instance.lifecycle_state in ("TERMINATING", "TERMINATED"):
                continue
            tags = instance.freeform_tags or {}
            pending, done = swap_record(tags.get(SWAP_TAG)), swap_record(tags.get(SWAPPED_TAG))
            if pending and boot.id in (pending["old"], pending["new"]):
                self.log.info("boot volume %s is in the unfinished swap %s -> %s on instance %s", boot.id,
                              pending["old"], pending["new"], instance.id)
                return instance.id
            if done and done["old"] == boot.id:
                if run_id and self._made_by(done["new"], run_id, region):
                    return instance.id
                done_by_other = (instance.id, done["new"])
        if done_by_other:
            raise OciInputError(f"{field}: boot volume {boot.id} (the backup's source) is not attached: a finished "
                                f"in-place restore swapped it out of instance {done_by_other[0]}, which boots from "
                                f"{done_by_other[1]} since (tag {SWAPPED_TAG}); nothing was changed. Give "
                                f"instance_id {done_by_other[0]} to restore into it again")
        raise OciInputError(f"{field}: boot volume {boot.id} (the backup's source) is not attached to an "
                            f"instance, and no swap on an instance of its compartment names it; give the instance to "
                            f"restore in place")

    def _made_by(self, volume_id: str, run_id: str, region: str | None) -> bool:
        """Whether the volume (by its `airflow-run` tag) was made by the run `run_id`; False when it is gone."""
        import oci

        try:
            volume = self.get_resource(volume_id, region)
        except oci.exceptions.ServiceError as err:
            if _not_found(err):
                return False
            raise
        return (volume.freeform_tags or {}).get("airflow-run") == run_id[:250]

    def swap_to_finish(self, instance: Any, backup_id: str | None, source_boot_volume_id: str | None,
                       run_id: str | None, field: str = "instance_id", region: str | None = None) -> dict | None:
        """The earlier swap on `instance` that this in-place restore is to finish instead of restoring again, or
        None. An unfinished swap whose restored boot volume came from the requested backup (or, asked by volume,
        that replaces the requested boot volume) is finished; a swap `run_id` finished is taken as done (a re-run
        after a kill before the report). Another unfinished swap stops the run here, before any change, with
        what to do. Read-only.

        :param instance: the SDK Instance (swap_target's)
        :param backup_id: the requested backup; None: asked by volume
        :param source_boot_volume_id: the requested backup's source boot volume
        :param run_id: the run asking
        :param field: the request field named in errors
        :param region: their region; None: the connection's
        :returns: {instance_id, old, new, was_running, run, found, lifecycle_state, boot_volume_id} or None
        """
        import oci
        from common.swaps import repair_commands, where
        from common.tags import SWAP_TAG, SWAPPED_TAG, swap_record

        from hooks.compute import LIVE_ATTACHMENT

        tags = instance.freeform_tags or {}
        pending, done = swap_record(tags.get(SWAP_TAG)), swap_record(tags.get(SWAPPED_TAG))
        live = next((a for a in self.boot_attachments(instance, region) if a.lifecycle_state in LIVE_ATTACHMENT),
                    None)
        on = live.boot_volume_id if live else None
        record, found = (pending, "unfinished") if pending else (done, "done") if done else (None, None)
        if record is None or (found == "done" and (on != done["new"] or not run_id
                                                    or not self._made_by(done["new"], run_id, region))):
            return None  # no swap, or another run's finished one: this run swaps anew
        try:
            new = self.get_resource(record["new"], region)
        except oci.exceptions.ServiceError as err:
            if not _not_found(err):
                raise
            new = None
        new_tags = (new.freeform_tags or {}) if new else {}
        source = getattr(getattr(new, "source_details", None), "id", None) or new_tags.get("restored-from-backup")
        usable = new is not None and new.lifecycle_state == "AVAILABLE"
        same = source == backup_id if backup_id else record["old"] == source_boot_volume_id
        result = {"instance_id": instance.id, "old": record["old"], "new": record["new"],
                  "was_running": record["was_running"], "run": new_tags.get("airflow-run"), "found": found,
                  "lifecycle_state": instance.lifecycle_state, "boot_volume_id": on}
        if found == "unfinished" and not same and on == record["old"] and \
                instance.lifecycle_state == ("RUNNING" if record["was_running"] else "STOPPED"):
            # put back by hand (the repair commands): nothing of it is left but the tag, which this swap replaces
            self.log.info("the abandoned swap %s -> %s on %s is replaced by this one", record["old"], record["new"],
                          instance.id)
            return None
        if usable and same:
            self.log.info("%s swap %s -> %s (run %s) on %s: this run finishes it, nothing is restored again",
                          found, record["old"], record["new"], result["run"], where(instance.id,
                                                                                   instance.lifecycle_state, on,
                                                                                   record))
            return result
        why = (f"its restored boot volume {record['new']} is gone or not AVAILABLE" if not usable else
               f"it restores {f'backup {source}' if source else 'another source'}, not the backup asked for")
        repair = repair_commands(instance.id, region or self.region, record["old"], instance.lifecycle_state,
                                 (live.id, live.boot_volume_id) if live else None, record["was_running"])
        redo = f"re-run the restore of backup {source} (it finishes the swap), or " if usable and source else ""
        raise OciInputError(
            f"{field} {instance.id!r}: a boot volume swap {record['old']} -> {record['new']} is unfinished (tag "
            f"{SWAP_TAG}, run {result['run']}) and {why}; {where(instance.id, instance.lifecycle_state, on, record)}. "
            f"Nothing was changed: {redo}put the old boot volume back with: {' && '.join(repair)}; then run this "
            f"request again")

    def check_fleet(self, fleet: list[dict], field: str = "fleet") -> list[dict]:
        """Every reference of a planned fleet: availability domains, subnets (with a DNS label), free hostnames.

        :param fleet: planned instances (forms.fleet.resolve_fleet's dicts)
        :param field: the request field named in errors
        """
        for ad in sorted({f["availability_domain"] for f in fleet if f.get("availability_domain")}):
            self.check_availability_domain(ad)
        self.check_hostnames_free(fleet, field)
        return fleet
