"""Block Storage against ocisim through the real `oci` SDK: volumes, boot volumes, backups (FULL, INCREMENTAL,
cross-region copies), volume groups and their backups, with the bytes checked by sha256."""

from __future__ import annotations

import oci
import pytest
from oci.core import BlockstorageClient, BlockstorageClientCompositeOperations
from oci.core import models as m

from ocisim.backend.base import MIB

WAIT = {"max_interval_seconds": 1, "max_wait_seconds": 60}
SPAN = 128 * MIB  # contents are compared over a fixed span that covers every write these tests make
DR_REGION = "us-phoenix-1"
STEP = 3600  # emulated seconds: longer than any single operation in these tests


@pytest.fixture
def bs(ocisim) -> BlockstorageClient:
    return ocisim.client(BlockstorageClient)


@pytest.fixture
def composite(bs) -> BlockstorageClientCompositeOperations:
    return BlockstorageClientCompositeOperations(bs)


@pytest.fixture
def data1(ocisim) -> str:
    return ocisim.tenancy["volumes"]["data1"]


def wait(ocisim, client, getter, resource_id: str, state: str = "AVAILABLE"):
    """Step emulated time past any pending transition, then let the SDK waiter confirm the state."""
    ocisim.admin.advance(STEP)
    return oci.wait_until(client, getter(resource_id), "lifecycle_state", state, **WAIT).data


def sha(ocisim, resource_id: str) -> str:
    return ocisim.admin.sha256(resource_id, SPAN)["sha256"]


def service_error(call) -> oci.exceptions.ServiceError:
    with pytest.raises(oci.exceptions.ServiceError) as info:
        call()
    return info.value


def backup_and_wait(composite, volume_id: str, backup_type: str, **fields) -> m.VolumeBackup:
    details = m.CreateVolumeBackupDetails(volume_id=volume_id, type=backup_type, **fields)
    return composite.create_volume_backup_and_wait_for_state(
        details, wait_for_states=["AVAILABLE"], waiter_kwargs=WAIT).data


def make_backup(ocisim, bs, volume_id: str, backup_type: str, **fields) -> m.VolumeBackup:
    made = bs.create_volume_backup(m.CreateVolumeBackupDetails(volume_id=volume_id, type=backup_type, **fields))
    assert made.data.lifecycle_state == "REQUEST_RECEIVED"  # OCI takes the point in time, then CREATING
    return wait(ocisim, bs, bs.get_volume_backup, made.data.id)


def restore(bs, ocisim, backup_id: str, **fields) -> str:
    details = m.CreateVolumeDetails(
        compartment_id=ocisim.tenancy["compartment_id"], availability_domain=ocisim.tenancy["availability_domains"][0],
        source_details=m.VolumeSourceFromVolumeBackupDetails(id=backup_id), **fields)
    return bs.create_volume(details).data.id


# -- volumes -------------------------------------------------------------------------------------------------
def test_volume_create_get_list_delete(ocisim, bs, composite):
    comp, ad = ocisim.tenancy["compartment_id"], ocisim.tenancy["availability_domains"][0]
    details = m.CreateVolumeDetails(compartment_id=comp, availability_domain=ad, display_name="scratch",
                                    size_in_gbs=100, freeform_tags={"team": "ops"}, vpus_per_gb=20)
    created = bs.create_volume(details)
    assert created.status == 200 and created.headers["etag"]
    assert created.data.lifecycle_state == "PROVISIONING"
    vol = wait(ocisim, bs, bs.get_volume, created.data.id)
    assert vol.id.startswith("ocid1.volume.oc1.iad.")
    assert (vol.display_name, vol.size_in_gbs, vol.size_in_mbs, vol.vpus_per_gb) == ("scratch", 100, 102400, 20)
    assert (vol.compartment_id, vol.availability_domain) == (comp, ad)
    assert vol.freeform_tags == {"team": "ops"} and vol.defined_tags == {}
    assert vol.source_details is None and vol.volume_group_id is None and vol.time_created is not None

    listed = bs.list_volumes(compartment_id=comp, display_name="scratch").data
    assert [v.id for v in listed] == [vol.id]
    assert vol.id in [v.id for v in bs.list_volumes(compartment_id=comp, availability_domain=ad,
                                                    lifecycle_state="AVAILABLE").data]
    other_ad = ocisim.tenancy["availability_domains"][1]
    assert bs.list_volumes(compartment_id=comp, availability_domain=other_ad).data == []
    assert service_error(lambda: bs.list_volumes()).status == 400

    gone = composite.delete_volume_and_wait_for_state(vol.id, wait_for_states=["TERMINATED"], waiter_kwargs=WAIT)
    assert gone.data.lifecycle_state == "TERMINATED"
    assert bs.get_volume(vol.id).data.lifecycle_state == "TERMINATED"  # still readable for a while, as on OCI


def test_create_volume_validation(ocisim, bs):
    comp, ad = ocisim.tenancy["compartment_id"], ocisim.tenancy["availability_domains"][0]
    err = service_error(lambda: bs.create_volume(m.CreateVolumeDetails(compartment_id=comp, size_in_gbs=50)))
    assert (err.status, err.code) == (400, "MissingParameter") and "availabilityDomain" in err.message
    err = service_error(lambda: bs.create_volume(
        m.CreateVolumeDetails(compartment_id=comp, availability_domain=ad, size_in_gbs=10)))
    assert (err.status, err.code) == (400, "InvalidParameter") and "sizeInGBs" in err.message
    err = service_error(lambda: bs.get_volume("ocid1.volume.oc1.iad.aaaanothere"))
    assert (err.status, err.code) == (404, "NotAuthorizedOrNotFound")


def test_list_volumes_pages_and_sorts(ocisim, bs):
    comp, ad = ocisim.tenancy["compartment_id"], ocisim.tenancy["availability_domains"][0]
    for name in ("vol-c", "vol-a", "vol-e", "vol-b", "vol-d"):
        bs.create_volume(m.CreateVolumeDetails(compartment_id=comp, availability_domain=ad, display_name=name,
                                               size_in_gbs=50))
    ocisim.admin.reset_counters()
    everything = oci.pagination.list_call_get_all_results(
        bs.list_volumes, compartment_id=comp, limit=2, sort_by="DISPLAYNAME", sort_order="ASC").data
    assert ocisim.admin.counters()["ListVolumes"] == 3  # six volumes (data1 too), two per page
    names = [v.display_name for v in everything]
    assert names == sorted(names) and {"vol-a", "vol-e", "data1"} <= set(names)
    newest_first = bs.list_volumes(compartment_id=comp, sort_by="TIMECREATED", sort_order="DESC").data
    assert newest_first[0].display_name == "vol-d"


def test_clone_is_point_in_time(ocisim, bs, data1):
    before = sha(ocisim, data1)
    vol = bs.get_volume(data1).data
    clone = bs.create_volume(m.CreateVolumeDetails(
        compartment_id=vol.compartment_id, availability_domain=vol.availability_domain, display_name="data1-clone",
        source_details=m.VolumeSourceFromVolumeDetails(id=data1))).data
    ocisim.admin.write(data1, 3 * MIB, b"written after the clone request" * 100)  # not in the clone
    clone = wait(ocisim, bs, bs.get_volume, clone.id)
    assert clone.source_details.type == "volume" and clone.source_details.id == data1
    assert clone.size_in_gbs == vol.size_in_gbs and clone.freeform_tags == {}
    assert sha(ocisim, clone.id) == before != sha(ocisim, data1)


# -- backups and restores: bytes -------------------------------------------------------------------------------
def test_full_then_incremental_restore_each_point_in_time(ocisim, bs, composite, data1):
    at_full = sha(ocisim, data1)
    full = backup_and_wait(composite, data1, "FULL", display_name="nightly-full", freeform_tags={"run": "1"})
    assert (full.type, full.source_type, full.lifecycle_state, full.volume_id) == ("FULL", "MANUAL", "AVAILABLE", data1)
    assert full.freeform_tags == {"backup-policy": "default", "run": "1"}  # inherited, request merged over
    assert (full.size_in_gbs, full.size_in_mbs, full.expiration_time) == (50, 51200, None)
    assert full.time_request_received is not None and full.id.startswith("ocid1.volumebackup.oc1.iad.")
    assert full.unique_size_in_mbs > 1 and full.unique_size_in_gbs == 1

    ocisim.admin.write(data1, 100 * MIB, b"second point in time" * 1000)
    at_incremental = sha(ocisim, data1)
    inc = backup_and_wait(composite, data1, "INCREMENTAL", display_name="nightly-inc")
    assert inc.type == "INCREMENTAL" and inc.unique_size_in_mbs == 1 < full.unique_size_in_mbs
    ocisim.admin.write(data1, 0, b"a later write reaches neither backup" * 100)
    now = sha(ocisim, data1)
    assert len({at_full, at_incremental, now}) == 3

    from_full, from_inc = restore(bs, ocisim, full.id), restore(bs, ocisim, inc.id, display_name="r-inc")
    assert bs.get_volume(from_full).data.lifecycle_state == "PROVISIONING"
    restored_full, restored_inc = wait(ocisim, bs, bs.get_volume, from_full), wait(ocisim, bs, bs.get_volume, from_inc)
    assert sha(ocisim, from_full) == at_full and sha(ocisim, from_inc) == at_incremental
    assert sha(ocisim, data1) == now
    assert restored_full.source_details.type == "volumeBackup" and restored_full.source_details.id == full.id
    assert restored_full.freeform_tags == {"backup-policy": "default", "run": "1"}  # the backup's tags come back
    assert restored_inc.size_in_gbs == 50 and restored_inc.display_name == "r-inc"


def test_restore_rules(ocisim, bs, composite, data1):
    backup = make_backup(ocisim, bs, data1, "FULL")
    err = service_error(lambda: restore(bs, ocisim, backup.id, size_in_gbs=49))
    assert (err.status, err.code) == (400, "InvalidParameter") and "sizeInGBs" in err.message
    restored_id = restore(bs, ocisim, backup.id, size_in_gbs=60, freeform_tags={"temp": "yes"})
    tagged = wait(ocisim, bs, bs.get_volume, restored_id)
    assert tagged.size_in_gbs == 60 and tagged.freeform_tags == {"temp": "yes"}
    assert sha(ocisim, tagged.id) == sha(ocisim, backup.id)


def test_deleting_a_backup_mid_chain_keeps_later_ones_restorable(ocisim, bs, composite, data1):
    full = make_backup(ocisim, bs, data1, "FULL")
    ocisim.admin.write(data1, 70 * MIB, b"one" * 5000)
    first = make_backup(ocisim, bs, data1, "INCREMENTAL")
    ocisim.admin.write(data1, 90 * MIB, b"two" * 5000)
    second = make_backup(ocisim, bs, data1, "INCREMENTAL")
    at_second = sha(ocisim, data1)
    assert sha(ocisim, second.id) == at_second

    bs.delete_volume_backup(first.id)
    assert wait(ocisim, bs, bs.get_volume_backup, first.id, "TERMINATED").lifecycle_state == "TERMINATED"
    bs.delete_volume_backup(full.id)
    assert sha(ocisim, second.id) == at_second
    restored = wait(ocisim, bs, bs.get_volume, restore(bs, ocisim, second.id))
    assert sha(ocisim, restored.id) == at_second
    # the next INCREMENTAL builds on the newest live backup
    third = make_backup(ocisim, bs, data1, "INCREMENTAL")
    assert third.unique_size_in_mbs == 0 and sha(ocisim, third.id) == at_second


def test_corrupted_backup_restores_other_bytes_and_touches_nothing_else(ocisim, bs, composite, data1):
    full = make_backup(ocisim, bs, data1, "FULL")
    ocisim.admin.write(data1, 20 * MIB, b"changed" * 10000)
    inc = make_backup(ocisim, bs, data1, "INCREMENTAL")
    volume_sha, full_sha, inc_sha = sha(ocisim, data1), sha(ocisim, full.id), sha(ocisim, inc.id)

    done = ocisim.admin.corrupt_backup(full.id)  # default: the first block the FULL itself stored
    assert done == {"backupId": full.id, "blockIndex": 0}
    assert sha(ocisim, full.id) != full_sha
    assert sha(ocisim, inc.id) == inc_sha and sha(ocisim, data1) == volume_sha  # copy-on-write

    ocisim.admin.corrupt_backup(inc.id, block_index=20)
    bad = wait(ocisim, bs, bs.get_volume, restore(bs, ocisim, inc.id))
    assert sha(ocisim, bad.id) != inc_sha
    assert sha(ocisim, data1) == volume_sha
    assert ocisim.admin.read(bad.id, 20 * MIB, 7) != b"changed"


# -- backups: API rules -------------------------------------------------------------------------------------
def test_backup_type_must_be_full_or_incremental(bs, data1):
    err = service_error(lambda: bs.create_volume_backup({"volumeId": data1, "type": "WEEKLY"}))
    assert (err.status, err.code) == (400, "InvalidParameter")
    assert "type" in err.message and "WEEKLY" in err.message
    err = service_error(lambda: bs.create_volume_backup({"type": "FULL"}))
    assert (err.status, err.code) == (400, "MissingParameter") and "volumeId" in err.message
    default = bs.create_volume_backup({"volumeId": data1}).data
    assert default.type == "INCREMENTAL"  # OCI's default


def test_retry_token_replays_and_rejects_other_body(ocisim, bs, data1):
    details = m.CreateVolumeBackupDetails(volume_id=data1, type="FULL", display_name="retried")
    first = bs.create_volume_backup(details, opc_retry_token="backup-data1-run-1").data
    again = bs.create_volume_backup(details, opc_retry_token="backup-data1-run-1").data
    assert again.id == first.id
    other = m.CreateVolumeBackupDetails(volume_id=data1, type="FULL", display_name="another")
    err = service_error(lambda: bs.create_volume_backup(other, opc_retry_token="backup-data1-run-1"))
    assert (err.status, err.code) == (409, "InvalidatedRetryToken")
    backups = bs.list_volume_backups(ocisim.tenancy["compartment_id"], volume_id=data1).data
    assert [b.id for b in backups] == [first.id]


def test_volume_cannot_be_deleted_while_its_backup_is_creating(ocisim, bs, composite, data1):
    vol = bs.get_volume(data1).data
    clone = composite.create_volume_and_wait_for_state(m.CreateVolumeDetails(
        compartment_id=vol.compartment_id, availability_domain=vol.availability_domain,
        source_details=m.VolumeSourceFromVolumeDetails(id=data1)), wait_for_states=["AVAILABLE"],
        waiter_kwargs=WAIT).data
    ocisim.admin.set_time_scale(1)  # keep the backup CREATING while we try
    try:
        backup = bs.create_volume_backup(m.CreateVolumeBackupDetails(volume_id=clone.id, type="FULL")).data
        assert backup.lifecycle_state in ("REQUEST_RECEIVED", "CREATING")
        err = service_error(lambda: bs.delete_volume(clone.id))
        assert err.status == 409 and "backup" in err.message
        assert bs.get_volume(clone.id).data.lifecycle_state == "AVAILABLE"
        err = service_error(lambda: bs.delete_volume_backup(backup.id, retry_strategy=oci.retry.NoneRetryStrategy()))
        assert err.status == 409
    finally:
        ocisim.admin.set_time_scale(600)
    wait(ocisim, bs, bs.get_volume_backup, backup.id)
    bs.delete_volume(clone.id)
    assert wait(ocisim, bs, bs.get_volume, clone.id, "TERMINATED").lifecycle_state == "TERMINATED"


def test_list_volume_backups_filters_and_pages(ocisim, bs, data1):
    comp = ocisim.tenancy["compartment_id"]
    ids = [bs.create_volume_backup(m.CreateVolumeBackupDetails(volume_id=data1, type="FULL",
                                                               display_name=f"b{i}")).data.id for i in range(5)]
    ocisim.admin.reset_counters()
    walked = oci.pagination.list_call_get_all_results(bs.list_volume_backups, comp, volume_id=data1, limit=2).data
    assert ocisim.admin.counters()["ListVolumeBackups"] == 3
    assert [b.id for b in walked] == ids[::-1]  # newest first
    assert [b.id for b in bs.list_volume_backups(comp, display_name="b3").data] == [ids[3]]
    wait(ocisim, bs, bs.get_volume_backup, ids[-1])
    assert len(bs.list_volume_backups(comp, lifecycle_state="AVAILABLE").data) == 5
    assert bs.list_volume_backups(comp, lifecycle_state="FAULTY").data == []
    by_name = bs.list_volume_backups(comp, sort_by="DISPLAYNAME", sort_order="ASC").data
    assert [b.display_name for b in by_name] == ["b0", "b1", "b2", "b3", "b4"]
    err = service_error(lambda: bs.list_volume_backups(None))
    assert err.status == 400


def test_cross_region_copy_lands_in_the_destination_region(ocisim, bs, composite, data1):
    source = backup_and_wait(composite, data1, "FULL", freeform_tags={"dr": "yes"})
    response = composite.copy_volume_backup_and_wait_for_work_request(
        source.id, m.CopyVolumeBackupDetails(destination_region=DR_REGION, display_name="data1-dr"),
        waiter_kwargs=WAIT)
    assert response.data.status == "SUCCEEDED"
    copy_id = response.data.resources[0].identifier
    assert copy_id.startswith("ocid1.volumebackup.oc1.phx.")

    dr = ocisim.client(BlockstorageClient, region=DR_REGION)
    copy = wait(ocisim, dr, dr.get_volume_backup, copy_id)
    assert copy.source_volume_backup_id == source.id and copy.source_type == "MANUAL"
    assert copy.freeform_tags == {"backup-policy": "default", "dr": "yes"} and copy.display_name == "data1-dr"
    assert (copy.type, copy.size_in_gbs, copy.volume_id) == ("FULL", 50, data1)
    assert service_error(lambda: bs.get_volume_backup(copy_id)).status == 404  # not in the home region
    assert service_error(lambda: dr.get_volume_backup(source.id)).status == 404
    listed = dr.list_volume_backups(ocisim.tenancy["compartment_id"], source_volume_backup_id=source.id).data
    assert [b.id for b in listed] == [copy_id]
    assert sha(ocisim, copy_id) == sha(ocisim, source.id)

    dr_ad = oci.identity.IdentityClient(ocisim.config(DR_REGION), service_endpoint=ocisim.endpoints[DR_REGION]) \
        .list_availability_domains(ocisim.tenancy["compartment_id"]).data[0].name
    restored = dr.create_volume(m.CreateVolumeDetails(
        compartment_id=ocisim.tenancy["compartment_id"], availability_domain=dr_ad,
        source_details=m.VolumeSourceFromVolumeBackupDetails(id=copy_id))).data
    assert restored.id.startswith("ocid1.volume.oc1.phx.")
    wait(ocisim, dr, dr.get_volume, restored.id)
    assert sha(ocisim, restored.id) == sha(ocisim, source.id)
    assert restored.freeform_tags == {"backup-policy": "default", "dr": "yes"}


def test_copy_rules(ocisim, bs, data1):
    creating = bs.create_volume_backup(m.CreateVolumeBackupDetails(volume_id=data1, type="FULL")).data
    err = service_error(lambda: bs.copy_volume_backup(
        creating.id, m.CopyVolumeBackupDetails(destination_region="eu-nowhere-1")))
    assert (err.status, err.code) == (400, "InvalidParameter") and "destinationRegion" in err.message
    copy = bs.copy_volume_backup(wait(ocisim, bs, bs.get_volume_backup, creating.id).id,
                                 m.CopyVolumeBackupDetails(destination_region=DR_REGION))
    assert copy.headers["opc-work-request-id"] and copy.data.lifecycle_state == "CREATING"


# -- boot volumes ---------------------------------------------------------------------------------------------
def test_boot_volume_backup_restore_clone_copy(ocisim, bs, composite):
    boot_id = ocisim.tenancy["boot_volumes"]["linux1"]
    comp, ad = ocisim.tenancy["compartment_id"], ocisim.tenancy["availability_domains"][0]
    boot = bs.get_boot_volume(boot_id).data
    assert (boot.lifecycle_state, boot.size_in_gbs, boot.availability_domain) == ("AVAILABLE", 47, ad)
    assert boot.id.startswith("ocid1.bootvolume.oc1.iad.")
    assert [b.id for b in bs.list_boot_volumes(availability_domain=ad, compartment_id=comp).data] == [boot_id]
    err = service_error(lambda: bs.list_boot_volumes(compartment_id=comp))
    assert err.status == 400 and "availabilityDomain" in err.message
    original = sha(ocisim, boot_id)

    backup = composite.create_boot_volume_backup_and_wait_for_state(
        m.CreateBootVolumeBackupDetails(boot_volume_id=boot_id, type="FULL", display_name="linux1-boot"),
        wait_for_states=["AVAILABLE"], waiter_kwargs=WAIT).data
    assert (backup.boot_volume_id, backup.type, backup.source_type) == (boot_id, "FULL", "MANUAL")
    assert backup.image_id == boot.image_id and backup.size_in_gbs == 47 and backup.unique_size_in_gbs == 1
    assert backup.freeform_tags == boot.freeform_tags
    ocisim.admin.write(boot_id, 5 * MIB, b"boot changed later" * 100)

    restored = bs.create_boot_volume(m.CreateBootVolumeDetails(
        compartment_id=comp, availability_domain=ad,
        source_details=m.BootVolumeSourceFromBootVolumeBackupDetails(id=backup.id))).data
    clone = bs.create_boot_volume(m.CreateBootVolumeDetails(
        compartment_id=comp, availability_domain=ad, display_name="linux1-clone",
        source_details=m.BootVolumeSourceFromBootVolumeDetails(id=boot_id))).data
    restored, clone = wait(ocisim, bs, bs.get_boot_volume, restored.id), wait(ocisim, bs, bs.get_boot_volume, clone.id)
    assert sha(ocisim, restored.id) == original
    assert sha(ocisim, clone.id) == sha(ocisim, boot_id) != original
    assert restored.source_details.type == "bootVolumeBackup" and restored.image_id == boot.image_id
    assert clone.source_details.type == "bootVolume" and clone.source_details.id == boot_id
    assert restored.freeform_tags == backup.freeform_tags

    listed = bs.list_boot_volume_backups(comp, boot_volume_id=boot_id).data
    assert [b.id for b in listed] == [backup.id]
    copied = composite.copy_boot_volume_backup_and_wait_for_work_request(
        backup.id, m.CopyBootVolumeBackupDetails(destination_region=DR_REGION), waiter_kwargs=WAIT)
    copy_id = copied.data.resources[0].identifier
    dr = ocisim.client(BlockstorageClient, region=DR_REGION)
    copy = wait(ocisim, dr, dr.get_boot_volume_backup, copy_id)
    assert copy.source_boot_volume_backup_id == backup.id and copy.id.startswith("ocid1.bootvolumebackup.oc1.phx.")
    assert service_error(lambda: bs.get_boot_volume_backup(copy_id)).status == 404

    composite.delete_boot_volume_backup_and_wait_for_state(backup.id, wait_for_states=["TERMINATED"],
                                                           waiter_kwargs=WAIT)
    gone = composite.delete_boot_volume_and_wait_for_state(clone.id, wait_for_states=["TERMINATED"],
                                                            waiter_kwargs=WAIT)
    assert gone.data.lifecycle_state == "TERMINATED"


def test_attached_boot_volume_cannot_be_deleted(ocisim, bs):
    boot_id = ocisim.tenancy["boot_volumes"]["linux1"]
    err = service_error(lambda: bs.delete_boot_volume(boot_id))
    assert err.status == 409 and "attached" in err.message
    assert bs.get_boot_volume(boot_id).data.lifecycle_state == "AVAILABLE"


# -- volume groups ------------------------------------------------------------------------------------------
def test_volume_group_and_group_backup(ocisim, bs, composite, data1):
    comp, ad = ocisim.tenancy["compartment_id"], ocisim.tenancy["availability_domains"][0]
    boot_id = ocisim.tenancy["boot_volumes"]["linux1"]
    group = composite.create_volume_group_and_wait_for_state(m.CreateVolumeGroupDetails(
        compartment_id=comp, availability_domain=ad, display_name="linux1-disks", freeform_tags={"app": "web"},
        source_details=m.VolumeGroupSourceFromVolumesDetails(volume_ids=[boot_id, data1])),
        wait_for_states=["AVAILABLE"], waiter_kwargs=WAIT).data
    assert group.volume_ids == [boot_id, data1] and group.size_in_gbs == 97 and group.size_in_mbs == 97 * 1024
    assert group.source_details.type == "volumeIds" and group.freeform_tags == {"app": "web"}
    assert bs.get_volume(data1).data.volume_group_id == group.id
    assert [v.id for v in bs.list_volumes(volume_group_id=group.id).data] == [data1]
    assert [g.id for g in bs.list_volume_groups(comp, display_name="linux1-disks").data] == [group.id]
    err = service_error(lambda: bs.create_volume_group(m.CreateVolumeGroupDetails(
        compartment_id=comp, availability_domain=ad,
        source_details=m.VolumeGroupSourceFromVolumesDetails(volume_ids=[data1]))))
    assert err.status == 409

    group_backup = composite.create_volume_group_backup_and_wait_for_state(
        m.CreateVolumeGroupBackupDetails(volume_group_id=group.id, type="FULL", display_name="linux1-set"),
        wait_for_states=["AVAILABLE"], waiter_kwargs=WAIT).data
    assert (group_backup.type, group_backup.volume_group_id, group_backup.source_type) == ("FULL", group.id, "MANUAL")
    assert len(group_backup.volume_backup_ids) == 2 and group_backup.size_in_gbs == 97
    assert group_backup.unique_size_in_gbs >= 1 and group_backup.unique_size_in_mbs >= 2
    boot_backup = bs.get_boot_volume_backup(group_backup.volume_backup_ids[0]).data
    volume_backup = bs.get_volume_backup(group_backup.volume_backup_ids[1]).data
    assert boot_backup.boot_volume_id == boot_id and volume_backup.volume_id == data1
    assert {boot_backup.volume_group_backup_id, volume_backup.volume_group_backup_id} == {group_backup.id}
    assert boot_backup.lifecycle_state == volume_backup.lifecycle_state == "AVAILABLE"
    assert sha(ocisim, volume_backup.id) == sha(ocisim, data1)
    assert [b.id for b in bs.list_volume_group_backups(comp, volume_group_id=group.id).data] == [group_backup.id]

    composite.delete_volume_group_backup_and_wait_for_state(group_backup.id, wait_for_states=["TERMINATED"],
                                                            waiter_kwargs=WAIT)
    assert bs.get_volume_backup(volume_backup.id).data.lifecycle_state == "TERMINATED"
    composite.delete_volume_group_and_wait_for_state(group.id, wait_for_states=["TERMINATED"], waiter_kwargs=WAIT)
    assert bs.get_volume(data1).data.volume_group_id is None
    assert bs.get_volume(data1).data.lifecycle_state == "AVAILABLE"  # the group goes, its volumes stay


def test_update_backup_tags_and_name(ocisim):
    client = ocisim.client(oci.core.BlockstorageClient)
    volume_id = ocisim.tenancy["volumes"]["data1"]
    backup = client.create_volume_backup(oci.core.models.CreateVolumeBackupDetails(
        volume_id=volume_id, type="FULL", display_name="to-update")).data
    updated = client.update_volume_backup(backup.id, oci.core.models.UpdateVolumeBackupDetails(
        display_name="verified", freeform_tags={**backup.freeform_tags, "verified-at": "2026-11-27T02:00:00Z"})).data
    assert updated.display_name == "verified" and updated.freeform_tags["verified-at"] == "2026-11-27T02:00:00Z"
    assert client.get_volume_backup(backup.id).data.freeform_tags["verified-at"] == "2026-11-27T02:00:00Z"
    boot_id = ocisim.tenancy["boot_volumes"]["linux1"]
    boot_backup = client.create_boot_volume_backup(oci.core.models.CreateBootVolumeBackupDetails(
        boot_volume_id=boot_id, type="FULL")).data
    tagged = client.update_boot_volume_backup(boot_backup.id, oci.core.models.UpdateBootVolumeBackupDetails(
        freeform_tags={"verified-at": "x"})).data
    assert tagged.freeform_tags == {"verified-at": "x"}


# -- updates ------------------------------------------------------------------------------------------------
def test_update_volume_tags_name_performance_and_growth(ocisim, bs, data1):
    before = sha(ocisim, data1)
    tagged = bs.update_volume(data1, m.UpdateVolumeDetails(
        display_name="data1-gold", freeform_tags={"backup-policy": "gold"}, vpus_per_gb=20)).data
    assert (tagged.display_name, tagged.freeform_tags, tagged.vpus_per_gb) == ("data1-gold", {"backup-policy": "gold"},
                                                                                20)
    assert tagged.lifecycle_state == "AVAILABLE"  # no size change: nothing to provision

    grown = bs.update_volume(data1, m.UpdateVolumeDetails(size_in_gbs=80)).data
    assert (grown.size_in_gbs, grown.size_in_mbs, grown.lifecycle_state) == (80, 80 * 1024, "PROVISIONING")
    again = service_error(lambda: bs.update_volume(data1, m.UpdateVolumeDetails(size_in_gbs=90)))
    assert again.status == 409 and again.code == "IncorrectState"
    done = wait(ocisim, bs, bs.get_volume, data1)
    assert done.size_in_gbs == 80 and done.freeform_tags == {"backup-policy": "gold"}
    assert sha(ocisim, data1) == before  # growing keeps every byte

    shrink = service_error(lambda: bs.update_volume(data1, m.UpdateVolumeDetails(size_in_gbs=60)))
    assert shrink.status == 400 and "sizeInGBs 60" in shrink.message and "larger" in shrink.message
    vpus = service_error(lambda: bs.update_volume(data1, m.UpdateVolumeDetails(vpus_per_gb=25)))
    assert vpus.status == 400 and "vpusPerGB 25" in vpus.message
    assert service_error(lambda: bs.update_volume("ocid1.volume.oc1.iad.aaaanothere",
                                                  m.UpdateVolumeDetails(display_name="x"))).status == 404


def test_update_boot_volume(ocisim, bs):
    boot_id = ocisim.tenancy["boot_volumes"]["linux1"]
    updated = bs.update_boot_volume(boot_id, m.UpdateBootVolumeDetails(
        display_name="linux1-boot", freeform_tags={"backup-policy": "silver"}, size_in_gbs=60)).data
    assert (updated.display_name, updated.freeform_tags, updated.size_in_gbs) == (
        "linux1-boot", {"backup-policy": "silver"}, 60)
    assert wait(ocisim, bs, bs.get_boot_volume, boot_id).size_in_gbs == 60
    err = service_error(lambda: bs.update_boot_volume(boot_id, m.UpdateBootVolumeDetails(vpus_per_gb=0)))
    assert err.status == 400 and "vpusPerGB 0" in err.message


def test_invalid_references_are_refused_before_anything_is_made(ocisim, bs, data1):
    comp, ad = ocisim.tenancy["compartment_id"], ocisim.tenancy["availability_domains"][0]
    before = len(bs.list_volumes(compartment_id=comp).data)
    unknown_ns = service_error(lambda: bs.create_volume(m.CreateVolumeDetails(
        compartment_id=comp, availability_domain=ad, size_in_gbs=50, defined_tags={"Finance": {"cost": "1"}})))
    assert (unknown_ns.status, unknown_ns.code) == (400, "RelatedResourceNotAuthorizedOrNotFound")
    assert "TagNamespace Finance" in unknown_ns.message
    kms = service_error(lambda: bs.create_volume(m.CreateVolumeDetails(
        compartment_id=comp, availability_domain=ad, size_in_gbs=50, kms_key_id="ocid1.key.oc1.iad.aaaanokey")))
    assert kms.status == 400 and "kmsKeyId" in kms.message
    assert len(bs.list_volumes(compartment_id=comp).data) == before
    unknown_key = service_error(lambda: bs.update_volume(data1, m.UpdateVolumeDetails(
        defined_tags={"Oracle-Tags": {"Owner": "me"}})))
    assert unknown_key.status == 400 and "Oracle-Tags.Owner" in unknown_key.message
    ok = bs.update_volume(data1, m.UpdateVolumeDetails(defined_tags={"Oracle-Tags": {"CreatedBy": "me"}})).data
    assert ok.defined_tags == {"Oracle-Tags": {"CreatedBy": "me"}}
    backup_kms = service_error(lambda: bs.create_volume_backup(m.CreateVolumeBackupDetails(
        volume_id=data1, kms_key_id="ocid1.key.oc1.iad.aaaanokey")))
    assert backup_kms.status == 400 and not bs.list_volume_backups(comp, volume_id=data1).data


def test_volume_group_clone_and_restore_from_group_backup(ocisim, bs, composite, data1):
    comp, ad = ocisim.tenancy["compartment_id"], ocisim.tenancy["availability_domains"][0]
    second = bs.create_volume(m.CreateVolumeDetails(compartment_id=comp, availability_domain=ad, size_in_gbs=50,
                                                    display_name="data2")).data.id
    wait(ocisim, bs, bs.get_volume, second)
    ocisim.admin.write(second, 4 * MIB, b"second volume" * 1000)
    group = composite.create_volume_group_and_wait_for_state(m.CreateVolumeGroupDetails(
        compartment_id=comp, availability_domain=ad, display_name="pair",
        source_details=m.VolumeGroupSourceFromVolumesDetails(volume_ids=[data1, second])),
        wait_for_states=["AVAILABLE"], waiter_kwargs=WAIT).data
    group_backup = composite.create_volume_group_backup_and_wait_for_state(
        m.CreateVolumeGroupBackupDetails(volume_group_id=group.id, type="FULL", freeform_tags={"backup-group": "pair"}),
        wait_for_states=["AVAILABLE"], waiter_kwargs=WAIT).data
    at_backup = {data1: sha(ocisim, data1), second: sha(ocisim, second)}
    ocisim.admin.write(data1, 0, b"changed after the group backup")

    restored = bs.create_volume_group(m.CreateVolumeGroupDetails(
        compartment_id=comp, availability_domain=ad, display_name="pair-restored",
        source_details=m.VolumeGroupSourceFromVolumeGroupBackupDetails(
            volume_group_backup_id=group_backup.id))).data
    assert restored.lifecycle_state == "PROVISIONING" and len(restored.volume_ids) == 2
    assert restored.source_details.type == "volumeGroupBackupId"
    assert restored.source_details.volume_group_backup_id == group_backup.id
    restored = wait(ocisim, bs, bs.get_volume_group, restored.id)
    members = [bs.get_volume(v).data for v in restored.volume_ids]
    assert [v.display_name for v in members] == ["data1", "data2"]
    assert {v.volume_group_id for v in members} == {restored.id}
    assert {v.lifecycle_state for v in members} == {"AVAILABLE"}
    assert [sha(ocisim, v.id) for v in members] == [at_backup[data1], at_backup[second]]
    assert all(v.freeform_tags.get("backup-group") == "pair" for v in members)  # no tags asked: the backups'
    # tags in the request apply to every restored volume, as for a single restore: nothing of the member backups'
    tagged = bs.create_volume_group(m.CreateVolumeGroupDetails(
        compartment_id=comp, availability_domain=ad, freeform_tags={"airflow-temporary": "true"},
        source_details=m.VolumeGroupSourceFromVolumeGroupBackupDetails(volume_group_backup_id=group_backup.id))).data
    assert [bs.get_volume(v).data.freeform_tags for v in tagged.volume_ids] == [{"airflow-temporary": "true"}] * 2

    clone = composite.create_volume_group_and_wait_for_state(m.CreateVolumeGroupDetails(
        compartment_id=comp, availability_domain=ad, display_name="pair-clone",
        source_details=m.VolumeGroupSourceFromVolumeGroupDetails(volume_group_id=group.id)),
        wait_for_states=["AVAILABLE"], waiter_kwargs=WAIT).data
    clones = [bs.get_volume(v).data for v in clone.volume_ids]
    assert [sha(ocisim, v.id) for v in clones] == [sha(ocisim, data1), sha(ocisim, second)]
    assert clones[0].source_details.id == data1 and set(clone.volume_ids).isdisjoint({data1, second})

    missing_id = service_error(lambda: bs.create_volume_group(m.CreateVolumeGroupDetails(
        compartment_id=comp, availability_domain=ad,
        source_details=m.VolumeGroupSourceFromVolumeGroupBackupDetails(
            volume_group_backup_id="ocid1.volumegroupbackup.oc1.iad.aaaanothere"))))
    assert missing_id.status == 404


def test_group_update_group_backup_tags_and_copy_to_another_region(ocisim, bs, composite, data1):
    comp, ad = ocisim.tenancy["compartment_id"], ocisim.tenancy["availability_domains"][0]
    boot_id = ocisim.tenancy["boot_volumes"]["linux1"]
    group = composite.create_volume_group_and_wait_for_state(m.CreateVolumeGroupDetails(
        compartment_id=comp, availability_domain=ad, display_name="web",
        source_details=m.VolumeGroupSourceFromVolumesDetails(volume_ids=[data1])),
        wait_for_states=["AVAILABLE"], waiter_kwargs=WAIT).data
    grown = bs.update_volume_group(group.id, m.UpdateVolumeGroupDetails(
        volume_ids=[boot_id, data1], freeform_tags={"backup-group": "web"})).data
    assert grown.volume_ids == [boot_id, data1] and grown.size_in_gbs == 97
    assert grown.freeform_tags == {"backup-group": "web"}
    assert bs.get_boot_volume(boot_id).data.volume_group_id == group.id

    group_backup = composite.create_volume_group_backup_and_wait_for_state(
        m.CreateVolumeGroupBackupDetails(volume_group_id=group.id, type="FULL"),
        wait_for_states=["AVAILABLE"], waiter_kwargs=WAIT).data
    verified = bs.update_volume_group_backup(group_backup.id, m.UpdateVolumeGroupBackupDetails(
        freeform_tags={"verified-at": "2026-11-29T02:00:00Z"})).data
    assert verified.freeform_tags == {"verified-at": "2026-11-29T02:00:00Z"}

    copied = bs.copy_volume_group_backup(group_backup.id, m.CopyVolumeGroupBackupDetails(
        destination_region=DR_REGION, display_name="web-dr"))
    assert copied.headers["opc-work-request-id"] and copied.data.lifecycle_state == "CREATING"
    dr = ocisim.client(BlockstorageClient, region=DR_REGION)
    dr_copy = wait(ocisim, dr, dr.get_volume_group_backup, copied.data.id)
    assert dr_copy.display_name == "web-dr" and dr_copy.source_volume_group_backup_id == group_backup.id
    assert len(dr_copy.volume_backup_ids) == 2
    assert service_error(lambda: bs.get_volume_group_backup(copied.data.id)).status == 404  # lives in the DR region
    dr_ad = ocisim.sim.identity.ad_names(DR_REGION)[0]
    restored = dr.create_volume_group(m.CreateVolumeGroupDetails(
        compartment_id=comp, availability_domain=dr_ad,
        source_details=m.VolumeGroupSourceFromVolumeGroupBackupDetails(volume_group_backup_id=dr_copy.id))).data
    restored = wait(ocisim, dr, dr.get_volume_group, restored.id)
    data_restore = next(v for v in restored.volume_ids if v.startswith("ocid1.volume."))
    assert sha(ocisim, data_restore) == sha(ocisim, data1)
