"""Discovery for the nightly: the volumes carrying the policy tag, and which of them are not this project's to
protect (temporaries, members of someone else's volume group)."""

from __future__ import annotations

from common.errors import OciInputError
from common.ids import ocid_kind, validate_ocid
from common.tags import GROUP_TAG, MANAGED_TAG, MANAGED_VALUE, TEMPORARY_TAG
from forms.params import flag, listed
from quiesce.spec import QUIESCE_TAG

from operators.backup_policy import protected
from operators.base import OciBaseOperator, oci_template_fields


class OciDiscoverVolumesOperator(OciBaseOperator):
    """Block and boot volumes carrying the policy tag, in the given compartments (and, with
    `include_subcompartments`, every compartment below them) and every AD.

    The project's own temporaries (restored test volumes) carry `airflow-temporary` and are `skipped`, as are the
    members of a volume group the project did not make (someone else's, or a test restore's): the plan names them.
    Tag values are trimmed.

    A volume that also carries `backup-group` names its group (None otherwise); one carrying `backup-group`
    without the policy tag is not protected, and a warning says so.

    XCom: a list, one dict per volume: volume_id, kind, display_name, policy, group, compartment_id,
    availability_domain, size_in_gbs, region, tag_values (the two tags as written), skipped (only on a volume not
    to protect: why).

    :param compartment_ids: the compartments to search: a list of OCIDs, or one comma-separated string (templated)
    :param tag_key: the freeform tag whose value names a volume's backup policy (empty: ``default``) (templated)
    :param include_subcompartments: also search every compartment below the given ones (templated)
    """

    template_fields = oci_template_fields("compartment_ids", "tag_key", "include_subcompartments")

    def __init__(self, *, compartment_ids: list[str] | str, tag_key: str = "backup-policy",
                 include_subcompartments: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.compartment_ids = compartment_ids
        self.tag_key = tag_key
        self.include_subcompartments = include_subcompartments

    def validate_inputs(self) -> None:
        self.compartment_ids = listed(self.compartment_ids)
        if not self.compartment_ids:
            raise OciInputError("compartment_ids: at least one compartment OCID")
        for i, comp in enumerate(self.compartment_ids):
            validate_ocid(comp, f"compartment_ids[{i}]")
        if not self.tag_key or not isinstance(self.tag_key, str):
            raise OciInputError(f"tag_key {self.tag_key!r}: a freeform tag key")
        self.include_subcompartments = flag(self.include_subcompartments, "include_subcompartments")

    def execute_step(self, context) -> list[dict]:
        found: list[dict] = []
        compartments = self.hook.compartment_tree(self.compartment_ids, self.include_subcompartments)
        if len(compartments) > len(self.compartment_ids):
            self.log.info("scanning %d compartments (%d below the configured ones)", len(compartments),
                          len(compartments) - len(self.compartment_ids))
        groups: dict[str, str | None] = {}  # volume group id -> why its volumes are not ours to plan (None: ours)
        for comp in compartments:
            for vol in self.hook.volumes_in(comp, self.region):
                tags = vol.freeform_tags or {}
                if tags.get(GROUP_TAG) and self.tag_key not in tags and not tags.get(TEMPORARY_TAG):
                    self.log.warning("%s (%s): has %s=%r but no %s tag, so it is not protected", vol.display_name,
                                     vol.id, GROUP_TAG, tags[GROUP_TAG], self.tag_key)
                if self.tag_key not in tags or vol.lifecycle_state != "AVAILABLE":
                    continue
                group = (tags.get(GROUP_TAG) or "").strip() or None
                item = {"volume_id": vol.id, "kind": ocid_kind(vol.id), "display_name": vol.display_name,
                        "policy": (tags[self.tag_key] or "").strip() or "default", "group": group,
                        "quiesce": (tags.get(QUIESCE_TAG) or "").strip() or None,
                        "compartment_id": vol.compartment_id,
                        "availability_domain": vol.availability_domain, "size_in_gbs": vol.size_in_gbs,
                        "region": self.hook.region,
                        # as written on the volume, for the plan's check of near-identical values
                        "tag_values": {self.tag_key: tags[self.tag_key], GROUP_TAG: tags.get(GROUP_TAG)}}
                skipped = self.not_ours_to_plan(vol, tags, groups)
                if skipped:
                    self.log.info("not planning %s (%s): %s", vol.display_name, vol.id, skipped)
                    item["skipped"] = skipped
                found.append(item)
        self.log.info("discovered %d tagged volumes: %s", len(protected(found)),
                      [v["display_name"] for v in protected(found)])
        return found

    def not_ours_to_plan(self, vol, tags: dict, groups: dict[str, str | None]) -> str | None:
        """Why a tagged volume must not be planned, or None. A test restore carries the temporary marker (and
        the tags of what it was restored from); a volume in a volume group this project did not make (someone
        else's, or a test restore's) cannot join the group its tag names, and backing it up would back up a
        test volume as production."""
        if tags.get(TEMPORARY_TAG):
            return f"a temporary of this project ({TEMPORARY_TAG})"
        group_id = getattr(vol, "volume_group_id", None)
        if not group_id:
            return None
        if group_id not in groups:
            group = self.hook.get_resource(group_id, self.region)
            gtags = group.freeform_tags or {}
            if gtags.get(TEMPORARY_TAG):
                groups[group_id] = (f"a member of volume group {group.display_name!r} ({group_id}), a test restore "
                                    f"of this project")
            elif gtags.get(MANAGED_TAG) != MANAGED_VALUE or not gtags.get(GROUP_TAG):
                groups[group_id] = (f"a member of volume group {group.display_name!r} ({group_id}), which this "
                                    f"project did not make; a volume is in one volume group at most")
            else:
                groups[group_id] = None
        return groups[group_id]
