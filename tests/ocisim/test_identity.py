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
