"""OciHook's Compute and Run Command methods (mixed into OciHook: the same clients, retries and waits).

Run Command facts: a command targets one RUNNING instance with the agent's Run Command plugin; its execution
goes ACCEPTED → IN_PROGRESS → SUCCEEDED | FAILED | TIMED_OUT | CANCELED; TEXT output carries the exit code and
the script's output.
"""

from __future__ import annotations

from typing import Any

from common.errors import OciInputError
from common.ids import ocid_kind

from hooks.base import OciBaseHook
from hooks.waiting import Poll, WaitSpec

TERMINAL_STATES = ["SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELED"]
ERROR_TAIL = 2000  # characters of output quoted in a failure message
LIVE_ATTACHMENT = ("ATTACHING", "ATTACHED")


def command_spec(command_id: str, instance_id: str, region: str | None = None) -> WaitSpec:
    """Wait for any terminal state: a FAILED execution is a result to report (its exit code and output),
    not a wait error."""
    return WaitSpec("instance_agent", "get_instance_agent_command_execution", command_id, list(TERMINAL_STATES), [],
                    "lifecycle_state", region, {"instance_id": instance_id})


def command_failure(result: dict) -> str | None:
    """Why a finished command (command_result's dict) counts as failed, with its exit code and the tail of its
    output; None when it succeeded."""
    if result["state"] == "SUCCEEDED" and result["exit_code"] == 0:
        return None
    tail = result["output"][-ERROR_TAIL:]
    note = f" ({result['message']})" if result.get("message") else ""
    return (f"Run Command {result['command_id']} on {result['instance_id']} ended {result['state']} with exit code "
            f"{result['exit_code']}{note}; output tail:\n{tail}")


class OciComputeHook(OciBaseHook):
    """Instances, their attachments and Run Command, for OciHook (which provides get_client, list_all, wait)."""

    def create_command(self, instance_id: str, compartment_id: str | None, script: str, script_timeout: int,
                       region: str | None = None, retry_token: str | None = None,
                       display_name: str | None = None) -> str:
        """Create a Run Command (TEXT source, TEXT output) for one instance; return its id.

        :param instance_id: the instance that runs the script
        :param compartment_id: the command's compartment; None: the instance's
        :param script: the script text
        :param script_timeout: the agent's time limit for the script
        :param region: the instance's region; None: the connection's
        :param retry_token: opc-retry-token, so a retried task adopts its earlier command
        :param display_name: the command's name in the console
        """
        import oci

        if compartment_id is None:
            compartment_id = self.get_resource(instance_id, region).compartment_id
        m = oci.compute_instance_agent.models
        details = m.CreateInstanceAgentCommandDetails(
            compartment_id=compartment_id, execution_time_out_in_seconds=script_timeout, display_name=display_name,
            target=m.InstanceAgentCommandTarget(instance_id=instance_id),
            content=m.InstanceAgentCommandContent(source=m.InstanceAgentCommandSourceViaTextDetails(text=script),
                                                  output=m.InstanceAgentCommandOutputViaTextDetails()))
        kwargs = {"opc_retry_token": retry_token} if retry_token else {}
        return self.get_client("instance_agent", region).create_instance_agent_command(details, **kwargs).data.id

    def command_result(self, command_id: str, instance_id: str, region: str | None = None) -> dict:
        """{command_id, instance_id, state, exit_code, output, message} of a command's execution.

        :param command_id: the command (create_command's id)
        :param instance_id: the instance it ran on
        :param region: their region; None: the connection's
        """
        execution = self.get_client("instance_agent", region).get_instance_agent_command_execution(
            command_id, instance_id).data
        content = execution.content
        return {"command_id": command_id, "instance_id": instance_id, "state": execution.lifecycle_state,
                "exit_code": getattr(content, "exit_code", None), "output": getattr(content, "text", None) or "",
                "message": getattr(content, "message", None)}

    def run_command(self, instance_id: str, compartment_id: str | None, script: str, script_timeout: int,
                    poll: Poll, region: str | None = None, retry_token: str | None = None) -> dict:
        """Run `script` on the instance and wait for it (blocking): command_result's dict. It does not judge the
        result; callers decide what a non-zero exit means.

        :param instance_id: the instance that runs the script
        :param compartment_id: the command's compartment; None: the instance's
        :param script: the script text
        :param script_timeout: the agent's time limit for the script
        :param poll: how to wait for the execution
        :param region: the instance's region; None: the connection's
        :param retry_token: opc-retry-token of the create
        """
        command_id = self.create_command(instance_id, compartment_id, script, script_timeout, region, retry_token)
        self.log.info("Run Command %s on %s: waiting (script timeout %ss)", command_id, instance_id, script_timeout)
        self.wait(command_spec(command_id, instance_id, region or self.region), poll)
        return self.command_result(command_id, instance_id, region)

    def instance_details(self, instance: Any, region: str) -> dict:
        """The XCom fields of a launched instance: its boot volume (ListBootVolumeAttachments) and primary VNIC's
        private IP and hostname label (ListVnicAttachments → GetVnic).

        :param instance: the SDK Instance
        :param region: its region
        """
        compute = self.get_client("compute", region)
        boot = self.list_all(
            compute.list_boot_volume_attachments, instance.availability_domain, instance.compartment_id,
            instance_id=instance.id)
        boot_volume_id = next((a.boot_volume_id for a in boot if a.lifecycle_state in LIVE_ATTACHMENT),
                              boot[0].boot_volume_id if boot else None)
        vnics = [a for a in self.list_all(
            compute.list_vnic_attachments, instance.compartment_id, instance_id=instance.id)
            if a.lifecycle_state in LIVE_ATTACHMENT]
        vnic = None
        if vnics:
            vnic = self.get_client("network", region).get_vnic(
                sorted(vnics, key=lambda a: a.nic_index or 0)[0].vnic_id).data
        return {"instance_id": instance.id, "display_name": instance.display_name,
                "availability_domain": instance.availability_domain, "compartment_id": instance.compartment_id,
                "shape": instance.shape, "image_id": instance.image_id, "boot_volume_id": boot_volume_id,
                "private_ip": vnic.private_ip if vnic else None, "public_ip": vnic.public_ip if vnic else None,
                "hostname_label": vnic.hostname_label if vnic else None,
                "lifecycle_state": instance.lifecycle_state, "region": region}

    def launch_failure_text(self, instance_id: str, compartment_id: str, region: str) -> str:
        """Why a launch failed, from its FAILED work requests' errors: OCI accepts some doomed launches (a hostname
        taken in the subnet) and fails their work request, which says why better than a TERMINATED instance.

        :param instance_id: the launched instance
        :param compartment_id: its compartment
        :param region: its region
        """
        try:
            client = self.get_client("work_requests", region)
            requests = client.list_work_requests(compartment_id, resource_id=instance_id).data
            texts = []
            for wr in requests:
                if wr.status == "FAILED":
                    errors = client.list_work_request_errors(wr.id).data
                    texts += [f"{wr.operation_type}: {e.code}: {e.message}" for e in errors]
            return "; ".join(texts)
        except Exception as exc:  # the explanation is a bonus; the wait's own error still stands
            return f"(work request errors not readable: {type(exc).__name__})"

    def boot_attachments(self, instance: Any, region: str | None = None) -> list:
        """The instance's boot volume attachments that are not DETACHED (all pages).

        :param instance: the SDK Instance
        :param region: its region; None: the connection's
        """
        compute = self.get_client("compute", region)
        return [a for a in self.list_all(
            compute.list_boot_volume_attachments, instance.availability_domain, instance.compartment_id,
            instance_id=instance.id) if a.lifecycle_state != "DETACHED"]

    def primary_subnet_id(self, instance: Any, region: str | None = None) -> str | None:
        """The subnet of the instance's primary (lowest nic_index) ATTACHED VNIC; None when it has none.

        :param instance: the SDK Instance
        :param region: its region; None: the connection's
        """
        vnics = sorted((a for a in self.list_all(
            self.get_client("compute", region).list_vnic_attachments, instance.compartment_id, instance_id=instance.id)
            if a.lifecycle_state == "ATTACHED"), key=lambda a: a.nic_index or 0)
        return vnics[0].subnet_id if vnics else None

    def attachments_of_instance(self, instance: Any, region: str | None = None) -> tuple[list, list]:
        """The live (ATTACHING, ATTACHED) boot volume attachments and block volume attachments of an instance,
        all pages.

        :param instance: the SDK Instance
        :param region: its region; None: the connection's
        """
        compute = self.get_client("compute", region)
        boots = [a for a in self.list_all(
            compute.list_boot_volume_attachments, instance.availability_domain, instance.compartment_id,
            instance_id=instance.id) if a.lifecycle_state in LIVE_ATTACHMENT]
        volumes = [a for a in self.list_all(
            compute.list_volume_attachments, instance.compartment_id, instance_id=instance.id)
            if a.lifecycle_state in LIVE_ATTACHMENT]
        return boots, volumes

    def attachment_of(self, volume: Any, region: str | None = None) -> Any | None:
        """The live attachment of a block or boot volume (SDK model), or None when it is not attached.

        :param volume: the SDK Volume or BootVolume
        :param region: its region; None: the connection's
        """

        compute = self.get_client("compute", region)
        if ocid_kind(volume.id) == "bootvolume":
            found = self.list_all(compute.list_boot_volume_attachments, volume.availability_domain,
                                  volume.compartment_id, boot_volume_id=volume.id)
        else:
            found = self.list_all(compute.list_volume_attachments, volume.compartment_id, volume_id=volume.id)
        return next((a for a in found if a.lifecycle_state in LIVE_ATTACHMENT), None)

    # -- image shape compatibility ------------------------------------------------------------------------------
    def image_shapes(self, image_id: str, region: str | None = None) -> dict[str, Any]:
        """The image's compatible shapes (ListImageShapeCompatibilityEntries), by shape name: SDK summaries with
        the OCPU and memory constraints of a flexible shape.

        :param image_id: OCID of the image
        :param region: its region; None: the connection's
        """
        compute = self.get_client("compute", region)
        return {e.shape: e for e in self.list_all(compute.list_image_shape_compatibility_entries, image_id)}

    def add_image_shape(self, image_id: str, shape: str, ocpus: list | None = None, memory_in_gbs: list | None = None,
                        region: str | None = None) -> Any:
        """AddImageShapeCompatibilityEntry: `shape` joins the image's compatible shapes, a flexible one with
        [min, max] OCPUs and memory. A PUT of the whole entry, so a retried task sends the same and gets the same.

        :param image_id: OCID of the image
        :param shape: the shape name
        :param ocpus: [min, max] OCPUs (flexible shapes)
        :param memory_in_gbs: [min, max] memory in GB (flexible shapes)
        :param region: the image's region; None: the connection's
        """
        import oci

        m = oci.core.models
        details = m.AddImageShapeCompatibilityEntryDetails(
            ocpu_constraints=m.ImageOcpuConstraints(min=int(ocpus[0]), max=int(ocpus[1])) if ocpus else None,
            memory_constraints=m.ImageMemoryConstraints(min_in_gbs=int(memory_in_gbs[0]),
                                                        max_in_gbs=int(memory_in_gbs[1])) if memory_in_gbs else None)
        return self.get_client("compute", region).add_image_shape_compatibility_entry(
            image_id, shape, add_image_shape_compatibility_entry_details=details).data

    def check_shape(self, availability_domain: str, shape: Any, shape_config: dict | None = None,
                    compartment_id: str | None = None, region: str | None = None,
                    config_field: str = "shape_config.") -> dict:
        """The shape as ListShapes describes it for this AD, or OciInputError naming the field and the rule: a
        shape the AD does not offer, shape_config on a fixed shape, Flex OCPUs or memory (total and per OCPU)
        outside the shape's limits. Read-only, so a launch runs it before any mutating call (OCI would refuse
        such a launch only after the steps before it had changed things). `config_field` prefixes the names of
        OCPUs and memory in errors ("" where a form has them as fields of their own)."""
        import oci

        offered = self.list_all(self.get_client("compute", region).list_shapes, compartment_id or self.tenancy_id,
                                availability_domain=availability_domain)
        by_name = {s.shape: s for s in offered}
        if shape not in by_name:
            raise OciInputError(f"shape {shape!r}: not offered in availability domain {availability_domain} "
                                f"(it offers {sorted(by_name)})")
        described = by_name[shape]
        config = dict(shape_config or {})
        if not described.is_flexible:
            if any(config.get(k) is not None for k in ("ocpus", "memory_in_gbs", "vcpus")):
                named = config_field.rstrip(".") or "ocpus/memory_in_gbs"
                raise OciInputError(f"{named} {config}: {shape} is a fixed shape ({described.ocpus:g} OCPUs, "
                                    f"{described.memory_in_gbs:g} GB); OCPUs and memory are set only on a Flex shape")
            return oci.util.to_dict(described)
        ocpu_opts, mem_opts = described.ocpu_options, described.memory_options
        try:
            ocpus = float(config.get("ocpus") or ocpu_opts.min)
            memory = float(config["memory_in_gbs"]) if config.get("memory_in_gbs") is not None \
                else ocpus * mem_opts.default_per_ocpu_in_g_bs
        except (TypeError, ValueError):
            raise OciInputError(f"{config_field}ocpus/memory_in_gbs {config}: numbers") from None
        if not ocpu_opts.min <= ocpus <= ocpu_opts.max:
            raise OciInputError(f"{config_field}ocpus {ocpus:g}: {shape} takes {ocpu_opts.min:g} to "
                                f"{ocpu_opts.max:g} OCPUs")
        if not mem_opts.min_in_g_bs <= memory <= mem_opts.max_in_g_bs:
            raise OciInputError(f"{config_field}memory_in_gbs {memory:g}: {shape} takes {mem_opts.min_in_g_bs:g} "
                                f"to {mem_opts.max_in_g_bs:g} GB")
        low, high = ocpus * mem_opts.min_per_ocpu_in_gbs, ocpus * mem_opts.max_per_ocpu_in_gbs
        if not low <= memory <= high:
            per_ocpu = f"{mem_opts.min_per_ocpu_in_gbs:g} to {mem_opts.max_per_ocpu_in_gbs:g} GB per OCPU"
            raise OciInputError(f"{config_field}memory_in_gbs {memory:g}: {shape} takes {per_ocpu}, so {low:g} to "
                                f"{high:g} GB for {ocpus:g} OCPUs")
        return oci.util.to_dict(described)
