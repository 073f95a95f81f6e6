"""Airflow loads every .py file of the plugins folder that .airflowignore does not exclude as a top-level module
named after the file, replacing any module of that name in sys.modules: hooks/oci.py would replace the `oci` SDK,
workflows/restore.py any module named `restore`. Only the plugin file itself may be found."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow._shared.module_loading import find_path_from_directory

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


@pytest.mark.parametrize("syntax", ["regexp", "glob"])
def test_airflow_finds_only_the_plugin_file(syntax):
    found = sorted(Path(p).relative_to(PLUGINS).as_posix()
                   for p in find_path_from_directory(PLUGINS, ".airflowignore", syntax) if p.endswith(".py"))
    assert found == ["oci_plugin.py"], "add the new package folder to plugins/.airflowignore"
