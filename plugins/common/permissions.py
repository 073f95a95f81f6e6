"""Which statement of include/iam/policy.txt grants what a DAG needs: the resource types its reads and changes
touch, and the text of the statement to name when OCI answers 404 NotAuthorizedOrNotFound (pure; the reads
themselves are hooks/permissions.py).

OCI answers a call its policies do not allow exactly as it answers one for a resource that does not exist (404
NotAuthorizedOrNotFound), so a 404 proves a missing permission only for a resource known to exist: one a list
just showed, or one the request names and a list in the same compartment shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

POLICY_FILE = Path("iam") / "policy.txt"
# The resource type each statement of policy.txt grants, as it is spelled there ("... to <verb> <type> in ...").
RESOURCE_TYPES = ("compartments", "volume-family", "instances", "instance-images", "virtual-network-family", "vnics",
                  "buckets", "objects", "instance-agent-command-family", "work-requests")


@dataclass(frozen=True)
class Read:
    """One read that proves a permission: the OCI operation, the verb and resource type it needs, the resource
    it reads (an OCID or a compartment), and the SDK call that makes it."""

    operation: str
    verb: str
    resource_type: str
    resource: str
    call: object  # a callable of no arguments: the SDK call


def statements(policy_text: str) -> list[str]:
    """The statements of a policy file: its non-comment, non-blank lines."""
    return [line.strip() for line in policy_text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def statement_for(resource_type: str, policy_text: str) -> str:
    """The statement of the policy file that grants `resource_type`, verbatim (placeholders included)."""
    if resource_type not in RESOURCE_TYPES:
        raise ValueError(f"resource_type {resource_type!r}: one of {RESOURCE_TYPES}")
    found = [s for s in statements(policy_text) if f" {resource_type} in " in s and s.startswith("Allow <airflow>")]
    if not found:
        raise ValueError(f"no statement of {POLICY_FILE} grants {resource_type}")
    return found[0]


def missing_permission(read: Read, policy_text: str) -> str:
    """What a user reads when OCI refused `read` for want of a policy: the operation, the resource, the verb and
    type it needs, and the statement to add."""
    return (f"permission: OCI answered 404 NotAuthorizedOrNotFound to {read.operation} of {read.resource}, which "
            f"exists (it was just listed or named): the connection's user lacks '{read.verb} {read.resource_type}'. "
            f"include/{POLICY_FILE.as_posix()} grants it with: {statement_for(read.resource_type, policy_text)}")
