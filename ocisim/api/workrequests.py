"""Work Requests API (20160918): get, list, errors and logs."""

from __future__ import annotations

from ..routing import Route, page

V = "/20160918"


def get_work_request(sim, req):
    wr = sim.workrequests.get_wr(req.params["workRequestId"], req.region)
    return wr


def list_work_requests(sim, req):
    return page(sim.workrequests.list_wrs(req.region, req.q("compartmentId"), req.q("resourceId")), req)


def list_errors(sim, req):
    return page(sim.workrequests.errors(req.params["workRequestId"], req.region), req)


def list_logs(sim, req):
    return page(sim.workrequests.logs(req.params["workRequestId"], req.region), req)


ROUTES = [
    Route("GET", f"{V}/workRequests/{{workRequestId}}", "GetWorkRequest", get_work_request),
    Route("GET", f"{V}/workRequests", "ListWorkRequests", list_work_requests),
    Route("GET", f"{V}/workRequests/{{workRequestId}}/errors", "ListWorkRequestErrors", list_errors),
    Route("GET", f"{V}/workRequests/{{workRequestId}}/logs", "ListWorkRequestLogs", list_logs),
]
