"""Hourly: is every protected volume's newest verified backup within its RPO target? Mails each breach once and
its clearing once (docs/notifications.md).

Parse-time cost: Airflow and the project's operator module only; nothing here calls an API.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG
from common import config as settings
from common import pools
from forms.params import field
from notify.callbacks import on_run_failure, record_error
from operators.freshness import OciFreshnessWatchdogOperator

DOC = """
### Freshness watchdog

Every hour, one read of the catalogue the **OCI Protection** page reads (the nightly's compartments, tag key and
policies from its Params and Variable `oci_nightly_backup`): a protected volume whose newest verified backup is
older than its policy's RPO target (`verify_every_days`), or that has none, is a breach. A new breach is mailed
once (to the nightly's `notify_to`), and once more when it clears; the breaches already mailed are the Variable
`oci_freshness_watchdog_state`. It catches what the nightly's deadline cannot: the nightly paused or deleted,
the scheduler down for a day, a volume newly tagged.
"""

with DAG(
    "oci_freshness_watchdog",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    doc_md=DOC,
    tags=["oci", "backup", "scheduled", "watchdog"],
    on_failure_callback=on_run_failure,
    default_args={"owner": "platform", "retries": 1, "retry_delay": timedelta(minutes=5),
                  "execution_timeout": timedelta(minutes=30), "pool": pools.oci_api_pool(),
                  "on_failure_callback": record_error},
    params={"nightly_dag_id": field(settings.NIGHTLY_DAG_ID, "string", "Nightly DAG", "The DAG whose configuration "
                                    "(compartments, tag key, policies, notify_to) says what is protected and whom "
                                    "to mail. Example: oci_nightly_backup", "What to watch", minLength=1)},
) as dag:
    OciFreshnessWatchdogOperator(task_id="check_freshness", nightly_dag_id="{{ params.nightly_dag_id }}",
                                 oci_conn_id=settings.PROTECTION_CONN_ID.value())
