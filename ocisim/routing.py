"""Requests, responses and the route table type every service module fills in."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from .errors import invalid
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
