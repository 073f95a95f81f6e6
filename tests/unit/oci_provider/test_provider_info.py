"""The provider information Airflow reads from the entry point: valid for Airflow's own schemas, and every form
field is an extra OciHook reads, with the secret ones masked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import airflow
import jsonschema
from hooks.base import AUTH_MODES
from hooks.oci import OciHook

from oci_provider import CONN_FIELDS, get_provider_info

AIRFLOW_SCHEMAS = Path(airflow.__file__).parent
# the connection extras are read in the base hook
HOOK_SOURCE = (Path(__file__).resolve().parents[3] / "plugins" / "hooks" / "base.py").read_text()


def test_provider_info_passes_airflows_schema():
    schema = json.loads((AIRFLOW_SCHEMAS / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)
    (conn_type,) = get_provider_info()["connection-types"]
    assert (conn_type["connection-type"], conn_type["hook-class-name"]) == (OciHook.conn_type, "hooks.oci.OciHook")
    assert conn_type["hook-name"] == OciHook.hook_name


def test_ui_field_behaviour_passes_airflows_schema():
    behaviour = get_provider_info()["connection-types"][0]["ui-field-behaviour"]
    as_airflow_reads_it = {key.replace("-", "_"): value for key, value in behaviour.items()}
    schema = json.loads((AIRFLOW_SCHEMAS / "customized_form_field_behaviours.schema.json").read_text())
    jsonschema.validate(as_airflow_reads_it, schema)


def test_every_field_is_an_extra_the_hook_reads_with_a_valid_schema():
    assert [name for name in CONN_FIELDS if f'"{name}"' not in HOOK_SOURCE] == []
    read = set(re.findall(r"extras(?:\.get\(|\[)\"([a-z_]+)\"", HOOK_SOURCE))
    assert read - set(CONN_FIELDS) == {"service_endpoints"}  # a JSON object: set in the Extra field
    for name, field in CONN_FIELDS.items():
        jsonschema.Draft7Validator.check_schema(field["schema"])
        assert field["label"] and field["description"], name
        if "default" in field["schema"]:
            jsonschema.validate(field["schema"]["default"], field["schema"])
    assert CONN_FIELDS["auth"]["schema"]["enum"] == list(AUTH_MODES)
    assert {name for name, f in CONN_FIELDS.items() if f["schema"].get("format") == "password"} == \
        {"key_content", "pass_phrase"}
