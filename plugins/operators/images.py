"""Custom images of an instance (the golden image), and deleting images. Import and export: image_transfer.py.

OCI rules honoured (docs/architecture.md, "OCI rules"):
- an image of an instance needs every iSCSI attachment disconnected first, with the iscsid node records removed;
  paravirtualized attachments are fine. We refuse, or (``detach_iscsi=True``) clean up, detach, image and
  re-attach, so the instance never stays without its volumes (the volume steps: detached_volumes.py);
- imaging a RUNNING instance stops it for several minutes; OCI restarts it when the image is done;
- one image per instance at a time, and 20 minutes before the same instance can be imaged again: a refused
  CreateImage (409) is waited out with the poll backoff, never hammered and never failed at once.
"""

from __future__ import annotations

import time
from typing import Any

from airflow.sdk.exceptions import TaskDeferred
from common.errors import OciInputError, OciWaitError
from common.ids import validate_ocid
from disks.headers import LAUNCH_MODES
from forms.params import blank_to_none, flag
from hooks.compute import OciComputeHook

from operators.base import OciBaseOperator, OciWaitingOperator, oci_template_fields
from operators.detached_volumes import ISCSI_CLEANUP_COMMANDS, DetachedVolumes, check_cleanup_template

IMAGEABLE = ("RUNNING", "STOPPED")  # the states OCI makes an image of an instance in


# -- pure helpers (unit-tested) ---------------------------------------------------------------------------
def image_fields(image) -> dict:
    """The XCom fields every image operator reports of an image."""
    return {"image_id": image.id, "display_name": image.display_name, "size_in_mbs": image.size_in_mbs,
            "lifecycle_state": image.lifecycle_state}


def is_window_conflict(err) -> bool:
    """A 409 Conflict to CreateImage of an instance that is not an iSCSI refusal: another image of the instance was
    started less than 20 minutes ago. (409 IncorrectState, the instance busy, is retried by the hook's strategy;
    InvalidatedRetryToken is a different code.)"""
    message = (err.message or "").lower()
    return err.status == 409 and err.code == "Conflict" and "iscsi" not in message


def iscsi_refusal(instance_id: str, instance_state: str, attachments: list, detach_iscsi: bool) -> str | None:
    """Why the instance cannot be imaged as it is with its iSCSI `attachments` (None: it can): they are attached and
    the task may not detach them, or the iscsid cleanup cannot run because the instance is not RUNNING."""
    if attachments and not detach_iscsi:
        return (f"instance_id {instance_id!r}: has {len(attachments)} iSCSI volume attachment(s) that OCI requires "
                f"disconnected before an image is made: "
                + "; ".join(f"attachment {a.id} (volume {a.volume_id}, device {a.device or 'none'})"
                            for a in attachments)
                + ". Detach them (and remove their iscsid node records), or set detach_iscsi=True to have this "
                  "task do it and re-attach them afterwards")
    if attachments and instance_state != "RUNNING":
        return (f"instance_id {instance_id!r}: is {instance_state}; the iscsid cleanup runs through Run Command on a "
                f"RUNNING instance: start it, or detach the iSCSI volumes yourself")
    return None


# -- create from an instance ------------------------------------------------------------------------------
class OciCreateImageFromInstanceOperator(OciWaitingOperator):
    """A custom image of an instance's boot volume (the golden image), under OCI's imaging rules.

    Preflight: every ATTACHED iSCSI attachment blocks imaging. With ``detach_iscsi=False`` (the default) the task
    fails naming each one, before anything changes. With ``detach_iscsi=True`` it logs out of the iSCSI targets and
    removes their iscsid node records through Run Command, detaches them, makes the image, waits for the instance
    to run again and re-attaches each volume with the same type and device (``reattach=True``; also when imaging
    fails). A 409 for the one-image-per-instance window is waited out within ``timeout``. Raises OciInputError
    (bad input, iSCSI attached), OciWaitError (cleanup failed, image failed, window never opened).

    XCom: instance_id, instance_state_before, detached, image_id, display_name, size_in_mbs, lifecycle_state,
    reattached, instance_state, region.

    :param instance_id: OCID of the instance to image (RUNNING or STOPPED; a busy one is waited for) (templated)
    :param display_name: the image's name (1 to 255 characters); None or empty: OCI names it (templated)
    :param detach_iscsi: detach the instance's iSCSI volumes for the image and re-attach them afterwards, instead
        of refusing; a bool or "true"/"false". Needs ``wait_for_completion=True`` (templated)
    :param iscsi_cleanup_script: the shell lines run once per iSCSI attachment before detaching, formatted with
        iqn, ipv4, port, device, volume_id, attachment_id; the script must exit 0
    :param reattach: re-attach the detached volumes after the image (and after a failure, and on kill)
    :param launch_mode: the image's launch mode: NATIVE, EMULATED, PARAVIRTUALIZED or CUSTOM; None: the
        instance's (templated)
    :param window_wait: wait out OCI's one-image-per-instance window (409) within ``timeout``; False fails at once
    :param freeform_tags: tags for the image, besides the managed-by tag every made resource carries (templated)
    :param script_timeout: seconds the iscsid cleanup script may run on the instance (1 to 3600)
    :param compartment_id: OCID of the compartment for the image; None: the instance's (templated)
    """

    hook_class = OciComputeHook

    multiple_outputs = True  # `task.output["image_id"]`
    plan_operation = "CreateImage"
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
        self._volumes: DetachedVolumes | None = None  # once volumes may be detached: what on_kill puts back

    def validate_inputs(self) -> None:
        blank_to_none(self, "display_name", "launch_mode")
        validate_ocid(self.instance_id, "instance_id", "instance")
        if self.launch_mode is not None and self.launch_mode not in LAUNCH_MODES:
            raise OciInputError(f"launch_mode {self.launch_mode!r}: one of {LAUNCH_MODES}")
        if self.display_name is not None and not (isinstance(self.display_name, str) and
                                                  0 < len(self.display_name) <= 255):
            raise OciInputError(f"display_name {self.display_name!r}: 1 to 255 characters")
        self.detach_iscsi = flag(self.detach_iscsi, "detach_iscsi")
        self.reattach = flag(self.reattach, "reattach")
        self.window_wait = flag(self.window_wait, "window_wait")
        if self.detach_iscsi:
            if not self.wait_for_completion:
                raise OciInputError("detach_iscsi=True needs wait_for_completion=True: detached volumes are "
                                    "re-attached only after the image is AVAILABLE")
            check_cleanup_template(self.iscsi_cleanup_script)
            if not 0 < int(self.script_timeout) <= 3600:
                raise OciInputError(f"script_timeout {self.script_timeout!r}: 1 to 3600")

    # -- the task: preflight, detach, image; after the wait, re-attach ----------------------------------
    def execute_step(self, context) -> Any:
        compute = self.hook.get_client("compute", self.region)
        instance = self._imageable_instance(compute)
        compartment_id = self.compartment_id or instance.compartment_id
        volumes = self._detached_volumes(None)
        volumes.adopt_recorded(instance)
        iscsi = volumes.blocking(instance, wait_attaching=self.detach_iscsi)
        refusal = iscsi_refusal(self.instance_id, instance.lifecycle_state, iscsi, self.detach_iscsi)
        if refusal:
            raise OciInputError(refusal)
        if iscsi:
            volumes.cleanup_iscsid(context, compartment_id, iscsi, self.iscsi_cleanup_script, self.script_timeout)
        result: dict = {"instance_id": self.instance_id, "instance_state_before": instance.lifecycle_state,
                        "detached": volumes.detached, "region": self.hook.region}
        self._volumes = volumes
        try:
            for att in iscsi:
                volumes.detach(att)
                result["detached"] = volumes.detached
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
            self._reattach_after_failure(context, volumes, exc)
            raise

    def execute_complete(self, context, event: dict[str, Any]) -> Any:
        try:
            return super().execute_complete(context, event)
        except BaseException as exc:
            detached = ((event or {}).get("result") or {}).get("detached") or []
            self._reattach_after_failure(context, self._volumes or self._detached_volumes(detached), exc)
            raise

    def finish(self, context, result: dict) -> dict:
        """The image is AVAILABLE: wait for the instance to be back, re-attach what was detached, report."""
        image = self.hook.get_resource(result["image_id"], self.region)
        self._made.clear()  # made: no longer on_kill's to remove
        before = result.pop("instance_state_before", "RUNNING")
        self.log.info("image %s is %s; waiting for instance %s to be %s again", image.id, image.lifecycle_state,
                      self.instance_id, before)
        instance = self.hook.wait(self.hook.lifecycle_spec(self.instance_id, [before]), self.poll())
        if self._volumes is None:  # resumed after a deferral: the detached rows came back in the event
            self._volumes = self._detached_volumes(result["detached"])
        try:
            reattached = self._volumes.reattach(context) if self.reattach else []
        except Exception as exc:
            raise OciWaitError(f"image {image.id} was made, but {self._volumes.not_reattached(context, exc)}") \
                from None
        if result["detached"] and not self.reattach:
            self.log.warning("reattach=False: %d iSCSI volume(s) stay detached from %s", len(result["detached"]),
                             self.instance_id)
        return {**result, **image_fields(image), "reattached": reattached,
                "instance_state": instance["lifecycle_state"]}

    def on_kill(self) -> None:
        super().on_kill()
        if self._volumes is not None and self.reattach:
            self._volumes.reattach_on_kill()

    # -- steps -----------------------------------------------------------------------------------------
    def _detached_volumes(self, detached: list[dict] | None) -> DetachedVolumes:
        return DetachedVolumes(self.hook, self.instance_id, self.region, self.poll, self.retry_token, self.log,
                               detached)

    def _reattach_after_failure(self, context, volumes: DetachedVolumes, exc: BaseException) -> None:
        if self.reattach:
            volumes.reattach_after_failure(context, exc)

    def _imageable_instance(self, compute):
        """The instance, once it is RUNNING or STOPPED (a terminated one is refused; a busy one waited for)."""
        instance = compute.get_instance(self.instance_id).data
        if instance.lifecycle_state in ("TERMINATING", "TERMINATED"):
            raise OciInputError(f"instance_id {self.instance_id!r}: is {instance.lifecycle_state}; an image is made "
                                f"of a RUNNING or STOPPED instance")
        if instance.lifecycle_state not in IMAGEABLE:
            self.log.info("instance %s is %s%s; waiting until it is RUNNING or STOPPED", self.instance_id,
                          instance.lifecycle_state, " (another image of it is being made: OCI makes one image per "
                          "instance at a time)" if instance.lifecycle_state == "CREATING_IMAGE" else "")
            self.hook.wait(self.hook.lifecycle_spec(self.instance_id, list(IMAGEABLE)), self.poll())
            instance = compute.get_instance(self.instance_id).data
        return instance

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
                if not (self.window_wait and is_window_conflict(err)):
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


# -- delete -----------------------------------------------------------------------------------------------
class OciDeleteImageOperator(OciWaitingOperator):
    """Delete a custom image; wait DELETED. Already gone is success (teardowns rerun safely).

    XCom: image_id, deleted, existed, region.

    :param image_id: OCID of the custom image to delete (templated)
    """

    hook_class = OciComputeHook
    plan_operation = "DeleteImage"
    template_fields = oci_template_fields("image_id")

    def __init__(self, *, image_id: str, **kwargs):
        super().__init__(**kwargs)
        self.image_id = image_id

    def validate_inputs(self) -> None:
        validate_ocid(self.image_id, "image_id", "image")

    def execute_step(self, context) -> Any:
        existed = self.hook.delete_resource(self.image_id, self.region)
        result = {"image_id": self.image_id, "deleted": True, "existed": existed, "region": self.hook.region}
        return self.wait_or_defer(context, self.hook.lifecycle_spec(self.image_id, ["DELETED"], []), result)


# -- shape compatibility ----------------------------------------------------------------------------------
def shape_misfit(entry, shape_config: dict | None) -> str | None:
    """Why a flexible launch's OCPUs or memory fall outside an image's compatibility entry (None: they fit)."""
    if entry is None or not shape_config:
        return None
    ocpu, memory = entry.ocpu_constraints, entry.memory_constraints
    ocpus, gbs = shape_config.get("ocpus"), shape_config.get("memory_in_gbs")
    if ocpu is not None and ocpus is not None and not ocpu.min <= ocpus <= ocpu.max:
        return f"{ocpus:g} OCPUs (the image allows {ocpu.min} to {ocpu.max})"
    if memory is not None and gbs is not None and not memory.min_in_gbs <= gbs <= memory.max_in_gbs:
        return f"{gbs:g} GB of memory (the image allows {memory.min_in_gbs} to {memory.max_in_gbs} GB)"
    return None


class OciCheckImageShapeOperator(OciBaseOperator):
    """Check, before a fleet launches from an image, that the image is compatible with the fleet's shape (OCI's
    image shape compatibility list; a flexible shape's entry also bounds OCPUs and memory). When it is not:
    with ``add_shape_compatibility`` add the shape (a flexible one with the given ranges, else the shape's whole
    range), else fail naming the shape, the image, its launch mode and the shapes it is compatible with, before
    any launch (OCI would refuse each LaunchInstance with 400 InvalidParameter).

    XCom: image_id, shape, compatible (before this task), added, entry (ocpus and memory ranges), region.

    :param image_id: OCID of the image the fleet launches from (templated)
    :param shape_compatibility: what forms.fleet.resolve_shape_compatibility makes of a request: shape,
        shape_config, availability_domain, add, ocpus and memory_in_gbs ranges; None or empty: no fleet, nothing
        to check (templated)
    """

    hook_class = OciComputeHook

    template_fields = oci_template_fields("image_id", "shape_compatibility")

    def __init__(self, *, image_id: str, shape_compatibility: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        self.image_id = image_id
        self.shape_compatibility = shape_compatibility

    def validate_inputs(self) -> None:
        validate_ocid(self.image_id, "image_id", "image")
        wanted = self.shape_compatibility
        if wanted and (not isinstance(wanted, dict) or not isinstance(wanted.get("shape"), str)):
            raise OciInputError(f"shape_compatibility {wanted!r}: a dict with shape, shape_config, "
                                f"availability_domain, add, ocpus, memory_in_gbs")

    def execute_step(self, context) -> Any:
        wanted = self.shape_compatibility
        result = {"image_id": self.image_id, "shape": None, "compatible": True, "added": False, "entry": None,
                  "region": self.hook.region}
        if not wanted:
            self.log.info("no fleet to launch: nothing to check")
            return result
        shape, config = wanted["shape"], wanted.get("shape_config")
        image = self.hook.get_client("compute", self.region).get_image(self.image_id).data
        entries = self.hook.image_shapes(self.image_id, self.region)
        entry = entries.get(shape)
        misfit = shape_misfit(entry, config)
        result["shape"] = shape
        if entry is not None and misfit is None:
            self.log.info("image %s (%s) is compatible with shape %s", image.display_name, image.launch_mode, shape)
            result["entry"] = _entry_ranges(entry)
            return result
        result["compatible"] = False
        if not flag(wanted.get("add", False), "add_shape_compatibility"):
            at = f" at {misfit}" if misfit else ""
            raise OciInputError(f"shape {shape} is not compatible with image {image.display_name} "
                                f"({image.launch_mode}){at}; set add_shape_compatibility or choose one of "
                                f"{', '.join(sorted(entries)) or '(no shapes)'}")
        described = self.hook.check_shape(wanted["availability_domain"], shape, config, region=self.region)
        ocpus, memory = wanted.get("ocpus"), wanted.get("memory_in_gbs")
        if described.get("is_flexible"):
            ocpus = ocpus or [described["ocpu_options"]["min"], described["ocpu_options"]["max"]]
            memory = memory or [described["memory_options"]["min_in_g_bs"], described["memory_options"]["max_in_g_bs"]]
        else:
            ocpus = memory = None
        added = self.hook.add_image_shape(self.image_id, shape, ocpus, memory, self.region)
        self.log.info("added shape %s to the compatible shapes of image %s (%s): OCPUs %s, memory %s GB", shape,
                      image.display_name, image.launch_mode, ocpus or "-", memory or "-")
        result.update(added=True, entry=_entry_ranges(added))
        return result


def _entry_ranges(entry) -> dict:
    ocpu, memory = entry.ocpu_constraints, entry.memory_constraints
    return {"ocpus": [ocpu.min, ocpu.max] if ocpu else None,
            "memory_in_gbs": [memory.min_in_gbs, memory.max_in_gbs] if memory else None}
