"""Pure parts of hooks/compute.py: how a finished Run Command is judged."""

from __future__ import annotations

import json

from hooks.compute import command_failure


def test_command_failure_quotes_the_exit_code_and_the_tail_of_the_output():
    instance = "ocid1.instance.oc1.iad.aaaaaaaainstance01"
    ok = {"command_id": "c", "instance_id": instance, "state": "SUCCEEDED", "exit_code": 0, "output": "fine"}
    assert command_failure(ok) is None
    text = command_failure({**ok, "state": "FAILED", "exit_code": 3, "output": "x" * 5000 + "the end"})
    assert "ended FAILED with exit code 3" in text and text.endswith("the end") and len(text) < 2300
    assert "TIMED_OUT" in command_failure({**ok, "state": "TIMED_OUT", "exit_code": None, "message": "slow"})
    json.dumps(ok)  # XCom values are plain JSON
