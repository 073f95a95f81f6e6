"""OCI is a connection type Airflow knows: the provider entry point installed by `make venv` puts `oci` with its
hook and form in Airflow's ProvidersManager (what the UI's connection form and Test button read), and the real
`airflow connections test oci_default` CLI reaches ocisim through OciHook.test_connection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points

from oci_provider import CONN_FIELDS, HOOK_CLASS_NAME, PACKAGE_NAME
from tests.conftest import oci_connection_json

NOT_INSTALLED = "the oci-compute-protection provider is not installed in this venv: run `make venv`"


def airflow_cli(*args: str, connection: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIRFLOW_CONN_OCI_DEFAULT": connection, "AIRFLOW__CORE__TEST_CONNECTION": "Enabled"}
    return subprocess.run([sys.executable, "-m", "airflow", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_entry_point_is_installed():
    ours = [ep for ep in entry_points(group="apache_airflow_provider") if ep.dist.name == PACKAGE_NAME]
    assert [ep.value for ep in ours] == ["oci_provider:get_provider_info"], NOT_INSTALLED


def test_providers_manager_lists_the_oci_connection_type_with_its_hook_and_form():
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    manager = ProvidersManager()  # the API server's: providers, the connection form
    assert PACKAGE_NAME in manager.providers, NOT_INSTALLED
    hook = ProvidersManagerTaskRuntime().hooks["oci"]  # the Task SDK's: conn type -> hook (Connection.get_hook)
    assert (hook.hook_class_name, hook.package_name, hook.connection_id_attribute_name, hook.hook_name) == \
        (HOOK_CLASS_NAME, PACKAGE_NAME, "oci_conn_id", "Oracle Cloud Infrastructure")
    assert hook.connection_testable  # the UI's Test button
    widgets = {name: info for name, info in manager.connection_form_widgets.items() if name.startswith("extra__oci__")}
    assert set(widgets) == {f"extra__oci__{field}" for field in CONN_FIELDS}
    assert {info.field_name for info in widgets.values() if info.is_sensitive} == {"key_content", "pass_phrase"}
    assert manager.field_behaviours["oci"]["hidden_fields"] == ["host", "schema", "port", "login", "password"]


def test_the_ui_connection_form_gets_the_oci_fields():
    """What the UI's /ui/connections/hook_meta answers for `oci`: each field with its title, and the auth modes
    as a choice."""
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    meta = {m.connection_type: m for m in HookMetaService.hook_meta_data()}["oci"]
    assert meta.hook_class_name == HOOK_CLASS_NAME and meta.hook_name == "Oracle Cloud Infrastructure"
    fields = meta.extra_fields
    assert set(fields) == set(CONN_FIELDS)
    assert fields["tenancy"]["schema"]["title"] == "Tenancy OCID"
    assert fields["auth"]["schema"]["enum"] == ["api_key", "config_file", "instance_principal", "resource_principal"]
    assert fields["auth"]["value"] == "api_key"
    assert fields["key_content"]["schema"]["format"] == "password"
    assert meta.standard_fields.host.hidden and meta.standard_fields.password.hidden


def test_the_hook_is_what_a_connection_of_type_oci_gets(ocisim):
    from airflow.sdk import Connection
    from hooks.oci import OciHook

    conn = Connection(conn_id="oci_default", **json.loads(oci_connection_json(ocisim)))  # as a task gets it
    hook = conn.get_hook()
    assert isinstance(hook, OciHook) and hook.oci_conn_id == "oci_default"


def test_airflow_connections_test_against_ocisim(ocisim):
    ocisim.admin.reset_counters()
    proc = airflow_cli("connections", "test", "oci_default", connection=oci_connection_json(ocisim))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Connection success!" in proc.stdout
    counters = ocisim.admin.counters()  # the hook's test really reached ocisim
    assert counters.get("ListRegions") == 1 and counters.get("GetCompartment") == 1, counters


def test_airflow_connections_test_with_a_key_ocisim_does_not_know_fails_without_the_key(ocisim):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    conn = json.loads(oci_connection_json(ocisim))
    conn["extra"]["key_content"] = other_key
    proc = airflow_cli("connections", "test", "oci_default", connection=json.dumps(conn))
    assert proc.returncode == 1
    assert "Connection failed!\nServiceError: The required information to complete authentication was not provided" \
        in proc.stdout, proc.stdout + proc.stderr  # OCI's text for a 401
    body = other_key.splitlines()[5]
    assert body not in proc.stdout and body not in proc.stderr
