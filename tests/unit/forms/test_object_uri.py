"""Object Storage object URIs: built, parsed, refused, and the URI-or-parts choice image import and export make."""

from __future__ import annotations

import os

import pytest
from common.errors import OciInputError
from forms.object_uri import object_target, object_uri, parse_object_uri


def test_object_uri_parsing():
    uri = "https://objectstorage.eu-frankfurt-1.oraclecloud.com/n/my%20ns/b/images/o/exports%2Fweb%201.vmdk"
    assert parse_object_uri(uri) == {"region": "eu-frankfurt-1", "namespace": "my ns", "bucket": "images",
                                     "object": "exports/web 1.vmdk"}
    assert object_uri("eu-frankfurt-1", "my ns", "images", "exports/web 1.vmdk") == uri
    for bad, fragment in [
            ("http://objectstorage.us-ashburn-1.oraclecloud.com/n/a/b/b/o/x", "not an Object Storage object URI"),
            ("https://example.com/n/a/b/b/o/x", "not an Object Storage object URI"),
            ("https://objectstorage.us-ashburn-1.oraclecloud.com/n/a/b/b", "not an Object Storage object URI"),
            ("https://objectstorage.us-ashburn-1.oraclecloud.com/p/tok/n/a/b/b/o/x", "pre-authenticated"),
            ("https://objectstorage.Mars.oraclecloud.com/n/a/b/b/o/x", "region 'mars': not an OCI region")]:
        with pytest.raises(OciInputError, match=fragment):
            parse_object_uri(bad)


def test_object_uri_is_regional_and_encodes_the_name():
    assert object_uri("us-phoenix-1", "ns", "b", "a b/c.vmdk") == \
        "https://objectstorage.us-phoenix-1.oraclecloud.com/n/ns/b/b/o/a%20b%2Fc.vmdk"
    assert os.path.basename(object_uri("eu-frankfurt-1", "ns", "b", "x")) == "x"
    assert "eu-frankfurt-1" in object_uri("eu-frankfurt-1", "ns", "b", "x")


def test_object_target_takes_one_form():
    uri = "https://objectstorage.eu-frankfurt-1.oraclecloud.com/n/ns/b/images/o/a.vmdk"
    assert object_target(uri, "source_uri", None, None, None) == {
        "region": "eu-frankfurt-1", "namespace": "ns", "bucket": "images", "object": "a.vmdk"}
    assert object_target(None, "destination_uri", "ns", "b", "o", "us-ashburn-1") == {
        "region": "us-ashburn-1", "namespace": "ns", "bucket": "b", "object": "o"}
    with pytest.raises(OciInputError, match="source_uri and namespace/bucket/object_name: give one or the other"):
        object_target(uri, "source_uri", "ns", None, None)
    with pytest.raises(OciInputError, match=r"destination_uri or namespace, bucket and object_name: required "
                                            r"\(missing \['bucket'\]\)"):
        object_target(None, "destination_uri", "ns", None, "o")
