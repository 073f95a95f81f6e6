"""OCI Protection page load for 500 volumes, as figures (not a test).

ocisim is seeded with 500 block volumes (450 tagged, 50 not), each tagged one gets a FULL and an INCREMENTAL backup
through the SDK, most of them tagged `verified-at` as the nightly DAG does; Airflow's metadata (SQLite, its own
AIRFLOW_HOME) gets 30 nightly runs whose `report` XCom covers every tagged volume. Then Airflow's API server app,
as `airflow api-server` builds it, serves /oci/ (HTML), /oci/api/protection and /oci/protection.csv to an
authenticated user: cold (first request of the process: the app is built, OCI and the 30 reports are read), warm
(within the cache time) and with the cache expired (OCI read again on the request, the runs not).

Run: make bench-dashboard   (or: PYTHONPATH=.:plugins .venv/bin/python bench/dashboard.py [--volumes N] [--rounds R])
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAG_ID = "oci_nightly_backup"
CHROMIUM = "/usr/bin/chromium"  # Debian's, as make test-browser uses; skipped when missing
POLICIES = {"default": {"full_interval_days": 7, "retention_days": 30},
            "gold": {"full_interval_days": 7, "retention_days": 90, "dr_region": "us-phoenix-1"}}


def airflow_home(tmp: Path) -> None:
    """Airflow reads its configuration at import: a home and SQLite database of the bench's own."""
    os.environ.update({"AIRFLOW_HOME": str(tmp / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                       "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
                       "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
                       "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING"})
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True,
                   env=os.environ.copy())


def seed(count: int) -> dict:
    return {"compartments": [{"name": "prod"}],
            "volumes": [{"name": f"vol-{i:03d}", "compartment": "prod", "size_in_gbs": 50,
                         **({"freeform_tags": {"backup-policy": "gold" if i % 5 == 0 else "default"}}
                            if i % 10 else {})} for i in range(count)]}


def make_backups(sim, volumes: dict[str, str]) -> dict[str, list[str]]:
    """FULL then INCREMENTAL per tagged volume (8 threads); the newest of 9 in 10 tagged `verified-at`."""
    import oci

    m = oci.core.models
    storage = sim.client(oci.core.BlockstorageClient)

    def one(item):
        index, (name, volume_id) = item
        made = [storage.create_volume_backup(m.CreateVolumeBackupDetails(
            volume_id=volume_id, type=kind, display_name=f"{name}-{kind.lower()}",
            freeform_tags={"backup-policy": "default", "managed-by": "airflow-oci", "airflow-dag": DAG_ID}),
            opc_retry_token=uuid.uuid4().hex).data.id for kind in ("FULL", "INCREMENTAL")]
        if index % 10:
            storage.update_volume_backup(made[-1], m.UpdateVolumeBackupDetails(freeform_tags={
                "managed-by": "airflow-oci", "airflow-dag": DAG_ID, "verified-at": datetime.now(UTC).isoformat(),
                "verified-level": "script"}))
        return name, made

    with ThreadPoolExecutor(8) as pool:
        return dict(pool.map(one, enumerate(volumes.items())))


def write_history(volumes: dict[str, str], backups: dict[str, list[str]], compartment: str, nights: int) -> None:
    """`nights` nightly runs, each with the report XCom the DAG's `report` task leaves; the newest also with its
    resolved configuration. Rows are inserted as the scheduler and the task API would leave them."""
    from airflow import settings
    from airflow.models import DagRun, TaskInstance
    from airflow.models.xcom import XComModel
    from sqlalchemy import insert, select

    rng = random.Random(7)
    start = datetime.now(UTC) - timedelta(days=nights)
    with settings.Session() as session:
        for night in range(nights):
            when = start + timedelta(days=night, hours=2)
            run_id = f"scheduled__{when.isoformat()}"
            session.execute(insert(DagRun.__table__).values(
                dag_id=DAG_ID, run_id=run_id, run_type="scheduled", state="success", logical_date=when,
                run_after=when, start_date=when, end_date=when + timedelta(minutes=40), clear_number=0,
                log_template_id=None, conf=None))
            run_pk = session.scalar(select(DagRun.id).where(DagRun.run_id == run_id))
            rows = [{"volume_id": volumes[name], "display_name": name, "kind": "volume", "policy": "default",
                     "backup_id": made[-1], "type": "INCREMENTAL", "size_in_gbs": 50, "unique_size_in_mbs": 3,
                     "rto_seconds": round(rng.uniform(40, 400), 1),
                     "verification": {"level": "script", "passed": True, "exit_code": 0,
                                      "detail": "e2fsck -fn clean on /dev/oracleoci/oraclevdc",
                                      "canary": f"{name} canary", "heartbeat": None},
                     "status": "verified", "failed": False} for name, made in backups.items()]
            report = {"generated_at": when.isoformat(), "volumes": rows, "pruned": [],
                      "totals": {"volumes": len(rows), "backed_up": len(rows), "verified": len(rows), "failed": 0,
                                 "pruned": 0}}
            values = {"report": report}
            if night == nights - 1:
                values["resolve_config"] = {"compartment_ids": [compartment], "tag_key": "backup-policy",
                                            "policies": POLICIES}
            for task_id, value in values.items():
                session.execute(insert(TaskInstance.__table__).values(
                    id=uuid.uuid4(), dag_id=DAG_ID, run_id=run_id, task_id=task_id, map_index=-1, state="success",
                    pool="default_pool", pool_slots=1, try_number=1, max_tries=0, hostname="", unixname="",
                    priority_weight=1, span_status="not_started"))
                session.execute(insert(XComModel.__table__).values(
                    dag_run_id=run_pk, task_id=task_id, map_index=-1, key="return_value", dag_id=DAG_ID,
                    run_id=run_id, value=json.dumps(value), timestamp=when))
        session.commit()


def timed(client, path: str, headers: dict) -> tuple[float, int]:
    began = time.perf_counter()
    response = client.get(path, headers=headers)
    took = time.perf_counter() - began
    assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return took, len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--volumes", type=int, default=500)
    parser.add_argument("--nights", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    began = time.perf_counter()
    for path in (str(ROOT / "plugins"), str(ROOT)):
        sys.path.insert(0, path)
    from ocisim.testing import ocisim_running
    from tests.conftest import oci_connection_json  # sets a test AIRFLOW_HOME on import: ours comes after

    airflow_home(tmp)

    with ocisim_running(tmp / "ocisim", time_scale=1e6, seed=seed(args.volumes)) as sim:
        os.environ["AIRFLOW_CONN_OCI_DEFAULT"] = oci_connection_json(sim)
        volumes = sim.tenancy["volumes"]
        tagged = {n: v for n, v in volumes.items() if int(n.split("-")[1]) % 10}
        backups = make_backups(sim, tagged)
        write_history(volumes, backups, sim.tenancy["compartments"]["prod"], args.nights)
        print(f"set-up: {len(volumes)} volumes ({len(tagged)} tagged, {2 * len(backups)} backups), "
              f"{args.nights} nightly reports: {time.perf_counter() - began:.1f} s")

        from airflow.api_fastapi.app import create_app, get_auth_manager
        from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
        from fastapi.testclient import TestClient

        client = TestClient(create_app("all"))
        token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="bench", role="viewer"))
        headers = {"Authorization": f"Bearer {token}"}
        cold, size = timed(client, "/oci/", headers)
        body = client.get("/oci/api/protection", headers=headers).json()
        assert len(body["volumes"]) == len(tagged) and not body["source"]["stale"], body["source"]
        figures = {"/oci/": [], "/oci/api/protection": [], "/oci/protection.csv": []}
        for _ in range(args.rounds):
            for path in figures:
                figures[path].append(timed(client, path, headers))
        os.environ["OCI_PROTECTION_CACHE_SECONDS"] = "0"  # every request reads OCI again
        expired = [timed(client, "/oci/", headers) for _ in range(args.rounds)]
        print(f"\nOCI Protection, {len(tagged)} protected + {len(volumes) - len(tagged)} untagged volumes, "
              f"{args.nights} nights of history:")
        print(f"  {'cold /oci/ (app built, OCI and 30 reports read)':<52} {cold * 1000:8.0f} ms  {size:>9,} bytes")
        for path, runs in figures.items():
            times = [t for t, _ in runs]
            print(f"  {'warm ' + path:<52} {statistics.median(times) * 1000:8.0f} ms  {runs[0][1]:>9,} bytes "
                  f"(median of {len(times)}, max {max(times) * 1000:.0f} ms)")
        times = [t for t, _ in expired]
        print(f"  {'cache expired /oci/ (OCI read again)':<52} {statistics.median(times) * 1000:8.0f} ms  "
              f"(median of {len(times)}, max {max(times) * 1000:.0f} ms)")
        print(f"  where a cold load goes: {parts(args.rounds)}")
        if Path(CHROMIUM).exists():
            snapshots = sys.modules["protection.app"].app.app.state.snapshots
            print(f"  in Chromium (HTTP, parse and paint, load event): {in_browser(client.app, headers, snapshots)}")


def in_browser(app, headers: dict, snapshots, rounds: int = 5) -> str:
    """The page as a user gets it: the API server app behind uvicorn, Debian's headless Chromium timing the
    navigation to the load event; cold (cache emptied) once, then warm."""
    import threading

    import uvicorn
    from playwright.sync_api import sync_playwright

    from ocisim.testing import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, extra_http_headers=headers)

            def load() -> float:
                page.goto(f"http://127.0.0.1:{port}/oci/", wait_until="load")
                return page.evaluate("() => { const n = performance.getEntriesByType('navigation')[0];"
                                     " return n.loadEventEnd - n.startTime; }")

            os.environ["OCI_PROTECTION_CACHE_SECONDS"] = "60"
            snapshots.clear()
            cold = load()
            warm = [load() for _ in range(rounds)]
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
    return f"cold {cold:.0f} ms, warm {statistics.median(warm):.0f} ms (median of {rounds}, max {max(warm):.0f} ms)"


def parts(rounds: int) -> str:
    """Each step of a cold load alone, median of `rounds`: OCI's catalogue, Airflow's 30 reports, the join and
    the HTML."""
    from hooks.oci import OciHook
    from protection.catalogue import read_airflow, read_oci, resolve_config
    from protection.render import page
    from protection.snapshots import Status
    from protection.view import build

    steps: dict[str, list[float]] = {"read OCI": [], "read Airflow": [], "build": [], "render": []}
    for _ in range(rounds):
        t0 = time.perf_counter()
        airflow = read_airflow()
        t1 = time.perf_counter()
        config = resolve_config(airflow)
        oci = read_oci(OciHook(), config)
        t2 = time.perf_counter()
        view = build(oci, airflow, config)
        t3 = time.perf_counter()
        page(view, Status(oci["now"], time.time(), False, None, config.source))
        t4 = time.perf_counter()
        for name, took in zip(steps, (t2 - t1, t1 - t0, t3 - t2, t4 - t3), strict=True):
            steps[name].append(took)
    return ", ".join(f"{name} {statistics.median(v) * 1000:.0f} ms" for name, v in steps.items())


if __name__ == "__main__":
    main()
