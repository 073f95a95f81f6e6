"""Compute: launch an instance from an image or a boot volume with its hostname, terminate it, power actions.

OCI rules honoured: the hostname goes on the primary VNIC as `hostname_label` (unique in the subnet) for Linux
and Windows alike; Linux gets cloud-init user data that sets it in the guest, Windows gets cloudbase-init user
data that renames the computer and reboots once, since OCI does not apply a custom hostname to a Windows
instance launched from an image, a clone or a restore (guest/user_data.py renders both). Instance metadata is
at most 32,000 bytes. A fleet is a mapped launch; `guest.user_data.fleet_hostnames` validates its names.
"""

from __future__ import annotations

from common.errors import OciInputError, OciWaitError
from common.ids import validate_ocid
from forms.params import flag
from guest.user_data import build_metadata, validate_hostname, validate_os_type
from hooks.compute import OciComputeHook

from operators.base import OciWaitingOperator, oci_template_fields

# action → the state it ends in
INSTANCE_ACTIONS = {"STOP": "STOPPED", "SOFTSTOP": "STOPPED", "START": "RUNNING", "RESET": "RUNNING",
                    "SOFTRESET": "RUNNING"}
SHAPE_CONFIG_KEYS = ("ocpus", "vcpus", "memory_in_gbs", "baseline_ocpu_utilization", "nvmes",
                     "local_volume_size_in_gbs")
BOOT_VOLUME_GBS = (50, 32768)


class OciLaunchInstanceOperator(OciWaitingOperator):
    """Launch one instance from an image or an existing boot volume (a clone or a restore) with a hostname;
    wait RUNNING. Every input, the hostname and the rendered user data's size are checked before any call.

    XCom: instance_id, display_name, hostname, os_type, boot_volume_id, private_ip, public_ip, availability_domain,
    compartment_id, shape, image_id, lifecycle_state, region.

    :param subnet_id: the subnet of the primary VNIC; it needs a DNS label (for the hostname) (templated)
    :param shape: the shape, such as ``VM.Standard.E4.Flex`` (templated)
    :param hostname: the VNIC's hostname label and the guest's hostname; it must be free in the subnet (templated)
    :param availability_domain: the availability domain to launch in; None: the boot volume's (required with
        ``image_id``) (templated)
    :param image_id: launch from this image; or give ``boot_volume_id`` (templated)
    :param boot_volume_id: launch from this existing boot volume (a clone or a restore); or give ``image_id``
        (templated)
    :param os_type: ``linux`` (cloud-init user data) or ``windows`` (cloudbase-init) (templated)
    :param display_name: the instance's display name; None: the hostname (templated)
    :param shape_config: for a Flex shape: ``ocpus``, ``memory_in_gbs`` and the other keys of OCI's shape config
        (templated)
    :param ssh_authorized_keys: OpenSSH public keys for a Linux instance: one string or a list (templated)
    :param extra_user_data: commands added to the rendered user data: one string or a list (templated)
    :param boot_volume_size_in_gbs: the boot volume's size (50 to 32768) for a launch from an image (templated)
    :param freeform_tags: freeform tags added to the instance (the managing DAG's tags are added too) (templated)
    :param metadata: further instance metadata keys (strings); ``user_data`` is rendered, not given (templated)
    :param assign_public_ip: give the VNIC a public IP; None: the subnet's default
    :param check_hostname_in_subnet: refuse a hostname another VNIC in the subnet already has, before the launch
    :param compartment_id: the compartment to launch in; None: the subnet's (templated)
    """

    multiple_outputs = True  # `task.output["instance_id"]`
    plan_operation = "LaunchInstance"

    def plan_detail(self) -> str:
        """The instance, not its user data or keys (a plan's note is read by everyone who sees the run)."""
        from common.plan import describe

        return describe({"hostname": self.hostname, "shape": self.shape, "shape_config": self.shape_config,
                         "os_type": self.os_type, "image_id": self.image_id, "boot_volume_id": self.boot_volume_id,
                         "subnet_id": self.subnet_id, "availability_domain": self.availability_domain})
    template_fields = oci_template_fields("availability_domain", "subnet_id", "shape", "image_id", "boot_volume_id",
                                          "hostname", "os_type", "display_name", "shape_config",
                                          "ssh_authorized_keys", "extra_user_data", "boot_volume_size_in_gbs",
                                          "freeform_tags", "metadata", "compartment_id")

    def __init__(self, *, subnet_id: str, shape: str, hostname: str, availability_domain: str | None = None,
                 image_id: str | None = None, boot_volume_id: str | None = None, os_type: str = "linux",
                 display_name: str | None = None, shape_config: dict | None = None,
                 ssh_authorized_keys: str | list[str] | None = None, extra_user_data: str | list[str] | None = None,
                 boot_volume_size_in_gbs: int | None = None, freeform_tags: dict | None = None,
                 metadata: dict | None = None, assign_public_ip: bool | None = None,
                 check_hostname_in_subnet: bool = True, compartment_id: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.compartment_id = compartment_id
        self.availability_domain = availability_domain
        self.subnet_id = subnet_id
        self.shape = shape
        self.image_id = image_id
        self.boot_volume_id = boot_volume_id
        self.hostname = hostname
        self.os_type = os_type
        self.display_name = display_name
        self.shape_config = shape_config
        self.ssh_authorized_keys = ssh_authorized_keys
        self.extra_user_data = extra_user_data
        self.boot_volume_size_in_gbs = boot_volume_size_in_gbs
        self.freeform_tags = freeform_tags
        self.metadata = metadata
        self.assign_public_ip = assign_public_ip
        self.check_hostname_in_subnet = check_hostname_in_subnet
        self._boot_volume_given = False

    # -- validation ------------------------------------------------------------------------------------
    def validate_inputs(self) -> None:
        self.check_hostname_in_subnet = flag(self.check_hostname_in_subnet, "check_hostname_in_subnet")
        if self.assign_public_ip is not None:
            self.assign_public_ip = flag(self.assign_public_ip, "assign_public_ip")
        validate_os_type(self.os_type)
        validate_hostname(self.hostname, self.os_type)
        validate_ocid(self.subnet_id, "subnet_id", "subnet")
        if bool(self.image_id) == bool(self.boot_volume_id):
            raise OciInputError(f"image_id {self.image_id!r} and boot_volume_id {self.boot_volume_id!r}: give "
                                f"exactly one (launch from an image or from an existing boot volume)")
        if self.image_id:
            validate_ocid(self.image_id, "image_id", "image")
            if not self.availability_domain:
                raise OciInputError("availability_domain: required when launching from an image")
        else:
            validate_ocid(self.boot_volume_id, "boot_volume_id", "bootvolume")
            if self.boot_volume_size_in_gbs is not None:
                raise OciInputError(f"boot_volume_size_in_gbs {self.boot_volume_size_in_gbs!r}: only for a launch "
                                    f"from an image; a launch from a boot volume keeps its size")
        if isinstance(self.boot_volume_size_in_gbs, str) and self.boot_volume_size_in_gbs.isdigit():
            self.boot_volume_size_in_gbs = int(self.boot_volume_size_in_gbs)  # rendered from a template
        if self.boot_volume_size_in_gbs is not None:
            low, high = BOOT_VOLUME_GBS
            size = self.boot_volume_size_in_gbs
            if not isinstance(size, int) or isinstance(size, bool) or not low <= size <= high:
                raise OciInputError(f"boot_volume_size_in_gbs {size!r}: a whole number of GB from {low} to {high}")
        if not isinstance(self.shape, str) or not self.shape.startswith(("VM.", "BM.")):
            raise OciInputError(f"shape {self.shape!r}: an OCI shape name like VM.Standard.E4.Flex")
        if self.shape_config is not None:
            unknown = sorted(set(self.shape_config or {}) - set(SHAPE_CONFIG_KEYS)) \
                if isinstance(self.shape_config, dict) else ["(not a dict)"]
            if unknown:
                raise OciInputError(f"shape_config {unknown}: allowed keys are {SHAPE_CONFIG_KEYS}")
        if self.freeform_tags is not None and not isinstance(self.freeform_tags, dict):
            raise OciInputError(f"freeform_tags {self.freeform_tags!r}: a dict of strings")
        # Renders the user data and checks the 32,000-byte limit (again with the subnet's domain in execute_step).
        build_metadata(self.hostname, self.os_type, None, self.extra_user_data, self.ssh_authorized_keys,
                       self.metadata)

    def hostname_user(self, subnet, context) -> str | None:
        """The VNIC in the subnet that already has this hostname (OCI would accept the launch and then fail
        it), looked up among the attachments of the subnet's compartment. An instance this task instance
        launched in an earlier try is not in the way: the retry token adopts it."""

        compute = self.hook.get_client("compute", self.region)
        ours = {k: v for k, v in self.managed_tags(context).items() if k.startswith("airflow-")}
        for _, att in self.hook.hostname_users(subnet, [self.hostname], self.region):
            tags = compute.get_instance(att.instance_id).data.freeform_tags or {}
            if all(tags.get(k) == v for k, v in ours.items()):
                self.log.info("hostname %s is on %s, launched by an earlier try of this task: adopting it",
                              self.hostname, att.instance_id)
                continue
            return f"VNIC {att.vnic_id} of instance {att.instance_id}"
        return None

    # -- launch ----------------------------------------------------------------------------------------
    def execute_step(self, context) -> dict:
        import oci

        network = self.hook.get_client("network", self.region)
        subnet = network.get_subnet(self.subnet_id).data
        if not subnet.dns_label:
            raise OciInputError(f"subnet_id {self.subnet_id!r}: the subnet has no DNS label, so its VNICs cannot "
                                f"have hostnames")
        if self.check_hostname_in_subnet:
            user = self.hostname_user(subnet, context)
            if user:
                raise OciInputError(f"hostname {self.hostname!r}: already used in subnet {subnet.id} by {user}; "
                                    f"hostnames must be unique in a subnet")
        if self.image_id:
            self.hook.check_availability_domain(self.availability_domain, region=self.region)
        metadata = build_metadata(self.hostname, self.os_type, subnet.subnet_domain_name, self.extra_user_data,
                                  self.ssh_authorized_keys, self.metadata)
        compartment_id = self.compartment_id or subnet.compartment_id
        m = oci.core.models
        if self.image_id:
            source = m.InstanceSourceViaImageDetails(image_id=self.image_id,
                                                     boot_volume_size_in_gbs=self.boot_volume_size_in_gbs)
            ad = self.availability_domain
        else:
            boot = self.hook.get_resource(self.boot_volume_id, self.region)
            if self.availability_domain and self.availability_domain != boot.availability_domain:
                raise OciInputError(f"availability_domain {self.availability_domain!r}: boot volume "
                                    f"{self.boot_volume_id} is in {boot.availability_domain}; an instance launches "
                                    f"in its boot volume's availability domain")
            source = m.InstanceSourceViaBootVolumeDetails(boot_volume_id=self.boot_volume_id)
            ad = boot.availability_domain
        self.hook.check_shape(ad, self.shape, self.shape_config, compartment_id, self.region)
        vnic = m.CreateVnicDetails(subnet_id=self.subnet_id, hostname_label=self.hostname,
                                   assign_public_ip=self.assign_public_ip)
        details = m.LaunchInstanceDetails(
            availability_domain=ad, compartment_id=compartment_id, shape=self.shape,
            display_name=self.display_name or self.hostname, source_details=source, create_vnic_details=vnic,
            shape_config=m.LaunchInstanceShapeConfigDetails(**self.shape_config) if self.shape_config else None,
            metadata=metadata, freeform_tags=self.managed_tags(context, self.freeform_tags))
        made = self.hook.get_client("compute", self.region).launch_instance(
            details, opc_retry_token=self.retry_token(context)).data
        self._boot_volume_given = bool(self.boot_volume_id)
        self.remember(made.id)
        self.link(context, made.id)
        self.log.info("launching %s instance %s (hostname %s, %s) from %s", self.os_type, made.id, self.hostname,
                      self.shape, self.image_id or self.boot_volume_id)
        result = {"instance_id": made.id, "compartment_id": compartment_id, "region": self.hook.region}
        try:
            return self.wait_or_defer(context, self.hook.lifecycle_spec(made.id, ["RUNNING"]), result)
        except OciWaitError as err:
            raise self._explained(err, result) from None

    def execute_complete(self, context, event):
        try:
            return super().execute_complete(context, event)
        except OciWaitError as err:
            event = event or {}
            result = event.get("result") or {"instance_id": event.get("resource_id")}
            raise self._explained(err, result) from None

    def _explained(self, err: OciWaitError, result: dict) -> OciWaitError:
        instance_id = result.get("instance_id")
        if not instance_id:
            return err
        compartment_id = result.get("compartment_id") or self.hook.get_resource(instance_id,
                                                                                self.region).compartment_id
        why = self.hook.launch_failure_text(instance_id, compartment_id, self.hook.region)
        return OciWaitError(f"{err}; {why}" if why else str(err))

    def finish(self, context, result: dict) -> dict:
        instance = self.hook.get_resource(result["instance_id"], self.region)
        self._made.clear()
        details = self.hook.instance_details(instance, self.hook.region)
        if (details["hostname_label"] or "").lower() != self.hostname.lower():
            raise OciWaitError(f"instance {instance.id}: its VNIC's hostname_label is {details['hostname_label']!r}, "
                               f"not {self.hostname!r}")
        self.log.info("instance %s RUNNING: hostname %s, private IP %s, boot volume %s", instance.id,
                      self.hostname, details["private_ip"], details["boot_volume_id"])
        return {**details, "hostname": self.hostname, "os_type": self.os_type}

    def on_kill(self) -> None:
        """Terminate what this try launched; a boot volume we were given (a clone, a restore) is kept."""
        for instance_id, region in reversed(self._made):
            try:
                self.hook.get_client("compute", region).terminate_instance(
                    instance_id, preserve_boot_volume=self._boot_volume_given)
                self.log.info("on_kill: terminating %s", instance_id)
            except Exception as exc:
                self.log.warning("on_kill: could not terminate %s: %s", instance_id, exc)


class OciTerminateInstanceOperator(OciWaitingOperator):
    """Terminate an instance and wait TERMINATED; its boot volume is deleted unless `preserve_boot_volume`.
    Already terminated (or gone) is success, so teardowns rerun safely.

    XCom: instance_id, terminated, existed, preserve_boot_volume, boot_volume_id, boot_volume_state, region.

    :param instance_id: the instance to terminate; already gone is success (templated)
    :param preserve_boot_volume: keep its boot volume (default: deleted with it) (templated)
    """

    hook_class = OciComputeHook
    plan_operation = "TerminateInstance"
    template_fields = oci_template_fields("instance_id", "preserve_boot_volume")

    def __init__(self, *, instance_id: str, preserve_boot_volume: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.instance_id = instance_id
        self.preserve_boot_volume = preserve_boot_volume

    def validate_inputs(self) -> None:
        validate_ocid(self.instance_id, "instance_id", "instance")
        self.preserve_boot_volume = flag(self.preserve_boot_volume, "preserve_boot_volume")

    def execute_step(self, context) -> dict:
        import oci

        client = self.hook.get_client("compute", self.region)
        result = {"instance_id": self.instance_id, "terminated": True, "existed": False,
                  "preserve_boot_volume": self.preserve_boot_volume, "boot_volume_id": None,
                  "region": self.hook.region}
        try:
            instance = client.get_instance(self.instance_id).data
        except oci.exceptions.ServiceError as err:
            if err.status != 404:
                raise
            self.log.info("instance %s is already gone", self.instance_id)
            return result
        if instance.lifecycle_state == "TERMINATED":
            self.log.info("instance %s is already TERMINATED", self.instance_id)
            return result
        self.link(context, self.instance_id)
        result["boot_volume_id"] = self.hook.instance_details(instance, self.hook.region)["boot_volume_id"]
        result["existed"] = True
        client.terminate_instance(self.instance_id, preserve_boot_volume=self.preserve_boot_volume)
        self.log.info("terminating %s (%s boot volume %s)", self.instance_id,
                      "keeping" if self.preserve_boot_volume else "deleting", result["boot_volume_id"])
        return self.wait_or_defer(context, self.hook.lifecycle_spec(self.instance_id, ["TERMINATED"], []), result)

    def finish(self, context, result: dict) -> dict:
        if result["preserve_boot_volume"] and result["boot_volume_id"]:
            boot = self.hook.get_resource(result["boot_volume_id"], self.region)
            result["boot_volume_state"] = boot.lifecycle_state
        return result


class OciInstanceActionOperator(OciWaitingOperator):
    """A power action (STOP, START, SOFTSTOP, SOFTRESET, RESET); wait for the state it ends in (STOPPED or
    RUNNING). Repeating an action that is already done (STOP on a STOPPED instance) is success.

    XCom: instance_id, action, lifecycle_state, region.

    :param instance_id: the instance (templated)
    :param action: ``STOP``, ``START``, ``SOFTSTOP``, ``SOFTRESET`` or ``RESET`` (templated)
    """

    hook_class = OciComputeHook
    plan_operation = "InstanceAction"
    template_fields = oci_template_fields("instance_id", "action")

    def __init__(self, *, instance_id: str, action: str, **kwargs):
        super().__init__(**kwargs)
        self.instance_id = instance_id
        self.action = action

    def validate_inputs(self) -> None:
        validate_ocid(self.instance_id, "instance_id", "instance")
        if self.action not in INSTANCE_ACTIONS:
            raise OciInputError(f"action {self.action!r}: one of {sorted(INSTANCE_ACTIONS)}")

    def execute_step(self, context) -> dict:
        target = INSTANCE_ACTIONS[self.action]
        client = self.hook.get_client("compute", self.region)
        instance = client.get_instance(self.instance_id).data
        self.link(context, self.instance_id)
        result = {"instance_id": self.instance_id, "action": self.action, "region": self.hook.region}
        if instance.lifecycle_state == target and self.action in ("STOP", "SOFTSTOP", "START"):
            self.log.info("instance %s is already %s; %s has nothing to do", self.instance_id, target, self.action)
            return {**result, "lifecycle_state": target}
        state = client.instance_action(self.instance_id, self.action,
                                       opc_retry_token=self.retry_token(context)).data.lifecycle_state
        self.log.info("%s %s: now %s, waiting for %s", self.action, self.instance_id, state, target)
        return self.wait_or_defer(context, self.hook.lifecycle_spec(self.instance_id, [target]), result)

    def finish(self, context, result: dict) -> dict:
        instance = self.hook.get_resource(result["instance_id"], self.region)
        return {**result, "lifecycle_state": instance.lifecycle_state}
