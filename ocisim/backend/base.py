"""What every backend shares: making resources, reading them region-scoped, durations that grow with size."""

from __future__ import annotations

from ..clock import iso
from ..errors import OciError, invalid, missing, not_found
from ..ids import new_ocid
from ..state import State

GB = 1 << 30
MIB = 1 << 20
# The tag namespaces every tenancy has (keys lower-case: OCI matches tag names case-insensitively). ocisim has
# no API to create others, so any other namespace is unknown.
TAG_NAMESPACES = {"oracle-tags": {"createdby", "createdon"}}


class Backend:
    """One service's rules over the shared state. A service that calls another takes it as a constructor
    argument, so backends never reach for each other through the Sim."""

    def __init__(self, state: State):
        self.state = state
        self.store = state.store
        self.content = state.content

    def new(self, kind: str, ocid_type: str, region: str, **fields) -> dict:
        """A fresh resource dict (not yet stored): id, time_created, and the private kind/region."""
        res = {"id": new_ocid(ocid_type, self.state.region(region).key), "time_created": iso(self.state.now()),
               "_kind": kind, "_region": region}
        res.update(fields)
        return res

    def get(self, kind: str, resource_id: str, region: str) -> dict:
        return self.store.get(kind, resource_id, region)

    def compartment(self, compartment_id: str | None) -> str:
        """The compartment must exist: OCI answers 404 for an unknown one, 400 when it is missing."""
        if not compartment_id:
            raise missing("compartmentId")
        found = self.store.find(compartment_id)
        if found is None or found["_kind"] not in ("compartment", "tenancy"):
            raise not_found("compartment")
        return compartment_id

    def check_references(self, details: dict, prefix: str = "") -> None:
        """Refuse what OCI refuses: defined tags in an unknown namespace or key, a `kmsKeyId` (ocisim has no
        Vault keys) and `nsgIds` (no network security groups), before anything is made."""
        for namespace, tags in (details.get("defined_tags") or {}).items():
            keys = TAG_NAMESPACES.get(str(namespace).lower())
            if keys is None:
                raise related_not_found(f"The following tag namespaces / keys are not authorized or not found: "
                                        f"TagNamespace {namespace} does not exist ({prefix}definedTags).")
            for key in tags or {}:
                if str(key).lower() not in keys:
                    raise related_not_found(f"The following tag namespaces / keys are not authorized or not found: "
                                            f"TagDefinition {namespace}.{key} does not exist ({prefix}definedTags).")
        if details.get("kms_key_id"):
            raise related_not_found(f"{prefix}kmsKeyId '{details['kms_key_id']}': the key is not authorized or not "
                                    f"found (ocisim has no Vault keys; leave kmsKeyId unset for Oracle-managed keys).")
        if details.get("nsg_ids"):
            raise related_not_found(f"{prefix}nsgIds {details['nsg_ids']}: network security group not authorized "
                                    f"or not found (ocisim has no network security groups).")

    def duration(self, base_seconds: float, size_bytes: int = 0, seconds_per_gb: float = 0.0) -> float:
        """Emulated seconds an operation takes: OCI's restores, backups and images grow with size."""
        return base_seconds + seconds_per_gb * size_bytes / GB

    def now_iso(self) -> str:
        return iso(self.state.now())


def whole_number(value) -> int | None:
    """An integer field as OCI's services read it: a JSON number, or a numeric string (the `oci` CLI sends
    `"60"` for --timeout-in-seconds 60); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    return None


def one_of(field: str, value, allowed) -> str:
    if value not in allowed:
        raise invalid(f"Invalid {field} '{value}'; must be one of {', '.join(sorted(allowed))}.")
    return value


def related_not_found(message: str) -> OciError:
    """OCI's answer for a reference to something that does not exist or is not yours."""
    return OciError(400, "RelatedResourceNotAuthorizedOrNotFound", message)
