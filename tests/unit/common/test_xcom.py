"""Values a trigger pushed when it ended its task come back to the next task as JSON text (common/xcom.py): an
OCI operator reading one through an XComArg gets the value as pushed; a Jinja string is never decoded."""

from __future__ import annotations

import pytest
from airflow.models.xcom import XComModel
from common.xcom import xcom_value
from operators.backups import OciCreateBackupOperator
from operators.volumes import OciRestoreVolumeOperator

BACKUP = {"backup_id": "ocid1.volumebackup.oc1.iad.aaaa", "size_in_gbs": 50, "freeform_tags": {"a": "b"}}


class Pulled:
    """Stands in for an XComArg: resolves to what the worker's pull returns."""

    def __init__(self, value):
        self.value = value

    def resolve(self, context):
        return self.value


@pytest.mark.parametrize("value", [BACKUP, BACKUP["backup_id"], ["a", {"b": 1}]])
def test_a_value_the_triggerer_stored_reads_back_as_pushed(value):
    # what the triggerer's TaskInstance.xcom_push stores (XComModel.set serialises) and a worker's pull returns
    stored = XComModel.serialize_value(value)
    assert isinstance(stored, str) and stored != value
    operator = OciRestoreVolumeOperator(task_id="restore", backup_id="x")
    assert operator.render_template(Pulled(stored), {}) == value
    assert operator.render_template([Pulled(stored)], {}) == [value]  # nested XComArgs too
    assert operator.render_template(Pulled(value), {}) == value  # a worker's push is kept as it is


def test_only_values_from_xcomargs_are_decoded():
    operator = OciRestoreVolumeOperator(task_id="restore", backup_id="x")
    assert operator.render_template('{"literal": "json"}', {}) == '{"literal": "json"}'
    assert xcom_value("ocid1.volume.oc1.iad.aaaa") == "ocid1.volume.oc1.iad.aaaa"
    assert xcom_value('{"not json') == '{"not json'
    assert xcom_value(7) == 7


def test_operators_read_key_by_key_push_each_key():
    """`task.output["backup_id"]` needs the key pushed on its own (Airflow's multiple_outputs); an explicit
    argument still wins."""
    assert OciCreateBackupOperator(task_id="b", volume_id="x").multiple_outputs is True
    assert OciRestoreVolumeOperator(task_id="r", backup_id="x").multiple_outputs is True
    assert OciCreateBackupOperator(task_id="b", volume_id="x", multiple_outputs=False).multiple_outputs is False
