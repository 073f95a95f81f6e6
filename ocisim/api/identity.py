"""Identity API (20160918): availability domains, regions, compartments."""

from __future__ import annotations

from ..routing import Route, filtered, page

V = "/20160918"


def list_availability_domains(sim, req):
    return sim.identity.availability_domains(req.region, req.q("compartmentId"))


def list_regions(sim, req):
    return sim.identity.regions()


def get_compartment(sim, req):
    return sim.identity.get_compartment(req.params["compartmentId"])


def get_tenancy(sim, req):
    return sim.identity.get_tenancy(req.params["tenancyId"])


def list_compartments(sim, req):
    items = sim.identity.list_compartments(req.q("compartmentId"),
                                           (req.q("compartmentIdInSubtree") or "").lower() == "true",
                                           req.q("accessLevel"))
    items = filtered(items, req, name="name", lifecycleState="lifecycle_state")
    by = (req.q("sortBy") or "NAME").upper()
    key = "name" if by == "NAME" else "time_created"
    items = sorted(items, key=lambda c: c[key], reverse=(req.q("sortOrder") or "ASC").upper() == "DESC")
    return page(items, req)


def list_region_subscriptions(sim, req):
    return sim.identity.region_subscriptions(req.params["tenancyId"])


ROUTES = [
    Route("GET", f"{V}/tenancies/{{tenancyId}}", "GetTenancy", get_tenancy),
    Route("GET", f"{V}/tenancies/{{tenancyId}}/regionSubscriptions", "ListRegionSubscriptions",
          list_region_subscriptions),
    Route("GET", f"{V}/compartments", "ListCompartments", list_compartments),
    Route("GET", f"{V}/availabilityDomains", "ListAvailabilityDomains", list_availability_domains),
    Route("GET", f"{V}/regions", "ListRegions", list_regions),
    Route("GET", f"{V}/compartments/{{compartmentId}}", "GetCompartment", get_compartment),
]
