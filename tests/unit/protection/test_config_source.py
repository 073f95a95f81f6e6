"""The page's configuration: the newest run's, else the nightly's Params defaults overridden by its Variable
(the order every run uses, less a trigger's conf); never the environment."""

from __future__ import annotations

from common.config import DEFAULT_POLICIES
from protection.catalogue import resolve_config

RUN = {"compartment_ids": ["ocid1.compartment.oc1..run"], "tag_key": "protect", "policies": {"p": {}}}


def test_the_newest_run_wins():
    config = resolve_config({"config": RUN}, variable=lambda dag_id: {"compartment_ids": "ocid1.compartment.oc1..v"})
    assert (config.compartment_ids, config.tag_key, config.source) == (RUN["compartment_ids"], "protect",
                                                                       "latest nightly run")


def test_before_any_run_the_variable_over_the_defaults(monkeypatch):
    monkeypatch.setenv("OCI_BACKUP_COMPARTMENTS", "ocid1.compartment.oc1..env")  # no longer read by anything
    config = resolve_config({"config": None}, variable=lambda dag_id: {
        "compartment_ids": "ocid1.compartment.oc1..a, ocid1.compartment.oc1..b"})
    assert config.compartment_ids == ["ocid1.compartment.oc1..a", "ocid1.compartment.oc1..b"]
    assert (config.tag_key, config.policies, config.source) == ("backup-policy", DEFAULT_POLICIES,
                                                                "Variable 'oci_nightly_backup'")
    config = resolve_config({}, variable=lambda dag_id: None)
    assert (config.compartment_ids, config.source) == ([], "defaults")


def test_a_bad_variable_configures_nothing_and_says_why():
    config = resolve_config({}, variable=lambda dag_id: {"compartments": "x"})
    assert config.compartment_ids == []
    assert config.source.startswith("Variable 'oci_nightly_backup': unknown key 'compartments'")
