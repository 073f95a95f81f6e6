"""Retries: the one opc-retry-token of a create, the budget a broken service can hold a task for, and the guard on
every SDK client (a create's body folded into its token; a 4xx no retry can fix fails the task at once)."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from common.errors import bounded


def retry_token(dag_id: str, run_id: str, task_id: str, map_index: int = -1, purpose: str = "",
                request: Any = None) -> str:
    """The one opc-retry-token: the same for every try of one task instance, so a retry adopts what an earlier
    try made (OCI keeps tokens 24 h); `purpose` separates several creates within one task. With `request`, a
    digest of it is folded in, so a changed request gets a new token instead of 409 InvalidatedRetryToken (the
    hook folds every create's body in this way: `fold_request`). 64 chars max."""
    raw = "\x1f".join([dag_id, run_id, task_id, str(map_index), purpose])
    token = hashlib.sha256(raw.encode()).hexdigest()[:64]
    return fold_request(token, request) if request is not None else token


def request_digest(request: Any) -> str:
    """A stable digest of a request body (an SDK model, a dict, a list): what identifies the thing created."""
    if hasattr(request, "swagger_types") or isinstance(request, (list, tuple)):
        import oci

        request = oci.util.to_dict(request)
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


def fold_request(token: str, request: Any) -> str:
    """`token` bound to this request: the same request keeps it (a retry adopts), another gets another."""
    return hashlib.sha256(f"{token}\x1f{request_digest(request)}".encode()).hexdigest()[:64]


def next_token(token: str, failed_id: str) -> str:
    """The token after a create whose resource or work request FAILED: a retry must not adopt that failure."""
    return hashlib.sha256(f"{token}\x1ffailed\x1f{failed_id}".encode()).hexdigest()[:64]


# -- retries ------------------------------------------------------------------------------------------------
# A retry cannot fix these: bad request, not authenticated, not authorized or not found, wrong method, too large,
# URI too long, unprocessable. They fail the task at once (no Airflow task retries). 409 IncorrectState, 429, 5xx
# and timeouts are retried by the SDK, then by Airflow.
FAIL_FAST_STATUSES = frozenset({400, 401, 403, 404, 405, 411, 413, 414, 422})

@dataclass(frozen=True)
class RetryBudget:
    """How long a broken service can hold one task: the SDK retries a failing call (429, 5xx, timeouts,
    409 IncorrectState) up to `sdk_attempts` times within `sdk_seconds`; Airflow then retries the task
    `task_retries` times, `task_retry_delay` seconds apart. `bound_seconds` is the product, stated in reports."""

    sdk_attempts: int = 6
    sdk_seconds: float = 60.0
    task_retries: int = 1
    task_retry_delay: float = 30.0

    @property
    def bound_seconds(self) -> float:
        return (self.task_retries + 1) * self.sdk_seconds + self.task_retries * self.task_retry_delay

    def task_args(self) -> dict:
        """`retries` and `retry_delay` for a DAG's default_args."""
        return {"retries": self.task_retries, "retry_delay": timedelta(seconds=self.task_retry_delay)}

    def describe(self) -> str:
        return (f"a failing OCI call is retried for at most {self.sdk_seconds:.0f}s ({self.sdk_attempts} attempts) "
                f"per try, {self.task_retries + 1} tries {self.task_retry_delay:.0f}s apart: a broken service fails "
                f"a task within {self.bound_seconds / 60:.1f} min; 400/401/403/404 fail at once")


RETRY_BUDGET = RetryBudget()

_refused_class: type | None = None


def refused_error(err, operation: str | None = None):
    """OciRequestRefused for a ServiceError a retry cannot fix: still a ServiceError (code that handles a 404
    keeps working), and an AirflowFailException (the task fails without retries), with a bounded message."""
    global _refused_class
    if _refused_class is None:
        import oci
        from airflow.sdk.exceptions import AirflowFailException

        class OciRequestRefused(oci.exceptions.ServiceError, AirflowFailException):
            def __str__(self) -> str:
                return self.summary

        OciRequestRefused.__qualname__ = OciRequestRefused.__name__
        OciRequestRefused.__module__ = "common.errors"
        _refused_class = OciRequestRefused
    new = _refused_class.__new__(_refused_class)
    new.__dict__.update(err.__dict__)
    operation = operation or getattr(err, "operation_name", None) or "an OCI call"
    facts = {"operation_name": operation, "status": err.status, "code": err.code,
             "message": bounded(err.message, 400), "opc-request-id": getattr(err, "request_id", None)}
    new.summary = f"{operation}: OCI answered {err.status} {err.code}, not retried (a retry cannot fix a " \
                  f"{err.status}): {facts}"
    new.args = (new.summary,)
    return new


def guard_client(client) -> Any:
    """Every call of this SDK client goes through one wrapper of `call_api` (inside the SDK's retry loop):
    a create's opc-retry-token gets the digest of its body folded in, and a 4xx no retry can fix is raised as
    OciRequestRefused."""
    import oci

    base = client.base_client
    call_api = base.call_api

    @functools.wraps(call_api)
    def guarded(*args, **kwargs):
        headers = kwargs.get("header_params")
        body = kwargs.get("body")
        if headers and headers.get("opc-retry-token") and body is not None and not hasattr(body, "read"):
            kwargs["header_params"] = {**headers,
                                       "opc-retry-token": fold_request(headers["opc-retry-token"], body)}
        try:
            return call_api(*args, **kwargs)
        except oci.exceptions.ServiceError as err:
            if err.status in FAIL_FAST_STATUSES and type(err) is not _refused_class:
                raise refused_error(err, kwargs.get("operation_name")) from None
            raise

    base.call_api = guarded
    return client
