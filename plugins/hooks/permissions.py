"""The permission preflight: reads that prove, before a DAG's first mutating call, that the connection's user
may do what the run will do, and the policy statement to name when OCI refuses one (common/permissions.py).
Mixed into OciHook."""

from __future__ import annotations

from typing import Any

from common.errors import OciInputError
from common.permissions import POLICY_FILE, Read, missing_permission


class OciPermissionError(OciInputError):
    """A permission the run needs is missing: names the operation, the resource and the policy statement. Fails
    without retries, as bad input does: another try cannot succeed until an administrator changes a policy."""


def policy_text() -> str:
    """include/iam/policy.txt (the repository's include/, or OCI_AIRFLOW_INCLUDE_DIR's)."""
    from common.config import include_dir

    return (include_dir() / POLICY_FILE).read_text()


class OciPermissionChecks:
    """Reads that prove permissions (see the module docstring)."""

    def prove_reads(self, reads: list[Read]) -> int:
        """Make each read; a 404 NotAuthorizedOrNotFound raises OciPermissionError naming the statement. Other
        errors pass through (the hook's retry rules apply). Returns how many reads were made.

        :param reads: the reads, in order
        """
        import oci

        for read in reads:
            try:
                read.call()
            except oci.exceptions.ServiceError as err:
                if err.status == 404 and err.code == "NotAuthorizedOrNotFound":
                    raise OciPermissionError(missing_permission(read, policy_text())) from None
                raise
        return len(reads)

    def nightly_reads(self, volumes: list[dict], verification_level: str | None = None,
                      verifier_instance_id: str | None = None, subnet_id: str | None = None) -> list[Read]:
        """What the nightly backup proves before its first backup: read on each discovered volume (its backups are
        made, restored and tagged: volume-family), and per verification level the verifier instance and Run Command
        (script), or the subnet and work requests of test launches (boot). The verifier and the subnet themselves
        are read by the caller first (a 404 for them may mean they do not exist): the reads here run after that,
        so each 404 they meet is a missing permission. Manage permissions have no read that proves
        them: a run without them fails at its first mutating call, with the statement named by the operator.

        :param volumes: the discovered volumes (OciDiscoverVolumesOperator's XCom)
        :param verification_level: api, boot or script; None: no test restores
        :param verifier_instance_id: the script level's verifier instance
        :param subnet_id: the boot level's subnet
        """
        reads: list[Read] = []
        for volume in volumes or []:
            storage = self.get_client("blockstorage", volume.get("region"))
            boot = volume.get("kind") == "bootvolume"
            get: Any = storage.get_boot_volume if boot else storage.get_volume
            reads.append(Read("GetBootVolume" if boot else "GetVolume", "read", "volume-family",
                              volume["volume_id"], lambda get=get, v=volume["volume_id"]: get(v)))
        compute = self.get_client("compute")
        if verification_level == "script" and verifier_instance_id:
            agent = self.get_client("instance_agent")

            def list_commands() -> Any:
                compartment_id = compute.get_instance(verifier_instance_id).data.compartment_id
                return agent.list_instance_agent_commands(compartment_id, limit=1)

            reads.append(Read("ListInstanceAgentCommands", "inspect", "instance-agent-command-family",
                              f"the compartment of {verifier_instance_id}", list_commands))
        if verification_level == "boot" and subnet_id:
            network, work = self.get_client("network"), self.get_client("work_requests")

            def list_work_requests() -> Any:
                return work.list_work_requests(network.get_subnet(subnet_id).data.compartment_id, limit=1)

            reads.append(Read("ListWorkRequests", "inspect", "work-requests", f"the compartment of {subnet_id}",
                              list_work_requests))
        return reads

    def golden_image_reads(self, instance: Any, export_namespace: str | None = None,
                           export_bucket: str | None = None, fleet: bool = False) -> list[Read]:
        """What the golden image proves after reading its instance and export bucket, before imaging: inspect on
        the images and volume attachments of the instance's compartment, the export bucket's objects, and (with a
        fleet) the compartment's work requests. Each names a compartment or bucket known to exist, so a 404 is a
        missing permission.

        :param instance: the instance to image (SDK model, as check_instance returned it)
        :param export_namespace: the export bucket's namespace; None: no export
        :param export_bucket: the export bucket; None: no export
        :param fleet: whether instances will be launched from the image
        """
        compute, compartment_id = self.get_client("compute"), instance.compartment_id
        where = f"compartment {compartment_id}"
        reads = [Read("ListImages", "inspect", "instance-images", where,
                      lambda: compute.list_images(compartment_id, limit=1)),
                 Read("ListVolumeAttachments", "inspect", "instances", where,
                      lambda: compute.list_volume_attachments(compartment_id, instance_id=instance.id, limit=1))]
        if export_bucket:
            objects = self.get_client("object_storage")
            reads.append(Read("ListObjects", "inspect", "objects", f"bucket {export_bucket}",
                              lambda: objects.list_objects(export_namespace, export_bucket, limit=1)))
        if fleet:
            work = self.get_client("work_requests")
            reads.append(Read("ListWorkRequests", "inspect", "work-requests", where,
                              lambda: work.list_work_requests(compartment_id, limit=1)))
        return reads

    def restore_reads(self, attach_instance: Any = None, subnet: Any = None) -> list[Read]:
        """What the restore proves after reading its references, before the restore: inspect on the volume
        attachments of the instance a restored volume is attached to, and (with a launch) on the work requests of
        the subnet's compartment (why OCI failed a launch it had accepted). Each names a compartment known to
        exist (the instance and subnet were just read). The restore itself needs manage volume-family, which no
        read proves: without it the run fails at restore_volume, its first change, with the statement named.

        :param attach_instance: the instance to attach to (SDK model); None: no attachment
        :param subnet: the subnet of a launch (SDK model); None: no launch
        """
        reads: list[Read] = []
        if attach_instance is not None:
            compute, where = self.get_client("compute"), f"compartment {attach_instance.compartment_id}"
            reads.append(Read("ListVolumeAttachments", "inspect", "instances", where,
                              lambda: compute.list_volume_attachments(attach_instance.compartment_id,
                                                                      instance_id=attach_instance.id, limit=1)))
        if subnet is not None:
            work = self.get_client("work_requests")
            reads.append(Read("ListWorkRequests", "inspect", "work-requests", f"compartment {subnet.compartment_id}",
                              lambda: work.list_work_requests(subnet.compartment_id, limit=1)))
        return reads

    def clone_reads(self, volume_ids: list[str], compartment_id: str | None = None, launch: bool = False,
                    region: str | None = None) -> list[Read]:
        """What the emergency clone proves once the instance's attachments listed its volumes, before the first
        clone: read on each volume to clone (known to exist: a list just showed it), and (with a launch) inspect
        on the work requests of the instance's compartment.

        :param volume_ids: the boot and block volumes the attachments showed
        :param compartment_id: the source instance's compartment (for the launch's work requests)
        :param launch: whether an instance will be launched on the clone
        :param region: the volumes' region; None: the connection's
        """
        storage = self.get_client("blockstorage", region)
        reads = []
        for volume_id in volume_ids:
            boot = ".bootvolume." in volume_id
            get: Any = storage.get_boot_volume if boot else storage.get_volume
            reads.append(Read("GetBootVolume" if boot else "GetVolume", "read", "volume-family", volume_id,
                              lambda get=get, v=volume_id: get(v)))
        if launch and compartment_id:
            work = self.get_client("work_requests", region)
            reads.append(Read("ListWorkRequests", "inspect", "work-requests", f"compartment {compartment_id}",
                              lambda: work.list_work_requests(compartment_id, limit=1)))
        return reads

    def migration_reads(self, namespace: str, bucket: str, compartment_id: str, fleet: bool = False) -> list[Read]:
        """What the VMDK migration proves after reading its bucket, before the upload or the import: inspect on the
        bucket's objects (the upload and the header check read them), on the images of the image's compartment,
        and (with a fleet) on that compartment's work requests. The bucket and the compartment are known to exist
        (the bucket was just read, and the compartment is its own or one the request names).

        :param namespace: the bucket's namespace
        :param bucket: the bucket the disk image is in (or is uploaded to)
        :param compartment_id: the image's compartment
        :param fleet: whether instances will be launched from the image
        """
        objects, compute = self.get_client("object_storage"), self.get_client("compute")
        where = f"compartment {compartment_id}"
        reads = [Read("ListObjects", "inspect", "objects", f"bucket {bucket}",
                      lambda: objects.list_objects(namespace, bucket, limit=1)),
                 Read("ListImages", "inspect", "instance-images", where,
                      lambda: compute.list_images(compartment_id, limit=1))]
        if fleet:
            work = self.get_client("work_requests")
            reads.append(Read("ListWorkRequests", "inspect", "work-requests", where,
                              lambda: work.list_work_requests(compartment_id, limit=1)))
        return reads
