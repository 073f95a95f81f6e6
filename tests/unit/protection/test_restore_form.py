"""The restore DAG's trigger form the Protection page's "Restore…" opens: drawn from the Params as Airflow stores
them (`Param.dump()`), grouped by `section`, pre-filled from the URL, every value escaped."""

from __future__ import annotations

import re

from protection.restore_form import restore_page

PARAMS = {
    "volume_id": {"value": None, "description": "Restore this volume's newest verified backup",
                  "schema": {"type": ["null", "string"], "title": "Volume", "section": "Which backup"}},
    "allow_unverified": {"value": False, "description": "Use an unverified backup",
                         "schema": {"type": "boolean", "section": "Which backup"}},
    "os_type": {"value": "linux", "description": None, "schema": {"enum": ["linux", "windows"], "section": "Where to"}},
    "ocpus": {"value": 1, "description": "OCPUs", "schema": {"type": "number", "section": "Where to"}},
    "freeform_tags": {"value": {}, "description": "Tags", "schema": {"type": "object"}},
}


def test_the_form_is_prefilled_from_the_url_and_grouped_by_section():
    html = restore_page(PARAMS, {"volume_id": "ocid1.volume.oc1.iad.abcdefgh", "os_type": "windows"}, "/oci")
    assert re.findall(r"<legend>([^<]+)</legend>", html) == ["Which backup", "Where to", "Run parameters"]
    assert re.search(r'<label for="p-volume_id" class="given">Volume</label> <input type="text"[^>]*'
                     r'name="volume_id" data-default="null"[^>]*value="ocid1.volume.oc1.iad.abcdefgh"', html)
    assert '<option value="&quot;windows&quot;" selected>windows</option>' in html
    assert 'type="checkbox" id="p-allow_unverified"' in html and 'data-kind="boolean">' in html
    assert 'type="number"' in html and 'value="1"' in html
    assert 'data-api="/api/v2/dags/oci_restore/dagRuns"' in html and 'data-runs="/dags/oci_restore/runs/"' in html
    assert ("Filled in from the OCI Protection page: volume_id = ocid1.volume.oc1.iad.abcdefgh, "
            "os_type = windows") in html


def test_a_value_from_the_url_cannot_inject_markup():
    html = restore_page(PARAMS, {"volume_id": '"><script>alert(1)</script>'}, "/airflow/oci")
    assert "<script>alert(1)" not in html and "&quot;&gt;&lt;script&gt;" in html
    assert 'data-api="/airflow/api/v2/dags/oci_restore/dagRuns"' in html


def test_a_dag_airflow_has_not_parsed_is_said():
    html = restore_page(None, {"volume_id": "x"}, "/oci")
    assert "The DAG oci_restore is not in Airflow yet" in html and "<form" not in html
