"""Route tables by service, with thin handlers: parse the request, call the backend, return a dict."""

from __future__ import annotations

from . import agent, blockstorage, compute, identity, objectstorage, workrequests

ROUTES = [
    *identity.ROUTES,
    *workrequests.ROUTES,
    *compute.ROUTES,
    *blockstorage.ROUTES,
    *agent.ROUTES,
    *objectstorage.ROUTES,
]
