"""The hook's pure helpers: the retry token (also as operators derive it), OCID and region checks."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from common.errors import OciInputError
from common.ids import validate_ocid, validate_region
from hooks.retries import retry_token
from operators.base import OciBaseOperator


# -----------------------------------------------------------------------------------------
def test_retry_token_is_stable_across_tries_and_distinct_per_task_instance_and_purpose():
    base = retry_token("nightly", "scheduled__2026-01-01", "backup_volume", 3, "backup")
    assert base == retry_token("nightly", "scheduled__2026-01-01", "backup_volume", 3, "backup")
    assert len(base) == 64 and int(base, 16) >= 0
    others = {retry_token("nightly", "scheduled__2026-01-01", "backup_volume", 4, "backup"),
              retry_token("nightly", "scheduled__2026-01-01", "backup_volume", 3, "restore"),
              retry_token("nightly", "scheduled__2026-01-01", "backup_volume", -1, "backup"),
              retry_token("nightly", "scheduled__2026-01-02", "backup_volume", 3, "backup"),
              retry_token("nightly", "scheduled__2026-01-01", "restore_for_test", 3, "backup"),
              retry_token("weekly", "scheduled__2026-01-01", "backup_volume", 3, "backup")}
    assert base not in others and len(others) == 6


def test_operator_retry_token_ignores_the_try_number():
    op = OciBaseOperator(task_id="backup_volume")

    def context(try_number: int, map_index: int = 3) -> dict:
        ti = SimpleNamespace(dag_id="nightly", run_id="r1", task_id="backup_volume", map_index=map_index,
                             try_number=try_number)
        return {"ti": ti}

    assert op.retry_token(context(1)) == op.retry_token(context(2)) == \
        retry_token("nightly", "r1", "backup_volume", 3, "")
    assert op.retry_token(context(1), "restore") != op.retry_token(context(1))
    assert op.retry_token(context(1, map_index=4)) != op.retry_token(context(1))


@pytest.mark.parametrize(("value", "kind", "message"), [
    ("vol-123", None, "volume_id 'vol-123': not an OCID (expected ocid1.<type>.<realm>.<region>.<id>)"),
    (None, None, "volume_id None: not an OCID"),
    ("ocid1.volume.oc1.iad.SHOUTING", None, "not an OCID"),
    ("ocid1.instance.oc1.iad.aaaaaaaaabcdefgh", "volume", "volume_id 'ocid1.instance.oc1.iad.aaaaaaaaabcdefgh': "
                                                          "expected an OCID of type 'volume'"),
])
def test_validate_ocid_errors(value, kind, message):
    with pytest.raises(OciInputError) as err:
        validate_ocid(value, "volume_id", kind)
    assert message in str(err.value)


def test_validate_ocid_accepts_realm_and_regionless_ocids():
    assert validate_ocid("ocid1.volume.oc1.iad.aaaaaaaaabcdefgh", "volume_id", "volume")
    assert validate_ocid("ocid1.tenancy.oc1..aaaaaaaaabcdefgh", "tenancy")


@pytest.mark.parametrize("value", ["us-ashburn-1", "eu-frankfurt-1", "ap-chuncheon-1"])
def test_validate_region_accepts(value):
    assert validate_region(value) == value


@pytest.mark.parametrize("value", ["US-ASHBURN-1", "ashburn", "us_ashburn_1", "", None, "iad"])
def test_validate_region_errors(value):
    with pytest.raises(OciInputError) as err:
        validate_region(value, "destination_region")
    assert str(err.value) == f"destination_region {value!r}: not an OCI region identifier (like us-ashburn-1)"
