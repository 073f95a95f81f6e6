"""OciObjectStorageHook: Object Storage calls on the base hook."""

from __future__ import annotations

from typing import Any

from common.errors import OciInputError
from common.ids import check_bucket_name

from hooks.base import OciBaseHook


class OciObjectStorageHook(OciBaseHook):
    """Object Storage: buckets a request names."""

    def check_bucket(self, namespace: str | None, bucket: Any, field: str = "bucket",
                     region: str | None = None) -> str:
        """The bucket exists in the namespace (the tenancy's when None); returns the namespace.

        :param namespace: the Object Storage namespace; None: the tenancy's
        :param bucket: the bucket's name
        :param field: the request field named in errors
        :param region: the bucket's region; None: the connection's
        """
        import oci

        check_bucket_name(bucket, field)
        client = self.get_client("object_storage", region)
        namespace = namespace or client.get_namespace().data
        try:
            client.head_bucket(namespace, bucket)
        except oci.exceptions.ServiceError as err:
            if err.status == 404:
                raise OciInputError(f"{field} {bucket!r}: no such bucket in namespace {namespace!r} "
                                    f"({region or self.region})") from None
            raise
        return namespace
