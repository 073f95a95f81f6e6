"""One console link for every OCI operator: the operator stores the URL at run time (hook.console_url), the
UI reads it back from XCom under the link's key, so serialized DAGs show it without importing the operator."""

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
        from airflow.sdk.bases.xcom import BaseXCom

        return BaseXCom.get_value(ti_key=ti_key, key=self.xcom_key) or ""

    @classmethod
    def persist(cls, context, url: str) -> None:
        context["ti"].xcom_push(key=cls().xcom_key, value=url)
