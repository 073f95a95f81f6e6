"""Per-user denials (ocisim/policy.py): a permission taken away answers 404 NotAuthorizedOrNotFound as OCI does,
the verbs below the denied one still work, and clearing the denials restores access."""

from __future__ import annotations

import oci
import pytest

from ocisim.testing import AdminError


def test_denied_verb_and_above_answer_404_the_verbs_below_still_work(ocisim):
    t = ocisim.tenancy
    bs = ocisim.client(oci.core.BlockstorageClient)
    compute = ocisim.client(oci.core.ComputeClient)
    denial = ocisim.admin.deny(t["user_id"], "read", "volume-family")
    assert denial == {"userId": t["user_id"], "verb": "read", "family": "volume-family"}
    ocisim.admin.reset_counters()

    assert t["volumes"]["data1"] in {v.id for v in bs.list_volumes(compartment_id=t["compartment_id"]).data}
    for call in (lambda: bs.get_volume(t["volumes"]["data1"]),
                 lambda: bs.create_volume_backup(oci.core.models.CreateVolumeBackupDetails(
                     volume_id=t["volumes"]["data1"]))):
        with pytest.raises(oci.exceptions.ServiceError) as err:
            call()
        assert (err.value.status, err.value.code) == (404, "NotAuthorizedOrNotFound")
    assert compute.get_instance(t["instances"]["linux1"]).data.id  # another family: untouched
    counters = ocisim.admin.counters()
    assert "CreateVolumeBackup" not in counters and "GetVolume" not in counters and counters["ListVolumes"] == 1

    assert ocisim.admin.call("GET", "policies/denials") == [denial]
    ocisim.admin.clear_denials()
    assert ocisim.admin.call("GET", "policies/denials") == []
    assert bs.get_volume(t["volumes"]["data1"]).data.id == t["volumes"]["data1"]
    with pytest.raises(AdminError, match="verb 'destroy': one of inspect, read, use, manage"):
        ocisim.admin.deny(t["user_id"], "destroy", "volume-family")
