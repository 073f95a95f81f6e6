"""Block storage backend: volumes, boot volumes, backups, volume groups (to be filled in).

Internal API other backends, the seed and the admin API rely on (keep these signatures):
"""

from __future__ import annotations

from .base import Backend


class BlockStorageBackend(Backend):
    def make_volume(self, kind: str, region: str, compartment_id: str, availability_domain: str,
                    display_name: str, size_in_gbs: int, blocks: dict | None = None,
                    freeform_tags: dict | None = None, image_id: str | None = None,
                    source_details: dict | None = None, ready_after: float | None = None) -> dict:
        """Store a new volume (kind "volume") or boot volume (kind "bootvolume") holding `blocks`.

        PROVISIONING until `ready_after` emulated seconds (default: a size-based duration), then AVAILABLE;
        ready_after=0 makes it AVAILABLE at once (seeding)."""
        raise NotImplementedError

    def blocks_of(self, volume_id: str) -> dict:
        """Current block map of a volume or boot volume (any region)."""
        raise NotImplementedError

    def set_blocks(self, volume_id: str, blocks: dict) -> None:
        """Replace a volume's content (guest writes, admin writes)."""
        raise NotImplementedError

    def content_of(self, resource_id: str) -> tuple[dict, int] | None:
        """(block map, size in bytes) of a volume, boot volume or (boot) volume backup, resolved through its
        INCREMENTAL chain; None when the id is not one of those (the admin API then asks compute)."""
        raise NotImplementedError

    def corrupt_backup(self, backup_id: str, block_index: int | None = None) -> dict:
        """Flip bytes in one stored block of a backup (copy-on-write: the source volume and other backups
        keep theirs); default: the first block the backup itself stored. Return {'backup_id','block_index'}."""
        raise NotImplementedError
