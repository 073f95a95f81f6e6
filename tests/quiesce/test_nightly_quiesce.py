"""Application-consistent nightly backups against the local PostgreSQL and MariaDB, and fsfreeze through Run
Command: a single volume tagged `backup-quiesce: postgres:...`, and a `backup-group` whose members carry
`mariadb:...` and `fsfreeze:/srv/files` (one bracket for the group). ocisim holds each backup at its
point-in-time step (REQUEST_RECEIVED) while a second connection looks at the servers and the guest's log; real
servers, real drivers, the real SDK against ocisim, real Airflow (dag.test())."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from ocisim.testing import ocisim_running
from tests.airflow_helpers import last_run_id, run_dag, xcom
from tests.conftest import oci_connection_json
from tests.quiesce import servers

DAG_ID = "oci_nightly_backup"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.skipif(not (servers.answers(5432) and servers.answers(3306)),
                                reason="needs PostgreSQL on 127.0.0.1:5432 and MariaDB on 127.0.0.1:3306")


def _estate() -> dict:
    protected = {"backup-policy": "default"}
    return {
        "compartments": [{"name": "prod"}],
        "subnets": [{"name": "app", "compartment": "prod", "cidr": "10.0.1.0/24", "dns_label": "app"}],
        "images": [{"name": "OL9", "compartment": "prod", "os": "Oracle Linux", "os_version": "9",
                    "files": {"etc/os-release": 'NAME="Oracle Linux Server"\n'}}],
        "volumes": [
            {"name": "pg-data", "compartment": "prod", "size_in_gbs": 50,
             "freeform_tags": {**protected, "backup-quiesce": "postgres:qz_pg"}, "files": {"PG_VERSION": "15\n"}},
            {"name": "shop-db", "compartment": "prod", "size_in_gbs": 50,
             "freeform_tags": {**protected, "backup-group": "shop", "backup-quiesce": "mariadb:qz_maria"},
             "files": {"ibdata1": "pages\n"}},
            {"name": "shop-files", "compartment": "prod", "size_in_gbs": 50,
             "freeform_tags": {**protected, "backup-group": "shop", "backup-quiesce": "fsfreeze:/srv/files"},
             "files": {"upload.txt": "file\n"}},
        ],
        "instances": [{"name": "app1", "compartment": "prod", "image": "OL9", "subnet": "app", "hostname": "app1",
                       "boot_volume": {"size_in_gbs": 47, "files": {"etc/hostname": "app1\n"}},
                       "attach": [{"volume": "shop-files", "type": "paravirtualized"}]}],
    }


@pytest.fixture
def quiesced(tmp_path, airflow_db, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_QZ_PG", servers.prepare_postgres())
    monkeypatch.setenv("AIRFLOW_CONN_QZ_MARIA", servers.prepare_mariadb())
    with ocisim_running(tmp_path / "quiesce", time_scale=600.0, seed=_estate(), guest_exec=True) as handle:
        monkeypatch.setenv("AIRFLOW_CONN_OCI_DEFAULT", oci_connection_json(handle))
        yield handle


class Watcher(threading.Thread):
    """While the DAG runs: each time ocisim holds a backup at its point-in-time step, look at the servers and the
    guest from outside, then release it (after `release_after` seconds; None: at once)."""

    def __init__(self, sim, instance_id: str, release: bool = True):
        super().__init__(daemon=True)
        self.sim, self.instance_id, self.release = sim, instance_id, release
        self.seen: dict[str, dict] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            self.watch()
        except Exception as exc:  # seen by the test, which asserts there was none
            self.error = exc
            self.sim.admin.release_backups()

    error: Exception | None = None

    def watch(self) -> None:
        while not self.stop.is_set():
            held = [h["id"] for h in self.sim.admin.backup_holds()["held"] if h["lifecycleState"] ==
                    "REQUEST_RECEIVED"]
            new = [i for i in held if i not in self.seen]
            if new:
                kind = "group" if any(".volumegroupbackup." in i for i in new) else "volume"
                look = {"kind": kind, "pg": servers.pg_sessions_in_backup(),
                        "maria": servers.maria_backup_locks(), "guest": self.sim.admin.guest_log(self.instance_id)}
                for i in new:
                    self.seen[i] = look
                if self.release:  # a release ends the hold: hold the next backups again
                    self.sim.admin.release_backups()
                    self.sim.admin.hold_backups(None, count=None)
            time.sleep(0.05)


def _looks(watcher: Watcher, kind: str) -> list[dict]:
    return list({id(v): v for v in watcher.seen.values() if v["kind"] == kind}.values())


def test_nightly_quiesces_postgres_mariadb_and_fsfreeze_around_the_point_in_time(quiesced):
    sim = quiesced
    app1 = sim.tenancy["instances"]["app1"]
    conf = {"compartment_ids": sim.tenancy["compartments"]["prod"], "verification_level": "api",
            "policies": {"default": {"full_interval_days": 7, "retention_days": 30, "verify": "all"}}}

    # night 1: every backup held at REQUEST_RECEIVED until the watcher has looked
    sim.admin.hold_backups(None, count=None)
    watcher = Watcher(sim, app1)
    watcher.start()
    try:
        state, tasks = run_dag(DAG_ID, conf)
    finally:
        watcher.stop.set()
        watcher.join()
        sim.admin.release_backups()
    assert watcher.error is None
    assert state == "success", tasks
    run_id = last_run_id(DAG_ID)

    # PostgreSQL was in backup mode while ocisim held its backup: one open session of the test user whose
    # last statement was pg_backup_start, its application_name the label; the recorded start LSN is the
    # server's checkpoint redo LSN; afterwards no session is left in backup mode
    [pg_look] = _looks(watcher, "volume")
    [(_, label, pg_state, _, redo)] = pg_look["pg"]
    assert pg_state == "idle" and label.startswith("airflow-quiesce")
    assert pg_look["maria"] == []  # MariaDB was not quiesced for the PostgreSQL volume
    assert servers.pg_sessions_in_backup() == []
    backup = xcom(DAG_ID, run_id, "protect_volume.backup_volume", map_index=0)
    consistency = backup["consistency"]
    assert consistency["consistency"] == "app-consistent" and consistency["failed"] is False
    [position] = consistency["positions"]
    assert position["position"].startswith(f"start LSN {redo}, stop LSN ") and label in position["position"]
    assert consistency["hold_ms"] > 0

    # The group: one bracket over MariaDB and the frozen filesystem; while held, MariaDB's BACKUP STAGE lock
    # was held and the guest's log ended with the freeze; afterwards, no lock and the thaw logged last
    [group_look] = _looks(watcher, "group")
    assert {mode for _, mode, _ in group_look["maria"]} == {"MDL_BACKUP_WAIT_COMMIT"}
    assert group_look["pg"] == []
    assert group_look["guest"][-1].endswith("freeze /srv/files")
    assert servers.maria_backup_locks() == []
    log = sim.admin.guest_log(app1)
    assert [line.split(" ", 1)[1] for line in log] == ["freeze /srv/files", "thaw /srv/files"]
    group = xcom(DAG_ID, run_id, "protect_group.backup_group", map_index=0)
    g = group["consistency"]
    assert g["consistency"] == "app-consistent" and g["kinds"] == ["fsfreeze", "mariadb"]
    gtid = group_look["maria"][0][2]
    assert any(p["kind"] == "mariadb" and p["position"] == ("binlog off" + (f", gtid {gtid}" if gtid else ""))
               for p in g["positions"])

    # Evidence: the report and the run note, and the backups' own tags in OCI
    report = xcom(DAG_ID, run_id, "report")
    text = "\n".join(str(x) for x in (report["volumes"], report["groups"]))
    assert "app-consistent (postgres: start LSN" in text or backup["consistency"]["text"].startswith(
        "app-consistent (postgres: start LSN")
    tagged = {b["id"]: b["freeform_tags"] for b in sim.admin.resources("volumebackup")}
    assert tagged[backup["backup_id"]]["backup-consistency"] == "app-consistent (postgres)"
    assert f"start LSN {redo}" in tagged[backup["backup_id"]]["backup-consistency-position"]
    [gb] = [b for b in sim.admin.resources("volumegroupbackup") if b["id"] == group["volume_group_backup_id"]]
    assert gb["freeform_tags"]["backup-consistency"] == "app-consistent (fsfreeze, mariadb)"
    assert all("airflow-quiesce-open" not in v["freeform_tags"] for v in sim.admin.resources("volume"))

    # A worker killed mid-bracket: the server leaves backup mode with its session; the volume says so
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT}/plugins"}
    worker = subprocess.Popen([sys.executable, "-m", "tests.quiesce.killed_worker", sim.tenancy["volumes"]["pg-data"],
                               "postgres:qz_pg"], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    lines = []
    while not lines or lines[-1] not in ("OPEN", ""):  # the SDK logs to stdout too
        lines.append(worker.stdout.readline().strip() if worker.poll() is None else "")
    assert lines[-1] == "OPEN", lines
    assert len(servers.pg_sessions_in_backup()) == 1
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    for _ in range(50):
        if not servers.pg_sessions_in_backup():
            break
        time.sleep(0.1)
    assert servers.pg_sessions_in_backup() == []
    [pg_volume] = [v for v in sim.admin.resources("volume") if v["display_name"] == "pg-data"]
    assert "killed-run" in pg_volume["freeform_tags"]["airflow-quiesce-open"]

    # A user's DAG: the backup operator with `quiesce`, while OCI holds the backup 2.5 s, longer than
    # max_quiesce_seconds=1: the bracket closes anyway and the backup is crash-consistent (quiesce timed out),
    # loudly; the bracket first ended what the killed worker left, and says so
    sim.admin.hold_backups(2500, count=None)
    try:
        state, tasks = run_dag("test_op_quiesce_backup", {"volume_id": sim.tenancy["volumes"]["pg-data"],
                                                          "quiesce": "postgres:qz_pg"})
    finally:
        sim.admin.release_backups()
    assert state == "success", tasks
    made = xcom("test_op_quiesce_backup", None, "backup_volume")
    timed_out = made["consistency"]
    assert timed_out["consistency"] == "crash-consistent" and timed_out["reason"] == "quiesce timed out"
    assert timed_out["failed"] is True and timed_out["text"] == "CRASH-CONSISTENT (quiesce timed out)"
    assert any("killed-run left its bracket open; the server had already left backup mode" in r
               for r in timed_out["recovered"])
    assert servers.pg_sessions_in_backup() == []
    [pg_volume] = [v for v in sim.admin.resources("volume") if v["display_name"] == "pg-data"]
    assert "airflow-quiesce-open" not in pg_volume["freeform_tags"]
    tagged = {b["id"]: b["freeform_tags"] for b in sim.admin.resources("volumebackup")}
    assert tagged[made["backup_id"]]["backup-consistency"] == "crash-consistent (quiesce timed out)"
