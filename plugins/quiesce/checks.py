"""The preflight of quiesce (plan_backups): every volume's spec is parsed, its connection exists with the right
type, and a Run Command kind has a Linux (fsfreeze) instance to run on; refused before any backup or DB
statement, naming the volume and the rule."""

from __future__ import annotations

from common.errors import OciInputError

from quiesce.spec import CONN_TYPES, DB_KINDS, parse, plan_quiesce, where


def check_connection(kind: str, conn_id: str, at: str) -> None:
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception:  # AirflowNotFoundException, or a secrets backend that does not know it
        raise OciInputError(f"{at}: Airflow connection {conn_id!r} does not exist") from None
    wanted = CONN_TYPES[kind]
    if conn.conn_type != wanted:
        raise OciInputError(f"{at}: connection {conn_id!r} is of type {conn.conn_type!r}; {kind} needs a "
                            f"{wanted!r} connection")


def is_windows(hook, instance, region: str | None) -> bool:
    image_id = getattr(instance, "image_id", None) or getattr(instance.source_details, "image_id", None)
    if not image_id:
        return False
    try:
        image = hook.get_resource(image_id, region)
    except Exception:  # an image deleted since launch: its OS is unknown, the agent decides at run time
        return False
    return "windows" in (image.operating_system or "").lower()


def preflight(hook, volumes: list[dict], policies: dict[str, dict], region: str | None = None) -> int:
    """Check every volume that asks for quiesce (by tag or policy); return how many do."""
    count = 0
    for volume in volumes:
        policy = policies.get(volume.get("policy")) or policies["default"]
        planned = plan_quiesce([volume], policy)
        if not planned:
            continue
        for item in planned["items"]:
            at = f"{where(item)} {item['spec']!r}"
            spec = parse(item["spec"], where(item))
            count += 1
            if spec.kind in DB_KINDS:
                check_connection(spec.kind, spec.conn_id, at)
                continue
            vol = hook.get_resource(volume["volume_id"], volume.get("region") or region)
            attachment = hook.attachment_of(vol, volume.get("region") or region)
            if attachment is None:
                raise OciInputError(f"{at}: {spec.kind} runs on the instance the volume is attached to, and it is "
                                    f"attached to none")
            instance = hook.get_resource(attachment.instance_id, volume.get("region") or region)
            if spec.kind == "fsfreeze" and is_windows(hook, instance, volume.get("region") or region):
                raise OciInputError(f"{at}: fsfreeze is Linux-only and instance {instance.id} runs Windows (use "
                                    f"script with your own PowerShell commands)")
    return count
