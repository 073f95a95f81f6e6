"""The distributed stack as a fixture: started once for the test, stopped (every process, by PID) and its
database dropped afterwards, also when the test failed; then the logs' tails are printed on failure."""

from __future__ import annotations

import pytest

from tests.distributed.run_stack import Stack
from tests.distributed.seeds import six_volume_estate


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def stack(tmp_path, request):
    stack = Stack(tmp_path, six_volume_estate())
    try:
        stack.start()
        yield stack
    finally:
        failed = any(getattr(request.node, f"rep_{when}", None) is not None
                     and getattr(request.node, f"rep_{when}").failed for when in ("setup", "call"))
        stack.stop()
        if failed or getattr(request.node, "rep_call", None) is None:
            print(f"\nlogs of the stack under {stack.logs}:\n{stack.tails()}", flush=True)
        print(stack.phases.summary(), flush=True)
        assert stack.leftovers() == [], f"processes of the stack still alive after stop: {stack.leftovers()}"
