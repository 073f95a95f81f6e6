"""The iSCSI volumes an image task detaches from its instance, and putting them back.

OCI makes an image of an instance only with every iSCSI attachment disconnected and its iscsid node records
removed (docs/architecture.md, "OCI rules"). `DetachedVolumes` does the four steps around the image:
find the blocking attachments, clean iscsid up through Run Command, detach (recording each volume on the
instance first, freeform tag `airflow-detached-<digest>`, see common/tags.py), and re-attach with the same type
and device. The record is what makes a retry, a re-run and `on_kill` put back what an earlier try detached.
OciCreateImageFromInstanceOperator decides when; this class knows how.
"""

from __future__ import annotations

from collections.abc import Callable
from logging import Logger
from typing import Any

from common.errors import OciInputError, OciWaitError, bounded
from common.tags import intent_key, intent_value, intents_of
from hooks.compute import LIVE_ATTACHMENT, OciComputeHook, command_failure
from hooks.waiting import Poll

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


def check_cleanup_template(template: Any, field: str = "iscsi_cleanup_script") -> None:
    """Refuse a per-attachment cleanup template that names a placeholder the attachments do not have."""
    try:
        template.format(iqn="iqn", ipv4="0.0.0.0", port=3260, device="/dev/x", volume_id="v", attachment_id="a")
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise OciInputError(f"{field}: a per-attachment template using only {{iqn}}, {{ipv4}}, {{port}}, "
                            f"{{device}}, {{volume_id}}, {{attachment_id}} ({exc!r})") from exc


def cleanup_script(template: str, attachments: list) -> str:
    """The one Run Command script for all `attachments`: the preamble, then `template` formatted per attachment."""
    return ISCSI_CLEANUP_PREAMBLE + "".join(
        template.format(iqn=a.iqn, ipv4=a.ipv4, port=a.port, device=a.device or "", volume_id=a.volume_id,
                        attachment_id=a.id) for a in attachments)


def detach_entry(att) -> dict:
    """What re-attaching a volume needs to know of its attachment (the XCom's `detached` rows)."""
    return {"attachment_id": att.id, "volume_id": att.volume_id, "device": att.device,
            "type": att.attachment_type, "is_read_only": bool(att.is_read_only),
            "is_shareable": bool(att.is_shareable), "display_name": att.display_name,
            "use_chap": bool(getattr(att, "chap_username", None)),
            "is_agent_auto_iscsi_login_enabled": bool(getattr(att, "is_agent_auto_iscsi_login_enabled", False))}


class DetachedVolumes:
    """The volumes one task detached from one instance (``detached``, the XCom rows) and whether they are back.

    :param hook: the task's hook (compute: Run Command, attachments)
    :param instance_id: OCID of the instance being imaged
    :param region: the region of the instance (None: the connection's)
    :param poll: makes a fresh Poll for each wait (the task's ``poll``: its poll_interval, max_interval, timeout)
    :param retry_token: ``(context, purpose) -> token``, the task's opc-retry-token for each create
    :param log: the task's logger
    :param detached: rows an earlier step or try recorded (an execute before a deferral, an earlier try's tags)
    """

    def __init__(self, hook: OciComputeHook, instance_id: str, region: str | None, poll: Callable[[], Poll],
                 retry_token: Callable[[Any, str], str], log: Logger, detached: list[dict] | None = None):
        self.hook = hook
        self.instance_id = instance_id
        self.region = region
        self.poll = poll
        self.retry_token = retry_token
        self.log = log
        self.detached: list[dict] = detached if detached is not None else []
        self.reattached = False

    @property
    def compute(self):
        return self.hook.get_client("compute", self.region)

    # -- before the image ------------------------------------------------------------------------------
    def adopt_recorded(self, instance) -> None:
        """Start from the volumes an earlier try or run detached (recorded on the instance before the call) and
        did not re-attach: they are re-attached after this image too."""
        pending = intents_of(instance.freeform_tags)
        if pending:
            self.log.warning("instance %s: %d volume(s) detached by an earlier try are still recorded as detached: "
                             "%s; they are re-attached after this image", self.instance_id, len(pending),
                             [(e["volume_id"], e["device"]) for e in pending])
        self.detached = list(pending)

    def blocking(self, instance, wait_attaching: bool) -> list:
        """The instance's iSCSI attachments that block imaging; with `wait_attaching`, ATTACHING ones are waited
        for first (they are about to be detached, which an ATTACHING attachment cannot be)."""
        compute = self.compute
        atts = self.hook.list_all(compute.list_volume_attachments, instance.compartment_id,
                                  instance_id=self.instance_id)
        found = [a for a in atts if a.attachment_type == "iscsi" and a.lifecycle_state in LIVE_ATTACHMENT]
        if wait_attaching:
            for i, att in enumerate(found):
                if att.lifecycle_state == "ATTACHING":
                    self.hook.wait(self.hook.lifecycle_spec(att.id, ["ATTACHED"]), self.poll())
                    found[i] = compute.get_volume_attachment(att.id).data
        return found

    def cleanup_iscsid(self, context, compartment_id: str, attachments: list, template: str,
                       script_timeout: int) -> None:
        """Log the instance out of each iSCSI target and delete its iscsid node record, through Run Command.
        A failed script fails the task before anything is detached."""
        script = cleanup_script(template, attachments)
        self.log.info("disconnecting %d iSCSI volume(s) and removing their iscsid node records on %s through Run "
                      "Command:\n%s", len(attachments), self.instance_id, script)
        try_number = getattr(context["ti"], "try_number", 1)
        ran = self.hook.run_command(self.instance_id, compartment_id, script, int(script_timeout), self.poll(),
                                    self.region, self.retry_token(context, f"iscsid-cleanup-try-{try_number}"))
        self.log.info("iscsid cleanup %s ended %s, exit code %s; output:\n%s", ran["command_id"], ran["state"],
                      ran["exit_code"], ran["output"])
        failure = command_failure(ran)
        if failure:
            raise OciWaitError(f"iscsid cleanup before imaging failed, nothing was detached: {failure}")

    def detach(self, att) -> None:
        """Record the volume on the instance, then detach it and wait DETACHED."""
        entry = detach_entry(att)
        self.log.info("detaching iSCSI attachment %s (volume %s, device %s) before imaging", att.id, att.volume_id,
                      att.device)
        # the intent first, where a later try or a re-run reads it: a try that dies during the call still knows
        self._set_intent(entry["volume_id"], entry)
        self.detached = [e for e in self.detached if e["volume_id"] != entry["volume_id"]] + [entry]
        self.hook.delete_resource(att.id, self.region)
        self.hook.wait(self.hook.lifecycle_spec(att.id, ["DETACHED"], []), self.poll())

    # -- after the image -------------------------------------------------------------------------------
    def reattach(self, context) -> list[str]:
        """Re-attach each detached volume with its type and device; adopt an attachment that is already there (a
        retried task); wait ATTACHED; drop its record from the instance. Returns the attachment ids."""
        import oci

        compute = self.compute
        m = oci.core.models
        compartment_id = compute.get_instance(self.instance_id).data.compartment_id
        made = []
        for entry in self.detached:
            existing = [a for a in self.hook.list_all(
                compute.list_volume_attachments, compartment_id, instance_id=self.instance_id,
                volume_id=entry["volume_id"])
                if a.lifecycle_state in LIVE_ATTACHMENT]
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
        if any(e["type"] == "iscsi" for e in self.detached):
            self.log.info("iSCSI volumes re-attached: the instance logs in to them with the attachments' iSCSI "
                          "commands (or the agent's Block Volume Management plugin)")
        self.reattached = True
        return made

    def reattach_after_failure(self, context, exc: BaseException) -> None:
        """Imaging failed after volumes were detached: put them back so the instance never stays without them.
        If that fails too, `exc` gets a note naming what stays detached."""
        if not self.detached or self.reattached:
            return
        self.log.warning("imaging failed (%s); re-attaching the %d detached volume(s) first", exc, len(self.detached))
        try:
            self.hook.wait(self.hook.lifecycle_spec(self.instance_id, ["RUNNING", "STOPPED"]), self.poll())
            self.reattach(context)
        except Exception as again:
            exc.add_note(self.not_reattached(context, again))

    def reattach_on_kill(self) -> None:
        """The task is being killed: put back what it detached, best effort (no context, no retry token)."""
        if not self.detached or self.reattached:
            return
        try:
            self.reattach(None)
        except Exception as exc:
            self.log.error("on_kill: could not re-attach %s to %s: %s", self.detached, self.instance_id, exc)

    def not_reattached(self, context, exc: BaseException) -> str:
        """After a failed re-attach: which volumes stay detached (still recorded on the instance), logged, pushed
        as XCom `not_reattached` for the report, and said in one bounded sentence naming volume and device."""
        try:
            missing = intents_of(self.compute.get_instance(self.instance_id).data.freeform_tags)
        except Exception:  # the instance cannot be read either: every volume this try knew of
            missing = list(self.detached)
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

        compute = self.compute
        tags = dict(compute.get_instance(self.instance_id).data.freeform_tags or {})
        key = intent_key(volume_id)
        if entry is None and key not in tags:
            return
        if entry is None:
            tags.pop(key)
        else:
            tags[key] = intent_value(entry)
        compute.update_instance(self.instance_id, oci.core.models.UpdateInstanceDetails(freeform_tags=tags))
