"""What an in-place boot swap's state is, in words an operator acts on: where the instance stands, and the `oci`
CLI commands that put its old boot volume back by hand (when OCI refused every attach, or no try is left).

Pure functions: the swap operator (operators/boot_swap.py) and the restore request's check (hooks/references.py)
read OCI and pass the facts in.
"""

from __future__ import annotations


def where(instance_id: str, state: str, boot_volume_id: str | None, record: dict | None = None) -> str:
    """'instance I is STOPPED on the restored boot volume X' (or its old one, or none)."""
    if boot_volume_id is None:
        on = "with no boot volume attached"
    elif record and boot_volume_id == record["new"]:
        on = f"on the restored boot volume {boot_volume_id}"
    elif record and boot_volume_id == record["old"]:
        on = f"on its old boot volume {boot_volume_id}"
    else:
        on = f"on boot volume {boot_volume_id}"
    return f"instance {instance_id} is {state} {on}"


def repair_commands(instance_id: str, region: str, old_boot_volume_id: str, state: str,
                    attachment: tuple[str, str] | None, start: bool) -> list[str]:
    """The CLI commands that put `old_boot_volume_id` back on the instance and start it (when `start`), from
    where it stands: `state` and its live boot `attachment` (attachment OCID, boot volume OCID) or None."""
    where_ = f"--region {region} --instance-id {instance_id}"
    commands = []
    on_old = attachment is not None and attachment[1] == old_boot_volume_id
    if not on_old:
        if attachment is not None:
            if state != "STOPPED":
                commands.append(f"oci compute instance action {where_} --action STOP --wait-for-state STOPPED")
            commands.append(f"oci compute boot-volume-attachment detach --region {region} "
                            f"--boot-volume-attachment-id {attachment[0]} --force --wait-for-state DETACHED")
        commands.append(f"oci compute boot-volume-attachment attach {where_} --boot-volume-id {old_boot_volume_id} "
                        f"--wait-for-state ATTACHED")
    if start and (not on_old or state != "RUNNING"):
        commands.append(f"oci compute instance action {where_} --action START --wait-for-state RUNNING")
    return commands
