"""The parts of the on-demand DAGs (emergency clone, restore, VMDK migration, golden image) that are not a single
OCI call: reading a trigger request, resolving what to clone, choosing a backup, checking a fleet, and the run
report. Each is an operator, so your own DAG can use the same parts.

A request is checked in two passes, both before the first mutating call: every field on its own (no API call
at all), then every reference it names with read-only calls (instances, subnets, hostnames in use, availability
domains, buckets). Each workflow reads its request in its module (plugins/workflows/); the checks are
forms/checks.py (values) and the hook's methods (hooks/references.py: references), one per rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.errors import OciInputError, OciWaitError
from common.ids import ocid_kind
from common.plan import PLAN_KEY
from common.tags import VERIFIED_TAG, newest_verified
from forms.launch import launch_defaults
from forms.params import flag
from hooks.block_storage import backup_result
from hooks.retries import RETRY_BUDGET
from reports.on_demand import OnDemandReport

from operators.base import OciBaseOperator, oci_template_fields


class OciValidateRequestOperator(OciBaseOperator):
    """Read a DAG run's request with a workflow's function (params, hook, context) -> dict, like
    `workflows.restore.check_request`: every field first with no API call, then every reference with read-only
    calls. The params are the run's configuration in the one order every DAG uses (common/config.py): Params
    defaults, the Variable named after the DAG, the trigger conf. XCom: the request, and each of its keys under its
    own key (so `task.output["hostname"]` works); a refused request's reason under key `refused`.

    :param request: the function (params, hook, context) -> dict that reads and checks the request (a workflow
        module's ``check_request``, plugins/workflows/)
    """

    multiple_outputs = True  # each key of the XCom on its own (`task.output["hostname"]`)
    template_fields = oci_template_fields()

    def __init__(self, *, request: Callable[[dict, Any, Any], dict], **kwargs):
        super().__init__(**kwargs)
        self.request = request

    def validate_inputs(self) -> None:
        if not callable(self.request):
            raise OciInputError(f"request {self.request!r}: a function (params, hook, context) -> dict, like "
                                f"workflows.restore.check_request")

    def execute_step(self, context) -> dict:
        from operators.run_config import run_config

        try:
            config = run_config(context)
            # plan mode (common/plan.py): the mutating tasks record their call and skip
            plan_only = flag(config.get(PLAN_KEY, False), PLAN_KEY)
            result = {**self.request(config, self.hook, context), PLAN_KEY: plan_only}
        except OciInputError as err:  # the report's run note shows why (XCom key `refused`)
            context["ti"].xcom_push(key="refused", value=str(err)[:500])
            raise
        self.log.info("request accepted: %s", {k: v for k, v in result.items() if k != "fleet"})
        return result


class OciCheckFleetOperator(OciBaseOperator):
    """Read-only, before anything is made: every fleet instance's availability domain exists, its subnet takes
    hostnames, and none of the hostnames is in use there. Returns the fleet (the list launches map over).

    XCom: the fleet, a list of instance dicts (what the launches map over).

    :param fleet: the launch requests to check: a list of dicts with ``hostname``, ``subnet_id``,
        ``availability_domain`` (templated)
    """

    template_fields = oci_template_fields("fleet")

    def __init__(self, *, fleet: list[dict] | Any, **kwargs):
        super().__init__(**kwargs)
        self.fleet = fleet

    def validate_inputs(self) -> None:
        if not isinstance(self.fleet, list | tuple) or not all(isinstance(f, dict) for f in self.fleet):
            raise OciInputError(f"fleet {str(self.fleet)[:80]!r}: a list of launch requests (dicts)")

    def execute_step(self, context) -> list[dict]:
        return self.hook.check_fleet(list(self.fleet))


# -- run reports ------------------------------------------------------------------------------------------------
class OciRunReportOperator(OciBaseOperator):
    """The last task of an on-demand DAG: what was made, from the values the DAG hands it (a task that failed
    left none); an Asset event for an image; fails the run when something asked for was not made, after logging
    what exists (the report is also pushed under key `report`). `report` is a workflow module's ``REPORT``
    (reports.on_demand.OnDemandReport: title, builder, note), or your own function (values, context) -> (lines,
    result, problems, title).

    The values are read here, not templated: each XComArg (`task.output`, `task.output["key"]`) or task is read
    as what it left, None for nothing, a list by map index for a mapped task (operators/task_values.py), so a
    task that failed or never ran reads as None instead of failing the report. `values["request"]` is the
    request's XComArg (OciValidateRequestOperator's output): a plan run's report, and a refused request's reason.

    XCom: the report's result dict (also under key `report`).

    :param report: a workflow's ``REPORT`` (``reports.on_demand.OnDemandReport``), or a function (values, context)
        -> (lines, result, problems, title)
    :param values: what the report reads, by name: XComArgs or tasks (read at run time), or plain values; must
        hold ``request``, the request task's output
    :param trigger_rule: Airflow's trigger rule; ``all_done`` by default, so the report runs after failures too
    :param note_conn_id: the Airflow REST API connection the run's note (a table of what was made) is written
        through
    """

    template_fields = oci_template_fields()

    def __init__(self, *, report: OnDemandReport | Callable, values: dict[str, Any], trigger_rule: str = "all_done",
                 note_conn_id: str = "airflow_api", **kwargs):
        super().__init__(trigger_rule=trigger_rule, **kwargs)
        self.note_conn_id = note_conn_id
        self.retries = 0  # the report reads what the run left; another try would read the same and fail the same
        if callable(report) and not isinstance(report, OnDemandReport):
            report = OnDemandReport(getattr(report, "__name__", "report").replace("_", " "), report)
        self.report = report
        self.values = values

    def validate_inputs(self) -> None:
        if not isinstance(self.report, OnDemandReport) or not callable(self.report.build):
            raise OciInputError(f"report {self.report!r}: a workflow's REPORT (reports.on_demand.OnDemandReport) "
                                f"or a function (values, context) -> (lines, result, problems, title)")
        if not isinstance(self.values, dict) or "request" not in self.values:
            raise OciInputError(f"values {str(self.values)[:80]!r}: a dict of XComArgs by name, with `request` "
                                f"(the request task's output)")

    def execute_step(self, context) -> dict:
        from operators import task_values
        ti = context["ti"]
        values = {name: task_values.read(ti, arg) for name, arg in self.values.items()}
        request, title = values["request"], self.report.title
        if isinstance(request, dict) and request.get(PLAN_KEY):
            return self.plan_report(context, request)
        try:
            lines, result, problems, title = self.report.build(values, context)
        except OciWaitError as err:  # nothing was done (the request was refused): the note says so too
            refused = task_values.one(ti, self.values["request"], key="refused")
            self.set_note(ti, title, {}, [f"refused: {refused}" if refused else str(err)])
            raise
        lines.append(f"- retries: {RETRY_BUDGET.describe()}")
        lines += [f"! {p}" for p in problems]
        self.log.info("\n%s", "\n".join(lines))
        self.set_note(ti, title, result, problems)
        if problems:
            ti.xcom_push(key="report", value=result)
            raise OciWaitError(f"{title} incomplete: " + "; ".join(problems))
        return result


    def plan_report(self, context, request: dict) -> dict:
        """A plan run (common/plan.py): the references checked and what the run would do, as the note."""
        from common import plan
        from hooks.airflow_api import set_run_note
        from reports import plan as report

        ti, dag = context["ti"], context["dag"]
        calls = plan.recorded(ti, dag)
        result = report.on_demand_plan(self.report.title, request, plan.checked_references(request), calls,
                                       plan.not_reached(dag, calls), plan.launches(request))
        text = report.render_note(result)
        self.log.info("\n%s", report.render_text(result))
        try:
            self.log.info(set_run_note(ti.dag_id, ti.run_id, text, self.note_conn_id))
        except Exception as err:  # the note is a convenience; the XCom and the log are the record
            self.log.warning("run note not set: %s", err)
        ti.xcom_push(key="note", value=text)
        return result

    def set_note(self, ti, title: str, result: dict, problems: list[str]) -> None:
        """The run's note: what was made, as a short Markdown table (never fails the report)."""
        from hooks.airflow_api import set_run_note
        from reports.on_demand import render_note

        try:
            text = render_note(self.report.note, title, result, problems)
            self.log.info(set_run_note(ti.dag_id, ti.run_id, text, self.note_conn_id))
        except Exception as err:  # the note is a convenience; the report's XCom and log are the record
            self.log.warning("run note not set: %s", err)


# -- what to clone, which backup ------------------------------------------------------------------------------
class OciResolveCloneSourcesOperator(OciBaseOperator):
    """The volumes an emergency clone copies (read-only): an instance's boot volume and attached block volumes,
    or the listed volumes, boot volume first, each with its attachment type and device on the source, the
    arguments of its clone and of its attachment to a new instance, and what a launch on the clone needs
    (subnet, shape; defaulted from the source instance; the subnet and hostname checked). One dict per volume,
    the list `clone_volume` maps over.

    XCom: a list, one dict per volume: source_id, kind, display_name, size_in_gbs, availability_domain, device,
    attachment_type, attached_to, source_instance_id, clone, attach, launch.

    :param request: the validated emergency-clone request (``OciValidateRequestOperator``'s XCom): ``instance_id``
        or ``volume_ids``, and the launch and attach settings (templated)
    """

    template_fields = oci_template_fields("request")

    def __init__(self, *, request: dict | Any, **kwargs):
        super().__init__(**kwargs)
        self.request = request

    def validate_inputs(self) -> None:
        if not isinstance(self.request, dict):
            raise OciInputError(f"request {str(self.request)[:80]!r}: the checked request (validate_request's XCom)")

    def execute_step(self, context) -> list[dict]:
        request, hook = self.request, self.hook
        source_instance = None
        found: list[tuple[Any, dict]] = []  # (volume, attachment facts)
        if request["instance_id"]:
            source_instance = hook.check_instance(request["instance_id"], states=())
            if source_instance.lifecycle_state in ("TERMINATING", "TERMINATED"):
                raise OciInputError(f"instance_id {source_instance.id!r}: is {source_instance.lifecycle_state}; "
                                    f"clone its volumes by volume_ids instead")
            boots, atts = hook.attachments_of_instance(source_instance, self.region)
            # the permissions the run needs, proved before its first clone (hooks/permissions.py)
            hook.prove_reads(hook.clone_reads([a.boot_volume_id for a in boots] + [a.volume_id for a in atts],
                                              source_instance.compartment_id, request["launch"], self.region))
            for att in boots:
                found.append((hook.get_resource(att.boot_volume_id), {}))
            for att in sorted(atts, key=lambda a: a.device or "~"):
                found.append((hook.get_resource(att.volume_id),
                              {"device": att.device, "attachment_type": att.attachment_type,
                               "is_read_only": bool(att.is_read_only), "attached_to": att.instance_id}))
            self.log.info("instance %s (%s): boot volume and %d attached block volume(s)", source_instance.id,
                          source_instance.display_name, len(atts))
        else:
            for i, volume_id in enumerate(request["volume_ids"]):
                volume = hook.check_volume(volume_id, f"volume_ids[{i}]")
                facts: dict = {}
                att = hook.attachment_of(volume, self.region)
                if att and ocid_kind(volume_id) == "volume":
                    facts = {"device": att.device, "attachment_type": att.attachment_type,
                             "is_read_only": bool(att.is_read_only), "attached_to": att.instance_id}
                elif att:  # the instance the boot volume boots: the default shape and subnet of a launch
                    source_instance = hook.get_client("compute", self.region).get_instance(att.instance_id).data
                found.append((volume, facts))
            found.sort(key=lambda pair: ocid_kind(pair[0].id) != "bootvolume")
        not_ready = [f"{v.display_name} ({v.id}) is {v.lifecycle_state}" for v, _ in found
                     if v.lifecycle_state != "AVAILABLE"]
        if not_ready:
            raise OciInputError("volumes to clone must be AVAILABLE: " + "; ".join(not_ready))
        if not found:
            raise OciInputError(f"instance_id {request['instance_id']!r}: no attached boot or block volume found")

        launch = {"subnet_id": request["subnet_id"], "shape": request["shape"], "shape_config": None}
        if request["launch"]:
            launch.update(launch_defaults(hook, request, source_instance))
            # the launch's shape in the AD it will boot in, before the first clone is made
            hook.check_shape(request["availability_domain"] or found[0][0].availability_domain, launch["shape"],
                             launch["shape_config"], config_field="")
        items, used_devices = [], set()
        for volume, facts in found:
            kind = ocid_kind(volume.id)
            device = facts.get("device")
            if device and device in used_devices:  # sources of different instances at one path: OCI chooses
                self.log.warning("%s: device %s is taken by another clone; attaching without a device path",
                                 volume.display_name, device)
                device = None
            used_devices.add(device)
            clone = {"volume_id": volume.id, "freeform_tags": {"cloned-from": volume.id}}
            clone.update({k: request[k] for k in ("availability_domain", "compartment_id") if request[k]})
            attach = {"device": device, "attachment_type": facts.get("attachment_type") or "paravirtualized",
                      "is_read_only": facts.get("is_read_only", False),
                      "enabled": request["attach"] and kind == "volume"}
            items.append({"source_id": volume.id, "kind": kind, "display_name": volume.display_name,
                          "size_in_gbs": volume.size_in_gbs, "availability_domain": volume.availability_domain,
                          "device": device, "attachment_type": facts.get("attachment_type"),
                          "attached_to": facts.get("attached_to"),
                          "source_instance_id": source_instance.id if source_instance else None,
                          "clone": clone, "attach": attach, "launch": launch})
        return items


class OciChooseBackupOperator(OciBaseOperator):
    """The backup a restore uses (read-only): the request's `backup_id` (it must be AVAILABLE), or the newest
    verified backup of its `volume_id` (the newest AVAILABLE one only with `allow_unverified`). XCom: the
    backup's facts and `restore_tags`, each also under its own key.

    :param request: the validated restore request (``OciValidateRequestOperator``'s XCom): ``backup_id``, or
        ``volume_id`` with ``allow_unverified`` (templated)
    """

    multiple_outputs = True  # each key of the XCom on its own (`task.output["backup_id"]`)
    template_fields = oci_template_fields("request")

    def __init__(self, *, request: dict | Any, **kwargs):
        super().__init__(**kwargs)
        self.request = request

    def validate_inputs(self) -> None:
        if not isinstance(self.request, dict):
            raise OciInputError(f"request {str(self.request)[:80]!r}: the checked request (validate_request's XCom)")

    def execute_step(self, context) -> dict:
        import oci
        request, hook = self.request, self.hook
        if request["backup_id"]:
            try:
                backup = backup_result(hook.get_resource(request["backup_id"]), hook.region)
            except oci.exceptions.ServiceError as err:
                if err.status == 404:
                    raise OciInputError(f"backup_id {request['backup_id']!r}: not found in {hook.region}") from None
                raise
            if backup["lifecycle_state"] != "AVAILABLE":
                raise OciInputError(f"backup_id {backup['backup_id']!r}: is {backup['lifecycle_state']}, only an "
                                    f"AVAILABLE backup can be restored")
            chosen_by = "backup_id"
        else:
            try:
                volume = hook.get_resource(request["volume_id"])
            except oci.exceptions.ServiceError as err:
                if err.status == 404:
                    raise OciInputError(f"volume_id {request['volume_id']!r}: not found in {hook.region} (OCI "
                                        f"forgets deleted volumes after a while); restore by backup_id") from None
                raise
            backups = hook.list_backups(volume.id, volume.compartment_id, hook.region)
            available = [b for b in backups if b["lifecycle_state"] == "AVAILABLE"]  # newest first
            backup = newest_verified(available)
            chosen_by = "newest verified"
            if backup is None:
                newest = available[0] if available else None
                about = (f"{len(available)} AVAILABLE backup(s), none tagged {VERIFIED_TAG!r}; the newest is "
                         f"{newest['backup_id']} of {newest['time_created']}") if newest else "no AVAILABLE backup"
                if newest is None or not request["allow_unverified"]:
                    raise OciInputError(
                        f"volume_id {volume.id!r} ({volume.display_name}): no verified backup to restore ({about}). "
                        + ("Restore a backup by backup_id, set allow_unverified=true to use the newest AVAILABLE "
                           "one, or let the nightly DAG verify one first" if newest else
                           "Back it up first"))
                backup, chosen_by = newest, "newest AVAILABLE (unverified: allow_unverified)"
                self.log.warning("volume %s: no verified backup; allow_unverified: restoring the newest AVAILABLE "
                                 "backup %s of %s, which was never test-restored", volume.id, backup["backup_id"],
                                 backup["time_created"])
        tags = backup["freeform_tags"]
        self.log.info("restoring %s backup %s (%s) of %s, made %s; chosen by %s; verified: %s", backup["type"],
                      backup["backup_id"], backup["display_name"], backup["source_id"], backup["time_created"],
                      chosen_by, tags.get(VERIFIED_TAG) or "never")
        result = {"backup_id": backup["backup_id"], "kind": backup["kind"], "source_id": backup["source_id"],
                  "type": backup["type"], "display_name": backup["display_name"],
                  "size_in_gbs": backup["size_in_gbs"], "time_created": backup["time_created"],
                  "verified_at": tags.get(VERIFIED_TAG) or None, "verified_level": tags.get("verified-level") or None,
                  "chosen_by": chosen_by, "restore_tags": {"restored-from-backup": backup["backup_id"]}}
        return result
