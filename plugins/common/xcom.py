"""Reading an XCom that a trigger pushed when it ended its task (OciWaitTrigger with `end_task`).

Airflow 3.3 stores those (TaskSuccessEvent xcoms, pushed by the triggerer through the ORM) JSON-encoded a second
time, so a task pulling one gets the JSON text (`'{"backup_id": ...}'`, `'"ocid1..."'`), not the value a worker's
push gives. Pulls that may meet one go through `xcom_value`: every OCI operator's XComArg arguments
(OciTaskMixin.render_template), the report, and what reads a mapped task's XComs itself (the emergency clone's
`plan_launch` and attach arguments: a mapped task's XComs arrive as a sequence, decoded element by element)."""

from __future__ import annotations

import json
from typing import Any

VERIFY_XCOM_KEY = "verification"  # OciVerifyRestoreOperator: the check's result, passed or not
TEARDOWN_XCOM_KEY = "teardown"  # OciCleanupTestResourcesOperator: what it deleted and what it left
RETENTION_PLAN_KEY = "retention_plan"  # OciApprovePruneOperator: the backups retention may delete, asked or not
PRUNE_XCOM_KEY = "prune"  # OciPruneBackupsOperator: what retention deleted and what it could not


def xcom_value(value: Any) -> Any:
    """The value as the task pushed it: a JSON object, array or string left as text is decoded, anything else
    kept (an OCID, a name or a path never starts with `{`, `[` or `"`)."""
    if isinstance(value, str) and value[:1] in ("{", "[", '"'):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
