"""Identity and work requests through the real SDK."""

from __future__ import annotations

import oci


def test_availability_domains_regions_and_compartment(ocisim):
    identity = ocisim.client(oci.identity.IdentityClient)
    comp = ocisim.tenancy["compartment_id"]
    ads = identity.list_availability_domains(comp).data
    assert [a.name for a in ads] == ocisim.tenancy["availability_domains"]
    assert len(ads) == 3 and ads[0].name.endswith("US-ASHBURN-AD-1")
    regions = identity.list_regions().data
    assert {r.name for r in regions} == {"us-ashburn-1", "us-phoenix-1"}
    got = identity.get_compartment(comp)
    assert got.data.id == comp and got.data.lifecycle_state == "ACTIVE" and got.data.name == "ocisim"
    assert got.headers["opc-request-id"] and got.headers["etag"]


def test_unknown_compartment_is_404(ocisim):
    identity = ocisim.client(oci.identity.IdentityClient)
    try:
        identity.get_compartment("ocid1.compartment.oc1..aaaanothere")
    except oci.exceptions.ServiceError as err:
        assert err.status == 404 and err.code == "NotAuthorizedOrNotFound"
    else:
        raise AssertionError("expected 404")


def test_response_date_follows_the_emulated_clock(ocisim):
    import email.utils
    import time

    identity = ocisim.client(oci.identity.IdentityClient)
    ocisim.admin.advance(3 * 86400)
    served = email.utils.parsedate_to_datetime(identity.list_regions().headers["date"]).timestamp()
    assert served - time.time() >= 3 * 86400 - 60


def test_work_request_moves_and_reports_progress(ocisim):
    wr = ocisim.sim.workrequests.start("CreateImage", ocisim.tenancy["compartment_id"], "us-ashburn-1",
                                       [{"entity_type": "image", "identifier": "ocid1.image.oc1.iad.aaaatest"}], 1200)
    client = ocisim.client(oci.work_requests.WorkRequestClient)
    first = client.get_work_request(wr["id"]).data
    assert first.status in ("ACCEPTED", "IN_PROGRESS") and first.percent_complete < 100
    done = oci.wait_until(client, client.get_work_request(wr["id"]), "status", "SUCCEEDED",
                          max_interval_seconds=1, max_wait_seconds=30).data
    assert done.percent_complete == 100 and done.time_finished is not None
    assert done.resources[0].action_type == "CREATED"
    listed = client.list_work_requests(ocisim.tenancy["compartment_id"],
                                       resource_id="ocid1.image.oc1.iad.aaaatest").data
    assert [w.id for w in listed] == [wr["id"]]
    logs = client.list_work_request_logs(wr["id"]).data
    assert any("succeeded" in entry.message for entry in logs)
    assert client.list_work_request_errors(wr["id"]).data == []


def test_tenancy_region_subscriptions_and_compartment_subtree(ocisim):
    identity = ocisim.client(oci.identity.IdentityClient)
    tenancy_id = ocisim.sim.identity.tenancy()["id"]
    tenancy = identity.get_tenancy(tenancy_id).data
    assert (tenancy.id, tenancy.name, tenancy.home_region_key) == (tenancy_id, "ocisim", "IAD")
    subscriptions = identity.list_region_subscriptions(tenancy_id).data
    assert {(s.region_name, s.status, s.is_home_region) for s in subscriptions} == {
        ("us-ashburn-1", "READY", True), ("us-phoenix-1", "READY", False)}

    made = ocisim.admin.seed({"compartments": [{"name": "team"}, {"name": "team-db", "parent": "team"},
                                               {"name": "team-db-old", "parent": "team-db"}]})["compartments"]
    top = identity.list_compartments(tenancy_id).data
    assert {c.name for c in top} == {"ocisim", "team"}  # direct children only, never the root itself
    every = oci.pagination.list_call_get_all_results(
        identity.list_compartments, tenancy_id, compartment_id_in_subtree=True, access_level="ACCESSIBLE",
        limit=2).data
    assert {c.name for c in every} == {"ocisim", "team", "team-db", "team-db-old"}
    assert {c.compartment_id for c in every if c.name == "team-db-old"} == {made["team-db"]}
    assert [c.name for c in identity.list_compartments(made["team"]).data] == ["team-db"]
    assert [c.name for c in identity.list_compartments(tenancy_id, compartment_id_in_subtree=True,
                                                       name="team-db").data] == ["team-db"]

    not_root = _error(lambda: identity.list_compartments(made["team"], compartment_id_in_subtree=True))
    assert not_root.status == 400 and "compartmentIdInSubtree" in not_root.message
    assert _error(lambda: identity.get_tenancy("ocid1.tenancy.oc1..aaaaother")).status == 404


def _error(call) -> oci.exceptions.ServiceError:
    try:
        call()
    except oci.exceptions.ServiceError as err:
        return err
    raise AssertionError("expected a ServiceError")
