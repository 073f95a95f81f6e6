"""OciHook: every service hook in one class, for users' code and the checks that span services.

The connection, auth, clients, retries and waiting are OciBaseHook's (hooks/base.py); each service hook adds its
calls on top (compute, block storage, object storage, identity). OciHook combines them with the checks that
read several services: what a request refers to (references.py), what a run may do (permissions.py) and bulk
removal (removals.py). Airflow knows the connection type from oci_provider/, which names this class.
"""

from __future__ import annotations

from hooks.block_storage import OciBlockStorageHook
from hooks.compute import OciComputeHook
from hooks.identity import OciIdentityHook
from hooks.object_storage import OciObjectStorageHook
from hooks.permissions import OciPermissionChecks
from hooks.references import OciReferenceChecks
from hooks.removals import OciRemovalMethods


class OciHook(OciReferenceChecks, OciRemovalMethods, OciPermissionChecks, OciComputeHook, OciBlockStorageHook,
              OciObjectStorageHook, OciIdentityHook):
    """Connection `oci_default` (conn_type `oci`); extras choose the auth mode (see README)."""
