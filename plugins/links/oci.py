"""One console link for every OCI operator: the operator notes the URL at run time (hook.console_url), Airflow
stores it in XCom under the link's key when the task ends, and the UI reads it from there, so serialized DAGs show
it without importing the operator."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey


class OciConsoleLink(BaseOperatorLink):
    name = "OCI Console"

    @property
    def xcom_key(self) -> str:
        return "_link_OciConsoleLink"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        noted = getattr(operator, NOTED, None)
        if noted is not None:  # this process's task: no round trip to the API server
            return noted
        from airflow.sdk.bases.xcom import BaseXCom

        return BaseXCom.get_value(ti_key=ti_key, key=self.xcom_key) or ""

    @classmethod
    def persist(cls, context, url: str) -> None:
        """Note the URL on the running task. The task runner pushes every extra link's `get_link` to XCom when
        the task ends (deferring too), so a push here would write it twice and cost two more round trips per
        task, a tenth of a nightly's per-volume calls."""
        setattr(context["task"], NOTED, url)


NOTED = "_oci_console_url"  # the running task's attribute holding its console URL
