"""Registers the OCI console link, so the Airflow UI shows it for serialized DAGs of every OCI operator."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin
from links.oci import OciConsoleLink


class OciPlugin(AirflowPlugin):
    name = "oci"
    operator_extra_links = [OciConsoleLink()]
