"""The trigger forms: every DAG's Params are well-formed JSON schemas whose defaults pass them, so a run
started with the defaults (the schedule, or Trigger without edits) is never refused by its own form."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

DAGS = Path(__file__).resolve().parents[3] / "dags"


def dags() -> dict:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    return bag.dags


DAG_MAP = dags()


def test_every_dag_file_has_dags_with_params():
    assert {Path(dag.fileloc).stem for dag in DAG_MAP.values()} == {p.stem for p in DAGS.glob("oci_*.py")}
    assert all(dag.params for dag in DAG_MAP.values())


@pytest.mark.parametrize("dag_id", sorted(DAG_MAP))
def test_params_schemas_are_valid_and_defaults_pass_them(dag_id):
    params = DAG_MAP[dag_id].params
    for name in params:
        param = params.get_param(name)
        jsonschema.Draft7Validator.check_schema(param.schema)  # a typo in a schema keyword fails here
        jsonschema.validate(param.value, param.schema)
    resolved = params.validate()  # what Airflow runs when a run is created with the defaults
    assert set(resolved) == set(params)


@pytest.mark.parametrize("dag_id", sorted(DAG_MAP))
def test_params_refuse_a_value_of_the_wrong_type(dag_id):
    """Each typed Param refuses a value of another type, so the form catches it before a run exists."""
    from airflow.sdk.exceptions import ParamValidationError

    params = DAG_MAP[dag_id].params
    typed = [name for name in params if params.get_param(name).schema.get("type") in ("string", "boolean",
                                                                                      "integer", "array")]
    assert typed, f"{dag_id}: no typed Param"
    for name in typed:
        wrong = {"string": 12, "boolean": "maybe", "integer": "ten", "array": "not a list"}
        value = wrong[params.get_param(name).schema["type"]]
        with pytest.raises(ParamValidationError, match="is not of type"):
            params.get_param(name).resolve(value)
