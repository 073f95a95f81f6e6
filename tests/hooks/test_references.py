"""OciHook's read-only reference checks (hooks/references.py) and the lookups requests use, with the real SDK
against ocisim: what they return for what exists, and the error naming the field and the rule for what does not."""

from __future__ import annotations

import pytest
from common.errors import OciInputError
from hooks.oci import OciHook

GONE = {"volume": "ocid1.volume.oc1.iad.aaaaaaaanotthere", "bootvolume": "ocid1.bootvolume.oc1.iad.aaaaaaaanotthere",
        "volumebackup": "ocid1.volumebackup.oc1.iad.aaaaaaaanotthere"}


def test_references_that_exist_come_back_and_missing_ones_name_the_field(airflow_oci):
    sim, hook = airflow_oci, OciHook()
    linux1 = sim.tenancy["instances"]["linux1"]
    assert hook.check_instance(linux1).id == linux1
    with pytest.raises(OciInputError, match=r"^instance_id '.*': is RUNNING; must be one of \('STOPPED',\)$"):
        hook.check_instance(linux1, states=("STOPPED",))
    assert hook.check_subnet(sim.tenancy["subnet_id"]).dns_label == "app"
    # the script level's verifier: RUNNING with Run Command (the nightly's preflight calls this)
    assert hook.check_verifier(linux1).id == linux1
    with pytest.raises(OciInputError, match=r"^verifier_instance_id '.*notthere': no such instance in us-ashburn-1"):
        hook.check_verifier("ocid1.instance.oc1.iad.aaaaaaaanotthere")
    assert hook.check_volume(sim.tenancy["volumes"]["data1"], "volume_ids[0]").display_name == "data1"
    assert hook.check_volume(sim.tenancy["boot_volumes"]["linux1"]).size_in_gbs == 47
    with pytest.raises(OciInputError, match=r"^volume_ids\[1\] '.*notthere': no such volume in us-ashburn-1 \(or no "
                                            r"access to it\)$"):
        hook.check_volume(GONE["volume"], "volume_ids[1]")
    with pytest.raises(OciInputError, match=r"^backup_id '.*notthere': no such volumebackup in us-ashburn-1"):
        hook.check_backup(GONE["volumebackup"])
    with pytest.raises(OciInputError, match="expected an OCID of type 'instance'"):
        hook.check_instance(sim.tenancy["volumes"]["data1"])
    ads = hook.availability_domains()
    assert ads == sim.tenancy["availability_domains"]
    assert hook.check_availability_domain(f" {ads[0]} ") == ads[0]
    with pytest.raises(OciInputError, match=r"^availability_domain 'Uocm:NOWHERE-AD-9': not an availability domain "
                                            "of us-ashburn-1; one of "):
        hook.check_availability_domain("Uocm:NOWHERE-AD-9")
    assert hook.check_bucket(None, "ocisim-bucket") == sim.tenancy["namespace"]
    with pytest.raises(OciInputError, match=r"^export_bucket 'nope': no such bucket in namespace"):
        hook.check_bucket(None, "nope", "export_bucket")
    assert hook.check_region("us-phoenix-1") == "us-phoenix-1"
    with pytest.raises(OciInputError, match=r"^region 'eu-frankfurt-1': not reachable with this connection"):
        hook.check_region("eu-frankfurt-1")


def test_hostnames_in_use_are_found_without_case_and_refused(airflow_oci):
    sim, hook = airflow_oci, OciHook()
    subnet = hook.check_subnet(sim.tenancy["subnet_id"])
    users = hook.hostname_users(subnet, ["LINUX1", "free-01"])
    assert [(name, att.instance_id) for name, att in users] == [("LINUX1", sim.tenancy["instances"]["linux1"])]
    fleet = [{"hostname": "free-01", "subnet_id": subnet.id}, {"hostname": "Linux1", "subnet_id": subnet.id}]
    with pytest.raises(OciInputError, match=r"^fleet: hostname\(s\) already used in the subnet: Linux1 \(VNIC "
                                            r"ocid1\.vnic\..* of instance ocid1\.instance\..*\); hostnames must be "
                                            r"unique in a subnet$"):
        hook.check_fleet(fleet)
    assert hook.check_fleet(fleet[:1]) == fleet[:1]


def test_swap_target_and_the_lookups_of_a_clone_or_restore(airflow_oci):
    sim, hook = airflow_oci, OciHook()
    linux1, boot = sim.tenancy["instances"]["linux1"], sim.tenancy["boot_volumes"]["linux1"]
    assert hook.swap_target(linux1, None).id == linux1
    assert hook.swap_target(None, boot).id == linux1  # the instance booted from the backup's source
    with pytest.raises(OciInputError, match=r"^instance_id: the backup's source boot volume .* is gone; give the "
                                            r"instance to restore in place$"):
        hook.swap_target(None, GONE["bootvolume"])
    with pytest.raises(OciInputError, match=r"^instance_id: required for an in-place restore"):
        hook.swap_target(None, None)
    assert hook.boot_volume_availability_domain(boot) == sim.tenancy["availability_domains"][0]
    assert hook.boot_volume_availability_domain(GONE["bootvolume"]) is None
    assert hook.boot_volume_availability_domain(None) is None
    assert hook.primary_subnet_id(hook.check_instance(linux1)) == sim.tenancy["subnet_id"]
    boots, volumes = hook.attachments_of_instance(hook.check_instance(linux1))
    assert [a.boot_volume_id for a in boots] == [boot]
    assert [a.volume_id for a in volumes] == [sim.tenancy["volumes"]["data1"]]
    assert hook.attachment_of(hook.check_volume(boot)).instance_id == linux1
    assert hook.attachment_of(hook.check_volume(sim.tenancy["volumes"]["data1"])).instance_id == linux1


def test_volumes_in_lists_block_volumes_and_the_boot_volumes_of_every_ad(airflow_oci):
    import oci

    sim, hook = airflow_oci, OciHook()
    sim.admin.reset_counters()
    once = oci.retry.NoneRetryStrategy()
    found = hook.volumes_in(sim.tenancy["compartment_id"], retry_strategy=once)
    assert {v.id for v in found} == {sim.tenancy["volumes"]["data1"], sim.tenancy["boot_volumes"]["linux1"]}
    counters = sim.admin.counters()
    assert counters.get("ListBootVolumes") == len(sim.tenancy["availability_domains"])
    assert counters.get("ListVolumes") == 1 and counters.get("ListAvailabilityDomains") == 1


def test_group_members_share_one_availability_domain(airflow_oci):
    from oci.core.models import CreateVolumeDetails

    sim, hook = airflow_oci, OciHook()
    data1, boot = sim.tenancy["volumes"]["data1"], sim.tenancy["boot_volumes"]["linux1"]
    assert [v.id for v in hook.check_group_members([data1, boot])] == [data1, boot]
    elsewhere = hook.get_client("blockstorage").create_volume(CreateVolumeDetails(
        compartment_id=sim.tenancy["compartment_id"], availability_domain=sim.tenancy["availability_domains"][1],
        size_in_gbs=50, display_name="elsewhere")).data
    with pytest.raises(OciInputError, match=r"^volume_ids: a volume group's volumes share one availability domain; "
                                            r"these are in \["):
        hook.check_group_members([data1, elsewhere.id])
