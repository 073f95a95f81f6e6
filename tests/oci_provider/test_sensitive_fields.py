"""The oci connection's key and pass phrase are masked in Airflow's connections API only through the deployment's
sensitive names: the provider's password fields are the names, and `make up`, docker-compose.yaml and the
distributed harness set exactly those. With the setting, Airflow's own response model masks them and its update
keeps the stored values when an edit sends them back masked; without it (Airflow's built-in names only), the key
comes back in clear, which is why every deployment needs it (docs/connections.md). The same against the real
api-server and UI: tests/browser/test_connections.py."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
import yaml

from oci_provider import CONN_FIELDS, SENSITIVE_FIELDS

ROOT = Path(__file__).resolve().parents[2]
KEY = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFakebodyline0123456789\n-----END ENCRYPTED PRIVATE KEY-----\n"
PHRASE = "a fake pass phrase"
EXTRA = {"auth": "api_key", "region": "us-ashburn-1", "key_content": KEY, "pass_phrase": PHRASE}


@contextlib.contextmanager
def sensitive_names(*extra_names: str):
    """The API server's masker with Airflow's built-in names plus `extra_names` (what `[core]
    sensitive_var_conn_names` adds at start-up), restored afterwards."""
    from airflow._shared.secrets_masker import DEFAULT_SENSITIVE_FIELDS, _secrets_masker

    masker = _secrets_masker()
    saved = (masker.sensitive_variables_fields, masker.hide_sensitive_var_conn_fields)
    masker.sensitive_variables_fields = [*DEFAULT_SENSITIVE_FIELDS, *extra_names]
    masker.hide_sensitive_var_conn_fields = True
    try:
        yield
    finally:
        masker.sensitive_variables_fields, masker.hide_sensitive_var_conn_fields = saved


def response_extra(extra: dict) -> dict:
    """What GET /api/v2/connections/{id} returns as `extra` for a stored connection with these extras."""
    from airflow.api_fastapi.core_api.datamodels.connections import ConnectionResponse

    stored = {"conn_id": "oci_default", "conn_type": "oci", "description": None, "host": None, "login": None,
              "schema": None, "port": None, "password": None, "extra": json.dumps(extra), "team_name": None}
    return json.loads(ConnectionResponse.model_validate(stored).extra)


def test_the_sensitive_names_are_the_forms_password_fields_and_every_stack_sets_them():
    assert SENSITIVE_FIELDS == ("key_content", "pass_phrase")
    assert {n for n, f in CONN_FIELDS.items() if f["schema"].get("format") == "password"} == set(SENSITIVE_FIELDS)
    expected = ",".join(SENSITIVE_FIELDS)

    from demo.stack import SENSITIVE_VAR_CONN_NAMES

    assert SENSITIVE_VAR_CONN_NAMES.split(",") == list(SENSITIVE_FIELDS)
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    env = compose["x-airflow-common"]["environment"]
    assert env["AIRFLOW__CORE__SENSITIVE_VAR_CONN_NAMES"] == expected
    assert env["AIRFLOW__CORE__TEST_CONNECTION"] == "Enabled"
    harness = (ROOT / "tests" / "distributed" / "run_stack.py").read_text()
    assert f'"AIRFLOW__CORE__SENSITIVE_VAR_CONN_NAMES": "{expected}"' in harness


def test_airflow_masks_the_key_only_through_the_deployments_sensitive_names():
    with sensitive_names():  # Airflow's built-in names: neither key_content nor pass_phrase is one
        assert response_extra(EXTRA)["key_content"] == KEY
    with sensitive_names(*SENSITIVE_FIELDS):
        shown = response_extra(EXTRA)
    assert shown == {**EXTRA, "key_content": "***", "pass_phrase": "***"}
    assert KEY.splitlines()[1] not in json.dumps(shown) and PHRASE not in json.dumps(shown)


@pytest.mark.parametrize("update_mask", [None, ["extra", "description"]])
def test_an_edit_that_sends_the_masked_values_back_keeps_the_stored_key(update_mask):
    """The UI's edit form (and a REST client's round trip) sends `***` for the key it was shown: Airflow's update
    puts the stored values back for sensitive names, and takes a value that was really typed."""
    from airflow.api_fastapi.core_api.datamodels.connections import ConnectionBody
    from airflow.api_fastapi.core_api.services.public.connections import update_orm_from_pydantic
    from airflow.models.connection import Connection

    stored = Connection(conn_id="oci_default", conn_type="oci", extra=json.dumps(EXTRA))
    with sensitive_names(*SENSITIVE_FIELDS):
        masked = response_extra(EXTRA)
        edit = ConnectionBody(connection_id="oci_default", conn_type="oci", description="edited",
                              extra=json.dumps({**masked, "region": "eu-frankfurt-1"}))
        update_orm_from_pydantic(stored, edit, update_mask)
        assert stored.extra_dejson == {**EXTRA, "region": "eu-frankfurt-1"}
        assert stored.description == "edited"
        retyped = ConnectionBody(connection_id="oci_default", conn_type="oci",
                                 extra=json.dumps({**masked, "pass_phrase": "a new one"}))
        update_orm_from_pydantic(stored, retyped, update_mask)
    assert stored.extra_dejson["pass_phrase"] == "a new one" and stored.extra_dejson["key_content"] == KEY
