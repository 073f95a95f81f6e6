"""Custom images: create from an instance (the golden image), import from and export to Object Storage, delete.

OCI rules honoured (docs/architecture.md, "OCI rules"):
- an image of an instance needs every iSCSI attachment disconnected first, with the iscsid node records removed;
  paravirtualized attachments are fine. We refuse, or (``detach_iscsi=True``) clean up, detach, image and
  re-attach, so the instance never stays without its volumes;
- imaging a RUNNING instance stops it for several minutes; OCI restarts it when the image is done;
- one image per instance at a time, and 20 minutes before the same instance can be imaged again: a refused
  CreateImage (409) is waited out with the poll backoff, never hammered and never failed at once;
- import and export are limited to 400 GB; import reads VMDK and QCOW2. OCI checks an import asynchronously and
  fails its work request minutes later, so the object, its format and its virtual size are checked here first
  (headers and the binary "GB" of the limit: disks/headers.py; ocisim applies the same rule).
"""

from __future__ import annotations

import time
from typing import Any

from airflow.sdk.exceptions import TaskDeferred
from common.errors import OciInputError, OciWaitError
from disks.headers import (
    HEADER_PROBE_BYTES,
    IMAGE_FORMATS,
    IMAGE_LIMIT_BYTES,
    IMAGE_LIMIT_GB,
    IMAGE_LIMIT_MBS,
    DiskImageError,
    gb,
    probe_disk_header,
)
from forms.object_uri import object_target, object_uri
from forms.params import flag
from hooks.oci import WaitSpec, validate_ocid

from operators.base import OciBaseOperator, oci_template_fields
from operators.run_command import command_failure

IMPORT_LAUNCH_MODES = ("PARAVIRTUALIZED", "NATIVE", "EMULATED")
LAUNCH_MODES = ("NATIVE", "EMULATED", "PARAVIRTUALIZED", "CUSTOM")
ACTIVE_ATTACHMENT = ("ATTACHING", "ATTACHED")

# Per iSCSI attachment, formatted with iqn, ipv4, port, device, volume_id, attachment_id: log out of the target and
# delete its iscsid node record. `|| true`: a session already gone is fine; the script as a whole must exit 0.
ISCSI_CLEANUP_COMMANDS = (
    "echo 'iSCSI {iqn} at {ipv4}:{port} ({device}, volume {volume_id})'\n"
    "iscsiadm -m node -T {iqn} -p {ipv4}:{port} -u || true\n"
    "iscsiadm -m node -o delete -T {iqn} -p {ipv4}:{port} || true\n"
)
ISCSI_CLEANUP_PREAMBLE = (
    "#!/bin/sh\n"
    "# Before a custom image is made, OCI needs iSCSI volumes disconnected and their iscsid node records removed.\n"
    "set -u\n"
    "sync\n"
    "if ! command -v iscsiadm >/dev/null 2>&1; then\n"
    "  echo 'iscsiadm not found: no iSCSI initiator here, so no iscsid node records to remove'\n"
    "fi\n"
)


# -- pure helpers (unit-tested) ---------------------------------------------------------------------------
def _blank_to_none(op, *fields: str) -> None:
    """A template that renders empty (an unset run parameter) means 'not given'."""
    for name in fields:
        if getattr(op, name) == "":
            setattr(op, name, None)


DETACH_TAG_PREFIX = "airflow-detached-"  # on the instance: a volume this DAG detached and must re-attach
_INTENT_FIELDS = ("volume_id", "attachment_id", "device", "type", "is_read_only", "is_shareable", "use_chap",
                  "is_agent_auto_iscsi_login_enabled")


def intent_key(volume_id: str) -> str:
    import hashlib

    return DETACH_TAG_PREFIX + hashlib.sha256(volume_id.encode()).hexdigest()[:12]


def intent_value(entry: dict) -> str:
    """One detached volume in a freeform tag value (at most 256 characters: OCIDs, device, type, 4 flags)."""
    return "|".join(str(int(bool(entry.get(k)))) if k.startswith(("is_", "use_")) else str(entry.get(k) or "")
                    for k in _INTENT_FIELDS)


def intents_of(tags: dict | None) -> list[dict]:
    """The detached volumes recorded in an instance's freeform tags."""
    found = []
    for key, value in sorted((tags or {}).items()):
        parts = value.split("|") if key.startswith(DETACH_TAG_PREFIX) else []
        if len(parts) == len(_INTENT_FIELDS):
            entry = dict(zip(_INTENT_FIELDS, parts, strict=True))
            for k in _INTENT_FIELDS:
                if k.startswith(("is_", "use_")):
                    entry[k] = entry[k] == "1"
            entry["device"] = entry["device"] or None
            found.append(entry)
    return found


def image_fields(image) -> dict:
    return {"image_id": image.id, "display_name": image.display_name, "size_in_mbs": image.size_in_mbs,
            "lifecycle_state": image.lifecycle_state}


# -- create from an instance ------------------------------------------------------------------------------
class OciCreateImageFromInstanceOperator(OciBaseOperator):
    """A custom image of an instance's boot volume (the golden image), under OCI's imaging rules.

    Preflight: every ATTACHED iSCSI attachment blocks imaging. With ``detach_iscsi=False`` (the default) the task
    fails naming each one, before anything changes. With ``detach_iscsi=True`` it logs out of the iSCSI targets and
    removes their iscsid node records through Run Command (``iscsi_cleanup_script``, formatted per attachment with
    iqn, ipv4, port, device, volume_id, attachment_id; the script must exit 0), detaches them, makes the image, waits
    for the instance to run again and re-attaches each volume with the same type and device (``reattach=True``;
    also when imaging fails). A 409 for the one-image-per-instance window is waited out within ``timeout``.
    Raises OciInputError (bad input, iSCSI attached), OciWaitError (cleanup failed, image failed, window never
    opened).

    XCom: instance_id, instance_state_before, detached, image_id, display_name, size_in_mbs, lifecycle_state,
    reattached, instance_state, region."""

    template_fields = oci_template_fields("instance_id", "display_name", "launch_mode", "freeform_tags",
                                          "detach_iscsi", "compartment_id")

    def __init__(self, *, instance_id: str, display_name: str | None = None, detach_iscsi: bool = False,
                 iscsi_cleanup_script: str = ISCSI_CLEANUP_COMMANDS, reattach: bool = True,
                 launch_mode: str | None = None, window_wait: bool = True, freeform_tags: dict | None = None,
                 script_timeout: int = 300, compartment_id: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.compartment_id = compartment_id
        self.instance_id = instance_id
        self.display_name = display_name
        self.detach_iscsi = detach_iscsi
        self.iscsi_cleanup_script = iscsi_cleanup_script
        self.reattach = reattach
        self.launch_mode = launch_mode
        self.window_wait = window_wait
        self.freeform_tags = freeform_tags
        self.script_timeout = script_timeout
        self._detached: list[dict] = []
        self._reattached = False

    def validate_inputs(self) -> None:
        _blank_to_none(self, "display_name", "launch_mode")
        validate_ocid(self.instance_id, "instance_id", "instance")
        if self.launch_mode is not None and self.launch_mode not in LAUNCH_MODES:
            raise OciInputError(f"launch_mode {self.launch_mode!r}: one of {LAUNCH_MODES}")
        if self.display_name is not None and not (isinstance(self.display_name, str) and
                                                  0 < len(self.display_name) <= 255):
            raise OciInputError(f"display_name {self.display_name!r}: 1 to 255 characters")
        self.detach_iscsi = flag(self.detach_iscsi, "detach_iscsi")
        if self.detach_iscsi:
            if not self.wait_for_completion:
                raise OciInputError("detach_iscsi=True needs wait_for_completion=True: detached volumes are "
                                    "re-attached only after the image is AVAILABLE")
            try:
                self.iscsi_cleanup_script.format(iqn="iqn", ipv4="0.0.0.0", port=3260, device="/dev/x",
                                                 volume_id="v", attachment_id="a")
            except (KeyError, IndexError, ValueError, AttributeError) as exc:
                raise OciInputError(f"iscsi_cleanup_script: a per-attachment template using only {{iqn}}, {{ipv4}}, "
                                    f"{{port}}, {{device}}, {{volume_id}}, {{attachment_id}} ({exc!r})") from exc
            if not 0 < int(self.script_timeout) <= 3600:
                raise OciInputError(f"script_timeout {self.script_timeout!r}: 1 to 3600")

    # -- the task --------------------------------------------------------------------------------------
    def execute(self, context) -> Any:
        self.validate()
        compute = self.hook.get_client("compute", self.region)
        instance = compute.get_instance(self.instance_id).data
        if instance.lifecycle_state in ("TERMINATING", "TERMINATED"):
            raise OciInputError(f"instance_id {self.instance_id!r}: is {instance.lifecycle_state}; an image is made "
                                f"of a RUNNING or STOPPED instance")
        if instance.lifecycle_state not in ("RUNNING", "STOPPED"):
            self.log.info("instance %s is %s%s; waiting until it is RUNNING or STOPPED", self.instance_id,
                          instance.lifecycle_state, " (another image of it is being made: OCI makes one image per "
                          "instance at a time)" if instance.lifecycle_state == "CREATING_IMAGE" else "")
            self.hook.wait(self.hook.lifecycle_spec(self.instance_id, ["RUNNING", "STOPPED"]), self.poll())
            instance = compute.get_instance(self.instance_id).data
        compartment_id = self.compartment_id or instance.compartment_id
        # volumes an earlier try or run detached (recorded on the instance before the call) and did not re-attach
        pending = intents_of(instance.freeform_tags)
        if pending:
            self.log.warning("instance %s: %d volume(s) detached by an earlier try are still recorded as detached: "
                             "%s; they are re-attached after this image", self.instance_id, len(pending),
                             [(e["volume_id"], e["device"]) for e in pending])
        iscsi = self._iscsi_attachments(instance)
        if iscsi and not self.detach_iscsi:
            raise OciInputError(
                f"instance_id {self.instance_id!r}: has {len(iscsi)} iSCSI volume attachment(s) that OCI requires "
                f"disconnected before an image is made: "
                + "; ".join(f"attachment {a.id} (volume {a.volume_id}, device {a.device or 'none'})" for a in iscsi)
                + ". Detach them (and remove their iscsid node records), or set detach_iscsi=True to have this "
                  "task do it and re-attach them afterwards")
        if iscsi and instance.lifecycle_state != "RUNNING":
            raise OciInputError(f"instance_id {self.instance_id!r}: is {instance.lifecycle_state}; the iscsid cleanup "
                                f"runs through Run Command on a RUNNING instance: start it, or detach the iSCSI "
                                f"volumes yourself")
        if iscsi:
            self._cleanup_iscsid(context, compartment_id, iscsi)
        result: dict = {"instance_id": self.instance_id, "instance_state_before": instance.lifecycle_state,
                        "detached": list(pending), "region": self.hook.region}
        self._detached = result["detached"]
        try:
            for att in iscsi:
                self._detach(att, result)
            self.log.info("OCI stops instance %s while the image is taken (several minutes) and starts it again "
                          "when the image is done%s", self.instance_id,
                          "" if instance.lifecycle_state == "RUNNING" else " (it is STOPPED and stays so)")
            image = self._create_image(context, compute, compartment_id)
            self.remember(image.id)
            self.link(context, image.id)
            result.update(image_fields(image))
            return self.wait_or_defer(context, self.hook.lifecycle_spec(image.id, ["AVAILABLE"]), result)
        except TaskDeferred:
            raise
        except BaseException as exc:
            self._reattach_after_failure(context, result["detached"], exc)
            raise

    def execute_complete(self, context, event: dict[str, Any]) -> Any:
        try:
            return super().execute_complete(context, event)
        except BaseException as exc:
            detached = ((event or {}).get("result") or {}).get("detached") or []
            self._reattach_after_failure(context, detached, exc)
            raise

    def finish(self, context, result: dict) -> dict:
        """The image is AVAILABLE: wait for the instance to be back, re-attach what was detached, report."""
        image = self.hook.get_resource(result["image_id"], self.region)
        self._made.clear()  # made: no longer on_kill's to remove
        before = result.pop("instance_state_before", "RUNNING")
        self.log.info("image %s is %s; waiting for instance %s to be %s again", image.id, image.lifecycle_state,
                      self.instance_id, before)
        instance = self.hook.wait(self.hook.lifecycle_spec(self.instance_id, [before]), self.poll())
        try:
            reattached = self._reattach(context, result["detached"]) if self.reattach else []
        except Exception as exc:
            raise OciWaitError(f"image {image.id} was made, but {self._not_reattached(context, exc)}") from None
        if result["detached"] and not self.reattach:
            self.log.warning("reattach=False: %d iSCSI volume(s) stay detached from %s", len(result["detached"]),
                             self.instance_id)
        return {**result, **image_fields(image), "reattached": reattached,
                "instance_state": instance["lifecycle_state"]}

    def on_kill(self) -> None:
        super().on_kill()
        if self._detached and not self._reattached and self.reattach:
            try:
                self._reattach(None, self._detached)
            except Exception as exc:
                self.log.error("on_kill: could not re-attach %s to %s: %s", self._detached, self.instance_id, exc)

    # -- steps -----------------------------------------------------------------------------------------
    def _iscsi_attachments(self, instance) -> list:
        """The instance's iSCSI attachments that block imaging (ATTACHING ones are waited for first)."""

        compute = self.hook.get_client("compute", self.region)
        atts = self.hook.list_all(compute.list_volume_attachments, instance.compartment_id,
                                  instance_id=self.instance_id)
        blocking = [a for a in atts if a.attachment_type == "iscsi" and a.lifecycle_state in ACTIVE_ATTACHMENT]
        if self.detach_iscsi:
            for i, att in enumerate(blocking):
                if att.lifecycle_state == "ATTACHING":
                    self.hook.wait(self.hook.lifecycle_spec(att.id, ["ATTACHED"]), self.poll())
                    blocking[i] = compute.get_volume_attachment(att.id).data
        return blocking

    def _cleanup_iscsid(self, context, compartment_id: str, iscsi: list) -> None:
        script = ISCSI_CLEANUP_PREAMBLE + "".join(
            self.iscsi_cleanup_script.format(iqn=a.iqn, ipv4=a.ipv4, port=a.port, device=a.device or "",
                                             volume_id=a.volume_id, attachment_id=a.id) for a in iscsi)
        self.log.info("disconnecting %d iSCSI volume(s) and removing their iscsid node records on %s through Run "
                      "Command:\n%s", len(iscsi), self.instance_id, script)
        try_number = getattr(context["ti"], "try_number", 1)
        ran = self.hook.run_command(self.instance_id, compartment_id, script, int(self.script_timeout),
                          self.poll(), self.region, self.retry_token(context, f"iscsid-cleanup-try-{try_number}"))
        self.log.info("iscsid cleanup %s ended %s, exit code %s; output:\n%s", ran["command_id"], ran["state"],
                      ran["exit_code"], ran["output"])
        failure = command_failure(ran)
        if failure:
            raise OciWaitError(f"iscsid cleanup before imaging failed, nothing was detached: {failure}")

    def _detach(self, att, result: dict) -> None:
        entry = {"attachment_id": att.id, "volume_id": att.volume_id, "device": att.device,
                 "type": att.attachment_type, "is_read_only": bool(att.is_read_only),
                 "is_shareable": bool(att.is_shareable), "display_name": att.display_name,
                 "use_chap": bool(getattr(att, "chap_username", None)),
                 "is_agent_auto_iscsi_login_enabled": bool(getattr(att, "is_agent_auto_iscsi_login_enabled", False))}
        self.log.info("detaching iSCSI attachment %s (volume %s, device %s) before imaging", att.id, att.volume_id,
                      att.device)
        # the intent first, where a later try or a re-run reads it: a try that dies during the call still knows
        self._set_intent(entry["volume_id"], entry)
        result["detached"] = [e for e in result["detached"] if e["volume_id"] != entry["volume_id"]] + [entry]
        self._detached = result["detached"]
        self.hook.delete_resource(att.id, self.region)
        self.hook.wait(self.hook.lifecycle_spec(att.id, ["DETACHED"], []), self.poll())

    def _not_reattached(self, context, exc: BaseException) -> str:
        """After a failed re-attach: which volumes stay detached (still recorded on the instance), logged, pushed
        as XCom `not_reattached` for the report, and said in one bounded sentence naming volume and device."""
        from hooks.oci import bounded

        try:
            missing = intents_of(self.hook.get_client("compute", self.region).get_instance(
                self.instance_id).data.freeform_tags)
        except Exception:  # the instance cannot be read either: every volume this try knew of
            missing = list(self._detached)
        rows = [{"volume_id": e["volume_id"], "device": e["device"], "error": bounded(exc, 300)} for e in missing]
        if context is not None:
            context["ti"].xcom_push(key="not_reattached", value=rows)
        text = (f"re-attach failed, DETACHED from {self.instance_id}: "
                + "; ".join(f"volume {r['volume_id']} (device {r['device'] or 'none'})" for r in rows)
                + f" ({bounded(exc, 300)}); a retry or a re-run re-attaches them")
        self.log.error("%s", text)
        return text

    def _set_intent(self, volume_id: str, entry: dict | None) -> None:
        """Add (entry) or remove (None) a detached volume in the instance's freeform tags."""
        import oci

        compute = self.hook.get_client("compute", self.region)
        tags = dict(compute.get_instance(self.instance_id).data.freeform_tags or {})
        key = intent_key(volume_id)
        if entry is None and key not in tags:
            return
        if entry is None:
            tags.pop(key)
        else:
            tags[key] = intent_value(entry)
        compute.update_instance(self.instance_id, oci.core.models.UpdateInstanceDetails(freeform_tags=tags))

    def _create_image(self, context, compute, compartment_id: str):
        """CreateImage; a 409 for the one-image-per-instance window is retried with the poll backoff until
        `timeout` (OCI allows another image of the same instance 20 minutes after the last one started)."""
        import oci

        details = oci.core.models.CreateImageDetails(
            compartment_id=compartment_id, instance_id=self.instance_id, display_name=self.display_name,
            launch_mode=self.launch_mode, freeform_tags=self.managed_tags(context, self.freeform_tags))
        token = self.retry_token(context, "image")
        poll = self.poll()
        started = time.monotonic()
        while True:
            try:
                image = self.create_unless_failed(
                    token, lambda t: compute.create_image(details, opc_retry_token=t)).data
            except oci.exceptions.ServiceError as err:
                if not (self.window_wait and _is_window_conflict(err)):
                    raise
                try:
                    delay = poll.next_delay()
                except TimeoutError:
                    raise OciWaitError(f"instance {self.instance_id}: the one-image-per-instance window did not open "
                                       f"within timeout={self.timeout:.0f}s: {err.message}") from None
                self.log.info("OCI allows one image per instance at a time (20 minutes apart): %s; waited %.0fs, "
                              "trying again in %.1fs", err.message, time.monotonic() - started, delay)
                time.sleep(delay)
                continue
            self.log.info("image %s of instance %s requested (%s)", image.id, self.instance_id,
                          image.lifecycle_state)
            return image

    def _reattach(self, context, detached: list[dict]) -> list[str]:
        """Re-attach each detached volume with its type and device; adopt an attachment that is already there (a
        retried task); wait ATTACHED. Returns the new attachment ids."""
        import oci

        compute = self.hook.get_client("compute", self.region)
        m = oci.core.models
        compartment_id = compute.get_instance(self.instance_id).data.compartment_id
        made = []
        for entry in detached:
            existing = [a for a in self.hook.list_all(
                compute.list_volume_attachments, compartment_id, instance_id=self.instance_id,
                volume_id=entry["volume_id"])
                if a.lifecycle_state in ACTIVE_ATTACHMENT]
            if existing:
                att = existing[0]
                self.log.info("volume %s is attached again already (%s)", entry["volume_id"], att.id)
            else:
                if entry.get("attachment_id"):  # a detach still under way (a dropped response, a killed try)
                    self.hook.wait(self.hook.lifecycle_spec(entry["attachment_id"], ["DETACHED"], []), self.poll())
                cls = m.AttachIScsiVolumeDetails if entry["type"] == "iscsi" else m.AttachParavirtualizedVolumeDetails
                extra = {"use_chap": entry.get("use_chap"),
                         "is_agent_auto_iscsi_login_enabled": entry.get("is_agent_auto_iscsi_login_enabled")} \
                    if entry["type"] == "iscsi" else {}
                details = cls(instance_id=self.instance_id, volume_id=entry["volume_id"], device=entry["device"],
                              is_read_only=entry.get("is_read_only"), is_shareable=entry.get("is_shareable"),
                              display_name=entry.get("display_name"), **extra)
                token = self.retry_token(context, f"reattach-{entry['attachment_id']}") if context else None
                att = compute.attach_volume(details, opc_retry_token=token).data
                self.log.info("re-attaching volume %s as %s at %s: attachment %s", entry["volume_id"], entry["type"],
                              entry["device"], att.id)
            self.hook.wait(self.hook.lifecycle_spec(att.id, ["ATTACHED"]), self.poll())
            self._set_intent(entry["volume_id"], None)
            made.append(att.id)
        if any(e["type"] == "iscsi" for e in detached):
            self.log.info("iSCSI volumes re-attached: the instance logs in to them with the attachments' iSCSI "
                          "commands (or the agent's Block Volume Management plugin)")
        self._reattached = True
        return made

    def _reattach_after_failure(self, context, detached: list[dict], exc: BaseException) -> None:
        """Imaging failed after volumes were detached: put them back so the instance never stays without them."""
        if not detached or self._reattached or not self.reattach:
            return
        self.log.warning("imaging failed (%s); re-attaching the %d detached volume(s) first", exc, len(detached))
        try:
            self.hook.wait(self.hook.lifecycle_spec(self.instance_id, ["RUNNING", "STOPPED"]), self.poll())
            self._reattach(context, detached)
        except Exception as again:
            exc.add_note(self._not_reattached(context, again))


def _is_window_conflict(err) -> bool:
    """A 409 Conflict to CreateImage of an instance that is not an iSCSI refusal: another image of the instance was
    started less than 20 minutes ago. (409 IncorrectState, the instance busy, is retried by the hook's strategy;
    InvalidatedRetryToken is a different code.)"""
    message = (err.message or "").lower()
    return err.status == 409 and err.code == "Conflict" and "iscsi" not in message


# -- import -----------------------------------------------------------------------------------------------
class OciImportImageOperator(OciBaseOperator):
    """Import a VMDK or QCOW2 object from Object Storage as a custom image; wait for the work request.

    Before CreateImage: the object must exist (head), its first 64 KiB must be a VMDK or QCOW2 header of
    ``source_image_type`` (one ranged GET), and its virtual size at most 400 GB (binary, see the module docstring):
    OCI itself would fail the import only minutes later. The compartment defaults to the bucket's. Raises
    OciInputError for each of those, OciWaitError with OCI's text when the work request FAILS.

    XCom: image_id, display_name, size_in_mbs, lifecycle_state, source, virtual_size_bytes, source_image_type,
    work_request_id, region."""

    template_fields = oci_template_fields("display_name", "source_uri", "namespace", "bucket", "object_name",
                                          "source_image_type", "launch_mode", "operating_system",
                                          "operating_system_version", "freeform_tags", "compartment_id")

    def __init__(self, *, display_name: str, source_uri: str | None = None, namespace: str | None = None,
                 bucket: str | None = None, object_name: str | None = None, source_image_type: str = "VMDK",
                 launch_mode: str = "PARAVIRTUALIZED", operating_system: str | None = None,
                 operating_system_version: str | None = None, freeform_tags: dict | None = None,
                 compartment_id: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.compartment_id = compartment_id
        self.display_name = display_name
        self.source_uri = source_uri
        self.namespace = namespace
        self.bucket = bucket
        self.object_name = object_name
        self.source_image_type = source_image_type
        self.launch_mode = launch_mode
        self.operating_system = operating_system
        self.operating_system_version = operating_system_version
        self.freeform_tags = freeform_tags

    def validate_inputs(self) -> None:
        _blank_to_none(self, "source_uri", "namespace", "bucket", "object_name", "operating_system",
                       "operating_system_version")
        if not isinstance(self.display_name, str) or not 0 < len(self.display_name) <= 255:
            raise OciInputError(f"display_name {self.display_name!r}: 1 to 255 characters")
        if self.source_image_type not in IMAGE_FORMATS:
            raise OciInputError(f"source_image_type {self.source_image_type!r}: OCI imports {IMAGE_FORMATS}")
        if self.launch_mode not in IMPORT_LAUNCH_MODES:
            raise OciInputError(f"launch_mode {self.launch_mode!r}: an imported image launches in one of "
                                f"{IMPORT_LAUNCH_MODES}")
        self._target = object_target(self.source_uri, "source_uri", self.namespace, self.bucket, self.object_name,
                                     self.region)

    def execute(self, context) -> Any:
        import oci

        self.validate()
        target = self._target
        region = target["region"] or self.hook.region
        where = f"object {target['object']!r} in bucket {target['bucket']!r} of namespace {target['namespace']!r} " \
                f"({region})"
        field = "source_uri" if self.source_uri else "object_name"
        objects = self.hook.get_client("object_storage", region)
        try:
            head = objects.head_object(target["namespace"], target["bucket"], target["object"])
        except oci.exceptions.ServiceError as err:
            if err.status == 404:
                raise OciInputError(f"{field}: {where} not found; upload it first or fix the name") from None
            raise
        size = int(head.headers.get("content-length") or 0)
        first = b""
        if size:
            first = objects.get_object(target["namespace"], target["bucket"], target["object"],
                                       range=f"bytes=0-{min(size, HEADER_PROBE_BYTES) - 1}").data.content
        try:
            fmt, virtual_size = probe_disk_header(first)
        except DiskImageError as exc:
            raise OciInputError(f"{field}: {where} is {exc}") from None
        if fmt != self.source_image_type:
            raise OciInputError(f"source_image_type {self.source_image_type!r}: {where} is a {fmt} image; set "
                                f"source_image_type={fmt!r} or upload a {self.source_image_type} file")
        if virtual_size > IMAGE_LIMIT_BYTES:
            raise OciInputError(f"{field}: {where} has a virtual disk size of {gb(virtual_size)} ({virtual_size} "
                                f"bytes), over OCI's {IMAGE_LIMIT_GB} GB ({IMAGE_LIMIT_BYTES} bytes) import limit")
        self.log.info("%s: %s, virtual size %s (%d bytes), file %d bytes", where, fmt, gb(virtual_size),
                      virtual_size, size)
        compartment_id = self.compartment_id or objects.get_bucket(target["namespace"], target["bucket"]).data \
            .compartment_id
        uri = self.source_uri or object_uri(region, target["namespace"], target["bucket"], target["object"])
        m = oci.core.models
        common = {"source_image_type": self.source_image_type, "operating_system": self.operating_system,
                  "operating_system_version": self.operating_system_version}
        source = m.ImageSourceViaObjectStorageUriDetails(source_uri=self.source_uri, **common) if self.source_uri \
            else m.ImageSourceViaObjectStorageTupleDetails(namespace_name=target["namespace"],
                                                           bucket_name=target["bucket"],
                                                           object_name=target["object"], **common)
        details = m.CreateImageDetails(compartment_id=compartment_id, display_name=self.display_name,
                                       launch_mode=self.launch_mode, image_source_details=source,
                                       freeform_tags=self.managed_tags(context, self.freeform_tags))
        compute = self.hook.get_client("compute", self.region)
        resp = self.create_unless_failed(self.retry_token(context, "import"),
                                         lambda token: compute.create_image(details, opc_retry_token=token))
        image, wr_id = resp.data, resp.headers.get("opc-work-request-id")
        self.remember(image.id)
        self.link(context, image.id)
        self.log.info("importing %s as image %s (work request %s)", uri, image.id, wr_id)
        result = {**image_fields(image), "source": uri, "virtual_size_bytes": virtual_size,
                  "source_image_type": fmt, "work_request_id": wr_id, "region": self.hook.region}
        spec = WaitSpec.work_request(wr_id) if wr_id else self.hook.lifecycle_spec(image.id, ["AVAILABLE"])
        return self.wait_or_defer(context, spec, result)

    def finish(self, context, result: dict) -> dict:
        image = self.hook.wait(self.hook.lifecycle_spec(result["image_id"], ["AVAILABLE"]), self.poll())
        self._made.clear()
        return {**result, "lifecycle_state": image["lifecycle_state"], "size_in_mbs": image["size_in_mbs"],
                "display_name": image["display_name"]}


# -- export -----------------------------------------------------------------------------------------------
class OciExportImageOperator(OciBaseOperator):
    """Export an image to Object Storage as VMDK or QCOW2; wait for the work request and the image AVAILABLE.

    Refuses, before ExportImage: an image over OCI's 400 GB export limit (``size_in_mbs``), one not AVAILABLE, a
    missing bucket. Raises OciInputError for those, OciWaitError with OCI's text when the work request fails.

    XCom: image_id, export_format, work_request_id, object ({namespace, bucket, name}), object_region, size_bytes,
    lifecycle_state, region."""

    template_fields = oci_template_fields("image_id", "destination_uri", "namespace", "bucket", "object_name",
                                          "export_format")

    def __init__(self, *, image_id: str, destination_uri: str | None = None, namespace: str | None = None,
                 bucket: str | None = None, object_name: str | None = None, export_format: str = "VMDK", **kwargs):
        super().__init__(**kwargs)
        self.image_id = image_id
        self.destination_uri = destination_uri
        self.namespace = namespace
        self.bucket = bucket
        self.object_name = object_name
        self.export_format = export_format

    def validate_inputs(self) -> None:
        _blank_to_none(self, "destination_uri", "namespace", "bucket", "object_name")
        validate_ocid(self.image_id, "image_id", "image")
        if self.export_format not in IMAGE_FORMATS:
            raise OciInputError(f"export_format {self.export_format!r}: one of {IMAGE_FORMATS}")
        self._target = object_target(self.destination_uri, "destination_uri", self.namespace, self.bucket,
                                     self.object_name, self.region)

    def execute(self, context) -> Any:
        import oci

        self.validate()
        target = self._target
        region = target["region"] or self.hook.region
        compute = self.hook.get_client("compute", self.region)
        image = compute.get_image(self.image_id).data
        if image.size_in_mbs and image.size_in_mbs > IMAGE_LIMIT_MBS:
            raise OciInputError(f"image_id {self.image_id!r}: the image is {image.size_in_mbs} MB "
                                f"({image.size_in_mbs / 1024:.1f} GB), over OCI's {IMAGE_LIMIT_GB} GB export limit")
        if image.lifecycle_state != "AVAILABLE":
            raise OciInputError(f"image_id {self.image_id!r}: is {image.lifecycle_state}; only an AVAILABLE image "
                                f"can be exported")
        try:
            self.hook.get_client("object_storage", region).head_bucket(target["namespace"], target["bucket"])
        except oci.exceptions.ServiceError as err:
            if err.status == 404:
                raise OciInputError(f"bucket {target['bucket']!r} of namespace {target['namespace']!r} ({region}): "
                                    f"not found") from None
            raise
        m = oci.core.models
        details = m.ExportImageViaObjectStorageUriDetails(destination_uri=self.destination_uri,
                                                          export_format=self.export_format) \
            if self.destination_uri else m.ExportImageViaObjectStorageTupleDetails(
                namespace_name=target["namespace"], bucket_name=target["bucket"], object_name=target["object"],
                export_format=self.export_format)
        resp = self.create_unless_failed(self.retry_token(context, "export"), lambda token: compute.export_image(
            self.image_id, details, opc_retry_token=token))
        wr_id = resp.headers.get("opc-work-request-id")
        self.link(context, target["object"], kind="object", namespace=target["namespace"], bucket=target["bucket"],
                  region=region)
        self.log.info("exporting image %s as %s to %s/%s/%s (work request %s)", self.image_id, self.export_format,
                      target["namespace"], target["bucket"], target["object"], wr_id)
        result = {"image_id": self.image_id, "export_format": self.export_format, "work_request_id": wr_id,
                  "object": {"namespace": target["namespace"], "bucket": target["bucket"], "name": target["object"]},
                  "object_region": region, "region": self.hook.region}
        spec = WaitSpec.work_request(wr_id) if wr_id else self.hook.lifecycle_spec(self.image_id, ["AVAILABLE"])
        return self.wait_or_defer(context, spec, result)

    def finish(self, context, result: dict) -> dict:
        image = self.hook.wait(self.hook.lifecycle_spec(result["image_id"], ["AVAILABLE"]), self.poll())
        obj = result["object"]
        head = self.hook.get_client("object_storage", result["object_region"]).head_object(
            obj["namespace"], obj["bucket"], obj["name"])
        return {**result, "size_bytes": int(head.headers.get("content-length") or 0),
                "lifecycle_state": image["lifecycle_state"]}


# -- delete -----------------------------------------------------------------------------------------------
class OciDeleteImageOperator(OciBaseOperator):
    """Delete a custom image; wait DELETED. Already gone is success (teardowns rerun safely).

    XCom: image_id, deleted, existed, region."""

    template_fields = oci_template_fields("image_id")

    def __init__(self, *, image_id: str, **kwargs):
        super().__init__(**kwargs)
        self.image_id = image_id

    def validate_inputs(self) -> None:
        validate_ocid(self.image_id, "image_id", "image")

    def execute(self, context) -> Any:
        self.validate()
        existed = self.hook.delete_resource(self.image_id, self.region)
        result = {"image_id": self.image_id, "deleted": True, "existed": existed, "region": self.hook.region}
        return self.wait_or_defer(context, self.hook.lifecycle_spec(self.image_id, ["DELETED"], []), result)
