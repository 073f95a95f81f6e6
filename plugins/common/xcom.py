"""Reading an XCom that a trigger pushed when it ended its task (OciWaitTrigger with `end_task`).

Airflow 3.3 stores those (TaskSuccessEvent xcoms, pushed by the triggerer through the ORM) JSON-encoded a second
time, so a task pulling one gets the JSON text (`'{"backup_id": ...}'`, `'"ocid1..."'`), not the value a worker's
push gives. Pulls that may meet one go through `xcom_value`: every OCI operator's XComArg arguments
(OciTaskMixin.render_template) and the report."""

from __future__ import annotations

import json
from typing import Any


def xcom_value(value: Any) -> Any:
    """The value as the task pushed it: a JSON object, array or string left as text is decoded, anything else
    kept (an OCID, a name or a path never starts with `{`, `[` or `"`)."""
    if isinstance(value, str) and value[:1] in ("{", "[", '"'):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
