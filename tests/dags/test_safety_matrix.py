"""The bad-input and fault matrix (issue 9 item 10), against one shared ocisim with the real SDK and real Airflow.

Bad inputs: each class goes through the same code the DAGs run (the request operators' checks, the resolve and
choose operators, the upload operator's validation, the trigger form's schema) and must be refused with
OciInputError (or Airflow's ParamValidationError for the form) naming the field and the rule, in a bounded
message, with 0 mutating calls by ocisim's counters and 0 objects uploaded.

Faults: each case injects faults through ocisim into one operator's calls and runs a one-task DAG (one task retry)
with dag.test(); it must end in the expected state with 0 duplicates (at most one live thing of the case's name),
0 leaked temporaries (no unfinished multipart upload, no half-made image) and 0 lost backups.

Both tests print their matrix as a table (run with -s to see it).
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import oci
import pytest
from airflow.sdk.exceptions import ParamValidationError
from common.errors import OciInputError
from common.ids import MIB

from ocisim import formats
from ocisim.testing import ocisim_running
from tests.airflow_helpers import load_dag, run_dag
from tests.conftest import oci_connection_json

MUTATING = ("Create", "Launch", "Attach", "Detach", "Delete", "Terminate", "Export", "Copy", "Update", "Put",
            "Upload", "Commit", "Abort", "Rename", "Restore", "InstanceAction", "ChangeCompartment")
FAKE = {kind: f"ocid1.{kind}.oc1.iad.{'a' * 24}" for kind in
        ("instance", "volume", "bootvolume", "volumebackup", "bootvolumebackup", "subnet", "image")}


@pytest.fixture(scope="module")
def shared(tmp_path_factory, airflow_db):
    """One ocisim for every case, and Airflow's oci_default pointing at it."""
    state = tmp_path_factory.mktemp("matrix")
    old = os.environ.get("AIRFLOW_CONN_OCI_DEFAULT")
    with ocisim_running(state / "ocisim", time_scale=600.0) as handle:
        os.environ["AIRFLOW_CONN_OCI_DEFAULT"] = oci_connection_json(handle)
        try:
            yield handle, state
        finally:
            if old is None:
                os.environ.pop("AIRFLOW_CONN_OCI_DEFAULT", None)
            else:
                os.environ["AIRFLOW_CONN_OCI_DEFAULT"] = old


def mutating(counters: dict) -> dict:
    return {op: n for op, n in counters.items() if op.startswith(MUTATING)}


def qcow2(path: Path, virtual: int = 8 * MIB, data: bytes = b"boot" * (MIB // 4)) -> Path:
    with open(path, "wb") as f:
        formats.write_image(f, "QCOW2", virtual, [(0, data)], MIB, None)
    return path


def vmdk_header(path: Path, capacity_bytes: int) -> Path:
    """A VMDK sparse extent header declaring `capacity_bytes` (the rest of the file is not needed to refuse it)."""
    import struct

    head = b"KDMV" + struct.pack("<IIQ", 1, 3, capacity_bytes // 512) + bytes(512)
    path.write_bytes(head)
    return path


def table(title: str, header: tuple[str, ...], rows: list[tuple]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    line = "  ".join("-" * w for w in widths)
    out = [title, "  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)), line]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(out)


# -- bad inputs ------------------------------------------------------------------------------------------------
@dataclass
class Bad:
    dag: str
    name: str
    field: str
    rule: str
    call: Callable[[dict], object]


def _request(kind: str, params: dict):
    from importlib import import_module

    from hooks.oci import OciHook

    return lambda ctx: import_module(f"workflows.{kind}").check_request(params, OciHook(), {})


def _resolve(params: dict):
    from hooks.oci import OciHook
    from operators.on_demand import OciResolveCloneSourcesOperator
    from workflows.emergency_clone import check_request as clone_request

    def call(ctx):
        request = clone_request({"os_type": "linux", **params}, OciHook(), {})
        return OciResolveCloneSourcesOperator(task_id="resolve_volumes", request=request).execute({})
    return call


def _choose(params: dict):
    from hooks.oci import OciHook
    from operators.on_demand import OciChooseBackupOperator
    from workflows.restore import check_request as restore_request

    def call(ctx):
        request = restore_request(params, OciHook(), {})
        return OciChooseBackupOperator(task_id="choose_backup", request=request).execute({})
    return call


def _fleet(params: dict):
    from forms.fleet import resolve_fleet
    from operators.on_demand import OciCheckFleetOperator

    def call(ctx):
        return OciCheckFleetOperator(task_id="check_fleet_hostnames", fleet=resolve_fleet(params)).execute({})
    return call


def _form(dag_id: str, key: str, value):
    """The DAG's trigger form (its Params' JSON schema): Airflow refuses the run before it exists."""
    import copy

    def call(ctx):
        params = copy.deepcopy(load_dag(dag_id).params)
        params[key] = value
        params.validate()
    return call


def bad_cases(t: dict, files: dict) -> list[Bad]:
    sub, ad = t["subnet_id"], t["availability_domains"][0]
    inst = t["instances"]["linux1"]
    mig = {"source_image_type": "VMDK", "launch_mode": "PARAVIRTUALIZED", "bucket": "ocisim-bucket",
           "namespace": t["namespace"]}
    fleet = {"fleet_count": 2, "hostname_pattern": "web-{index:02d}", "os_type": "linux", "subnet_id": sub,
             "availability_domain": ad, "shape": "VM.Standard.E4.Flex"}
    golden = {"instance_id": inst, "iscsi_policy": "refuse"}
    clone, restore, vmdk, gold, night = ("emergency_clone", "restore", "vmdk_migration", "golden_image",
                                         "nightly_backup")
    return [
        # emergency clone
        Bad(clone, "nothing to clone", "instance_id", "give exactly one", _request(clone, {})),
        Bad(clone, "instance and volumes", "instance_id", "give exactly one",
            _request(clone, {"instance_id": FAKE["instance"], "volume_ids": [FAKE["volume"]]})),
        Bad(clone, "volume_ids holds an instance", "volume_ids[0]", "must be a block volume or boot volume",
            _request(clone, {"volume_ids": [FAKE["instance"]]})),
        Bad(clone, "a volume twice", "volume_ids", "listed twice",
            _request(clone, {"volume_ids": [FAKE["volume"], FAKE["volume"]]})),
        Bad(clone, "launch without hostname", "hostname", "required",
            _request(clone, {"instance_id": inst, "launch_instance": True})),
        Bad(clone, "Windows hostname too long", "hostname", "at most 15 characters",
            _request(clone, {"instance_id": inst, "launch_instance": True, "os_type": "windows",
                             "hostname": "a-very-long-windows-name"})),
        Bad(clone, "not a shape", "shape", "an OCI shape name",
            _request(clone, {"instance_id": inst, "launch_instance": True, "hostname": "c1", "shape": "big"})),
        Bad(clone, "ocpus on a fixed shape", "ocpus/memory_in_gbs", "only for a Flex shape",
            _request(clone, {"instance_id": inst, "launch_instance": True, "hostname": "c1",
                             "shape": "VM.Standard2.1", "ocpus": 2})),
        Bad(clone, "unknown availability domain", "availability_domain", "not an availability domain",
            _request(clone, {"instance_id": inst, "availability_domain": "Uocm:US-ASHBURN-AD-9"})),
        Bad(clone, "subnet that does not exist", "subnet_id", "no such subnet",
            _request(clone, {"instance_id": inst, "subnet_id": FAKE["subnet"]})),
        Bad(clone, "instance that does not exist", "instance_id", "no such instance",
            _resolve({"instance_id": FAKE["instance"]})),
        Bad(clone, "volume that does not exist", "volume_ids[0]", "no such volume",
            _resolve({"volume_ids": [FAKE["volume"]]})),
        Bad(clone, "hostname in use in the subnet", "hostname", "already used in the subnet",
            _resolve({"instance_id": inst, "launch_instance": True, "hostname": "LINUX1"})),
        # restore
        Bad(restore, "no backup or volume", "backup_id", "give exactly one", _request(restore, {})),
        Bad(restore, "backup and volume", "backup_id", "give exactly one",
            _request(restore, {"backup_id": FAKE["volumebackup"], "volume_id": FAKE["volume"]})),
        Bad(restore, "backup_id of a volume", "backup_id", "must be a volume backup",
            _request(restore, {"backup_id": FAKE["volume"]})),
        Bad(restore, "attach a boot volume", "attach_instance_id", "attach restores block volumes",
            _request(restore, {"backup_id": FAKE["bootvolumebackup"], "attach_instance_id": inst})),
        Bad(restore, "launch on a block volume", "launch_instance", "the restore makes a block volume",
            _request(restore, {"backup_id": FAKE["volumebackup"], "launch_instance": True, "hostname": "r1",
                               "subnet_id": sub})),
        Bad(restore, "launch without subnet", "subnet_id", "not an OCID",
            _request(restore, {"backup_id": FAKE["bootvolumebackup"], "launch_instance": True, "hostname": "r1"})),
        Bad(restore, "device without attach", "device", "only with attach_instance_id",
            _request(restore, {"backup_id": FAKE["volumebackup"], "device": "/dev/oracleoci/oraclevdd"})),
        Bad(restore, "not a consistent device path", "device", "consistent device path",
            _request(restore, {"backup_id": FAKE["volumebackup"], "attach_instance_id": inst, "device": "/dev/sdb"})),
        Bad(restore, "display name with a newline", "display_name", "no control characters",
            _request(restore, {"backup_id": FAKE["volumebackup"], "display_name": "a\nb"})),
        Bad(restore, "attach to a missing instance", "attach_instance_id", "no such instance",
            _request(restore, {"backup_id": FAKE["volumebackup"], "attach_instance_id": FAKE["instance"]})),
        Bad(restore, "unknown availability domain", "availability_domain", "not an availability domain",
            _request(restore, {"backup_id": FAKE["volumebackup"], "availability_domain": "nowhere"})),
        Bad(restore, "attach across ADs", "availability_domain", "attaches only in its own AD",
            _request(restore, {"backup_id": FAKE["volumebackup"], "attach_instance_id": inst,
                               "availability_domain": t["availability_domains"][1]})),
        Bad(restore, "launch hostname in use", "hostname", "already used in the subnet",
            _request(restore, {"backup_id": FAKE["bootvolumebackup"], "launch_instance": True,
                               "hostname": "linux1", "subnet_id": sub})),
        Bad(restore, "backup that does not exist", "backup_id", "not found",
            _choose({"backup_id": FAKE["volumebackup"]})),
        # VMDK migration
        Bad(vmdk, "a worker file outside the roots", "local_path", "outside the upload roots",
            _request(vmdk, {**mig, "local_path": "/etc/passwd"})),
        Bad(vmdk, "../ out of the roots", "local_path", "outside the upload roots",
            _request(vmdk, {**mig, "local_path": files["dotdot"]})),
        Bad(vmdk, "a symlink out of the roots", "local_path", "outside the upload roots",
            _request(vmdk, {**mig, "local_path": files["symlink"]})),
        Bad(vmdk, "a directory", "local_path", "not a regular file",
            _request(vmdk, {**mig, "local_path": files["dir"]})),
        Bad(vmdk, "a text file as VMDK", "local_path", "a text file, not a disk image",
            _request(vmdk, {**mig, "local_path": files["text"]})),
        Bad(vmdk, "a 401 GiB VMDK", "local_path", "over OCI's 400 GB import limit",
            _request(vmdk, {**mig, "local_path": files["huge"]})),
        Bad(vmdk, "a QCOW2 said to be VMDK", "source_image_type", "is a QCOW2 image",
            _request(vmdk, {**mig, "local_path": files["qcow2"]})),
        Bad(vmdk, "uploads off (no roots)", "local_path", "uploads from this worker are off",
            lambda ctx: _with_roots("", _request(vmdk, {**mig, "local_path": files["qcow2"]}))),
        Bad(vmdk, "object name with a newline", "object_name", "line feed",
            _request(vmdk, {**mig, "source_image_type": "QCOW2", "local_path": files["qcow2"], "object_name": "a\nb"})),
        Bad(vmdk, "object name with ..", "object_name", "'..' path segment",
            _request(vmdk, {**mig, "source_image_type": "QCOW2", "local_path": files["qcow2"],
                            "object_name": "../../x.qcow2"})),
        Bad(vmdk, "bucket name with a slash", "bucket", "a bucket name is 1-256",
            _request(vmdk, {**mig, "bucket": "a/b", "local_path": files["qcow2"], "source_image_type": "QCOW2"})),
        Bad(vmdk, "bucket that does not exist", "bucket", "no such bucket",
            _request(vmdk, {**mig, "bucket": "no-such-bucket", "local_path": files["qcow2"],
                            "source_image_type": "QCOW2"})),
        Bad(vmdk, "source_uri and local_path", "source_uri", "give one source",
            _request(vmdk, {**mig, "local_path": files["qcow2"],
                            "source_uri": "https://objectstorage.us-ashburn-1.oraclecloud.com/n/n/b/b/o/x"})),
        Bad(vmdk, "pattern with attribute access", "hostname_pattern", "only {index}",
            _request(vmdk, {**mig, "source_image_type": "QCOW2", "local_path": files["qcow2"], **fleet,
                            "hostname_pattern": "{index.bogus}"})),
        Bad(vmdk, "pattern of a 1 MB width", "hostname_pattern", "a width up to 15",
            _request(vmdk, {**mig, "source_image_type": "QCOW2", "local_path": files["qcow2"], **fleet,
                            "hostname_pattern": "{index:0>1000000}"})),
        Bad(vmdk, "fleet names twice", "fleet", "duplicate hostnames",
            _request(vmdk, {**mig, "source_image_type": "QCOW2", "local_path": files["qcow2"], "subnet_id": sub,
                            "availability_domain": ad, "fleet": [{"hostname": "w1"}, {"hostname": "W1"}]})),
        Bad(vmdk, "fleet in an unknown AD", "availability_domain", "not an availability domain",
            _fleet({**fleet, "availability_domain": "Uocm:US-ASHBURN-AD-7"})),
        Bad(vmdk, "fleet hostname in use", "fleet", "already used in the subnet",
            _fleet({**fleet, "fleet_count": 0, "fleet": [{"hostname": "linux1"}]})),
        # golden image
        Bad(gold, "no instance", "instance_id", "required", _request(gold, {"iscsi_policy": "refuse"})),
        Bad(gold, "instance that does not exist", "instance_id", "no such instance",
            _request(gold, {**golden, "instance_id": FAKE["instance"]})),
        Bad(gold, "unknown iSCSI policy", "iscsi_policy", "'refuse' or 'detach_and_reattach'",
            _request(gold, {**golden, "iscsi_policy": "yolo"})),
        Bad(gold, "unknown launch mode", "launch_mode", "one of",
            _request(gold, {**golden, "launch_mode": "FAST"})),
        Bad(gold, "export without namespace", "export_namespace", "required with export_bucket",
            _request(gold, {**golden, "export_bucket": "ocisim-bucket"})),
        Bad(gold, "export name with ../ and a newline", "export_object_name", "line feed",
            _request(gold, {**golden, "export_bucket": "ocisim-bucket", "export_namespace": t["namespace"],
                            "export_object_name": "../x\n.vmdk"})),
        Bad(gold, "export name with ..", "export_object_name", "'..' path segment",
            _request(gold, {**golden, "export_bucket": "ocisim-bucket", "export_namespace": t["namespace"],
                            "export_object_name": "a/../../x.vmdk"})),
        Bad(gold, "export bucket that does not exist", "export_bucket", "no such bucket",
            _request(gold, {**golden, "export_bucket": "missing", "export_namespace": t["namespace"]})),
        Bad(gold, "Windows fleet names too long", "hostnames from pattern", "at most 15 characters",
            _request(gold, {**golden, **fleet, "os_type": "windows", "hostname_pattern": "golden-windows-{index}"})),
        # nightly backup: its trigger form refuses these before a run exists
        Bad(night, "unknown verification level", "verification_level", "is not one of",
            _form("oci_nightly_backup", "verification_level", "bogus")),
        Bad(night, "dry_run not a boolean", "dry_run", "is not of type",
            _form("oci_nightly_backup", "dry_run", "maybe")),
        Bad(night, "empty tag key", "tag_key", "Invalid input for param",
            _form("oci_nightly_backup", "tag_key", "")),
    ]


def _with_roots(value: str, call):
    old = os.environ.get("OCI_UPLOAD_ROOTS")
    os.environ["OCI_UPLOAD_ROOTS"] = value
    try:
        return call(None)
    finally:
        os.environ["OCI_UPLOAD_ROOTS"] = old or ""


def test_bad_input_matrix(shared, capsys):
    sim, state = shared
    t = sim.tenancy
    root = Path(os.environ["OCI_UPLOAD_ROOTS"])
    work = Path(state) / "files"
    work.mkdir(exist_ok=True)
    (work / "dir").mkdir(exist_ok=True)
    (work / "notes.vmdk").write_text("just some text, not a disk\n" * 20)
    link = work / "hostname.vmdk"
    if not link.exists():
        link.symlink_to("/etc/hostname")
    files = {"dotdot": str(work / ".." / ".." / ".." / ".." / ".." / ".." / "etc" / "passwd"),
             "symlink": str(link), "dir": str(work / "dir"), "text": str(work / "notes.vmdk"),
             "huge": str(vmdk_header(work / "huge.vmdk", 401 << 30)), "qcow2": str(qcow2(work / "disk.qcow2"))}
    assert str(work).startswith(str(root)), "the matrix's files must sit under the test upload root"
    objects_before = len(sim.admin.resources("object"))
    rows, failures = [], []
    started = time.monotonic()
    for case in bad_cases(t, files):
        sim.admin.reset_counters()
        try:
            case.call(None)
            error, text = "accepted", ""
        except (OciInputError, ParamValidationError) as exc:
            error, text = type(exc).__name__, str(exc)
        except Exception as exc:  # anything else is a failure of the case
            error, text = type(exc).__name__, str(exc)
        calls = mutating(sim.admin.counters())
        uploaded = len(sim.admin.resources("object")) - objects_before
        ok = (error in ("OciInputError", "ParamValidationError") and case.field in text and case.rule in text
              and len(text) < 1000 and not calls and uploaded == 0)
        rows.append((case.dag, case.name, case.field, error, len(calls), uploaded, "ok" if ok else "FAIL"))
        if not ok:
            failures.append((case.name, error, text[:300], calls, uploaded))
    with capsys.disabled():
        print("\n" + table(f"bad-input matrix: {len(rows)} classes in {time.monotonic() - started:.1f}s",
                           ("dag", "input", "field", "refused with", "mutating calls", "objects", "result"), rows))
    assert len(rows) >= 40 and len({r[0] for r in rows}) == 5
    assert failures == []


# -- faults ------------------------------------------------------------------------------------------------------
@dataclass
class Fault:
    dag: str
    operation: str
    kind: str
    count: int
    expect: str  # dag run state
    name: str = ""


FAULTS = [
    Fault("clone", "CreateVolume", "drop", 1, "success"),
    Fault("clone", "CreateVolume", "429", 3, "success"),
    Fault("clone", "CreateVolume", "500", 2, "success"),
    Fault("clone", "CreateVolume", "incorrect_state", 1, "success"),
    Fault("clone", "GetVolume", "429", 3, "success"),
    Fault("clone", "GetVolume", "drop", 1, "success"),
    Fault("backup", "CreateVolumeBackup", "drop", 1, "success"),
    Fault("backup", "CreateVolumeBackup", "429", 3, "success"),
    Fault("backup", "CreateVolumeBackup", "500", 2, "success"),
    Fault("backup", "CreateVolumeBackup", "incorrect_state", 2, "success"),
    Fault("backup", "GetVolumeBackup", "500", 2, "success"),
    Fault("restore", "CreateVolume", "drop", 1, "success"),
    Fault("restore", "CreateVolume", "429", 2, "success"),
    Fault("restore", "GetVolumeBackup", "429", 2, "success"),
    Fault("launch", "LaunchInstance", "drop", 1, "success"),
    Fault("launch", "LaunchInstance", "429", 2, "success"),
    Fault("launch", "LaunchInstance", "500", 2, "success"),
    Fault("launch", "ListAvailabilityDomains", "500", 1, "success"),
    Fault("launch", "GetSubnet", "drop", 1, "success"),
    Fault("attach", "AttachVolume", "drop", 1, "success"),
    Fault("attach", "AttachVolume", "429", 3, "success"),
    Fault("attach", "AttachVolume", "incorrect_state", 1, "success"),
    Fault("upload", "UploadPart", "429", 5, "success"),
    Fault("upload", "UploadPart", "drop", 2, "success"),
    Fault("upload", "CommitMultipartUpload", "500", 1, "success"),
    Fault("upload", "CreateMultipartUpload", "drop", 1, "success"),
    Fault("import", "CreateImage", "drop", 1, "success"),
    Fault("import", "CreateImage", "fail_work_request", 1, "success"),  # the retry makes a new attempt
    Fault("import", "CreateImage", "429", 2, "success"),
    Fault("import", "HeadObject", "500", 2, "success"),
    Fault("export", "ExportImage", "drop", 1, "success"),
    Fault("export", "ExportImage", "fail_work_request", 1, "success"),
    Fault("export", "GetImage", "429", 2, "success"),
]


def _made(sim, f: Fault, ctx: dict) -> tuple[int, int]:
    """(live things of the case, leaked temporaries)."""
    if f.dag in ("clone", "restore"):
        vols = [v for v in sim.admin.resources("volume") if v["display_name"] == f.name]
        return sum(v["lifecycle_state"] not in ("TERMINATED", "TERMINATING") for v in vols), 0
    if f.dag == "backup":
        backups = [b for b in sim.admin.resources("volumebackup") if b["display_name"] == f.name]
        return sum(b["lifecycle_state"] not in ("TERMINATED", "TERMINATING") for b in backups), 0
    if f.dag == "launch":
        insts = [i for i in sim.admin.resources("instance") if i["display_name"] == f.name]
        return sum(i["lifecycle_state"] not in ("TERMINATED", "TERMINATING") for i in insts), 0
    if f.dag == "attach":
        atts = [a for a in sim.admin.resources("volumeattachment") if a["volume_id"] == ctx["volume_id"]]
        return sum(a["lifecycle_state"] in ("ATTACHING", "ATTACHED") for a in atts), 0
    if f.dag in ("upload", "export"):
        objs = [o for o in sim.admin.resources("object") if o.get("name") == f.name]
        open_uploads = [u for u in sim.admin.resources("multipartupload") if u.get("object") == f.name]
        return len(objs), len(open_uploads)
    images = [i for i in sim.admin.resources("image") if i["display_name"] == f.name]
    live = sum(i["lifecycle_state"] == "AVAILABLE" for i in images)
    half = sum(i["lifecycle_state"] in ("PROVISIONING", "IMPORTING", "EXPORTING") for i in images)
    return live, half


def test_fault_matrix(shared, capsys):
    sim, state = shared
    t = sim.tenancy
    work = Path(state) / "fault-files"
    work.mkdir(exist_ok=True)
    disk = qcow2(work / "disk.qcow2", virtual=8 * MIB, data=os.urandom(3 * MIB)[:MIB])
    objects = sim.client(oci.object_storage.ObjectStorageClient)
    objects.put_object(t["namespace"], t["buckets"][0], "matrix/source.qcow2", io.BytesIO(disk.read_bytes()))
    storage = sim.client(oci.core.BlockstorageClient)
    base_backup = storage.create_volume_backup(oci.core.models.CreateVolumeBackupDetails(
        volume_id=t["volumes"]["data1"], type="FULL", display_name="matrix-base")).data
    oci.wait_until(storage, storage.get_volume_backup(base_backup.id), "lifecycle_state", "AVAILABLE",
                   max_wait_seconds=120, max_interval_seconds=1)
    image_id = t["images"]["Oracle-Linux-9"]
    backups_before = {b["id"] for b in sim.admin.resources("volumebackup") if b["lifecycle_state"] == "AVAILABLE"}
    rows, failures = [], []
    started = time.monotonic()
    for i, f in enumerate(FAULTS):
        f.name = f"mx{i:02d}-{f.dag}"
        ctx = {"name": f.name, "volume_id": t["volumes"]["data1"], "backup_id": base_backup.id,
               "instance_id": t["instances"]["linux1"], "image_id": image_id, "subnet_id": t["subnet_id"],
               "availability_domain": t["availability_domains"][0], "namespace": t["namespace"],
               "bucket": t["buckets"][0], "object_name": "matrix/source.qcow2", "local_path": str(disk)}
        if f.dag == "attach":  # a fresh volume for each attach case
            vol = storage.create_volume(oci.core.models.CreateVolumeDetails(
                compartment_id=t["compartment_id"], availability_domain=t["availability_domains"][0],
                size_in_gbs=50, display_name=f.name)).data
            oci.wait_until(storage, storage.get_volume(vol.id), "lifecycle_state", "AVAILABLE",
                           max_wait_seconds=120, max_interval_seconds=1)
            ctx["volume_id"] = vol.id
        sim.admin.clear_faults()
        sim.admin.fault(f.operation, f.kind, count=f.count)
        took = time.monotonic()
        try:
            run_state, _ = run_dag(f"test_op_faults_{f.dag}", ctx)
        finally:
            sim.admin.clear_faults()
        took = time.monotonic() - took
        live, leaked = _made(sim, f, ctx)
        duplicates = max(0, live - 1)
        lost = len(backups_before - {b["id"] for b in sim.admin.resources("volumebackup")
                                     if b["lifecycle_state"] == "AVAILABLE"})
        ok = run_state == f.expect and duplicates == 0 and leaked == 0 and lost == 0 and \
            (live == 1 if f.expect == "success" else True)
        rows.append((f.dag, f.operation, f"{f.kind} x{f.count}", run_state, live, duplicates, leaked, lost,
                     f"{took:.1f}s", "ok" if ok else "FAIL"))
        if not ok:
            failures.append(rows[-1])
    with capsys.disabled():
        print("\n" + table(f"fault matrix: {len(rows)} cases in {time.monotonic() - started:.1f}s",
                           ("dag", "operation", "fault", "run", "made", "duplicates", "leaked", "lost backups",
                            "took", "result"), rows))
    assert len(rows) >= 30
    assert failures == [], json.dumps(failures)
