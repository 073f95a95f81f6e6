"""Object Storage object URIs: the one place they are built and parsed.

Image import and export name their object either by URI or by namespace, bucket and object name; the upload
operator reports the URI of what it wrote.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlsplit

from common.errors import OciInputError
from common.ids import validate_region

OBJECT_ENDPOINT = "https://objectstorage.{region}.{secondLevelDomain}"
# https://objectstorage.<region>.oraclecloud.com/n/<namespace>/b/<bucket>/o/<object, URL-encoded>
OBJECT_HOST_RE = re.compile(r"^(?:[a-z0-9-]+\.)?objectstorage\.(?P<region>[a-z0-9-]+)\."
                            r"(?:oraclecloud\d*\.com|oci\.customer-oci\.com|oraclegovcloud\.com|oraclegovcloud\.uk)$")
OBJECT_PATH_RE = re.compile(r"^/n/(?P<namespace>[^/]+)/b/(?P<bucket>[^/]+)/o/(?P<object>.+)$")


def object_uri(region: str, namespace: str, bucket: str, object_name: str) -> str:
    """The object's native https URI in its region (the form image import and the console take)."""
    import oci

    endpoint = oci.regions.endpoint_for("object_storage", service_endpoint_template=OBJECT_ENDPOINT, region=region)
    return f"{endpoint}/n/{quote(namespace, safe='')}/b/{quote(bucket, safe='')}/o/{quote(object_name, safe='')}"


def parse_object_uri(uri: str, field_name: str = "source_uri") -> dict:
    """{region, namespace, bucket, object} of https://objectstorage.<region>.oraclecloud.com/n/<ns>/b/<bucket>/o/<obj>
    (the object name URL-encoded). Pre-authenticated request URIs (/p/<token>/...) are refused: the object could not
    be checked before the import with them."""
    parts = urlsplit(uri or "")
    host = OBJECT_HOST_RE.match(parts.hostname or "")
    if parts.path.startswith("/p/"):
        raise OciInputError(f"{field_name} {uri!r}: a pre-authenticated request URI; give the object's own URI "
                            f"(https://objectstorage.<region>.oraclecloud.com/n/<namespace>/b/<bucket>/o/<object>) "
                            f"or namespace, bucket and object_name, so the object can be checked first")
    path = OBJECT_PATH_RE.match(parts.path)
    if parts.scheme != "https" or not host or not path or parts.query or parts.fragment:
        raise OciInputError(f"{field_name} {uri!r}: not an Object Storage object URI of the form "
                            f"https://objectstorage.<region>.oraclecloud.com/n/<namespace>/b/<bucket>/o/<object>")
    region = validate_region(host.group("region"), f"{field_name} region")
    return {"region": region, "namespace": unquote(path.group("namespace")),
            "bucket": unquote(path.group("bucket")), "object": unquote(path.group("object"))}


def object_target(uri: str | None, uri_field: str, namespace: str | None, bucket: str | None,
                  object_name: str | None, region: str | None = None) -> dict:
    """{region, namespace, bucket, object} of an object named by `uri` or by namespace/bucket/object_name
    (exactly one of the two forms). `region` (None: the connection's) goes with the second form."""
    parts = (namespace, bucket, object_name)
    if uri and any(parts):
        raise OciInputError(f"{uri_field} and namespace/bucket/object_name: give one or the other, not both")
    if uri:
        return parse_object_uri(uri, uri_field)
    missing = [name for name, value in zip(("namespace", "bucket", "object_name"), parts, strict=True) if not value]
    if missing:
        raise OciInputError(f"{uri_field} or namespace, bucket and object_name: required (missing {missing})")
    return {"region": region, "namespace": namespace, "bucket": bucket, "object": object_name}
