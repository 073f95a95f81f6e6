"""The image operators' validation before any API call."""

from __future__ import annotations

import pytest


def test_operator_validation_without_api_calls():
    from common.errors import OciInputError
    from operators.images import OciCreateImageFromInstanceOperator, OciImportImageOperator

    instance = "ocid1.instance.oc1.iad.aaaaaaaabbbbbbbb"
    cases = [
        (OciCreateImageFromInstanceOperator(task_id="a", instance_id=instance, launch_mode="FAST"), "launch_mode"),
        (OciCreateImageFromInstanceOperator(task_id="b", instance_id=instance, detach_iscsi=True,
                                            wait_for_completion=False), "wait_for_completion=True"),
        (OciCreateImageFromInstanceOperator(task_id="c", instance_id=instance, detach_iscsi=True,
                                            iscsi_cleanup_script="logout {target}"), "iscsi_cleanup_script"),
        (OciImportImageOperator(task_id="d", display_name="x", object_name="o"), "missing ['namespace', 'bucket']"),
        (OciImportImageOperator(task_id="e", display_name="x", namespace="n", bucket="b", object_name="o",
                                launch_mode="ACCELERATEDPV"), "launch_mode 'ACCELERATEDPV'"),
    ]
    for op, fragment in cases:
        with pytest.raises(OciInputError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
            op.validate()
