"""The one configuration module: deployment settings read from the environment only there, typed and checked;
the order of a run's configuration (Params defaults, the Variable named after the DAG, the trigger conf)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from common import config
from common.config import NIGHTLY_DEFAULTS, SETTINGS, Setting, layered, parse_variable
from common.errors import OciInputError
from workflows.nightly import params as nightly_params
from workflows.nightly import validate as check_nightly

ROOT = Path(__file__).resolve().parents[3]


def test_a_setting_is_its_default_when_unset_or_empty(monkeypatch):
    monkeypatch.delenv("OCI_POLL_INTERVAL", raising=False)
    assert config.POLL_INTERVAL.value() == 10.0
    monkeypatch.setenv("OCI_POLL_INTERVAL", "  ")
    assert config.POLL_INTERVAL.value() == 10.0
    monkeypatch.setenv("OCI_POLL_INTERVAL", "0.5")
    assert config.POLL_INTERVAL.value() == 0.5


@pytest.mark.parametrize("setting, raw, value", [
    (config.TRIGGER_END_TASK, "0", False), (config.TRIGGER_END_TASK, "1", True),
    (config.TRIGGER_END_TASK, "True", True), (config.TRIGGER_BATCH_FROM, "3", 3),
    (config.API_POOL, "oci_slow", "oci_slow"), (config.NIGHTLY_MAX_ACTIVE_TASKS, "8", 8),
])
def test_a_setting_is_read_as_its_defaults_type(monkeypatch, setting, raw, value):
    monkeypatch.setenv(setting.name, raw)
    assert setting.value() == value and type(setting.value()) is type(setting.default)


@pytest.mark.parametrize("setting, raw, message", [
    (config.POLL_INTERVAL, "ten", "OCI_POLL_INTERVAL 'ten': a number, default 10.0"),
    (config.API_POOL_SLOTS, "1.5", "OCI_API_POOL_SLOTS '1.5': a whole number"),
    (config.TRIGGER_MIN_EVENT_AGE, "-1", "OCI_TRIGGER_MIN_EVENT_AGE '-1': not negative"),
    (config.TRIGGER_END_TASK, "maybe", "OCI_TRIGGER_END_TASK 'maybe': 1 or 0"),
])
def test_a_bad_setting_is_refused_naming_the_variable(monkeypatch, setting, raw, message):
    monkeypatch.setenv(setting.name, raw)
    with pytest.raises(OciInputError, match=re.escape(message)):
        setting.value()


def test_every_setting_has_a_name_a_default_and_a_reason():
    names = [s.name for s in SETTINGS]
    assert len(set(names)) == len(names)
    assert all(isinstance(s, Setting) and s.name.startswith("OCI_") and len(s.why) > 20 for s in SETTINGS)
    module_settings = {v for v in vars(config).values() if isinstance(v, Setting)}
    assert module_settings == set(SETTINGS), "every Setting of the module is in SETTINGS (and so in the docs)"


def test_the_library_reads_the_environment_only_in_the_config_module():
    readers = re.compile(r"os\.environ|getenv\(")
    found = [str(p.relative_to(ROOT)) for folder in ("plugins", "dags") for p in sorted((ROOT / folder).rglob("*.py"))
             if readers.search(p.read_text())]
    assert found == ["plugins/common/config.py"]


def test_the_docs_hold_the_settings_table():
    for doc in ("architecture.md", "configuration.md"):
        text = (ROOT / "docs" / doc).read_text()
        assert config.settings_table() in text, f"docs/{doc}: paste config.settings_table()"


# -- the order ----------------------------------------------------------------------------------------------------
DEFAULTS = {"compartment_ids": "", "tag_key": "backup-policy", "dry_run": False}


def test_later_sources_win_key_by_key():
    assert layered(DEFAULTS) == DEFAULTS
    variable = {"compartment_ids": "ocid1.compartment.oc1..a", "dry_run": True}
    assert layered(DEFAULTS, variable, None) == {**DEFAULTS, **variable}
    assert layered(DEFAULTS, variable, {"tag_key": "protect"}) == {"compartment_ids": "ocid1.compartment.oc1..a",
                                                                   "tag_key": "protect", "dry_run": True}
    assert DEFAULTS == {"compartment_ids": "", "tag_key": "backup-policy", "dry_run": False}  # not changed
    resolved = layered(NIGHTLY_DEFAULTS)
    resolved["policies"]["default"]["retention_days"] = 1
    assert NIGHTLY_DEFAULTS["policies"]["default"]["retention_days"] == 30  # a run's copy, not the defaults


def test_a_conf_value_left_at_its_default_keeps_the_variables_value():
    """The UI's Trigger form sends every field: a field left at its default is not an override."""
    variable = {"compartment_ids": "ocid1.compartment.oc1..a", "dry_run": True}
    form = {"compartment_ids": "", "tag_key": "backup-policy", "dry_run": False}
    assert layered(DEFAULTS, variable, form) == {**DEFAULTS, **variable}
    assert layered(DEFAULTS, None, form) == DEFAULTS
    assert layered(DEFAULTS, variable, {**form, "compartment_ids": "ocid1.compartment.oc1..b"})["compartment_ids"] \
        == "ocid1.compartment.oc1..b"


@pytest.mark.parametrize("variable, conf, message", [
    ({"compartments": "x"}, None, "Variable 'oci_x': unknown key 'compartments'; the Params are "
                                  "['compartment_ids', 'dry_run', 'tag_key']"),
    (None, {"dry_run": True, "tagkey": "a", "zz": 1}, "trigger conf: unknown key 'tagkey' (and ['zz'])"),
    (["a"], None, "Variable 'oci_x': a JSON object with the DAG's Params as keys, not list"),
])
def test_an_unknown_key_or_a_non_object_is_refused_naming_it(variable, conf, message):
    with pytest.raises(OciInputError, match=re.escape(message)):
        layered(DEFAULTS, variable, conf, dag_id="oci_x")


def test_the_variable_is_a_json_object():
    assert parse_variable("oci_x", None) is None and parse_variable("oci_x", " ") is None
    assert parse_variable("oci_x", '{"dry_run": true}') == {"dry_run": True}
    with pytest.raises(OciInputError, match="Variable 'oci_x': not JSON"):
        parse_variable("oci_x", "{dry_run: true}")
    with pytest.raises(OciInputError, match="Variable 'oci_x': a JSON object"):
        parse_variable("oci_x", "[1]")


def test_the_nightly_checks_its_resolved_configuration():
    ok = check_nightly({**NIGHTLY_DEFAULTS, "compartment_ids": " ocid1.compartment.oc1..a, ocid1.compartment.oc1..b",
                        "verifier_instance_id": "ocid1.instance.oc1..v"})
    assert ok["compartment_ids"] == ["ocid1.compartment.oc1..a", "ocid1.compartment.oc1..b"]
    assert check_nightly({**NIGHTLY_DEFAULTS, "compartment_ids": ["ocid1.compartment.oc1..a"],
                          "verification_level": "api"})["compartment_ids"] == ["ocid1.compartment.oc1..a"]
    with pytest.raises(OciInputError, match="compartment_ids: empty; set it in the Variable 'oci_nightly_backup'"):
        check_nightly(dict(NIGHTLY_DEFAULTS))
    with pytest.raises(OciInputError, match="verifier_instance_id: required for the script verification level"):
        check_nightly({**NIGHTLY_DEFAULTS, "compartment_ids": "ocid1.compartment.oc1..a"})


def test_the_nightly_params_default_to_the_config_modules_defaults():
    params = nightly_params()
    assert {name: p.value for name, p in params.items()} == NIGHTLY_DEFAULTS
