"""In-place boot restore: swap a restored boot volume into an existing instance, which keeps its OCID, its VNICs
(private and public IPs, hostname) and its block volume attachments.

OCI's rules shape the steps: a boot volume is detached from, and attached to, a STOPPED instance only, in the
instance's availability domain, and an instance without a boot volume cannot start. So the swap records its
intent on the instance (a freeform tag) before it changes anything, stops the instance, detaches the old boot
volume, attaches the restored one, starts the instance again (when it was running) and records that it is done.
The old boot volume is kept, AVAILABLE and detached, and reported: the user deletes it once the restore is
accepted (or swaps it back the same way).

Every try reads where the swap stands and goes on from there: a try that died after the detach is finished by
the next one. A try that fails re-attaches the old boot volume when the instance is left without one, so the
instance never stays without a boot volume.
"""

from __future__ import annotations

from common.errors import OciInputError, OciWaitError
from common.tags import SWAP_TAG, SWAPPED_TAG, swap_record
from hooks.compute import LIVE_ATTACHMENT
from hooks.oci import WaitSpec, validate_ocid

from operators.base import OciBaseOperator, oci_template_fields


class OciSwapBootVolumeOperator(OciBaseOperator):
    """Swap `boot_volume_id` (a restored boot volume, AVAILABLE, in the instance's AD) into `instance_id` in
    place; keep the old boot volume. Waits block (the swap is a sequence of short steps, each read back).

    XCom: instance_id, boot_volume_id, old_boot_volume_id, old_boot_volume_state, private_ip, public_ip,
    hostname_label, lifecycle_state, region.

    :param instance_id: the instance whose boot volume is replaced (templated)
    :param boot_volume_id: the boot volume to boot from instead (AVAILABLE, in the instance's availability domain)
        (templated)
    """

    template_fields = oci_template_fields("instance_id", "boot_volume_id")

    def __init__(self, *, instance_id: str, boot_volume_id: str, **kwargs):
        super().__init__(**kwargs)
        self.instance_id = instance_id
        self.boot_volume_id = boot_volume_id

    def validate_inputs(self) -> None:
        validate_ocid(self.instance_id, "instance_id", "instance")
        validate_ocid(self.boot_volume_id, "boot_volume_id", "bootvolume")

    # -- steps ---------------------------------------------------------------------------------------------
    @property
    def compute(self):
        return self.hook.get_client("compute", self.region)

    def _instance(self):
        return self.compute.get_instance(self.instance_id).data

    def _live(self):
        return next((a for a in self.hook.boot_attachments(self._instance(), self.region)
                     if a.lifecycle_state in LIVE_ATTACHMENT), None)

    def _tags(self, pending: dict | None, done: dict | None = None) -> None:
        """Set (or clear) the pending record and, when done, the done record: one UpdateInstance."""
        import oci

        tags = dict(self._instance().freeform_tags or {})
        tags.pop(SWAP_TAG, None)
        if pending:
            tags[SWAP_TAG] = f"{pending['old']}|{pending['new']}|{int(pending['was_running'])}"
        if done:
            tags[SWAPPED_TAG] = f"{done['old']}|{done['new']}"
        self.compute.update_instance(self.instance_id, oci.core.models.UpdateInstanceDetails(freeform_tags=tags))

    def _power(self, action: str, target: str) -> None:
        """Settle (no STOPPING or STARTING), then STOP or START unless already there; wait for the state."""
        state = self.hook.wait(self.hook.lifecycle_spec(self.instance_id, ["RUNNING", "STOPPED"]),
                               self.poll())["lifecycle_state"]
        if state == target:
            return
        self.log.info("%s %s (it is %s)", action, self.instance_id, state)
        self.compute.instance_action(self.instance_id, action)
        self.hook.wait(self.hook.lifecycle_spec(self.instance_id, [target]), self.poll())

    def _wait_attachment(self, attachment_id: str, target: str) -> None:
        failures = [] if target == "DETACHED" else ["DETACHING", "DETACHED"]
        self.hook.wait(WaitSpec("compute", "get_boot_volume_attachment", attachment_id, [target], failures,
                                region=self.region or self.hook.region), self.poll())

    def _attach(self, context, boot_volume_id: str, purpose: str) -> str:
        """AttachBootVolume with a retry token (per try: a rolled-back try's attachment must not be adopted)."""
        import oci

        details = oci.core.models.AttachBootVolumeDetails(boot_volume_id=boot_volume_id,
                                                           instance_id=self.instance_id)
        token = self.retry_token(context, f"{purpose}-{context['ti'].try_number}")
        response = self.create_unless_failed(token, lambda t: self.compute.attach_boot_volume(
            details, opc_retry_token=t))
        self.log.info("attaching boot volume %s to %s (attachment %s)", boot_volume_id, self.instance_id,
                      response.data.id)
        self._wait_attachment(response.data.id, "ATTACHED")
        return response.data.id

    def _swap(self, context, pending: dict) -> None:
        """Stop, detach the old boot volume, attach the new one: each step only if not done yet."""
        self._power("STOP", "STOPPED")
        live = self._live()
        if live and live.boot_volume_id == pending["new"]:
            if live.lifecycle_state != "ATTACHED":
                self._wait_attachment(live.id, "ATTACHED")
            return
        if live:  # the old boot volume (or, after a failed rollback, whatever is there)
            if live.lifecycle_state == "ATTACHING":
                self._wait_attachment(live.id, "ATTACHED")
            self.log.info("detaching boot volume %s from %s", live.boot_volume_id, self.instance_id)
            self.compute.detach_boot_volume(live.id)
            self._wait_attachment(live.id, "DETACHED")
        else:
            detaching = next((a for a in self.hook.boot_attachments(self._instance(), self.region)
                              if a.lifecycle_state == "DETACHING"), None)
            if detaching:
                self._wait_attachment(detaching.id, "DETACHED")
        self._attach(context, pending["new"], "attach-restored")

    def _roll_back(self, context, pending: dict) -> str:
        """After a failed try: the old boot volume back when the instance has none, started again when it was
        running; the pending record cleared once the instance is as it was. Returns what was done."""
        live = self._live()
        if live is None:
            self._attach(context, pending["old"], "reattach-old")
            what = f"the old boot volume {pending['old']} was attached again"
        elif live.boot_volume_id == pending["new"]:
            return f"the restored boot volume {pending['new']} is attached; a retry finishes the swap"
        else:
            what = f"boot volume {live.boot_volume_id} is still attached"
        if pending["was_running"]:
            self._power("START", "RUNNING")
        self._tags(None)
        return what

    # -- run ---------------------------------------------------------------------------------------------------
    def execute(self, context) -> dict:
        self.validate()
        instance = self._instance()
        self.link(context, self.instance_id)
        if instance.lifecycle_state in ("TERMINATING", "TERMINATED"):
            raise OciInputError(f"instance_id {self.instance_id!r}: is {instance.lifecycle_state}")
        tags = instance.freeform_tags or {}
        pending, done = swap_record(tags.get(SWAP_TAG)), swap_record(tags.get(SWAPPED_TAG))
        live = self._live()
        if pending is None and done and done["new"] == self.boot_volume_id and live \
                and live.boot_volume_id == self.boot_volume_id:
            self.log.info("an earlier try swapped %s into %s already", self.boot_volume_id, self.instance_id)
            return self._result(done)
        if pending and pending["new"] != self.boot_volume_id:
            raise OciInputError(f"instance_id {self.instance_id!r}: another boot volume swap is unfinished "
                                f"({pending['old']} -> {pending['new']}, tag {SWAP_TAG}); re-run the task that "
                                f"started it, which finishes or rolls it back")
        if pending is None:
            if live is None:
                raise OciInputError(f"instance_id {self.instance_id!r}: has no boot volume attached")
            if live.boot_volume_id == self.boot_volume_id:
                raise OciInputError(f"boot_volume_id {self.boot_volume_id!r}: is already the boot volume of "
                                    f"{self.instance_id}")
            new = self.hook.get_resource(self.boot_volume_id, self.region)
            if new.lifecycle_state != "AVAILABLE":
                raise OciInputError(f"boot_volume_id {self.boot_volume_id!r}: is {new.lifecycle_state}, must be "
                                    f"AVAILABLE")
            if new.availability_domain != instance.availability_domain:
                raise OciInputError(f"boot_volume_id {self.boot_volume_id!r}: is in {new.availability_domain}, the "
                                    f"instance in {instance.availability_domain}; a boot volume attaches only in "
                                    f"its instance's availability domain")
            pending = {"old": live.boot_volume_id, "new": self.boot_volume_id,
                       "was_running": instance.lifecycle_state in ("RUNNING", "STARTING")}
            # the intent first, where a later try reads it: a try that dies during the swap still knows
            self._tags(pending)
        else:
            self.log.info("an earlier try left the swap %s -> %s unfinished: going on", pending["old"], pending["new"])
        try:
            self._swap(context, pending)
        except Exception as exc:
            try:
                what = self._roll_back(context, pending)
            except Exception as again:  # the pending record stays: the next try finishes the swap
                what = f"rolling back failed too ({type(again).__name__}: {again}); the next try goes on"
            raise OciWaitError(f"boot volume swap of {self.instance_id} failed ({type(exc).__name__}: {exc}); "
                               f"{what}") from exc
        if pending["was_running"]:
            self._power("START", "RUNNING")
        self._tags(None, done=pending)
        return self._result(pending)

    def _result(self, record: dict) -> dict:
        instance = self._instance()
        details = self.hook.instance_details(instance, self.region or self.hook.region)
        if details["boot_volume_id"] != record["new"]:
            raise OciWaitError(f"instance {self.instance_id}: boots from {details['boot_volume_id']}, not the "
                               f"restored {record['new']}")
        old = self.hook.get_resource(record["old"], self.region)
        self.log.info("instance %s now boots from %s; the old boot volume %s is kept (%s): delete it once the "
                      "restore is accepted", self.instance_id, record["new"], record["old"], old.lifecycle_state)
        return {"instance_id": self.instance_id, "boot_volume_id": record["new"], "old_boot_volume_id": record["old"],
                "old_boot_volume_state": old.lifecycle_state, "private_ip": details["private_ip"],
                "public_ip": details["public_ip"], "hostname_label": details["hostname_label"],
                "lifecycle_state": instance.lifecycle_state, "region": details["region"]}
