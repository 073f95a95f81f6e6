"""The trigger forms as a person meets them: every DAG's form opens with Trigger enabled (no empty field its
schema makes required), every field has a title and a section, and two fields that exclude each other, both
filled in, are refused naming both (what the form sends: every field, None for an empty one)."""

from __future__ import annotations

from pathlib import Path

import pytest
from common.errors import OciInputError
from forms.params import blocking_fields
from workflows.emergency_clone import check_request as clone_request
from workflows.restore import check_request as restore_request
from workflows.vmdk_migration import check_request as migration_request

DAGS = Path(__file__).resolve().parents[3] / "dags"
VOLUME = "ocid1.volume.oc1.iad.abuwcljrvolume01"
BACKUP = "ocid1.volumebackup.oc1.iad.abuwcljrbackup01"
INSTANCE = "ocid1.instance.oc1.iad.anuwcljrinst0001"


def forms() -> dict:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    return {dag_id: dag.params for dag_id, dag in bag.dags.items()}


FORMS = forms()


def form(dag_id: str, **filled) -> dict:
    """What the UI's Trigger form sends: every field, at its default (None when empty), some filled in."""
    return {**FORMS[dag_id].dump(), **filled}


@pytest.mark.parametrize("dag_id", sorted(FORMS))
def test_every_form_opens_with_trigger_enabled_and_its_fields_titled_in_sections(dag_id):
    params = FORMS[dag_id]
    assert blocking_fields(params) == [], f"{dag_id}: these fields would keep Trigger disabled"
    params.validate()  # the defaults pass the schemas: what Airflow checks when the run is created
    for name in params:
        param = params.get_param(name)
        assert param.schema.get("title") and param.schema.get("section"), f"{dag_id}.{name}: no title or section"
        assert param.description, f"{dag_id}.{name}: no description"
        if param.value is None:
            assert "null" in param.schema["type"], f"{dag_id}.{name}: empty but not nullable"
    sections = list(dict.fromkeys(params.get_param(n).schema["section"] for n in params))
    assert len(sections) >= 2 or len(params) == 1, f"{dag_id}: one section is no grouping: {sections}"


def test_blocking_fields_finds_an_empty_field_its_schema_requires():
    from airflow.sdk import Param
    from airflow.sdk.definitions.param import ParamsDict

    params = ParamsDict({"a": Param("", type="string"), "b": Param(None, type=["null", "string"]),
                         "c": Param("x", type="string"), "d": Param(None, type="string")})
    assert blocking_fields(params) == ["a", "d"]


@pytest.mark.parametrize("dag_id, field, bad, rule", [
    ("oci_restore", "volume_id", "not-an-ocid", "does not match"),
    ("oci_restore", "ocpus", 0, "less than the minimum"),
    ("oci_emergency_clone", "instance_id", "ocid1.instance", "does not match"),
    ("oci_vmdk_migration", "part_size_mb", 60000, "greater than the maximum"),
    ("oci_golden_image", "launch_mode", "FAST", "is not one of"),
    ("oci_nightly_backup", "compartment_ids", "my-compartment", "does not match"),
])
def test_a_value_breaking_a_schema_rule_is_refused_naming_its_field_and_the_rule(dag_id, field, bad, rule):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match=rule):
        FORMS[dag_id].get_param(field).resolve(bad)


@pytest.mark.parametrize("check, dag_id, filled, names", [
    (restore_request, "oci_restore", {"backup_id": BACKUP, "volume_id": VOLUME}, ("backup_id", "volume_id")),
    (clone_request, "oci_emergency_clone", {"instance_id": INSTANCE, "volume_ids": [VOLUME]},
     ("instance_id", "volume_ids")),
    (migration_request, "oci_vmdk_migration", {"source_uri": "https://objectstorage.us-ashburn-1.oraclecloud.com/"
                                               "n/ns/b/disks/o/a.vmdk", "local_path": "/data/a.vmdk"},
     ("source_uri", "local_path")),
    (migration_request, "oci_vmdk_migration", {"source_uri": "https://objectstorage.us-ashburn-1.oraclecloud.com/"
                                               "n/ns/b/disks/o/a.vmdk", "bucket": "disks"},
     ("source_uri", "bucket")),
])
def test_two_exclusive_fields_both_filled_in_are_refused_naming_both(check, dag_id, filled, names):
    """No hook is needed: the refusal comes before any reference is read."""
    with pytest.raises(OciInputError) as err:
        check(form(dag_id, **filled), None, {})
    message = str(err.value)
    assert all(name in message for name in names) and "exclude each other" in message, message


@pytest.mark.parametrize("dag_id, filled", [
    ("oci_restore", {"volume_id": VOLUME}),
    ("oci_emergency_clone", {"volume_ids": [VOLUME]}),
])
def test_a_form_with_its_empty_fields_as_none_passes_the_field_checks(dag_id, filled):
    class NoReferences:  # the requests below name no reference to check
        def check_availability_domain(self, *_):
            raise AssertionError("no availability domain was given")

    check = {"oci_restore": restore_request, "oci_emergency_clone": clone_request}[dag_id]
    request = check(form(dag_id, **filled), NoReferences(), {})
    assert request["availability_domain"] is None and request["compartment_id"] is None
