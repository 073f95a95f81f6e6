"""The image operators' validation before any API call."""

from __future__ import annotations

import pytest


def test_operator_validation_without_api_calls():
    from common.errors import OciInputError
    from operators.image_transfer import OciImportImageOperator
    from operators.images import OciCreateImageFromInstanceOperator

    instance = "ocid1.instance.oc1.iad.aaaaaaaabbbbbbbb"
    uri = "https://objectstorage.us-ashburn-1.oraclecloud.com/n/ns/b/images/o/disk.vmdk"
    cases = [
        (OciCreateImageFromInstanceOperator(task_id="a", instance_id=instance, launch_mode="FAST"), "launch_mode"),
        (OciCreateImageFromInstanceOperator(task_id="b", instance_id=instance, detach_iscsi=True,
                                            wait_for_completion=False), "wait_for_completion=True"),
        (OciCreateImageFromInstanceOperator(task_id="c", instance_id=instance, detach_iscsi=True,
                                            iscsi_cleanup_script="logout {target}"), "iscsi_cleanup_script"),
        (OciImportImageOperator(task_id="d", display_name="x", object_name="o"), "missing ['namespace', 'bucket']"),
        (OciImportImageOperator(task_id="e", display_name="x", namespace="n", bucket="b", object_name="o",
                                launch_mode="ACCELERATEDPV"), "launch_mode 'ACCELERATEDPV'"),
        (OciImportImageOperator(task_id="f", display_name="x", uploaded={"bucket": "b"}), "an upload task's XCom"),
        (OciImportImageOperator(task_id="g", display_name="x", uploaded={"uri": uri}, source_uri=uri),
         "uploaded and source_uri or namespace/bucket/object_name: give one source"),
    ]
    for op, fragment in cases:
        with pytest.raises(OciInputError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
            op.validate()


def test_import_reads_the_object_an_upload_made_or_the_one_named():
    from operators.image_transfer import OciImportImageOperator

    uri = "https://objectstorage.us-ashburn-1.oraclecloud.com/n/ns/b/images/o/migrations/disk.vmdk"
    op = OciImportImageOperator(task_id="i", display_name="x", uploaded={"uri": uri, "bucket": "images"})
    op.validate()
    assert op.source_uri == uri and op._target == {"region": "us-ashburn-1", "namespace": "ns", "bucket": "images",
                                                   "object": "migrations/disk.vmdk"}
    skipped = OciImportImageOperator(task_id="j", display_name="x", uploaded=None, source_uri=uri)
    skipped.validate()  # the upload was skipped: the request's own source
    assert skipped.source_uri == uri


def test_only_the_image_window_conflict_is_waited_out():
    from types import SimpleNamespace

    from operators.images import is_window_conflict

    def err(status, code, message):
        return SimpleNamespace(status=status, code=code, message=message)

    assert is_window_conflict(err(409, "Conflict", "An image of this instance was created less than 20 minutes ago"))
    assert not is_window_conflict(err(409, "Conflict", "Instance has iSCSI volume attachments"))
    assert not is_window_conflict(err(409, "IncorrectState", "busy"))
    assert not is_window_conflict(err(409, "InvalidatedRetryToken", None))
    assert not is_window_conflict(err(400, "Conflict", "x"))


def test_iscsi_refusal_names_each_attachment_or_the_state():
    from types import SimpleNamespace

    from operators.images import iscsi_refusal

    att = SimpleNamespace(id="att1", volume_id="vol1", device=None)
    assert iscsi_refusal("i", "RUNNING", [], False) is None
    assert iscsi_refusal("i", "RUNNING", [att], True) is None
    refused = iscsi_refusal("i", "RUNNING", [att], False)
    assert "has 1 iSCSI volume attachment(s)" in refused and "attachment att1 (volume vol1, device none)" in refused
    assert "set detach_iscsi=True" in refused
    assert "is STOPPED; the iscsid cleanup runs through Run Command on a RUNNING instance" in \
        iscsi_refusal("i", "STOPPED", [att], True)
