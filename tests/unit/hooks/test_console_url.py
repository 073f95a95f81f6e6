"""Console links: one URL table, every resource kind, always with the resource's region."""

from __future__ import annotations

import pytest
from common.ids import CONSOLE_PATHS, asset_uri, console_url, ocid_kind
from hooks.base import RESOURCE_API

PARTS = {"instance_id": "ocid1.instance.oc1.fra.aaaaaaaainstance1", "namespace": "axnamespace01",
         "bucket": "disk-images"}


def ocid(kind: str) -> str:
    return f"ocid1.{kind}.oc1.fra.aaaaaaaa{kind[:8]}0000"


@pytest.mark.parametrize("kind", sorted(CONSOLE_PATHS))
@pytest.mark.parametrize("region", ["eu-frankfurt-1", "us-phoenix-1"])
def test_every_kind_links_to_its_console_page_in_its_region(kind, region):
    resource_id = ocid(kind)
    url = console_url(region, resource_id, kind, **PARTS)
    assert url.startswith("https://cloud.oracle.com/") and url.endswith(f"?region={region}")
    assert "{" not in url and "None" not in url
    path = url.removeprefix("https://cloud.oracle.com/").split("?")[0]
    expected = CONSOLE_PATHS[kind].format(id=resource_id, **PARTS)
    assert path == expected
    if "{id}" in CONSOLE_PATHS[kind]:
        assert resource_id in url
    else:  # pages addressed by their parent: an instance, a bucket
        assert any(value in url for value in PARTS.values())


@pytest.mark.parametrize("kind", sorted(set(CONSOLE_PATHS) & set(RESOURCE_API)))
def test_the_kind_is_read_off_the_ocid(kind):
    resource_id = ocid(kind)
    assert ocid_kind(resource_id) == kind
    assert console_url("ap-tokyo-1", resource_id, **PARTS) == console_url("ap-tokyo-1", resource_id, kind, **PARTS)


def test_console_pages_match_oci_sections():
    sections = {kind: CONSOLE_PATHS[kind].split("/")[0] for kind in CONSOLE_PATHS}
    assert {sections[k] for k in ("volume", "bootvolume", "volumebackup", "bootvolumebackup", "volumegroup",
                                  "volumegroupbackup")} == {"block-storage"}
    assert {sections[k] for k in ("instance", "image", "volumeattachment", "instanceagentcommand")} == {"compute"}
    assert {sections[k] for k in ("bucket", "object")} == {"object-storage"}
    assert set(RESOURCE_API) <= set(CONSOLE_PATHS)  # whatever the hook can wait on has a page


def test_unknown_kind_falls_back_to_the_regional_console():
    assert console_url("us-ashburn-1", "ocid1.vcn.oc1.iad.aaaaaaaavcn00000") == \
        "https://cloud.oracle.com/?region=us-ashburn-1"


def test_asset_uri_names_one_resource_in_one_region():
    image = ocid("image")
    assert asset_uri("eu-frankfurt-1", image) == f"oci://eu-frankfurt-1/{image}"
    assert asset_uri("us-phoenix-1", image) != asset_uri("eu-frankfurt-1", image)
