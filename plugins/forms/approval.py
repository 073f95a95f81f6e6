"""The approval part of a request (who may approve, how long to wait) and of its answer (who decided, when,
why): pure functions, for the approval gates (operators/approval.py) and the reports."""

from __future__ import annotations

from typing import Any

from common.errors import OciInputError

APPROVE = "Approve"  # Airflow's ApprovalOperator.APPROVE
# What an approver may say about the decision (shown in the report and the run's note)
REASON = "reason"
DEFAULT_TIMEOUT_MINUTES = 60.0
MAX_TIMEOUT_MINUTES = 7 * 24 * 60.0


def approval_users(value: Any, field: str = "approvers") -> list[dict[str, str]]:
    """The users a request names, as Airflow's HITL `assigned_users` (id and name: the auth manager's user id, for
    Airflow's simple auth manager the user name). Empty: anyone allowed to answer the run's required actions."""
    if value in (None, "", []):
        return []
    names = [v.strip() for v in value.split(",")] if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) and n.strip() for n in names):
        raise OciInputError(f"{field} {str(value)[:80]!r}: a list of Airflow user ids, like [\"alice\"]")
    bad = [n for n in names if len(n) > 128 or any(c.isspace() or c in "<>\"'`" for c in n.strip())]
    if bad:
        raise OciInputError(f"{field} {bad[0]!r}: an Airflow user id (no spaces or quotes, at most 128 characters)")
    return [{"id": n.strip(), "name": n.strip()} for n in dict.fromkeys(names)]


def approval_timeout(value: Any, field: str = "approval_timeout_minutes") -> float:
    """Minutes a gate waits for an answer before the run fails with nothing changed."""
    if value in (None, ""):
        return DEFAULT_TIMEOUT_MINUTES
    try:
        minutes = float(value)
    except (TypeError, ValueError):
        raise OciInputError(f"{field} {value!r}: a number of minutes") from None
    if not 0.1 <= minutes <= MAX_TIMEOUT_MINUTES:
        raise OciInputError(f"{field} {value!r}: from 0.1 to {MAX_TIMEOUT_MINUTES:.0f} minutes (7 days)")
    return minutes


def decision(event: dict | None) -> dict | None:
    """A gate's XCom as a report reads it: approved, by whom, when, and the reason (None: no answer yet or the
    gate was off)."""
    if not event or not event.get("chosen_options"):
        return None
    by = event.get("responded_by_user") or {}
    at = event.get("responded_at")
    return {"approved": event["chosen_options"][0] == APPROVE,
            "by": (by.get("name") or by.get("id")) if isinstance(by, dict) else str(by),
            "at": at.isoformat() if hasattr(at, "isoformat") else at,
            "reason": (event.get("params_input") or {}).get(REASON)}
