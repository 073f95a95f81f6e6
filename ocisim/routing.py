"""Requests, responses and the route table type every service module fills in."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from .errors import OciError, invalid
from .faults import Injected
from .serialize import from_wire, to_wire


@dataclass
class Request:
    method: str
    target: str  # raw request target, as signed
    headers: dict  # lower-case names
    body: bytes
    region: str
    params: dict = field(default_factory=dict)
    operation: str = ""
    injected: Injected = field(default_factory=Injected)  # the faults armed for this call (server.py)

    @property
    def path(self) -> str:
        return unquote(urlsplit(self.target).path)

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)

    def q(self, name: str, default=None):
        values = self.query.get(name)
        return values[0] if values else default

    def q_all(self, name: str) -> list[str]:
        return self.query.get(name, [])

    def q_int(self, name: str, default: int | None = None) -> int | None:
        value = self.q(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError as exc:
            raise invalid(f"Query parameter '{name}' must be an integer.") from exc

    def json(self) -> dict:
        if not self.body:
            return {}
        try:
            return from_wire(json.loads(self.body))
        except ValueError as exc:
            raise invalid("The request body is not valid JSON.") from exc


@dataclass
class Response:
    status: int = 200
    body: object = None  # dict/list (JSON, serialised camelCase) or bytes (raw)
    headers: dict = field(default_factory=dict)

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes | bytearray):
            return bytes(self.body)
        return json.dumps(to_wire(self.body)).encode()


Handler = Callable[["object", Request], Response | dict | list | None]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    operation: str
    handler: Handler

    @property
    def pattern(self) -> re.Pattern:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template)
        return re.compile(f"^{regex}$")


class Router:
    def __init__(self, routes: list[Route]):
        self._routes = [(r, r.pattern) for r in routes]
        self._apis = {r.template.split("/")[1] for r in routes}  # "20160918", "n", ...

    def unmatched(self, method: str, path: str) -> OciError:
        """An API path ocisim does not serve is an operation it does not implement: 501 NotImplemented naming
        it (a 404 would let `wait_until(..., succeed_on_not_found=True)` report success). Paths outside every
        API stay 404, as OCI answers them."""
        if path.split("/")[1] not in self._apis:
            return OciError(404, "NotFound", f"Unknown resource path {method} {path}.")
        name = operation_name(method, path)
        return OciError(501, "NotImplemented", f"ocisim does not implement the operation {name} ({method} {path}).")

    def match(self, method: str, path: str) -> tuple[Route, dict] | None:
        for route, pattern in self._routes:
            if route.method == method:
                m = pattern.match(path)
                if m:
                    return route, {k: unquote(v) for k, v in m.groupdict().items()}
        return None


def page(items: list, req: Request, default_limit: int = 100) -> Response:
    """OCI paging: `limit` and an opaque `page` token in, `opc-next-page` out."""
    limit = req.q_int("limit", default_limit) or default_limit
    start = int(req.q("page") or 0)
    chunk = items[start:start + limit]
    headers = {"opc-next-page": str(start + limit)} if start + limit < len(items) else {}
    return Response(200, chunk, headers)


def sort(items: list[dict], req: Request, default_by: str = "TIMECREATED", default_order: str | None = None) -> list:
    by = (req.q("sortBy") or default_by).upper()
    order = (req.q("sortOrder") or default_order or ("ASC" if by == "DISPLAYNAME" else "DESC")).upper()
    key = "display_name" if by == "DISPLAYNAME" else "time_created"
    return sorted(items, key=lambda r: (r.get(key) or ""), reverse=order == "DESC")


def filtered(items: list[dict], req: Request, **query_to_field: str) -> list[dict]:
    """Keep items whose field equals each given query parameter (e.g. lifecycleState='lifecycle_state')."""
    for qname, fname in query_to_field.items():
        wanted = req.q(qname)
        if wanted is not None:
            items = [i for i in items if str(i.get(fname)) == wanted]
    return items


NOUNS = {"n": "Namespace", "b": "Bucket", "o": "Object", "u": "MultipartUpload", "p": "PreauthenticatedRequest",
         "l": "ObjectLifecyclePolicy", "r": "ReplicationPolicy"}


def operation_name(method: str, path: str) -> str:
    """OCI's operation name by its REST convention: GET /volumes → ListVolumes, PUT /volumes/{id} →
    UpdateVolume, POST /volumeBackups/{id}/actions/copy → CopyVolumeBackup, POST /n/{ns}/b/{b}/actions/copyObject
    → CopyObject."""
    segs = [p for p in path.split("/") if p]
    object_storage = bool(segs) and segs[0] == "n"
    if segs and not object_storage:
        segs = segs[1:]  # the API version
    elif len(segs) > 6 and segs[4] in ("o", "u"):
        segs = segs[:6]  # an object name holds slashes
    if not segs:
        return f"{method} {path}"
    if "actions" in segs[:-1]:
        i = segs.index("actions")
        action = segs[i + 1]
        action = action[:1].upper() + action[1:]
        if object_storage:  # copyObject, renameObject
            return action
        verb, rest = re.match(r"^([A-Z][a-z]*)(.*)$", action).groups()  # changeCompartment
        return verb + _noun(segs[max(0, i - 2)]) + rest
    item = len(segs) % 2 == 0
    noun = _noun(segs[-2] if item else segs[-1])
    if method == "GET":
        return f"Get{noun}" if item else f"List{noun}s"
    verb = {"HEAD": "Head", "POST": "Update" if item else "Create", "PUT": "Update", "PATCH": "Update",
            "DELETE": "Delete"}.get(method, method.title())
    return verb + noun


def _noun(collection: str) -> str:
    if collection in NOUNS:
        return NOUNS[collection]
    noun = collection[:1].upper() + collection[1:]
    if noun.endswith("ies"):
        return noun[:-3] + "y"
    return noun[:-1] if noun.endswith("s") else noun
