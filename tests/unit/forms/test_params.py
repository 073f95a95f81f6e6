"""The trigger forms' value helpers: an untouched field is None, a comma-separated list is a list."""

from __future__ import annotations

from forms.params import given, listed


def test_given_treats_an_untouched_field_as_absent():
    assert given({"a": "", "b": None, "c": "x", "d": 0}, "a") is None
    assert [given({"b": None, "c": "x", "d": 0}, name) for name in ("b", "c", "d", "e")] == [None, "x", 0, None]


def test_listed_splits_a_comma_separated_string_and_leaves_other_values_to_validation():
    assert listed(" ocid1.a , ,ocid1.b,") == ["ocid1.a", "ocid1.b"]
    assert listed("") == []
    assert listed(["ocid1.a", " x"]) == ["ocid1.a", " x"]  # a list is the user's own: validation names its items
    assert listed(None) is None and listed(7) == 7
