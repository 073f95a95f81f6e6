"""The Airflow pool that OCI API work runs in: one name and size for the DAGs and for every stack that creates it
(`make up`, the distributed harness, docker-compose's init).

A pool bounds how many OCI tasks of all DAGs run at once, whatever the executor could run: OCI throttles each
tenancy (429 TooManyRequests), and a wave of creates is better queued by Airflow than retried by the SDK. A task
that waits deferred holds no slot, so the bound is on API work, not on waits. Tasks in a pool that does not exist
are never scheduled: create it before unpausing (`airflow pools set oci_api 16 ...`)."""

from __future__ import annotations

from common import config

POOL_NAME = config.API_POOL.default
POOL_SLOTS = config.API_POOL_SLOTS.default
DESCRIPTION = "OCI API work of the oci_* DAGs (size: OCI_API_POOL_SLOTS)"


def oci_api_pool() -> str:
    """The pool's name: `OCI_API_POOL`, default `oci_api`."""
    return config.API_POOL.value()


def oci_api_pool_slots() -> int:
    """The pool's size: `OCI_API_POOL_SLOTS`, default 16."""
    return config.API_POOL_SLOTS.value()


def pool_body() -> dict:
    """The pool as Airflow's REST API (`POST /api/v2/pools`) takes it."""
    return {"name": oci_api_pool(), "slots": oci_api_pool_slots(), "description": DESCRIPTION,
            "include_deferred": False}
