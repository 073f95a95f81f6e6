"""OciIdentityHook: Identity calls (compartments) on the base hook. The tenancy, its regions and availability
domains every service needs are the base's (hooks/base.py)."""

from __future__ import annotations

from hooks.base import OciBaseHook


class OciIdentityHook(OciBaseHook):
    """Identity: the compartment tree a run scans."""

    def compartment_tree(self, compartment_ids: list[str], include_subcompartments: bool = True) -> list[str]:
        """The given compartments and, with `include_subcompartments`, every ACTIVE compartment below them, in
        order and once each. OCI walks a subtree only from the root (compartmentIdInSubtree needs the tenancy),
        so it is one listing of the whole tenancy (identity lives in the home region), then a walk down."""
        if not include_subcompartments:
            return list(dict.fromkeys(compartment_ids))
        every = self.list_all(
            self.get_client("identity").list_compartments, self.tenancy_id, compartment_id_in_subtree=True,
            access_level="ACCESSIBLE", lifecycle_state="ACTIVE")
        children: dict[str, list[str]] = {}
        for comp in every:
            children.setdefault(comp.compartment_id, []).append(comp.id)
        found: dict[str, None] = {}
        todo = list(reversed(compartment_ids))
        while todo:
            comp = todo.pop()
            if comp not in found:
                found[comp] = None
                todo += reversed(children.get(comp, []))
        return list(found)
