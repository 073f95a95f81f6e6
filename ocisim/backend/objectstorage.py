"""Object storage backend (to be filled in).

Internal API other backends, the seed and the admin API rely on (keep these signatures):
"""

from __future__ import annotations

from .base import Backend


class ObjectStorageBackend(Backend):
    def namespace(self) -> str:
        raise NotImplementedError

    def ensure_bucket(self, region: str, compartment_id: str, name: str) -> dict:
        raise NotImplementedError

    def object_info(self, region: str, namespace: str, bucket: str, name: str) -> dict:
        """{'name', 'size', 'md5', 'etag', ...}; 404 OciError (ObjectNotFound/BucketNotFound) if absent."""
        raise NotImplementedError

    def read_object(self, region: str, namespace: str, bucket: str, name: str, offset: int, length: int) -> bytes:
        raise NotImplementedError

    def write_object(self, region: str, namespace: str, bucket: str, name: str, chunks) -> dict:
        """Store an object from an iterable of bytes chunks (streams large exports without holding them)."""
        raise NotImplementedError
