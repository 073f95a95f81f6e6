"""Emergency clone: point-in-time deep copies of boot and block volumes, optionally brought up on a new instance.

Parse-time cost: this file imports only Airflow and the project's operator and hook modules (they import the
OCI SDK inside their methods). Nothing here calls an API; the request is read and checked at run time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, task
from common.ids import OCID_RE
from forms.params import (
    AD_EXAMPLES,
    DEFAULT_SHAPE,
    OCID_SHAPES,
    OPTIONAL_HOSTNAME,
    SHAPE_EXAMPLES,
    choice_field,
    exclusive,
    field,
    ocid_field,
    plan_field,
    text_field,
)
from forms.params import OPTIONAL_SHAPE_PATTERN as SHAPE_PATTERN
from forms.requests import clone_attach_arguments, clone_launch_plan
from hooks.retries import RETRY_BUDGET
from notify.callbacks import on_run_failure, record_error
from operators.approval import OciApproveLaunchOperator
from operators.base import wait_settings
from operators.compute import OciLaunchInstanceOperator
from operators.on_demand import OciResolveCloneSourcesOperator, OciRunReportOperator, OciValidateRequestOperator
from operators.volumes import OciAttachVolumeOperator, OciCloneVolumeOperator
from reports.names import item_name

DAG_ID = "oci_emergency_clone"
# How often waits look at OCI (backoff from the first to the second); tests shorten them.
WAIT = wait_settings()
NAME = item_name("resolve_volumes")  # a clone's or attachment's map index: its source volume's name
# the form's sections, in the order a person decides
WHAT, WHERE, THEN = "What to clone", "Where to", "Afterwards (optional): launch an instance on the clone"

DOC = """
### Emergency clone

Point-in-time deep copies (OCI clones) of an instance's boot and block volumes (`instance_id`) or of
`volume_ids`, with no backup/restore round-trip; optionally an instance is launched on the cloned boot volume,
the cloned block volumes attached at the source's device paths. Every field is checked before any API call.
Clones and the instance are kept: delete them yourself when done. More: docs/dags.md in the repository.
"""


with DAG(
    DAG_ID,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    dagrun_timeout=timedelta(hours=6),
    doc_md=DOC,
    tags=["oci", "clone", "on-demand"],
    # one mail (and webhook message) per failed run, naming what failed (docs/notifications.md)
    on_failure_callback=on_run_failure,
    default_args={"owner": "platform", **RETRY_BUDGET.task_args(),
                  "on_failure_callback": record_error,  # the error line for the run's mail
                  "execution_timeout": timedelta(hours=2)},
    params={
        # What to clone: one of instance_id and volume_ids
        "instance_id": ocid_field("instance", "Instance", "Clone its boot volume and every attached block volume. "
                                  + exclusive("volume_ids"), WHAT),
        "volume_ids": field([], "array", "Or: volumes", "Block volume and boot volume OCIDs, one per line. Example: "
                            f"{OCID_SHAPES['volume']}. " + exclusive("instance_id"), WHAT,
                            items={"type": "string", "pattern": OCID_RE.pattern}, uniqueItems=True),
        # Where to
        "availability_domain": text_field("Availability domain", "For the clones (empty: each source's own). "
                                          f"Example: {AD_EXAMPLES[0]}", WHERE, examples=AD_EXAMPLES),
        "compartment_id": ocid_field("compartment", "Compartment", "For the clones (empty: each source's)", WHERE),
        # Afterwards: bring it up
        "launch_instance": field(False, "boolean", "Launch an instance on the clone",
                                 "Boot a new instance from the cloned boot volume", THEN),
        "hostname": text_field("Hostname", "Of the new instance (required to launch; unique in the subnet). "
                               "Example: app1-clone", THEN, pattern=OPTIONAL_HOSTNAME, maxLength=63),
        "os_type": choice_field("linux", ["linux", "windows"], "Guest OS", "Windows gets cloudbase-init to rename "
                                "the computer", THEN),
        "shape": text_field("Shape", f"Empty: the source instance's, else {DEFAULT_SHAPE}", THEN,
                            pattern=SHAPE_PATTERN, examples=SHAPE_EXAMPLES),
        "ocpus": field(None, "number", "OCPUs", "For a Flex shape, 1 to 64 (empty: the source instance's, else 1)",
                       THEN, minimum=1, maximum=64),
        "memory_in_gbs": field(None, "number", "Memory (GB)", "For a Flex shape, 1 to 1024 (empty: the source's, "
                               "else 16 GB per OCPU)", THEN, minimum=1, maximum=1024),
        "subnet_id": ocid_field("subnet", "Subnet", "Of the new instance (empty: the source instance's)", THEN),
        "attach_cloned_volumes": field(True, "boolean", "Attach the cloned block volumes",
                                       "To the new instance, at the source's device paths", THEN),
        "approvers": field(None, "array", "Launch: approvers", "The Airflow user ids who may approve the launch, "
                           "where the deployment asks for an approval (empty: anyone who may answer). Example: alice",
                           THEN, items={"type": "string"}),
        "approval_timeout_minutes": field(60, "number", "Launch: approval timeout (minutes)", "Then the run fails "
                                          "with no instance launched; 0.1 to 10080", THEN, minimum=0.1,
                                          maximum=10080),
        "plan_only": plan_field(),  # check everything, change nothing (common/plan.py)
    },
) as dag:

    request = OciValidateRequestOperator(task_id="validate_request", request="emergency_clone")
    resolved = OciResolveCloneSourcesOperator(task_id="resolve_volumes", request=request.output).output
    # each mapped task shows its source volume's display name in the grid
    clones = OciCloneVolumeOperator.partial(task_id="clone_volume", map_index_template=NAME, **WAIT).expand_kwargs(
        resolved.map(lambda item: item["clone"]))

    plan = task(clone_launch_plan, task_id="plan_launch", multiple_outputs=True)(resolved, clones.output)
    # a person approves before the launch, where the deployment asks for it (OCI_APPROVAL_CLONE_LAUNCH)
    approve = OciApproveLaunchOperator(
        task_id="approve_launch", plan=plan, hostname=request.output["hostname"],
        approvers=request.output["approvers"], timeout_minutes=request.output["approval_timeout_minutes"],
        enabled=request.output["launch"])
    launch = OciLaunchInstanceOperator(
        task_id="launch_on_clone", boot_volume_id=plan["boot_volume_id"], hostname=request.output["hostname"],
        os_type=request.output["os_type"], shape=plan["shape"], shape_config=plan["shape_config"],
        subnet_id=plan["subnet_id"], compartment_id=plan["compartment_id"], enabled=request.output["launch"],
        trigger_rule="none_failed_min_one_success", **WAIT)
    approve >> launch
    # clone i is the clone of volume i: attach each with its own source's type and device
    attach = OciAttachVolumeOperator.partial(
        task_id="attach_cloned_volume", instance_id=launch.output["instance_id"], map_index_template=NAME, **WAIT,
    ).expand_kwargs(resolved.zip(clones.output).map(clone_attach_arguments))

    resolved >> clones >> launch >> attach >> OciRunReportOperator(task_id="report", report="emergency_clone")
