"""Registers the OCI console link (the Airflow UI shows it for serialized DAGs of every OCI operator) and the
OCI Protection page: its FastAPI app at /oci, reached from the UI's navigation."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin
from links.oci import OciConsoleLink
from protection.app import app as protection_app


class OciPlugin(AirflowPlugin):
    name = "oci"
    operator_extra_links = [OciConsoleLink()]
    fastapi_apps = [{"app": protection_app, "url_prefix": "/oci", "name": "OCI Protection"}]
    # a top-level entry of the UI's navigation; the UI shows the page in its frame at /plugin/oci-protection
    external_views = [{"name": "OCI Protection", "href": "/oci/", "destination": "nav", "nav_top_level": True,
                       "url_route": "oci-protection"}]
