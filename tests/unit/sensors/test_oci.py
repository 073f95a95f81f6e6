"""The sensors' validation before any request, and their modes and intervals (BaseSensorOperator's)."""

from __future__ import annotations

import pytest
from common.errors import OciInputError
from sensors.oci import OciLifecycleStateSensor, OciWorkRequestSensor

VOLUME = "ocid1.volume.oc1.iad.aaaaaaaabbbbbbbbcccc"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"resource_id": "ocid1.vcn.oc1.iad.aaaaaaaabbbbbbbb", "target_states": ["AVAILABLE"]},
     "resource_id 'ocid1.vcn.oc1.iad.aaaaaaaabbbbbbbb': type 'vcn' is not one of"),
    ({"resource_id": VOLUME, "target_states": []}, "target_states []: a non-empty list of upper-case"),
    ({"resource_id": VOLUME, "target_states": ["available"]}, "target_states ['available']: a non-empty list"),
    ({"resource_id": VOLUME, "target_states": ["AVAILABLE"], "failure_states": ["AVAILABLE"]},
     "failure_states ['AVAILABLE']: ['AVAILABLE'] also in target_states"),
    ({"resource_id": VOLUME, "target_states": "AVAILABLE", "region": "mars-1"}, "region 'mars-1': not an OCI region"),
])
def test_lifecycle_sensor_validation(kwargs, message):
    with pytest.raises(OciInputError) as err:
        OciLifecycleStateSensor(task_id="wait", **kwargs).validate()
    assert message in str(err.value)


def test_work_request_sensor_validation_and_single_state():
    with pytest.raises(OciInputError, match="work_request_id 'wr-1': not an OCID"):
        OciWorkRequestSensor(task_id="wait", work_request_id="wr-1").validate()
    OciLifecycleStateSensor(task_id="wait", resource_id=VOLUME, target_states="AVAILABLE").validate()


def test_modes_and_intervals_are_the_sensor_base_ones():
    sensor = OciWorkRequestSensor(task_id="wait", work_request_id="ocid1.coreservicesworkrequest.oc1.iad.abcdefgh",
                                  mode="reschedule", poke_interval=5, timeout=60)
    assert sensor.mode == "reschedule" and sensor.poke_interval == 5 and sensor.timeout == 60
    with pytest.raises(ValueError, match="mode must be one of"):
        OciWorkRequestSensor(task_id="wait2", work_request_id="x", mode="sometimes")
