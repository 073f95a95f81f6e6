"""The mapping from a resource type to the statement of include/iam/policy.txt that grants it."""

from __future__ import annotations

from pathlib import Path

import pytest
from common.permissions import RESOURCE_TYPES, Read, missing_permission, statement_for, statements

POLICY_TXT = (Path(__file__).resolve().parents[3] / "include" / "iam" / "policy.txt").read_text()


def test_every_resource_type_has_exactly_its_statement_in_the_policy_file():
    for resource_type in RESOURCE_TYPES:
        found = statement_for(resource_type, POLICY_TXT)
        assert found in statements(POLICY_TXT) and f" {resource_type} in tenancy" in found
    with pytest.raises(ValueError, match="one of"):
        statement_for("databases", POLICY_TXT)


def test_the_message_names_operation_resource_verb_and_statement():
    text = missing_permission(Read("GetVolume", "read", "volume-family", "ocid1.volume.oc1..x", None), POLICY_TXT)
    assert text == ("permission: OCI answered 404 NotAuthorizedOrNotFound to GetVolume of ocid1.volume.oc1..x, which "
                    "exists (it was just listed or named): the connection's user lacks 'read volume-family'. "
                    "include/iam/policy.txt grants it with: Allow <airflow> to manage volume-family in tenancy where "
                    "target.compartment.id = '<estate>'")
