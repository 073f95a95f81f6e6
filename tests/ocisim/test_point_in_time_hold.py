"""ocisim's point-in-time step: a new backup (and volume group backup) is REQUEST_RECEIVED, then CREATING, then
AVAILABLE; the admin hold keeps it at REQUEST_RECEIVED until released; the guest's emulated fsfreeze refuses as
util-linux does and logs each freeze and thaw."""

from __future__ import annotations

import threading
import time

import pytest
from oci.core import BlockstorageClient
from oci.core import models as m

from ocisim import guest
from ocisim.content import ContentStore


def _state(bs, backup_id: str, getter: str = "get_volume_backup") -> str:
    return getattr(bs, getter)(backup_id).data.lifecycle_state


def _until(predicate, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_backups_wait_at_request_received_while_held_then_go_on(ocisim):
    bs = ocisim.client(BlockstorageClient)
    data1 = ocisim.tenancy["volumes"]["data1"]
    free = bs.create_volume_backup(m.CreateVolumeBackupDetails(volume_id=data1, type="FULL")).data
    assert free.lifecycle_state == "REQUEST_RECEIVED"
    _until(lambda: _state(bs, free.id) == "AVAILABLE")

    ocisim.admin.hold_backups(None, count=1)
    held = bs.create_volume_backup(m.CreateVolumeBackupDetails(volume_id=data1)).data
    time.sleep(0.3)  # 180 emulated seconds: far past the 2-second step and the upload
    assert _state(bs, held.id) == "REQUEST_RECEIVED"
    assert [h["id"] for h in ocisim.admin.backup_holds()["held"]] == [held.id]
    after = bs.create_volume_backup(m.CreateVolumeBackupDetails(volume_id=data1)).data  # count=1: not held
    _until(lambda: _state(bs, after.id) != "REQUEST_RECEIVED")
    assert ocisim.admin.release_backups() == {"released": [held.id]}
    _until(lambda: _state(bs, held.id) == "AVAILABLE")

    # a timed hold ends by itself; a volume group backup and its members share one hold
    group = bs.create_volume_group(m.CreateVolumeGroupDetails(
        availability_domain=bs.get_volume(data1).data.availability_domain,
        compartment_id=bs.get_volume(data1).data.compartment_id,
        source_details=m.VolumeGroupSourceFromVolumesDetails(volume_ids=[data1]))).data
    _until(lambda: bs.get_volume_group(group.id).data.lifecycle_state == "AVAILABLE")
    ocisim.admin.hold_backups(400, count=1)
    gb = bs.create_volume_group_backup(m.CreateVolumeGroupBackupDetails(volume_group_id=group.id)).data
    assert gb.lifecycle_state == "REQUEST_RECEIVED"
    assert _state(bs, gb.volume_backup_ids[0]) == "REQUEST_RECEIVED"
    time.sleep(0.2)
    assert _state(bs, gb.id, "get_volume_group_backup") == "REQUEST_RECEIVED"
    _until(lambda: _state(bs, gb.id, "get_volume_group_backup") == "AVAILABLE")


@pytest.mark.parametrize("bad", [{"milliseconds": -1}, {"count": 0}])
def test_a_bad_hold_is_refused(ocisim, bad):
    from ocisim.testing import AdminError

    with pytest.raises(AdminError):
        ocisim.admin.call("PUT", "backup-hold", {"milliseconds": None, "count": 1, **bad})


def test_guest_fsfreeze_refuses_like_util_linux_and_logs_in_order(tmp_path):
    content = ContentStore(tmp_path / "chunks")
    instance = tmp_path / "instance"

    def run(script: str) -> guest.GuestResult:
        return guest.run_script(content, script, [], 30, threading.Event(), instance_dir=instance)

    assert run("fsfreeze -f /data").exit_code == 0
    busy = run("fsfreeze -f /data")
    assert busy.exit_code == 1 and b"Device or resource busy" in busy.output
    assert run("fsfreeze -u /data").exit_code == 0
    unfrozen = run("fsfreeze -u /data")
    assert unfrozen.exit_code == 1 and b"Invalid argument" in unfrozen.output
    assert run("fsfreeze -f data").exit_code == 1
    log = (instance / "guest.log").read_text().splitlines()
    assert [line.split(" ", 1)[1] for line in log] == ["freeze /data", "thaw /data"]
