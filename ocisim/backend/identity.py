"""Identity: the tenancy, compartments, availability domains and regions a client discovers first."""

from __future__ import annotations

from ..clock import iso
from ..errors import invalid, missing, not_found
from ..ids import new_ocid
from .base import Backend


class IdentityBackend(Backend):
    def tenancy(self) -> dict | None:
        found = self.store.list("tenancy")
        return found[0] if found else None

    def create_tenancy(self, name: str = "ocisim", home_region: str | None = None,
                       ads: tuple[str, ...] = ("AD-1", "AD-2", "AD-3")) -> dict:
        home = home_region or self.state.regions[0].name
        tenancy = {"id": new_ocid("tenancy"), "name": name, "description": "ocisim tenancy",
                   "home_region_key": self.state.region(home).key, "lifecycle_state": "ACTIVE",
                   "time_created": iso(self.state.now()), "_kind": "tenancy", "_region": home,
                   "_ads": list(ads), "_ad_prefix": "Uocm"}
        return self.store.put(tenancy)

    def create_compartment(self, parent_id: str, name: str, description: str = "") -> dict:
        comp = {"id": new_ocid("compartment"), "compartment_id": parent_id, "name": name,
                "description": description or name, "lifecycle_state": "ACTIVE", "is_accessible": True,
                "time_created": iso(self.state.now()), "freeform_tags": {}, "defined_tags": {},
                "_kind": "compartment", "_region": self.state.regions[0].name}
        return self.store.put(comp)

    def get_tenancy(self, tenancy_id: str) -> dict:
        """GetTenancy: only the caller's own tenancy exists."""
        tenancy = self.tenancy()
        if not tenancy or tenancy["id"] != tenancy_id:
            raise not_found("tenancy")
        return {"id": tenancy["id"], "name": tenancy["name"], "description": tenancy["description"],
                "home_region_key": tenancy["home_region_key"], "upi_idcs_compatibility_layer_endpoint": None,
                "freeform_tags": {}, "defined_tags": {}}

    def list_compartments(self, compartment_id: str | None, in_subtree: bool, access_level: str | None) -> list:
        """ListCompartments: the direct children of a compartment, or with compartmentIdInSubtree every
        compartment below the tenancy (OCI allows the subtree only from the root)."""
        if not compartment_id:
            raise missing("compartmentId")
        level = (access_level or "ANY").upper()
        if level not in ("ANY", "ACCESSIBLE"):
            raise invalid(f"Invalid accessLevel '{access_level}'; must be one of ANY, ACCESSIBLE.")
        self.compartment(compartment_id)
        tenancy = self.tenancy()
        if in_subtree and compartment_id != tenancy["id"]:
            raise invalid("compartmentIdInSubtree can only be true when compartmentId is the tenancy (the root "
                          "compartment).")
        found = self.store.list("compartment")
        if not in_subtree:
            found = [c for c in found if c["compartment_id"] == compartment_id]
        if level == "ACCESSIBLE":
            found = [c for c in found if c.get("is_accessible", True) and c["lifecycle_state"] == "ACTIVE"]
        return found

    def region_subscriptions(self, tenancy_id: str) -> list[dict]:
        """ListRegionSubscriptions: every emulated region is subscribed and READY."""
        tenancy = self.get_tenancy(tenancy_id)
        return [{"region_key": r.key, "region_name": r.name, "status": "READY",
                 "is_home_region": r.key == tenancy["home_region_key"]} for r in self.state.regions]

    def get_compartment(self, compartment_id: str) -> dict:
        res = self.store.get(("compartment", "tenancy"), compartment_id)
        if res["_kind"] == "tenancy":  # the tenancy is the root compartment
            return {**res, "compartment_id": res["id"], "is_accessible": True}
        return res

    def availability_domains(self, region: str, compartment_id: str) -> list[dict]:
        self.compartment(compartment_id)
        tenancy = self.tenancy()
        return [{"name": self.ad_name(region, ad), "id": f"ocid1.availabilitydomain.oc1..{region}{i}",
                 "compartment_id": tenancy["id"]}
                for i, ad in enumerate(tenancy["_ads"], start=1)]

    def ad_name(self, region: str, ad: str) -> str:
        """OCI's tenancy-specific AD name, e.g. 'Uocm:US-ASHBURN-AD-1'."""
        prefix = self.tenancy()["_ad_prefix"]
        return f"{prefix}:{region.rsplit('-', 1)[0].upper()}-{ad}"

    def ad_names(self, region: str) -> list[str]:
        return [self.ad_name(region, ad) for ad in self.tenancy()["_ads"]]

    def regions(self) -> list[dict]:
        return [{"key": r.key, "name": r.name} for r in self.state.regions]
