"""Identity API (20160918): availability domains, regions, compartments."""

from __future__ import annotations

from ..routing import Route

V = "/20160918"


def list_availability_domains(sim, req):
    return sim.identity.availability_domains(req.region, req.q("compartmentId"))


def list_regions(sim, req):
    return sim.identity.regions()


def get_compartment(sim, req):
    return sim.identity.get_compartment(req.params["compartmentId"])


ROUTES = [
    Route("GET", f"{V}/availabilityDomains", "ListAvailabilityDomains", list_availability_domains),
    Route("GET", f"{V}/regions", "ListRegions", list_regions),
    Route("GET", f"{V}/compartments/{{compartmentId}}", "GetCompartment", get_compartment),
]
