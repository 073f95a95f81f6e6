"""Emergency clone: point-in-time deep copies of boot and block volumes, optionally brought up on a new instance.

Parse-time cost: this file imports only Airflow and the project's operator and hook modules (they import the
OCI SDK inside their methods). Nothing here calls an API; the request is read and checked at run time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param, task
from forms.params import DEFAULT_SHAPE, OPTIONAL_HOSTNAME, OPTIONAL_OCID
from forms.params import OPTIONAL_SHAPE_PATTERN as SHAPE_PATTERN
from forms.requests import clone_attach_arguments, clone_launch_plan
from hooks.oci import OCID_RE, RETRY_BUDGET
from notify.callbacks import on_run_failure, record_error
from operators.base import wait_settings
from operators.compute import OciLaunchInstanceOperator
from operators.on_demand import OciResolveCloneSourcesOperator, OciRunReportOperator, OciValidateRequestOperator
from operators.volumes import OciAttachVolumeOperator, OciCloneVolumeOperator

DAG_ID = "oci_emergency_clone"
# How often waits look at OCI (backoff from the first to the second); tests shorten them.
WAIT = wait_settings()

DOC = """
### Emergency clone

Makes an immediate, **point-in-time deep copy** (an OCI *clone*) of boot and/or block volumes, with no
backup/restore round-trip. Each clone holds the source's bytes as they were when its clone request was
accepted; writes to the source afterwards do not reach it.

**What to clone** (give one):
- `instance_id`: the instance's **boot volume and every attached block volume**;
- `volume_ids`: a list of block volume and/or boot volume OCIDs.

**Optionally bring it up** (`launch_instance`): a new instance is launched on the **cloned boot volume** with
`hostname` (Linux: `hostname_label` + cloud-init; Windows: cloudbase-init renames the computer), `shape`,
`ocpus`/`memory_in_gbs` (Flex shapes), `subnet_id` and `os_type`; the cloned block volumes are attached to it
(`attach_cloned_volumes`) with the **same attachment type and device paths as on the source** when known.
Unset shape and subnet default to the source instance's.

Tasks: `validate_request` (every field checked before any API call) → `resolve_volumes` (the boot volume
attachment and volume attachments of the instance) → `clone_volume` (one per volume) → `plan_launch` (the
cloned boot volume, shape, subnet) → `launch_on_clone` → `attach_cloned_volume` (one per block volume) → `report`
(what was made; the run fails if anything was not).

Notes:
- Clones of several volumes are requested in parallel, each consistent on its own; for one crash-consistent
  point across volumes, put them in a volume group and clone the group.
- A clone keeps the source's freeform tags (so a clone of a protected volume carries `backup-policy` and is
  backed up by the nightly DAG) plus `cloned-from` and this DAG's `managed-by`/`airflow-*` tags.
- Clones and the instance are **kept**: they are the result. Delete them yourself when done.
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
        "instance_id": Param("", type="string", pattern=OPTIONAL_OCID,
                             description="Clone this instance's boot volume and all its attached block volumes"),
        "volume_ids": Param([], type="array", items={"type": "string", "pattern": OCID_RE.pattern},
                            uniqueItems=True, description="Or: block volume and boot volume OCIDs to clone"),
        "availability_domain": Param("", type="string",
                                     description="AD for the clones (empty: each source's own AD)"),
        "compartment_id": Param("", type="string", pattern=OPTIONAL_OCID,
                                description="Compartment for the clones (empty: each source's)"),
        "launch_instance": Param(False, type="boolean",
                                 description="Launch an instance on the cloned boot volume"),
        "hostname": Param("", type="string", pattern=OPTIONAL_HOSTNAME, maxLength=63,
                          description="Hostname of the new instance (required to launch; unique in the subnet)"),
        "os_type": Param("linux", enum=["linux", "windows"]),
        "shape": Param("", type="string", pattern=SHAPE_PATTERN,
                       description=f"Shape (empty: the source instance's, else {DEFAULT_SHAPE})"),
        "ocpus": Param(None, type=["null", "number"], minimum=1, maximum=64,
                       description="OCPUs for a Flex shape (empty: the source instance's, else 1)"),
        "memory_in_gbs": Param(None, type=["null", "number"], minimum=1, maximum=1024,
                               description="Memory for a Flex shape (empty: the source's, else 16 GB per OCPU)"),
        "subnet_id": Param("", type="string", pattern=OPTIONAL_OCID,
                           description="Subnet of the new instance (empty: the source instance's)"),
        "attach_cloned_volumes": Param(True, type="boolean",
                                       description="Attach the cloned block volumes to the new instance"),
    },
) as dag:

    request = OciValidateRequestOperator(task_id="validate_request", request="emergency_clone")
    resolved = OciResolveCloneSourcesOperator(task_id="resolve_volumes", request=request.output).output
    clones = OciCloneVolumeOperator.partial(task_id="clone_volume", **WAIT).expand_kwargs(
        resolved.map(lambda item: item["clone"]))

    plan = task(clone_launch_plan, task_id="plan_launch", multiple_outputs=True)(resolved, clones.output)
    launch = OciLaunchInstanceOperator(
        task_id="launch_on_clone", boot_volume_id=plan["boot_volume_id"], hostname=request.output["hostname"],
        os_type=request.output["os_type"], shape=plan["shape"], shape_config=plan["shape_config"],
        subnet_id=plan["subnet_id"], compartment_id=plan["compartment_id"], enabled=request.output["launch"], **WAIT)
    # clone i is the clone of volume i: attach each with its own source's type and device
    attach = OciAttachVolumeOperator.partial(
        task_id="attach_cloned_volume", instance_id=launch.output["instance_id"], **WAIT,
    ).expand_kwargs(resolved.zip(clones.output).map(clone_attach_arguments))

    resolved >> clones >> launch >> attach >> OciRunReportOperator(task_id="report", report="emergency_clone")
