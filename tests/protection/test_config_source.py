"""The page's configuration before any nightly run: the Variable `oci_nightly_backup` as the api-server reads it
(Airflow's metadata database), over the nightly's Params defaults; never the OCI_BACKUP_* environment."""

from __future__ import annotations

from common.config import DEFAULT_POLICIES
from protection.catalogue import read_variable, resolve_config

from tests.airflow_helpers import variable


def test_the_variable_in_airflow_configures_the_page(airflow_db, monkeypatch):
    monkeypatch.setenv("OCI_BACKUP_COMPARTMENTS", "ocid1.compartment.oc1..fromenv")
    with variable("oci_nightly_backup", {"compartment_ids": ["ocid1.compartment.oc1..a"], "tag_key": "protect"}):
        assert read_variable() == {"compartment_ids": ["ocid1.compartment.oc1..a"], "tag_key": "protect"}
        config = resolve_config({"runs": [], "config": None})
    assert (config.compartment_ids, config.tag_key, config.policies, config.source) == (
        ["ocid1.compartment.oc1..a"], "protect", DEFAULT_POLICIES, "Variable 'oci_nightly_backup'")
    assert read_variable() is None
    assert resolve_config({"runs": [], "config": None}).compartment_ids == []
