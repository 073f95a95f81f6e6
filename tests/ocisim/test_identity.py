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
