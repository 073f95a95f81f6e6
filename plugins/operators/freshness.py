"""The freshness watchdog as one task: read the catalogue the OCI Protection page reads, mail each RPO breach
once and its clearing once (notify/watchdog.py holds the rules; docs/notifications.md)."""

from __future__ import annotations

from operators.base import OciBaseOperator, oci_template_fields


class OciFreshnessWatchdogOperator(OciBaseOperator):
    """Mail when a protected volume's newest verified backup is older than its policy's RPO target
    (`verify_every_days`), once per breach, and once when it clears. Read-only towards OCI.

    What to look at and whom to tell are the nightly's configuration (its Params defaults, then its Variable):
    compartments, tag key, policies and the notify_* keys.

    XCom: breaches (by volume OCID), new, cleared, and the outcome of each notification.

    :param nightly_dag_id: the DAG whose configuration says what is protected and whom to mail (templated)
    """

    template_fields = oci_template_fields("nightly_dag_id")

    def __init__(self, *, nightly_dag_id: str = "oci_nightly_backup", **kwargs):
        super().__init__(**kwargs)
        self.nightly_dag_id = nightly_dag_id

    def execute_step(self, context) -> dict:
        import json

        from airflow.sdk import Variable
        from common.config import NIGHTLY_DEFAULTS, layered, parse_variable
        from forms.params import listed
        from notify.callbacks import base_url
        from notify.config import check_notify
        from notify.deliver import deliver
        from notify.watchdog import STATE_VARIABLE, breaches, changes, mails
        from protection.catalogue import Config, read_oci
        from protection.view import build

        variable = parse_variable(self.nightly_dag_id, Variable.get(self.nightly_dag_id, default=None))
        config = layered(NIGHTLY_DEFAULTS, variable, dag_id=self.nightly_dag_id)
        values = check_notify(config)
        catalogue = Config(listed(config["compartment_ids"] or []), config["tag_key"], config["policies"] or {})
        now = breaches(build(read_oci(self.hook, catalogue), {"runs": []}, catalogue))
        mailed = json.loads(Variable.get(STATE_VARIABLE, default="{}") or "{}")
        new, cleared = changes(mailed, now)
        outcomes = [line for mail in mails(new, cleared, base_url()) for line in deliver(mail, values)]
        for line in outcomes:
            self.log.info(line)
        # a breach counts as mailed even when the mail failed: the log says so, and the next hour would send
        # the same again every hour otherwise
        Variable.set(STATE_VARIABLE, json.dumps(now, sort_keys=True))
        self.log.info("%d breach(es): %d new, %d cleared", len(now), len(new), len(cleared))
        return {"breaches": now, "new": sorted(new), "cleared": sorted(cleared), "notifications": outcomes}
