"""Key material never leaks. A run against a connection carrying `key_content`, whose tasks log at INFO and DEBUG
(operators, the hook, the SDK and urllib3 underneath) and fail after the hook was built (an OCI 404 and bad
input): no PEM body line of the private key may appear in the task output, the stdlib log records, the log
files, any XCom value of the run, the rendered template fields or the exception texts. And `common.masking.mask`
registers the key with Airflow's masker, whose default sensitive names miss `key_content` and `pass_phrase`, so
the worker's log redaction catches a careless line that prints it."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from tests.airflow_helpers import last_run_id, run_dag

DAG_ID = "test_op_misc_secrets"


def pem_body_lines(pem: str) -> list[str]:
    lines = [line.strip() for line in pem.strip().splitlines() if line.strip() and not line.startswith("-----")]
    assert len(lines) > 10
    return lines


def leaks(text: str, lines: list[str]) -> list[str]:
    """Key lines found in `text`, also where JSON or a repr escaped the newlines between them."""
    flat = text.replace("\\n", "\n").replace("\\/", "/")
    return [line for line in lines if line in flat]


def xcom_texts(run_id: str) -> str:
    from airflow import settings
    from airflow.models.xcom import XComModel

    with settings.Session() as session:
        rows = session.query(XComModel).filter_by(dag_id=DAG_ID, run_id=run_id).all()
        return "\n".join(f"{row.task_id}/{row.key}: {json.dumps(XComModel.deserialize_value(row), default=str)}"
                         for row in rows)


def rendered_fields_texts(run_id: str) -> str:
    from airflow import settings
    from airflow.models.renderedtifields import RenderedTaskInstanceFields

    with settings.Session() as session:
        rows = session.query(RenderedTaskInstanceFields).filter_by(dag_id=DAG_ID, run_id=run_id).all()
        return "\n".join(f"{row.task_id}: {json.dumps(row.rendered_fields, default=str)}" for row in rows)


def log_files_text() -> str:
    base = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    return "\n".join(p.read_text(errors="replace") for p in base.rglob("*") if p.is_file())


def test_key_content_appears_in_no_log_xcom_rendered_field_or_exception(airflow_oci, capfd, caplog):
    sim = airflow_oci
    key = json.loads(os.environ["AIRFLOW_CONN_OCI_DEFAULT"])["extra"]["key_content"]
    lines = pem_body_lines(key)
    missing_volume = "ocid1.volume.oc1.iad.aaaaaaaanotherenotherenothere"
    caplog.set_level(logging.DEBUG)
    capfd.readouterr()

    state, tasks = run_dag(DAG_ID, {"volume_id": sim.tenancy["volumes"]["data1"],
                                    "missing_volume_id": missing_volume})
    out, err = capfd.readouterr()
    run_id = last_run_id(DAG_ID)
    assert state == "failed"
    assert tasks == {"backup_volume": "success", "check_connection": "success",
                     "backup_missing_volume": "failed", "copy_to_the_same_region": "failed"}

    # What was searched holds what it should: the logs at INFO and DEBUG, both failures with their exceptions
    output = out + err
    assert "FULL backup ocid1.volumebackup" in output and "connection test: True Connected" in output
    assert "Traceback" in output and "'code': 'NotAuthorizedOrNotFound'" in output  # OCI's error, after the hook
    assert "OciInputError: destination_region 'us-ashburn-1': must differ from the source region" in output
    records = caplog.text  # stdlib records at DEBUG: the SDK's, urllib3's and ocisim's
    assert "POST /20160918/volumeBackups" in records
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    xcoms, rendered = xcom_texts(run_id), rendered_fields_texts(run_id)
    assert "backup_volume/return_value" in xcoms and "check_connection/return_value" in xcoms
    assert missing_volume in rendered

    found = {where: leaks(text, lines) for where, text in {
        "task output": output, "log records": records, "log files": log_files_text(), "xcom": xcoms,
        "rendered fields": rendered}.items()}
    assert found == {where: [] for where in found}
