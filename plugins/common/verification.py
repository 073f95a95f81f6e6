"""The verification levels' rules on their inputs, written once (docs/architecture.md, "Verified restores"): which
levels exist, and what each level needs given: the verifier instance at `script`, the subnet of the test
instances at `boot`. The nightly's configuration check (workflows/nightly.py), its preflight
(operators/backup_plan.py) and the verify operators (operators/verify.py, group_restore.py) call these; whether
the instance and the subnet exist and are usable is the hook's check (hooks/references.py: `check_verifier`,
`check_subnet`).
"""

from __future__ import annotations

from typing import Any

from common.errors import OciInputError
from common.ids import validate_ocid
from common.tags import VERIFIED_LEVELS


def check_level(level: Any, field: str = "verification_level", optional: bool = False) -> str | None:
    """A verification level (`api`, `boot` or `script`); with `optional`, None too (no test restores)."""
    if optional and level is None:
        return None
    if level not in VERIFIED_LEVELS:
        raise OciInputError(f"{field} {level!r}: one of {VERIFIED_LEVELS}" + (" or None" if optional else ""))
    return level


def check_level_inputs(level: str | None, verifier_instance_id: Any, subnet_id: Any, *, boots: bool = True,
                       ids: bool = True) -> None:
    """What `level` needs given: at `script` the verifier instance (which attaches the restored volumes and runs
    the check through Run Command), at `boot` the subnet the test instances boot in (when any volume checked is a
    boot volume: `boots`). With `ids`, each must also be an OCID of its kind.

    :param level: the verification level; None or `api`: nothing needed
    :param verifier_instance_id: the verifier instance's OCID
    :param subnet_id: the test instances' subnet's OCID
    :param boots: whether a boot volume is checked at this level (False: the subnet is not needed, or not known yet
        to be: the nightly's configuration is checked before discovery)
    :param ids: also check the OCIDs' shape and kind (False: only that they are given)
    """
    if level == "script":
        if not verifier_instance_id:
            raise OciInputError("verifier_instance_id: required for the script verification level")
        if ids:
            validate_ocid(verifier_instance_id, "verifier_instance_id", "instance")
    if level == "boot" and boots:
        if not subnet_id:
            raise OciInputError("subnet_id: required for the boot verification level (test instances boot in it)")
        if ids:
            validate_ocid(subnet_id, "subnet_id", "subnet")
