"""The README's operator reference is generated from the classes (tools/operator_table.py): it must not fall
behind them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_readme_operator_table_matches_the_classes():
    spec = importlib.util.spec_from_file_location("operator_table", ROOT / "tools" / "operator_table.py")
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    readme = (ROOT / "README.md").read_text()
    assert table.readme_with_table(readme) == readme, "run: python tools/operator_table.py --write"
    assert "`OciLaunchInstanceOperator`" in readme and "`OciLifecycleStateSensor`" in readme
