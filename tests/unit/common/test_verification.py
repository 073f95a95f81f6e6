"""The verification levels' rules on their inputs, written once (common/verification.py) and called by the
nightly's configuration check, its preflight and the verify operators."""

from __future__ import annotations

import pytest
from common.errors import OciInputError
from common.verification import check_level, check_level_inputs

VERIFIER = "ocid1.instance.oc1.iad.aaaaverifier"
SUBNET = "ocid1.subnet.oc1.iad.aaaasubnet"


def test_a_level_is_one_of_three_and_none_only_where_optional():
    assert check_level("boot") == "boot"
    assert check_level(None, optional=True) is None
    with pytest.raises(OciInputError, match=r"^level 'deep': one of \('api', 'boot', 'script'\)$"):
        check_level("deep", "level")
    with pytest.raises(OciInputError, match=r"^verification_level None: one of .*\)$"):
        check_level(None)
    with pytest.raises(OciInputError, match=r"^verification_level 'x': one of .* or None$"):
        check_level("x", optional=True)


@pytest.mark.parametrize("level, verifier, subnet, kwargs, message", [
    ("script", None, None, {}, "verifier_instance_id: required for the script verification level"),
    ("script", "", SUBNET, {"ids": False}, "verifier_instance_id: required for the script verification level"),
    ("script", SUBNET, None, {}, f"verifier_instance_id '{SUBNET}': expected an OCID of type 'instance'"),
    ("boot", VERIFIER, None, {}, "subnet_id: required for the boot verification level (test instances boot in it)"),
    ("boot", None, "subnet-1", {}, "subnet_id 'subnet-1': not an OCID"),
])
def test_what_a_level_needs_is_refused_naming_the_field(level, verifier, subnet, kwargs, message):
    with pytest.raises(OciInputError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        check_level_inputs(level, verifier, subnet, **kwargs)


def test_what_a_level_does_not_need_is_not_asked_for():
    check_level_inputs("api", None, None)
    check_level_inputs(None, None, None)
    check_level_inputs("script", VERIFIER, None)
    check_level_inputs("boot", None, SUBNET)
    check_level_inputs("boot", None, None, boots=False)  # no boot volume checked, or not known yet
    check_level_inputs("script", "not-an-ocid", None, ids=False)  # given is all the configuration check asks
