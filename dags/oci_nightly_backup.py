"""Nightly protection of tagged OCI boot and block volumes, with verified test restores.

Parse-time cost: this file imports only Airflow and the project's operator modules (which import the OCI SDK
inside their methods). What a run works on is resolved at run time (resolve_config); parsing reads only the
deployment settings of common/config.py (schedule, max_active_tasks, pool, polling).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, task, task_group
from common import config as settings
from common import pools
from notify.callbacks import on_run_failure, on_run_success, record_error, rpo_deadline
from operators.approval import OciApprovePruneOperator
from operators.backup_plan import (
    FULL_PLAN_KEY,
    OciPlanBackupsOperator,
    OciPlanGroupBackupsOperator,
    select_dr_copies,
    verify_on_worker,
)
from operators.backups import OciCopyBackupOperator, OciCreateBackupOperator
from operators.base import wait_settings
from operators.discovery import OciDiscoverVolumesOperator
from operators.group_restore import OciRestoreVolumeGroupOperator, OciVerifyGroupRestoreOperator
from operators.report import OciBackupReportOperator
from operators.retention import OciPruneBackupsOperator
from operators.run_config import config_task
from operators.verify import OciCleanupTestResourcesOperator, OciVerifyRestoreOperator
from operators.volume_groups import OciBackupVolumeGroupOperator
from operators.volumes import OciRestoreVolumeOperator
from reports.names import item_name, planned_name, volume_name
from workflows import nightly as workflow  # its form and rules

DAG_ID = settings.NIGHTLY_DAG_ID

DOC = """
### Nightly backup with verified test restores

Every boot and block volume tagged `backup-policy` (configurable) in the configured compartments is backed up,
FULL or INCREMENTAL by its policy; each new backup is restored to a temporary volume and verified, copied to its
policy's DR region, and retention prunes this DAG's expired backups. `report` gives each volume's RTO and RPO and
fails the run, naming the step, when any step failed. Configuration (later wins): the Params, the Variable
`oci_nightly_backup`, a manual trigger's conf. More: docs/dags.md and docs/nightly-backup.md in the repository.
"""


with DAG(
    DAG_ID,
    schedule=settings.NIGHTLY_SCHEDULE.value(),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    # queued + running task instances of a run; deferred waits do not count (docs/nightly-backup.md, "Concurrency")
    max_active_tasks=settings.NIGHTLY_MAX_ACTIVE_TASKS.value(),
    dagrun_timeout=timedelta(hours=8),
    doc_md=DOC,
    tags=["oci", "backup", "scheduled"],
    # one mail (and webhook message) per failed run, naming what failed (docs/notifications.md)
    on_failure_callback=on_run_failure,
    on_success_callback=on_run_success,  # the opt-in summary (notify_summary)
    deadline=rpo_deadline(DAG_ID),  # "RPO at risk" while a run is still running
    default_args={"owner": "platform", "retries": 2, "retry_delay": timedelta(minutes=2),
                  "on_failure_callback": record_error,  # the error line for the run's mail
                  "execution_timeout": timedelta(hours=2), "pool": pools.oci_api_pool(),
                  # a volume's later steps run before other volumes' backups (the oldest work first), so test
                  # restores and verifications go on while backups are still queued
                  "weight_rule": "upstream", **wait_settings(deferrable=False)},
    params=workflow.params(),
) as dag:
    # Params defaults < the Variable oci_nightly_backup < the trigger conf; checked before any OCI call
    config = task(config_task(workflow.validate), task_id="resolve_config", multiple_outputs=True,
                  pool="default_pool")()
    discover = OciDiscoverVolumesOperator(task_id="discover_volumes", compartment_ids=config["compartment_ids"],
                                          tag_key=config["tag_key"],
                                          include_subcompartments=config["include_subcompartments"])
    # The plan is also the preflight: verifier, subnet, DR regions and policies are checked before any backup.
    plan = OciPlanBackupsOperator(task_id="plan_backups", volumes=discover.output, policies=config["policies"],
                                  verification_level=config["verification_level"],
                                  verifier_instance_id=config["verifier_instance_id"], subnet_id=config["subnet_id"])

    volume_tasks, group_tasks = {}, {}  # each group's tasks by role, which the report reads (filled below)

    # each mapped task shows its volume's (or group's) display name in the grid, not 0, 1, 2
    @task_group(group_id="protect_volume",
                default_args={"map_index_template": planned_name("protect_volume.backup_volume")})
    def protect_volume(item):
        """One volume's plan item: the backup takes it whole (one pull of the plan per volume), and the later
        tasks read what they need from the backup's XCom, which carries it on (as a group backup's does)."""
        backup = OciCreateBackupOperator(task_id="backup_volume", planned=item, deferrable=True)
        restore = OciRestoreVolumeOperator(task_id="restore_for_test", backup_id=backup.output["backup_id"],
                                           availability_domain=backup.output["availability_domain"],
                                           freeform_tags={"airflow-temporary": "true"}, deferrable=True,
                                           enabled=backup.output["verify"],
                                           verification_level=config["verification_level"])
        check = OciVerifyRestoreOperator(
            task_id="verify_restore", restored=restore.output, backup=backup.output,
            level=config["verification_level"], verifier_instance_id=config["verifier_instance_id"],
            subnet_id=config["subnet_id"], canary_path=config["canary_path"], heartbeat_path=config["heartbeat_path"],
            retries=0)
        volume_tasks.update(backup=backup, restore=restore, verify=check)

    protected = protect_volume.expand(item=plan.output)
    # volumes sharing a `backup-group` tag: one crash-consistent volume group backup, restored and checked as one
    plan_groups = OciPlanGroupBackupsOperator(task_id="plan_groups", volumes=discover.output,
                                                     policies=config["policies"])

    @task_group(group_id="protect_group", default_args={"map_index_template": item_name("plan_groups")})
    def protect_group(group: dict):
        backup = OciBackupVolumeGroupOperator(task_id="backup_group", planned=group, deferrable=True)
        restore = OciRestoreVolumeGroupOperator(
            task_id="restore_for_test", volume_group_backup_id=backup.output["volume_group_backup_id"],
            enabled=backup.output["verify"], freeform_tags={"airflow-temporary": "true"}, deferrable=True,
            verification_level=config["verification_level"], backup=backup.output)
        check = OciVerifyGroupRestoreOperator(
            task_id="verify_restore", restored=restore.output, backup=backup.output, retries=0,
            level=config["verification_level"], verifier_instance_id=config["verifier_instance_id"],
            subnet_id=config["subnet_id"], canary_path=config["canary_path"], heartbeat_path=config["heartbeat_path"])
        copy = OciCopyBackupOperator(task_id="copy_to_dr_region", backup_id=backup.output["volume_group_backup_id"],
                                     destination_region=backup.output["dr_region"],
                                     enabled=backup.output["dr_region"], deferrable=True, retries=0)
        group_tasks.update(backup=backup, restore=restore, verify=check, copy=copy)

    protected_groups = protect_group.expand(group=plan_groups.output)
    plan >> plan_groups
    # At `api` level each test restore checks itself where its wait ends (in the triggerer): this gate skips,
    # and the scheduler skips every verify_restore without starting one (two task executions per volume).
    gate = task(verify_on_worker, pool="default_pool")(config["verification_level"])
    gate >> [dag.get_task("protect_volume.verify_restore"), dag.get_task("protect_group.verify_restore")]

    # Each copy copies the backup this run made of its volume, once every backup is done (failed or not). Not
    # retried by Airflow: the hook retries each call, and a retry would replay a FAILED copy under its token.
    copies = OciCopyBackupOperator.partial(
        task_id="copy_to_dr_region", deferrable=True, trigger_rule="all_done", retries=0,
        map_index_template=volume_name("select_dr_copies", "plan_backups")).expand_kwargs(
        task(select_dr_copies, pool="default_pool")(plan.output))
    dag.get_task("protect_volume.backup_volume") >> copies
    # The closing tasks run whatever failed before (all_done) and are not retried: the hook already retries
    # each API call, and a run whose configuration failed has nothing to clean, prune or report. The report is
    # the leaf: it fails the run when any step failed (a teardown alone would not), and names the step.
    cleanup = OciCleanupTestResourcesOperator(task_id="delete_test_restores", compartment_ids=config["compartment_ids"],
                                              include_subcompartments=config["include_subcompartments"],
                                              retries=0).as_teardown()
    # a person approves retention that would delete more than OCI_APPROVAL_RETENTION_OVER backups (0: no such task)
    gate = OciApprovePruneOperator(
        task_id="approve_prune", volumes=discover.output, policies=config["policies"], dry_run=config["dry_run"],
        approvers=config["approvers"], timeout_minutes=config["approval_timeout_minutes"], trigger_rule="all_done",
    ) if settings.APPROVAL_RETENTION_OVER.value() else None
    prune = OciPruneBackupsOperator(task_id="prune_backups", volumes=discover.output, policies=config["policies"],
                                    dry_run=config["dry_run"], trigger_rule="all_done", retries=0,
                                    approval_task_id=gate and gate.task_id)
    report = OciBackupReportOperator(task_id="report", plan=plan.output[FULL_PLAN_KEY], groups=plan_groups.output,
                                     discovered=discover.output, prune_result=prune.output, retries=0,
                                     volume_tasks=volume_tasks, group_tasks=group_tasks, copies=copies,
                                     teardown=cleanup, prune=prune, retention_gate=gate)
    # retention needs tonight's verifications, not the teardown: both run at once, then the report
    protected >> [cleanup, prune] >> report
    protected_groups >> [cleanup, prune]
    # the verify tasks are skipped at once at `api` level: the closing steps also wait for every test restore
    restores = [dag.get_task("protect_volume.restore_for_test"), dag.get_task("protect_group.restore_for_test")]
    restores >> cleanup
    restores >> prune
    if gate:
        [protected, protected_groups, *restores] >> gate >> prune
    copies >> report
