"""The operator reference in docs/operators.md is generated from the classes (tools/operator_table.py): it must not fall
behind them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_operator_table_in_the_docs_matches_the_classes():
    spec = importlib.util.spec_from_file_location("operator_table", ROOT / "tools" / "operator_table.py")
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    doc = (ROOT / "docs" / "operators.md").read_text()
    assert table.doc_with_table(doc) == doc, "run: python tools/operator_table.py --write"
    assert "`OciLaunchInstanceOperator`" in doc and "`OciLifecycleStateSensor`" in doc


def test_an_argument_listed_as_required_is_required_though_its_old_name_forces_a_none_default():
    import pytest
    from common.errors import OciInputError

    spec = importlib.util.spec_from_file_location("operator_table", ROOT / "tools" / "operator_table.py")
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    listed = [cls for cls in table._classes() if cls.required_arguments]
    assert {cls.__name__ for cls in listed} >= {"OciCreateBackupOperator", "OciCloneVolumeOperator"}
    for cls in listed:
        args = table._arguments(cls)
        for name in cls.required_arguments:
            assert name in args and name in cls.renamed_arguments.values(), (cls.__name__, args)
            with pytest.raises(OciInputError, match=f"^{name} None: "):
                cls(task_id="t").validate_inputs()  # the claim is true: validate_inputs refuses it missing
