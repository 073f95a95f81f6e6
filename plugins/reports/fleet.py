"""What a report says about the fleet a DAG launched from the image it made, and the Asset event of that image."""

from __future__ import annotations

from common.ids import asset_uri

IMAGE_ASSET_ALIAS = "oci-images"


def add_image_event(outlet_events, image: dict, extra: dict) -> None:
    """An Asset event for an image a DAG made, through the alias its report task declares as an outlet (the image's
    id is known only at run time)."""
    from airflow.sdk import Asset, AssetAlias

    asset = Asset(name=f"oci-image-{image['image_id']}", uri=asset_uri(image["region"], image["image_id"]))
    outlet_events[AssetAlias(IMAGE_ASSET_ALIAS)].add(asset, extra=extra)


def instance_lines(instances: list[dict | None], fleet: list[dict]) -> tuple[list[str], list[dict], list[str]]:
    """Report lines, rows and problems for a launched fleet (None where a launch left no result)."""
    lines, rows, problems = [], [], []
    for asked, made in zip(fleet, instances, strict=True):
        if not made:
            problems.append(f"instance {asked['hostname']} ({asked['os_type']}) was not launched")
            lines.append(f"- {asked['hostname']} ({asked['os_type']}): NOT LAUNCHED")
            continue
        row = {k: made.get(k) for k in ("hostname", "os_type", "instance_id", "lifecycle_state", "private_ip",
                                        "public_ip", "hostname_label", "boot_volume_id", "availability_domain",
                                        "shape")}
        rows.append(row)
        lines.append(f"- {row['hostname']} ({row['os_type']}): {row['instance_id']} {row['lifecycle_state']}, "
                     f"private IP {row['private_ip']}" + (f", public IP {row['public_ip']}" if row["public_ip"]
                                                           else ""))
    return lines, rows, problems


def fleet_part(instances: list[dict | None], fleet: list[dict], lines: list[str], problems: list[str]) -> dict:
    """A launched fleet in an image DAG's report: its lines and problems appended to the report's, and the
    result's instances, hostnames and private_ips."""
    fleet_lines, rows, missing = instance_lines(instances, fleet)
    lines += fleet_lines
    problems += missing
    return {"instances": rows, "hostnames": [r["hostname"] for r in rows],
            "private_ips": [r["private_ip"] for r in rows]}
