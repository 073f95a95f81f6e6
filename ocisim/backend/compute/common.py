"""What the compute backend's parts share: OCI's compute constants, launch options, generated names and the
work request every tracked compute operation starts."""

from __future__ import annotations

from ...clock import iso
from ...faults import Injected
from ...state import State
from ..base import Backend
from ..blockstorage import BlockStorageBackend
from ..identity import IdentityBackend
from ..objectstorage import ObjectStorageBackend
from ..workrequests import WorkRequestBackend

ACTIVE_ATTACHMENT = ("ATTACHING", "ATTACHED")

LAUNCH_OPTIONS = {
    "NATIVE": {"boot_volume_type": "PARAVIRTUALIZED", "firmware": "UEFI_64", "network_type": "VFIO",
               "remote_data_volume_type": "PARAVIRTUALIZED"},
    "PARAVIRTUALIZED": {"boot_volume_type": "PARAVIRTUALIZED", "firmware": "BIOS",
                        "network_type": "PARAVIRTUALIZED", "remote_data_volume_type": "PARAVIRTUALIZED"},
    "EMULATED": {"boot_volume_type": "ISCSI", "firmware": "BIOS", "network_type": "E1000",
                 "remote_data_volume_type": "ISCSI"},
    "ACCELERATEDPV": {"boot_volume_type": "PARAVIRTUALIZED", "firmware": "UEFI_64", "network_type": "ACCELERATEDPV",
                      "remote_data_volume_type": "PARAVIRTUALIZED"},
    "CUSTOM": {"boot_volume_type": "PARAVIRTUALIZED", "firmware": "BIOS", "network_type": "PARAVIRTUALIZED",
               "remote_data_volume_type": "PARAVIRTUALIZED"},
}


class ComputeBase(Backend):
    def __init__(self, state: State, identity: IdentityBackend, workrequests: WorkRequestBackend,
                 blockstorage: BlockStorageBackend, objectstorage: ObjectStorageBackend):
        super().__init__(state)
        self.identity = identity
        self.workrequests = workrequests
        self.blockstorage = blockstorage
        self.objectstorage = objectstorage

    def _work_request(self, operation: str, res: dict, took: float, fail=None,
                      injected: Injected | None = None) -> dict:
        kind = res["_kind"]
        path = {"image": "images", "instance": "instances", "volumeattachment": "volumeAttachments",
                "bootvolumeattachment": "bootVolumeAttachments"}[kind]
        return self.workrequests.start(
            operation, res["compartment_id"], res["_region"],
            [{"entity_type": kind, "identifier": res["id"], "entity_uri": f"/20160918/{path}/{res['id']}"}],
            took, fail=fail, injected=injected)


def default_name(kind: str, now: float) -> str:
    """OCI's generated display names, e.g. instance-20250101-1200."""
    stamp = iso(now)
    return f"{kind}-{stamp[0:4]}{stamp[5:7]}{stamp[8:10]}-{stamp[11:13]}{stamp[14:16]}"


def launch_options(launch_mode: str) -> dict:
    return {**LAUNCH_OPTIONS.get(launch_mode, LAUNCH_OPTIONS["NATIVE"]),
            "is_pv_encryption_in_transit_enabled": False, "is_consistent_volume_naming_enabled": True}


