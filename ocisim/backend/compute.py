"""Compute backend (to be filled in).

Internal API the agent, seed and admin API rely on (keep these signatures):
"""

from __future__ import annotations

from .base import Backend


class ComputeBackend(Backend):
    def make_subnet(self, region: str, compartment_id: str, display_name: str, cidr_block: str,
                    dns_label: str) -> dict:
        """A subnet (and its VCN) to launch into; AVAILABLE at once."""
        raise NotImplementedError

    def make_image(self, region: str, compartment_id: str, display_name: str, operating_system: str,
                   operating_system_version: str, blocks: dict, size_in_gbs: int = 47) -> dict:
        """A platform-like image holding `blocks`, AVAILABLE at once (seeding)."""
        raise NotImplementedError

    def make_instance(self, region: str, compartment_id: str, availability_domain: str, display_name: str,
                      shape: str, subnet_id: str | None, boot_volume_id: str, image_id: str | None = None,
                      os_name: str = "Linux", hostname_label: str | None = None,
                      freeform_tags: dict | None = None, metadata: dict | None = None) -> dict:
        """A RUNNING instance on an existing boot volume, with its boot volume attachment and VNIC (seeding)."""
        raise NotImplementedError

    def make_attachment(self, instance_id: str, volume_id: str, attachment_type: str, device: str | None) -> dict:
        """An ATTACHED volume attachment (seeding)."""
        raise NotImplementedError

    def attached_devices(self, instance_id: str) -> list[tuple[str, str]]:
        """(device path, volume id) of each ATTACHED volume attachment that has a device path."""
        raise NotImplementedError

    def content_of(self, resource_id: str) -> tuple[dict, int] | None:
        """(block map, size in bytes) of an image; None for other ids."""
        raise NotImplementedError
