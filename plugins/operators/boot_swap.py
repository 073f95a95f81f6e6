"""In-place boot restore: swap a restored boot volume into an existing instance, which keeps its OCID, its VNICs
(private and public IPs, hostname) and its block volume attachments.

OCI's rules shape the steps: a boot volume is detached from, and attached to, a STOPPED instance only, in the
instance's availability domain, and an instance without a boot volume cannot start. So the swap records its
intent on the instance (a freeform tag) before it changes anything, stops the instance, detaches the old boot
volume, attaches the restored one, starts the instance again (when it was running) and records that it is done.
The old boot volume is kept, AVAILABLE and detached, and reported: the user deletes it once the restore is
accepted (or swaps it back the same way).

The swap is a state machine that OCI itself shows (the tag, the live boot attachment, the instance's state), so
any later try or run can finish it: every step is skipped when already done, and a run killed at any step is
finished by the next try, a re-run, or a new run of the same request (validate_request finds the unfinished swap
and hands it here; see docs/in-place-restore.md). A try that fails rolls back to the old boot volume; when even
that fails, the message says where the instance stands and, when no try is left, gives the `oci` commands that
put the old boot volume back. A start that fails leaves the instance STOPPED on the restored volume, and says so.
"""

from __future__ import annotations

from common.errors import OciInputError, OciWaitError
from common.ids import validate_ocid
from common.swaps import repair_commands, where
from common.tags import SWAP_TAG, SWAPPED_TAG, swap_record
from hooks.compute import LIVE_ATTACHMENT, OciComputeHook
from hooks.waiting import WaitSpec

from operators.base import OciWaitingOperator, oci_template_fields

STATE_XCOM_KEY = "swap_state"  # a failed try's account of where the instance stands, for the report


class OciSwapBootVolumeOperator(OciWaitingOperator):
    """Swap `boot_volume_id` (a restored boot volume, AVAILABLE, in the instance's AD) into `instance_id` in
    place; keep the old boot volume. Waits block (the swap is a sequence of short steps, each read back).

    XCom: instance_id, boot_volume_id, old_boot_volume_id, old_boot_volume_state, private_ip, public_ip,
    hostname_label, lifecycle_state, region; a failed try pushes `swap_state` (where the instance stands, the
    repair commands when no try is left).

    :param instance_id: the instance whose boot volume is replaced (templated)
    :param boot_volume_id: the boot volume to boot from instead (AVAILABLE, in the instance's availability domain);
        empty: the restored boot volume of ``unfinished_swap`` (templated)
    :param unfinished_swap: an earlier run's swap to finish instead (validate_request's ``unfinished_swap``: old,
        new, run), or None (templated)
    """

    hook_class = OciComputeHook
    plan_operation = "InstanceAction"
    template_fields = oci_template_fields("instance_id", "boot_volume_id", "unfinished_swap")

    def __init__(self, *, instance_id: str, boot_volume_id: str | None, unfinished_swap: dict | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.instance_id = instance_id
        self.boot_volume_id = boot_volume_id
        self.unfinished_swap = unfinished_swap

    def validate_inputs(self) -> None:
        if not self.boot_volume_id and isinstance(self.unfinished_swap, dict):
            # validate_request found this swap unfinished (or done by this run) and chose to finish it: the
            # restore was not made again, the swap's own restored boot volume is used
            self.boot_volume_id = self.unfinished_swap.get("new")
            self.log.info("finishing the swap %s -> %s that run %s started (found %s); nothing restored again",
                          self.unfinished_swap.get("old"), self.boot_volume_id, self.unfinished_swap.get("run"),
                          self.unfinished_swap.get("found"))
        validate_ocid(self.instance_id, "instance_id", "instance")
        validate_ocid(self.boot_volume_id, "boot_volume_id", "bootvolume")
        if self.unfinished_swap is not None and not isinstance(self.unfinished_swap, dict):
            raise OciInputError(f"unfinished_swap {str(self.unfinished_swap)[:80]!r}: validate_request's record of "
                                f"an unfinished swap (a dict with old and new), or None")

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

    def _detach(self, live) -> None:
        """Detach a live attachment (waiting out an ATTACHING one first), or wait out a DETACHING one."""
        if live is None:
            detaching = next((a for a in self.hook.boot_attachments(self._instance(), self.region)
                              if a.lifecycle_state == "DETACHING"), None)
            if detaching:
                self._wait_attachment(detaching.id, "DETACHED")
            return
        if live.lifecycle_state == "ATTACHING":
            self._wait_attachment(live.id, "ATTACHED")
        self.log.info("detaching boot volume %s from %s", live.boot_volume_id, self.instance_id)
        self.compute.detach_boot_volume(live.id)
        self._wait_attachment(live.id, "DETACHED")

    def _swap(self, context, pending: dict) -> None:
        """Stop, detach the old boot volume, attach the new one: each step only if not done yet (a run killed
        after the attach, or after the start, finds the new one attached and does not stop the instance)."""
        live = self._live()
        if live and live.boot_volume_id == pending["new"]:
            if live.lifecycle_state != "ATTACHED":
                self._wait_attachment(live.id, "ATTACHED")
            return
        self._power("STOP", "STOPPED")
        live = self._live()
        self._detach(live)  # the old boot volume (or, after a failed rollback, whatever is there)
        self._attach(context, pending["new"], "attach-restored")

    def _roll_back(self, context, pending: dict) -> None:
        """After a failed swap: the old boot volume attached again (the new one detached first), the instance
        started when it was running, the pending record cleared. Raises when OCI refuses a step."""
        live = self._live()
        if not (live and live.boot_volume_id == pending["old"]):
            self._power("STOP", "STOPPED")
            self._detach(self._live())
            self._attach(context, pending["old"], "reattach-old")
        if pending["was_running"]:
            self._power("START", "RUNNING")
        self._tags(None)

    def _state(self, pending: dict) -> dict:
        """Where the instance stands, read from OCI (for the message, the report and the repair commands)."""
        try:
            instance, live = self._instance(), self._live()
        except Exception as exc:  # the message must still go out
            return {"lifecycle_state": "UNKNOWN", "boot_volume_id": None, "attachment": None,
                    "where": f"instance {self.instance_id}: its state could not be read ({type(exc).__name__})"}
        on = live.boot_volume_id if live else None
        return {"lifecycle_state": instance.lifecycle_state, "boot_volume_id": on,
                "attachment": (live.id, live.boot_volume_id) if live else None,
                "where": where(self.instance_id, instance.lifecycle_state, on, pending)}

    def _give_up(self, context, pending: dict, text: str, repair: list[str] | None) -> OciWaitError:
        """The error of a failed try; the instance's true state goes to XCom `swap_state` for the report."""
        context["ti"].xcom_push(key=STATE_XCOM_KEY, value={
            "instance_id": self.instance_id, **{k: v for k, v in self._state(pending).items() if k != "attachment"},
            "old_boot_volume_id": pending["old"], "new_boot_volume_id": pending["new"], "repair": repair,
            "message": text})
        return OciWaitError(text)

    def _next_try(self, context) -> bool:
        """Whether Airflow gives this task another try after this one fails (its retries are not used up)."""
        return context["ti"].try_number <= (self.retries or 0)

    def _swap_failed(self, context, pending: dict, exc: Exception) -> OciWaitError:
        text = f"boot volume swap of {self.instance_id} failed ({type(exc).__name__}: {exc}); "
        again = self._next_try(context)
        try:
            self._roll_back(context, pending)
        except Exception as failed:  # the pending record stays: a next try or a re-run goes on from there
            state = self._state(pending)
            text += f"rolling back failed too ({type(failed).__name__}: {failed}); {state['where']}"
            if again:
                return self._give_up(context, pending, text + "; the next try goes on from there", None)
            repair = repair_commands(self.instance_id, self.region or self.hook.region, pending["old"],
                                     state["lifecycle_state"], state["attachment"], pending["was_running"])
            return self._give_up(context, pending, text + (
                f"; no try is left: re-run the restore with the same request (it finishes the swap "
                f"{pending['old']} -> {pending['new']}), or put the old boot volume back with: "
                + " && ".join(repair)), repair)
        text += f"rolled back: {self._state(pending)['where']}"
        return self._give_up(context, pending, text + ("; the next try swaps again" if again else
                                                       "; no try is left: run the restore again to retry"), None)

    def _start_failed(self, context, pending: dict, exc: Exception) -> OciWaitError:
        """The restored boot volume is attached but the instance does not start: it stays on the NEW volume
        (starting the old one would fail the same way); the pending record stays for a re-run."""
        state = self._state(pending)
        text = (f"starting {self.instance_id} on the restored boot volume {pending['new']} failed "
                f"({type(exc).__name__}: {exc}); {state['where']}, the old boot volume {pending['old']} is "
                f"detached and kept")
        if self._next_try(context):
            return self._give_up(context, pending, text + "; the next try starts it", None)
        start = repair_commands(self.instance_id, self.region or self.hook.region, pending["new"],
                                state["lifecycle_state"], state["attachment"], True)
        return self._give_up(context, pending, text + "; no try is left: start it with: " + " && ".join(start)
                             + " (or re-run the restore with the same request, which finishes the swap)", start)

    # -- run ---------------------------------------------------------------------------------------------------
    def execute_step(self, context) -> dict:
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
        if pending and pending["new"] != self.boot_volume_id and live and live.boot_volume_id == pending["old"] \
                and instance.lifecycle_state == ("RUNNING" if pending["was_running"] else "STOPPED"):
            # put back by hand (the repair commands): only the tag is left of it, which this swap replaces
            self.log.info("the abandoned swap %s -> %s (the instance is %s on its old boot volume) is replaced",
                          pending["old"], pending["new"], instance.lifecycle_state)
            pending = None
        if pending and pending["new"] != self.boot_volume_id:
            raise OciInputError(f"instance_id {self.instance_id!r}: another boot volume swap is unfinished "
                                f"({pending['old']} -> {pending['new']}, tag {SWAP_TAG}); re-run the restore that "
                                f"started it, which finishes it; nothing was changed")
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
            self.log.info("an earlier try or run left the swap %s -> %s unfinished (%s): finishing it",
                          pending["old"], pending["new"], self._state(pending)["where"])
        try:
            self._swap(context, pending)
        except Exception as exc:
            raise self._swap_failed(context, pending, exc) from exc
        if pending["was_running"]:
            try:
                self._power("START", "RUNNING")
            except Exception as exc:
                raise self._start_failed(context, pending, exc) from exc
        self._tags(None, done=pending)
        return self._result(pending)

    def _result(self, record: dict) -> dict:
        instance = self._instance()
        details = self.hook.instance_details(instance, self.region or self.hook.region)
        if details["boot_volume_id"] != record["new"]:
            raise OciWaitError(f"instance {self.instance_id}: boots from {details['boot_volume_id']}, not the "
                               f"restored {record['new']}")
        old = self.hook.get_resource(record["old"], self.region)
        self.log.info("instance %s is %s on the restored boot volume %s; the old boot volume %s is kept (%s): "
                      "delete it once the restore is accepted", self.instance_id, instance.lifecycle_state,
                      record["new"], record["old"], old.lifecycle_state)
        return {"instance_id": self.instance_id, "boot_volume_id": record["new"], "old_boot_volume_id": record["old"],
                "old_boot_volume_state": old.lifecycle_state, "private_ip": details["private_ip"],
                "public_ip": details["public_ip"], "hostname_label": details["hostname_label"],
                "lifecycle_state": instance.lifecycle_state, "region": details["region"]}
