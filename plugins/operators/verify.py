"""Verified test restores (docs/architecture.md) and the teardown that removes every temporary they made.

Levels: `api` (the restored volume is AVAILABLE with the backup's size), `boot` (an instance boots on the
restored boot volume), `script` (the restored volume is attached to a verifier instance and checked through
Run Command: `e2fsck -fn` plus canary/heartbeat reads with debugfs). A check that cannot fail is no check: the
result is pass/fail with the evidence, and a failure fails the task after recording what was seen.
"""

from __future__ import annotations

import contextlib
import time
from datetime import datetime

from common.errors import OciInputError, OciWaitError
from common.ids import ocid_kind, validate_ocid
from common.tags import TEMPORARY_TAG
from common.verification import check_level, check_level_inputs
from common.xcom import TEARDOWN_XCOM_KEY, VERIFY_XCOM_KEY
from forms.params import flag, listed
from triggers.results import api_check

from operators.base import OciWaitingOperator, oci_template_fields

DEVICE_LETTERS = "cdefghijklmnopqrstuvwxyz"


def free_device(used: set[str], start: int = 0) -> str:
    """A consistent device path not used on the verifier, starting at the task's map index to spread parallel
    verifications over different paths."""
    for i in range(len(DEVICE_LETTERS)):
        device = f"/dev/oracleoci/oraclevd{DEVICE_LETTERS[(start + i) % len(DEVICE_LETTERS)]}"
        if device not in used:
            return device
    raise OciInputError("verifier_instance_id: no free device path left on the verifier (24 in use)")


def render_check_script(device: str, backup_time: datetime, canary_path: str = "", heartbeat_path: str = "",
                        max_heartbeat_age_seconds: int = 0) -> str:
    from common.config import include_dir

    template = (include_dir() / "verify" / "check_ext4.sh").read_text()
    values = {"__DEVICE__": device, "__CANARY_PATH__": canary_path, "__HEARTBEAT_PATH__": heartbeat_path,
              "__BACKUP_EPOCH__": str(int(backup_time.timestamp())),
              "__MAX_HEARTBEAT_AGE__": str(int(max_heartbeat_age_seconds))}
    for key, value in values.items():
        if any(c in value for c in "\"$`\\\n"):
            raise OciInputError(f"{key.strip('_').lower()} {value!r}: must not contain quotes, $, ` or newlines")
        template = template.replace(key, value)
    return template


def parse_check_output(output: str) -> dict:
    """The evidence lines of check_ext4.sh: RESULT, CANARY, HEARTBEAT."""
    found: dict = {"result": None, "canary": None, "heartbeat": None}
    for line in output.splitlines():
        head, _, rest = line.partition(" ")
        if head in ("RESULT", "CANARY", "HEARTBEAT"):
            found[head.lower()] = rest.strip()
    return found


def volume_name(hook, volume_id: str | None, region: str | None = None) -> str:
    """The source volume's display name for a failure's message (a person knows volumes by name); its OCID when
    it cannot be read."""
    try:
        return hook.check_volume(volume_id, "source_id", region).display_name
    except Exception:  # the message must still be raised: the OCID follows the name anyway
        return str(volume_id)


def failure_text(hook, check: dict, region: str | None = None) -> str:
    """A failed verification's message, the volume's display name before its OCID (the verify task's and an
    `api`-level restore's alike)."""
    return (f"verification FAILED for volume {volume_name(hook, check['source_id'], region)} ({check['source_id']}; "
            f"backup {check['backup_id']}, {check['level']} level): {check['detail']}")


def mark_failed(hook, check: dict, region: str | None, log) -> None:
    """Tag the backup whose test restore failed (best effort: the failure is raised either way), so no later run
    adopts it as a backup still to prove."""
    try:
        hook.mark_verified(check["backup_id"], check["level"], hook.server_time(), region, passed=False)
    except Exception as exc:  # the verification's own failure is what the task reports
        log.warning("could not tag %s as failed its test restore: %s", check["backup_id"], exc)


class OciVerifyRestoreOperator(OciWaitingOperator):
    """Prove a restored volume is usable, at the configured level; tag the backup `verified-at` on success.

    XCom: source_id, backup_id, restored_volume_id, level, passed, restore_seconds, detail, check_seconds,
    verified_at.

    :param restored: the restored volume (``OciRestoreVolumeOperator``'s XCom) (templated)
    :param backup: the backup it was restored from (``OciCreateBackupOperator``'s XCom) (templated)
    :param level: ``api`` (AVAILABLE at the backup's size), ``boot`` (an instance boots on a restored boot volume)
        or ``script`` (e2fsck and canary/heartbeat reads on a verifier instance) (templated)
    :param verifier_instance_id: the instance the restored volume is attached to at the ``script`` level (templated)
    :param subnet_id: the subnet of the test instance at the ``boot`` level (templated)
    :param shape: the test instance's shape at the ``boot`` level (templated)
    :param canary_path: a file on the restored filesystem whose first line is logged (empty: none) (templated)
    :param heartbeat_path: a file holding a Unix time; later than the backup fails the check (empty: none)
        (templated)
    :param max_heartbeat_age_seconds: fail when the heartbeat is older than this before the backup (0: no limit)
    :param script_timeout: seconds the check script may run on the verifier
    """

    plan_operation = "UpdateVolumeBackup"
    template_fields = oci_template_fields("restored", "backup", "level", "verifier_instance_id", "subnet_id",
                                          "shape", "canary_path", "heartbeat_path")

    def __init__(self, *, restored: dict, backup: dict, level: str = "script", verifier_instance_id: str | None = None,
                 subnet_id: str | None = None, shape: str = "VM.Standard.E4.Flex", canary_path: str = "/canary.txt",
                 heartbeat_path: str = "/.heartbeat", max_heartbeat_age_seconds: int = 0,
                 script_timeout: int = 900, **kwargs):
        super().__init__(**kwargs)
        self.restored = restored
        self.backup = backup
        self.level = level
        self.verifier_instance_id = verifier_instance_id
        self.subnet_id = subnet_id
        self.shape = shape
        self.canary_path = canary_path
        self.heartbeat_path = heartbeat_path
        self.max_heartbeat_age_seconds = max_heartbeat_age_seconds
        self.script_timeout = script_timeout

    def validate_inputs(self) -> None:
        check_level(self.level, "level")
        for name, value in (("restored", self.restored), ("backup", self.backup)):
            if not isinstance(value, dict):
                raise OciInputError(f"{name}: the XCom dict of the upstream task, got {type(value).__name__}")
        validate_ocid(self.restored.get("volume_id"), "restored.volume_id")
        validate_ocid(self.backup.get("backup_id"), "backup.backup_id")
        check_level_inputs(self.effective_level, self.verifier_instance_id, self.subnet_id)

    @property
    def effective_level(self) -> str:
        """`boot` applies to boot volumes; a block volume asked to boot is checked at `api` level."""
        if self.level == "boot" and ocid_kind((self.restored or {}).get("volume_id", "")) != "bootvolume":
            return "api"
        return self.level

    def run_checks(self, context, level: str, evidence: dict) -> None:
        """The checks of `level` on `self.restored` from `self.backup`, each adding what it saw to `evidence`
        (kept when a later check fails); a failed check raises."""
        evidence.update(self._check_api())
        if level == "boot":
            evidence.update(self._check_boot(context))
        elif level == "script":
            evidence.update(self._check_script(context))

    def execute_step(self, context) -> dict:
        level = self.effective_level
        started = time.time()
        result = {"source_id": self.backup.get("source_id"), "backup_id": self.backup["backup_id"],
                  "restored_volume_id": self.restored["volume_id"], "level": level, "passed": False,
                  "restore_seconds": self.restored.get("seconds_to_available"), "detail": ""}
        try:
            self.run_checks(context, level, result)
            result["passed"] = True
        except (OciWaitError, OciInputError, RuntimeError) as exc:
            result["detail"] = str(exc)
        result["check_seconds"] = round(time.time() - started, 3)
        if result["passed"]:
            checked_at = self.hook.server_time()
            self.hook.mark_verified(self.backup["backup_id"], level, checked_at, self.region)
            result["verified_at"] = checked_at.isoformat()
        else:
            mark_failed(self.hook, result, self.region, self.log)
        context["ti"].xcom_push(key=VERIFY_XCOM_KEY, value=result)
        self.log.info("verification of %s (%s level): %s %s", self.backup["backup_id"], level,
                      "PASS" if result["passed"] else "FAIL", result["detail"])
        if not result["passed"]:
            raise OciWaitError(failure_text(self.hook, result, self.region))
        return result

    def _check_api(self) -> dict:
        volume = self.hook.get_resource(self.restored["volume_id"], self.region)
        return {"detail": api_check(volume.lifecycle_state, volume.size_in_gbs, self.backup.get("size_in_gbs"),
                                    volume.id)}

    def _check_boot(self, context) -> dict:
        import oci

        volume = self.hook.get_resource(self.restored["volume_id"], self.region)
        flex = {"ocpus": 1, "memory_in_gbs": 8} if self.shape.endswith(".Flex") else None
        # a shape this AD does not offer fails here, before the launch (read-only; OCI would refuse the launch)
        self.hook.check_shape(volume.availability_domain, self.shape, flex, volume.compartment_id, self.region)
        m = oci.core.models
        details = m.LaunchInstanceDetails(
            availability_domain=volume.availability_domain, compartment_id=volume.compartment_id,
            display_name=f"verify-{volume.display_name}"[:255], shape=self.shape,
            shape_config=m.LaunchInstanceShapeConfigDetails(**flex) if flex else None,
            source_details=m.InstanceSourceViaBootVolumeDetails(boot_volume_id=volume.id),
            create_vnic_details=m.CreateVnicDetails(subnet_id=self.subnet_id, assign_public_ip=False),
            freeform_tags=self.managed_tags(context, {TEMPORARY_TAG: "true"}))
        compute = self.hook.get_client("compute", self.region)
        instance = compute.launch_instance(details, opc_retry_token=self.retry_token(context, "boot-check")).data
        self.remember(instance.id)
        try:
            self.hook.wait(self.hook.lifecycle_spec(instance.id, ["RUNNING"]), self.poll())
        finally:  # the teardown sweeps too; terminating here keeps the bill short
            compute.terminate_instance(instance.id, preserve_boot_volume=True)
        return {"detail": f"instance {instance.id} reached RUNNING on the restored boot volume",
                "test_instance_id": instance.id}

    def _check_script(self, context) -> dict:
        import oci

        compute = self.hook.get_client("compute", self.region)
        verifier = self.hook.get_resource(self.verifier_instance_id, self.region)
        live = [a for a in self.hook.list_all(
            compute.list_volume_attachments, verifier.compartment_id, instance_id=verifier.id)
            if a.lifecycle_state in ("ATTACHING", "ATTACHED")]
        # An earlier try of this task (a killed worker, a cleared task) may have attached the restore already:
        # adopt that attachment. Attaching again would pick another free device, and the same retry token with
        # another body is refused by OCI (409 InvalidatedRetryToken).
        adopted = next((a for a in live if a.volume_id == self.restored["volume_id"] and a.device), None)
        if adopted:
            attachment, device = adopted, adopted.device
            self.log.info("adopting attachment %s of %s at %s (an earlier try made it)", adopted.id,
                          adopted.volume_id, device)
        else:
            device = free_device({a.device for a in live if a.device}, max(getattr(context["ti"], "map_index", 0), 0))
            attachment = compute.attach_volume(oci.core.models.AttachParavirtualizedVolumeDetails(
                instance_id=verifier.id, volume_id=self.restored["volume_id"], device=device, is_read_only=True,
                display_name="verify-restore"), opc_retry_token=self.retry_token(context, "verifier-attach")
            ).data
        self.remember(attachment.id)
        try:
            self.hook.wait(self.hook.lifecycle_spec(attachment.id, ["ATTACHED"]), self.poll())
            backup_time = datetime.fromisoformat(self.backup["time_created"])
            script = render_check_script(device, backup_time, self.canary_path or "", self.heartbeat_path or "",
                                         self.max_heartbeat_age_seconds)
            ran = self.hook.run_command(verifier.id, verifier.compartment_id, script, self.script_timeout,
                              self.poll(), region=self.region,
                              retry_token=self.retry_token(context, "verify-script"))
        finally:
            with contextlib.suppress(Exception):
                self.hook.delete_resource(attachment.id, self.region, wait=True, poll=self.poll())
        evidence = parse_check_output(ran.get("output") or "")
        tail = (ran.get("output") or "")[-2000:]
        self.log.info("check output (exit %s):\n%s", ran.get("exit_code"), tail)
        if ran.get("exit_code") != 0 or not (evidence["result"] or "").startswith("PASS"):
            raise RuntimeError(f"check script exited {ran.get('exit_code')} ({ran.get('state')}): "
                               f"{evidence['result'] or tail[-300:]}")
        return {"detail": f"e2fsck -fn clean on {device}", "exit_code": ran.get("exit_code"),
                "canary": evidence["canary"], "heartbeat": evidence["heartbeat"], "device": device,
                "command_id": ran.get("command_id"), "output_tail": tail[-500:]}


class OciCleanupTestResourcesOperator(OciWaitingOperator):
    """Teardown: detach, terminate and delete every temporary this DAG made (tagged `airflow-temporary`: restored
    volumes, test instances, restored volume groups with their volumes), in any run: a leftover of an earlier
    run is adopted and removed too. Runs as an Airflow teardown, so a failed verification still cleans up.

    Removals run concurrently (`max_concurrent` calls at a time), each wait with its own backoff (from
    `poll_interval`, here 2 s by default, up to `max_interval`, 10 s) and deadline (`timeout`), so the teardown
    costs about one delete whatever the number of restores. A removal that still
    fails after the hook's retries fails the task, after every other removal was tried; the `teardown` XCom
    names what is left for the report.

    XCom: removed ({attachments, instances, groups, volumes: [ids]}), leftovers ([{id, name, error}]).

    :param compartment_ids: the compartments to clean up: a list of OCIDs, or one comma-separated string (templated)
    :param max_concurrent: how many removals run at a time
    :param include_subcompartments: also clean every compartment below the given ones (templated)
    """

    plan_operation = "DeleteVolume"

    def plan_detail(self) -> str:
        """What the teardown would look for (it lists before it deletes)."""
        from forms.params import listed

        return f"temporaries (tag airflow-temporary) in {', '.join(listed(self.compartment_ids) or [])}"
    template_fields = oci_template_fields("compartment_ids", "include_subcompartments")

    def __init__(self, *, compartment_ids: list[str] | str, max_concurrent: int = 8,
                 include_subcompartments: bool = False, **kwargs):
        kwargs.setdefault("trigger_rule", "all_done")
        # a removal is quick: look often unless told otherwise
        kwargs.setdefault("poll_interval", 2.0)
        kwargs.setdefault("max_interval", 10.0)
        super().__init__(**kwargs)
        self.compartment_ids = compartment_ids
        self.include_subcompartments = include_subcompartments
        self.max_concurrent = max_concurrent

    def validate_inputs(self) -> None:
        self.compartment_ids = listed(self.compartment_ids)
        for i, comp in enumerate(self.compartment_ids or []):
            validate_ocid(comp, f"compartment_ids[{i}]")
        self.include_subcompartments = flag(self.include_subcompartments, "include_subcompartments")
        if not isinstance(self.max_concurrent, int) or self.max_concurrent < 1:
            raise OciInputError(f"max_concurrent {self.max_concurrent!r}: an integer of at least 1")

    def find_temporaries(self, dag_id: str) -> dict[str, list[tuple[str, str]]]:
        """What this DAG left, in every run: live attachments of its temporary volumes, its test instances, its
        temporary volume groups (test restores of group backups) and its temporary volumes and boot volumes,
        a temporary group's volumes included whatever their tags, as (id, name) pairs."""

        compute = self.hook.get_client("compute", self.region)
        storage = self.hook.get_client("blockstorage", self.region)
        live = ("TERMINATED", "TERMINATING")

        def ours(resource) -> bool:
            tags = resource.freeform_tags or {}
            return bool(tags.get(TEMPORARY_TAG)) and tags.get("airflow-dag") == dag_id

        found: dict[str, list[tuple[str, str]]] = {"attachments": [], "instances": [], "groups": [], "volumes": []}
        for comp in self.hook.compartment_tree(self.compartment_ids, self.include_subcompartments):
            groups = [g for g in self.hook.list_all(storage.list_volume_groups, comp)
                      if ours(g) and g.lifecycle_state not in live]
            found["groups"] += [(g.id, g.display_name) for g in groups]
            members = {v for g in groups for v in g.volume_ids}
            volumes = [v for v in self.hook.volumes_in(comp, self.region)
                       if (ours(v) or v.id in members) and v.lifecycle_state not in live]
            names = {v.id: v.display_name for v in volumes}
            found["volumes"] += list(names.items())
            found["attachments"] += [
                (a.id, f"attachment of {names[a.volume_id]}")
                for a in self.hook.list_all(compute.list_volume_attachments, comp)
                if a.volume_id in names and a.lifecycle_state in ("ATTACHING", "ATTACHED")]
            found["instances"] += [
                (i.id, i.display_name) for i in self.hook.list_all(compute.list_instances,
                                                                   comp)
                if ours(i) and i.lifecycle_state not in live]
        return found

    def execute_step(self, context) -> dict:
        found = self.find_temporaries(context["ti"].dag_id)
        compute = self.hook.get_client("compute", self.region)

        def terminate(instance_id: str) -> bool:
            # the boot volume is a temporary of its own, removed with the volumes
            compute.terminate_instance(instance_id, preserve_boot_volume=True)
            return True

        # what holds a volume goes first (attachments, test instances), then the volumes
        first = self.hook.remove_all(found["attachments"], self.region, self.poll, self.max_concurrent)
        first += self.hook.remove_all(found["instances"], self.region, self.poll, self.max_concurrent, terminate)
        # a group goes before its volumes (deleting a group leaves its volumes, out of the group)
        first += self.hook.remove_all(found["groups"], self.region, self.poll, self.max_concurrent)
        held = {r.resource_id for r in first if r.error}
        volumes = self.hook.remove_all(found["volumes"], self.region, self.poll, self.max_concurrent)
        removals = first + volumes
        outcome = {
            "removed": {kind: [rid for rid, _ in items if rid in {r.resource_id for r in removals if not r.error}]
                        for kind, items in found.items()},
            "leftovers": [{"id": r.resource_id, "name": r.name, "error": r.error} for r in removals if r.error],
        }
        if held:
            self.log.warning("could not remove %d attachments, instances or volume groups first", len(held))
        self.log.info("removed %d attachments, %d test instances, %d volume groups, %d temporary volumes; %d left",
                      *(len(outcome["removed"][k]) for k in ("attachments", "instances", "groups", "volumes")),
                      len(outcome["leftovers"]))
        context["ti"].xcom_push(key=TEARDOWN_XCOM_KEY, value=outcome)
        if outcome["leftovers"]:
            raise OciWaitError(f"teardown left temporaries behind ({self.what_follows(context)}, or the next run's "
                               f"teardown, or delete them by hand): " + "; ".join(
                f"{x['name']} ({x['id']}): {x['error']}" for x in outcome["leftovers"]))
        return outcome
