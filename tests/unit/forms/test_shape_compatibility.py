"""The request fields that let a fleet's shape join its image's compatible shapes (forms.fleet), and the check of a
launch's OCPUs and memory against an entry (operators.images.shape_misfit)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from common.errors import OciInputError
from forms.fleet import resolve_shape_compatibility
from operators.images import shape_misfit

FLEET = [{"shape": "VM.Standard.E5.Flex", "shape_config": {"ocpus": 2.0, "memory_in_gbs": 32.0},
          "availability_domain": "Uocm:US-ASHBURN-AD-1"}]


def test_resolved_with_ranges_or_none_without_a_fleet():
    assert resolve_shape_compatibility({}, []) is None
    assert resolve_shape_compatibility({"add_shape_compatibility": "true", "compatible_ocpus": [1, 4]}, FLEET) == {
        "shape": "VM.Standard.E5.Flex", "shape_config": {"ocpus": 2.0, "memory_in_gbs": 32.0},
        "availability_domain": "Uocm:US-ASHBURN-AD-1", "add": True, "ocpus": [1, 4], "memory_in_gbs": None}


@pytest.mark.parametrize("params, message", [
    ({"add_shape_compatibility": "maybe"}, "add_shape_compatibility 'maybe': true or false"),
    ({"compatible_ocpus": [1, 4]}, "compatible_ocpus [1, 4]: only with add_shape_compatibility"),
    ({"add_shape_compatibility": True, "compatible_ocpus": [4, 1]}, "compatible_ocpus [4, 1]: [min, max]"),
    ({"add_shape_compatibility": True, "compatible_memory_in_gbs": [1.5, 8]}, "whole numbers from 1"),
    ({"add_shape_compatibility": True, "compatible_memory_in_gbs": [1, 16]},
     "compatible_memory_in_gbs [1, 16]: must hold the fleet's memory_in_gbs 32"),
])
def test_refusals_name_the_field_and_the_rule(params, message):
    with pytest.raises(OciInputError, match=re.escape(message)):
        resolve_shape_compatibility(params, FLEET)


def test_ranges_only_for_a_flex_shape():
    fixed = [{**FLEET[0], "shape": "VM.Standard2.1", "shape_config": None}]
    with pytest.raises(OciInputError, match=r"only for a Flex shape, not 'VM\.Standard2\.1'"):
        resolve_shape_compatibility({"add_shape_compatibility": True, "compatible_ocpus": [1, 1]}, fixed)


def test_misfit_names_what_falls_outside_the_entry():
    entry = SimpleNamespace(ocpu_constraints=SimpleNamespace(min=1, max=4),
                            memory_constraints=SimpleNamespace(min_in_gbs=8, max_in_gbs=64))
    assert shape_misfit(entry, {"ocpus": 2, "memory_in_gbs": 32}) is None
    assert shape_misfit(entry, {"ocpus": 8, "memory_in_gbs": 32}) == "8 OCPUs (the image allows 1 to 4)"
    assert shape_misfit(entry, {"ocpus": 2, "memory_in_gbs": 4}) == "4 GB of memory (the image allows 8 to 64 GB)"
    assert shape_misfit(SimpleNamespace(ocpu_constraints=None, memory_constraints=None), None) is None
