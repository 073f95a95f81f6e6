"""The HTTP front door: one threaded server per region, all sharing one Sim.

Every request goes: admin or signature auth (a pre-authenticated request's URL needs none) → route (501 for
an operation ocisim lacks) → counters and faults (faults.py; what they ask of the call travels on the Request)
→ retry-token replay → handler → one error serialiser. Handlers and backends never see sockets.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import auth
from .errors import OciError
from .ids import new_request_id
from .routing import Request, Response, Router
from .sim import Sim

log = logging.getLogger("ocisim")
ADMIN_PREFIX = "/_ocisim/"
ADMIN_TOKEN_HEADER = "x-ocisim-admin-token"
PAR_PREFIX = "/p/"


def _all_routes():
    from .api import ROUTES

    return ROUTES


def _admin_routes():
    from .api.admin import ROUTES

    return ROUTES


class _Dropped(Exception):
    """The response is lost on purpose: the work is done, the client sees a dead connection."""


class OciSimServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, sim: Sim, region: str, admin_token: str):
        self.sim = sim
        self.region = region
        self.admin_token = admin_token
        self.router = Router(_all_routes())
        self.admin_router = Router(_admin_routes())
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: Nagle would add ~40 ms each
    server: OciSimServer

    def log_message(self, fmt, *args):  # route the stdlib's access log to logging
        log.debug("%s " + fmt, self.server.region, *args)

    def date_time_string(self, timestamp=None):
        """The response `Date` is the emulated clock: a client that asks OCI for "now" (to plan FULL backups
        or retention) sees emulated days pass. Request signatures still use real time (their 5-minute rule)."""
        return email.utils.formatdate(self.server.sim.now() if timestamp is None else timestamp, usegmt=True)

    def do_GET(self):
        self._serve()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET

    def _serve(self) -> None:
        request_id = new_request_id()
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = Request(self.command, self.path, headers, body, self.server.region)
        try:
            resp = self._dispatch(req)
        except _Dropped:
            self.close_connection = True
            return
        except OciError as err:
            if err.status == 401:
                log.info("401 %s %s: %s", req.method, req.path, getattr(err, "reason", ""))
            resp = Response(err.status, {"code": err.code, "message": err.message})
        except Exception as exc:  # a bug in ocisim must look like an OCI 500, not a hung client
            log.exception("unhandled error in %s %s", req.method, req.path)
            resp = Response(500, {"code": "InternalServerError", "message": f"ocisim: {exc}"})
        self._send(resp, request_id, headers.get("opc-request-id"))

    def _dispatch(self, req: Request) -> Response:
        sim = self.server.sim
        if req.path.startswith(ADMIN_PREFIX):
            self._admin_auth(req)
            return self._route(self.server.admin_router, req)
        key_id = None
        if not req.path.startswith(PAR_PREFIX):  # a pre-authenticated request's URL carries its own secret
            key_id = auth.verify(req.method, req.target, req.headers, req.body, sim.store.key)
        matched = self.server.router.match(req.method, req.path)
        if matched is None:
            raise self.server.router.unmatched(req.method, req.path)
        route, params = matched
        req.params, req.operation = params, route.operation
        if key_id is not None:
            sim.policies.check(key_id, route.operation)  # the user's denials (policy.py): 404 as on OCI
        req.injected = sim.faults.apply(route.operation)
        resp = self._with_retry_token(route, req)
        if req.injected.drop:
            raise _Dropped()
        return resp

    def _with_retry_token(self, route, req: Request) -> Response:
        """OCI's opc-retry-token: same token and body → the first answer; other body → 409."""
        token = req.headers.get("opc-retry-token")
        if not token or req.method not in ("POST", "PUT"):
            return self._call(route, req)
        sim = self.server.sim
        key = f"{route.operation}:{req.path}:{token}"
        body_hash = hashlib.sha256(req.body).hexdigest()
        with sim.lock:
            seen = sim.store.retry_lookup(key)
            if seen:
                if seen[0] != body_hash:
                    raise OciError(409, "InvalidatedRetryToken",
                                   "The retry token was already used for a request with different content.")
                return Response(seen[1], seen[3], seen[2])
            resp = self._call(route, req)
            if resp.status < 300:
                sim.store.retry_save(key, body_hash, resp.status, resp.headers, resp.payload())
            return resp

    def _call(self, route, req: Request) -> Response:
        result = route.handler(self.server.sim, req)
        if isinstance(result, Response):
            return result
        if result is None:
            return Response(204)
        resp = Response(200, result)
        if isinstance(result, dict) and result.get("id"):
            resp.headers["etag"] = _etag(result)
        return resp

    def _route(self, router: Router, req: Request) -> Response:
        matched = router.match(req.method, req.path)
        if matched is None:
            raise OciError(404, "NotFound", f"Unknown admin path {req.method} {req.path}.")
        route, req.params = matched
        req.operation = route.operation
        return self._call(route, req)

    def _admin_auth(self, req: Request) -> None:
        token = req.headers.get(ADMIN_TOKEN_HEADER)
        if token is not None:
            if not secrets.compare_digest(token, self.server.admin_token):
                raise auth.unauthenticated("wrong admin token")
            return
        auth.verify(req.method, req.target, req.headers, req.body, self.server.sim.store.key)

    def _send(self, resp: Response, request_id: str, client_request_id: str | None) -> None:
        payload = resp.payload()
        self.send_response(resp.status)
        headers = {"opc-request-id": client_request_id or request_id, **resp.headers}
        if isinstance(resp.body, dict | list) and "content-type" not in headers:
            headers["content-type"] = "application/json"
        if "content-length" not in headers:
            headers["content-length"] = str(len(payload))
        for name, value in headers.items():
            self.send_header(name, str(value))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


def _etag(resource: dict) -> str:
    return hashlib.md5(json.dumps(resource, sort_keys=True, default=str).encode()).hexdigest()


class Running:
    """ocisim serving every region on consecutive ports, in threads (for `python -m ocisim` and fixtures)."""

    def __init__(self, sim: Sim, host: str = "127.0.0.1", port: int = 0, admin_token: str | None = None):
        self.sim = sim
        self.admin_token = admin_token or secrets.token_urlsafe(24)
        token_file = Path(sim.state_dir) / "admin_token"
        token_file.write_text(self.admin_token)
        token_file.chmod(0o600)
        self.servers: list[OciSimServer] = []
        for i, region in enumerate(sim.regions):
            want = port + i if port else 0
            self.servers.append(OciSimServer((host, want), sim, region.name, self.admin_token))
        self.threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                                         name=f"ocisim-{s.region}")
                        for s in self.servers]
        for t in self.threads:
            t.start()

    @property
    def endpoints(self) -> dict[str, str]:
        return {s.region: f"http://{s.server_address[0]}:{s.server_address[1]}" for s in self.servers}

    @property
    def home(self) -> str:
        return self.endpoints[self.sim.regions[0].name]

    def stop(self) -> None:
        for s in self.servers:
            s.shutdown()
            s.server_close()
        self.sim.store.close()
