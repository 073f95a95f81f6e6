"""Per-user IAM denials, so tests can take one permission away: "deny user U the verb V on resource family F".

OCI's verbs are cumulative, inspect < read < use < manage, and an operation needs one verb on one resource type
(IAM policy reference: "Verbs", and the per-service details for Core Services, Object Storage and Work Requests).
Denying a user verb V on a family leaves the verbs below V: deny `read volume-family` and ListVolumes (inspect)
still answers, GetVolume (read) and CreateVolumeBackup (manage) do not. A refused call answers as OCI answers a
call its policies do not allow: 404 NotAuthorizedOrNotFound, the same as for a resource that does not exist (so
a caller learns nothing about resources it may not see). Refused calls are not counted in the request counters:
they change nothing and never reach the service.

ocisim's simplifications (OCI's per-operation tables are finer): the verb an operation needs comes from its name
(List: inspect; Get and Head: read; Update, Attach, Detach and InstanceAction: use; anything else that changes:
manage) and its family from the nouns in it (below). ListRegions, GetNamespace, GetTenancy and
ListRegionSubscriptions need no policy, as on OCI. Denials live in memory: a restart or reset forgets them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .errors import not_found

VERBS = ("inspect", "read", "use", "manage")
FAMILIES = ("volume-family", "instance-family", "virtual-network-family", "object-family",
            "instance-agent-command-family", "work-requests", "compartments")
NO_POLICY = ("ListRegions", "GetNamespace", "GetTenancy", "ListRegionSubscriptions")
# (noun in the operation name, family): the first that matches wins, so the longer nouns come first.
NOUNS = (("AgentCommand", "instance-agent-command-family"), ("ObjectStorageWorkRequest", "object-family"),
         ("WorkRequest", "work-requests"), ("VnicAttachment", "instance-family"),
         ("VolumeAttachment", "instance-family"), ("Vnic", "virtual-network-family"),
         ("Subnet", "virtual-network-family"), ("Vcn", "virtual-network-family"), ("Image", "instance-family"),
         ("Instance", "instance-family"), ("Shape", "instance-family"), ("Volume", "volume-family"),
         ("Backup", "volume-family"), ("Bucket", "object-family"), ("Object", "object-family"),
         ("Multipart", "object-family"), ("Preauthenticated", "object-family"), ("Upload", "object-family"),
         ("Compartment", "compartments"), ("AvailabilityDomain", "compartments"))


def needs(operation: str) -> tuple[str, str] | None:
    """(verb, family) an operation needs; None when it needs no policy (or ocisim does not classify it)."""
    if operation in NO_POLICY:
        return None
    family = next((f for noun, f in NOUNS if noun in operation), None)
    if family is None:
        return None
    if operation.startswith("List"):
        verb = "inspect"
    elif operation.startswith(("Get", "Head")):
        verb = "read"
    elif operation.startswith(("Update", "Attach", "Detach", "InstanceAction")):
        verb = "use"
    else:
        verb = "manage"
    return verb, family


@dataclass(frozen=True)
class Denial:
    user_id: str
    verb: str
    family: str

    def refuses(self, user_id: str, verb: str, family: str) -> bool:
        return user_id == self.user_id and family == self.family and VERBS.index(verb) >= VERBS.index(self.verb)


class Policies:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._denials: list[Denial] = []

    def deny(self, user_id: str, verb: str, family: str) -> Denial:
        from .errors import invalid

        if verb not in VERBS:
            raise invalid(f"verb '{verb}': one of {', '.join(VERBS)}")
        if family not in FAMILIES:
            raise invalid(f"family '{family}': one of {', '.join(FAMILIES)}")
        if not user_id:
            raise invalid("user_id: required")
        denial = Denial(user_id, verb, family)
        with self._lock:
            self._denials.append(denial)
        return denial

    def listed(self) -> list[dict]:
        with self._lock:
            return [vars(d) for d in self._denials]

    def clear(self) -> None:
        with self._lock:
            self._denials.clear()

    def check(self, key_id: str, operation: str) -> None:
        """404 NotAuthorizedOrNotFound when a denial covers what `operation` needs, for the key's user."""
        wanted = needs(operation)
        if wanted is None or not self._denials:
            return
        parts = key_id.split("/")
        user_id = parts[1] if len(parts) == 3 else key_id
        with self._lock:
            if any(d.refuses(user_id, *wanted) for d in self._denials):
                raise not_found()
