"""Registers OCI as a connection type Airflow knows: the `apache_airflow_provider` entry point of this repository's
package (pyproject.toml; `make venv` installs it) returns the information below to Airflow's ProvidersManager.

The hook itself stays in plugins/hooks/oci.py: Airflow puts the plugins folder on sys.path, so `hooks.oci.OciHook`
imports wherever Airflow runs. The connection form is declared here as data (`conn-fields`, `ui-field-behaviour`),
the way Airflow 3.2+ reads it without importing the hook; `get_connection_form_widgets` and
`get_ui_field_behaviour` on a hook are deprecated since Airflow 3.2 and need Flask-AppBuilder, which Airflow 3 no
longer installs. Every field is an extra the hook reads (README, "Pointing it at a real tenancy").

The private key and its pass phrase are password fields (`format: password`): the UI's form renders them as password
inputs. That alone does not hide them: Airflow 3.3's REST API, which the UI's connection pages read, masks a
connection's extras only by the deployment's sensitive names (Airflow's built-in list plus `[core]
sensitive_var_conn_names`), and neither `key_content` nor `pass_phrase` is built in. Every deployment sets
`AIRFLOW__CORE__SENSITIVE_VAR_CONN_NAMES` to `SENSITIVE_FIELDS` (docs/connections.md); `make up`,
docker-compose.yaml and the distributed harness do.
"""

from __future__ import annotations

from typing import Any

PACKAGE_NAME = "oci-compute-protection"
CONN_TYPE = "oci"
HOOK_CLASS_NAME = "hooks.oci.OciHook"
AUTH_MODES = ["api_key", "config_file", "instance_principal", "resource_principal"]


def _text(label: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"label": label, "description": description, "schema": {"type": ["string", "null"], **schema}}


def _secret(label: str, description: str) -> dict[str, Any]:
    """A password field: the UI's form hides what is typed; Airflow's API masks it only when its name is in
    `[core] sensitive_var_conn_names` (SENSITIVE_FIELDS)."""
    return _text(label, description, format="password")


CONN_FIELDS: dict[str, dict[str, Any]] = {
    "auth": _text("Auth mode", "api_key: the fields below; config_file: an OCI CLI config file and profile; "
                  "instance_principal or resource_principal: the identity of the machine or function Airflow runs on",
                  enum=AUTH_MODES, default="api_key"),
    "region": _text("Region", "Home region of the calls, like eu-frankfurt-1 (api_key needs it; the others may "
                    "take it from their identity)"),
    "tenancy": _text("Tenancy OCID", "ocid1.tenancy.oc1..… (api_key)"),
    "user": _text("User OCID", "ocid1.user.oc1..… of the API key's user (api_key)"),
    "fingerprint": _text("Key fingerprint", "aa:bb:…, as the console shows it for the API key (api_key)"),
    "key_content": _secret("Private key (PEM)", "The API key's private key; or leave empty and give a key file"),
    "key_file": _text("Private key file", "Path of the PEM file on every Airflow worker (instead of the key)"),
    "pass_phrase": _secret("Key pass phrase", "Only when the private key is encrypted"),
    "config_file": _text("Config file", "Path of an OCI CLI config file (config_file; default ~/.oci/config)"),
    "profile": _text("Config profile", "Profile in the config file (config_file; default DEFAULT)"),
    "service_endpoint": _text("Service endpoint", "One URL that replaces the SDK's endpoints for the home region "
                              "(a proxy, or ocisim); per region: extra 'service_endpoints' {region: url}"),
    "max_attempts": {"label": "Max attempts", "description": "Tries per SDK call for 429, 5xx and timeouts; "
                     "empty: the hook's retry budget (hooks.retries.RETRY_BUDGET)",
                     "schema": {"type": ["integer", "null"], "minimum": 1}},
}

# the extras Airflow must mask: the value of `[core] sensitive_var_conn_names` (AIRFLOW__CORE__SENSITIVE_VAR_CONN_NAMES)
SENSITIVE_FIELDS: tuple[str, ...] = tuple(name for name, field in CONN_FIELDS.items()
                                          if field["schema"].get("format") == "password")

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    # OCI signs requests with the key: host, login and password have no meaning; the extra JSON stays for
    # what a form cannot hold (service_endpoints per region)
    "hidden-fields": ["host", "schema", "port", "login", "password"],
    "relabeling": {},
    "placeholders": {},
}


def get_provider_info() -> dict[str, Any]:
    """What Airflow's ProvidersManager reads from the `apache_airflow_provider` entry point."""
    return {
        "package-name": PACKAGE_NAME,
        "name": "Oracle Cloud Infrastructure (compute protection)",
        "description": "OCI connection type for the operators, sensors and triggers in plugins/ (custom images, "
                       "volume clones and backups)",
        "connection-types": [{
            "connection-type": CONN_TYPE,
            "hook-class-name": HOOK_CLASS_NAME,
            "hook-name": "Oracle Cloud Infrastructure",
            "conn-fields": CONN_FIELDS,
            "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
        }],
    }
