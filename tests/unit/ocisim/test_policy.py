"""The verb and family each operation needs in ocisim's per-user denials (ocisim/policy.py)."""

from __future__ import annotations

import pytest

from ocisim.errors import OciError
from ocisim.policy import Policies, needs


@pytest.mark.parametrize("operation, wanted", [
    ("ListVolumes", ("inspect", "volume-family")), ("GetBootVolume", ("read", "volume-family")),
    ("CreateVolumeBackup", ("manage", "volume-family")), ("UpdateVolumeBackup", ("use", "volume-family")),
    ("ListBootVolumeAttachments", ("inspect", "instance-family")), ("LaunchInstance", ("manage", "instance-family")),
    ("AddImageShapeCompatibilityEntry", ("manage", "instance-family")),
    ("CreateInstanceAgentCommand", ("manage", "instance-agent-command-family")),
    ("ListWorkRequests", ("inspect", "work-requests")), ("GetObjectStorageWorkRequest", ("read", "object-family")),
    ("GetVnic", ("read", "virtual-network-family")), ("HeadObject", ("read", "object-family")),
    ("ListRegions", None), ("GetNamespace", None),
])
def test_operation_needs(operation, wanted):
    assert needs(operation) == wanted


def test_a_denial_covers_its_verb_and_above_for_its_user_only():
    policies = Policies()
    policies.deny("ocid1.user.oc1..me", "use", "volume-family")
    key = "ocid1.tenancy.oc1..t/ocid1.user.oc1..me/aa:bb"
    policies.check(key, "GetVolume")  # read: below use
    policies.check("ocid1.tenancy.oc1..t/ocid1.user.oc1..other/aa:bb", "CreateVolume")
    for operation in ("UpdateVolume", "DeleteVolume"):
        with pytest.raises(OciError) as err:
            policies.check(key, operation)
        assert (err.value.status, err.value.code) == (404, "NotAuthorizedOrNotFound")
    policies.clear()
    policies.check(key, "DeleteVolume")
