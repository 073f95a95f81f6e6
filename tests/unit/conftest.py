"""The fast tier (`make test-unit`): pure functions, validation, template fields and Params schemas. Nothing here
starts ocisim, migrates Airflow's database or runs a DAG; a test that asks for one of those fixtures belongs in
the folder of what it tests (tests/operators, tests/ocisim, tests/dags, ...), and is refused here."""

from __future__ import annotations

import pytest

SLOW_FIXTURES = {"ocisim", "ocisim_guest", "airflow_db", "airflow_oci", "airflow_oci_guest", "estate"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        slow = SLOW_FIXTURES & set(getattr(item, "fixturenames", ()))
        if slow and "tests/unit/" in item.nodeid:
            raise pytest.UsageError(f"{item.nodeid} uses {sorted(slow)}: not a unit test, move it out of tests/unit")
