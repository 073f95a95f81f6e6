"""`make bench-scale N=50`: the nightly backup of N tagged volumes on the distributed stack (CeleryExecutor, 2
workers x 3 slots, PostgreSQL, Redis, triggerer; tests/distributed/run_stack.py) and on LocalExecutor (6 slots),
ocisim at a fixed time scale, `api` verification, FULL backups of empty 50 GB volumes. A benchmark, not a test:
it prints figures, one line per run, last:

    nightly N=50 executor=celery wall=…s critical=…s ratio=… teardown=…s executions_per_volume=… leaked=0 plan=…s
    report=…s xcom_kb=…

wall: the DAG run's start to end (Airflow's record); critical: one volume's backup + restore (+ verify, instant at
`api` level) as ocisim schedules them, divided by the time scale; ratio: wall / critical; teardown: the duration
of `delete_test_restores`; executions_per_volume: from the metadata database, the mapped (per-volume, per-group,
per-copy) task instances that ran on a worker (a hostname; earlier tries counted too), divided by N; a task the
scheduler skipped, or a mapped task over an empty list, did not run; leaked: temporary volumes left in ocisim;
plan, report: those tasks' durations; xcom_kb: the XCom the run wrote (its values' JSON text).

Before it, a `[bench]` line per run with the rest of what grows with N: discovery's duration, the Protection page's
load after the run (first and second request), the metadata-database rows the run added (every table, counted
before the trigger and after the run), and the task processes started per volume as counted in the task logs
(each start, a resumption after a deferral too, opens its log part with "Pre Execute"); then where the CPU went
(the seconds of each stack process with its descendants, PostgreSQL and Redis, against 2 x wall) and the median
and 90th percentile of the per-volume tasks' steps (scheduled to queued, queued to started, started to ended).

    python bench/scale_nightly.py --n 50 [--executor celery|local|both] [--time-scale 60] [--redis-db 7]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
import urllib.parse
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

DAG_ID = "oci_nightly_backup"
TAG = {"backup-policy": "default"}


def estate(n: int) -> dict:
    """N tagged empty 50 GB block volumes, one untagged probe volume of the same size, a verifier instance."""
    volumes = [{"name": f"vol-{i:03d}", "compartment": "prod", "size_in_gbs": 50, "freeform_tags": dict(TAG)}
               for i in range(n)]
    volumes.append({"name": "probe", "compartment": "prod", "size_in_gbs": 50})
    return {
        "compartments": [{"name": "prod"}],
        "subnets": [{"name": "app", "compartment": "prod", "cidr": "10.0.1.0/24", "dns_label": "app"}],
        "images": [{"name": "OL9", "compartment": "prod", "os": "Oracle Linux", "os_version": "9",
                    "files": {"etc/os-release": 'NAME="Oracle Linux Server"\n'}}],
        "volumes": volumes,
        "instances": [{"name": "verifier", "compartment": "prod", "image": "OL9", "subnet": "app",
                       "hostname": "verifier", "boot_volume": {"size_in_gbs": 47}}],
    }


def _scheduled_seconds(admin, kind: str, resource_id: str) -> float:
    """How long ocisim scheduled the resource to take (emulated seconds): its timeline's last step - creation."""
    res = next(r for r in admin.resources(kind) if r["id"] == resource_id)
    created = datetime.fromisoformat(res["time_created"].replace("Z", "+00:00")).timestamp()
    return max(step[0] for step in res["_timeline"]) - created


def critical_path(stack, time_scale: float) -> float:
    """One volume's backup + restore as ocisim schedules them (a probe volume, not the bench's), in wall seconds."""
    import oci

    admin = stack.admin()
    config = oci.config.from_file(str(stack.sim_state / "config"))
    endpoint = stack.tenancy["regions"][stack.tenancy["home_region"]]
    storage = oci.core.BlockstorageClient(config, service_endpoint=endpoint)
    probe = stack.tenancy["volumes"]["probe"]
    backup = storage.create_volume_backup(oci.core.models.CreateVolumeBackupDetails(volume_id=probe,
                                                                                  type="FULL")).data
    backup_s = _scheduled_seconds(admin, "volumebackup", backup.id)
    oci.wait_until(storage, storage.get_volume_backup(backup.id), "lifecycle_state", "AVAILABLE",
                   max_wait_seconds=600, max_interval_seconds=1)
    volume = storage.get_volume(probe).data
    restored = storage.create_volume(oci.core.models.CreateVolumeDetails(
        compartment_id=volume.compartment_id, availability_domain=volume.availability_domain,
        source_details=oci.core.models.VolumeSourceFromVolumeBackupDetails(id=backup.id))).data
    restore_s = _scheduled_seconds(admin, "volume", restored.id)
    oci.wait_until(storage, storage.get_volume(restored.id), "lifecycle_state", "AVAILABLE",
                   max_wait_seconds=600, max_interval_seconds=1)
    storage.delete_volume(restored.id)
    storage.delete_volume_backup(backup.id)
    return (backup_s + restore_s) / time_scale


def count_executions(run_logs: Path) -> int:
    """Task processes started for the per-volume tasks: each start opens its log part with "Pre Execute" (a
    deferred task resumed on a worker starts again; one ended by its trigger does not)."""
    starts = 0
    for log in run_logs.glob("task_id=*/map_index=*/attempt=*.log"):
        if log.parent.parent.name.startswith(("task_id=protect_volume.", "task_id=copy_to_dr_region")):
            starts += log.read_text(errors="replace").count('"event":"::group::Pre Execute"')
    return starts


def _when(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _query(database: str, sql: str, *args) -> list[tuple]:
    """Rows of one query on the stack's metadata database (PostgreSQL, as tests/distributed/run_stack.py has it)."""
    import psycopg2

    from tests.distributed.run_stack import PG_HOST, PG_PORT, PG_USER

    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=database, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        conn.close()


def count_rows(database: str) -> int:
    """Every row of every table of the metadata database (exact counts)."""
    tables = [t for (t,) in _query(database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    union = " + ".join(f'(SELECT count(*) FROM "{t}")' for t in tables)
    return int(_query(database, f"SELECT {union}")[0][0])


def ran_on_a_worker(database: str, run_id: str) -> int:
    """Mapped task instances of the run that ran on a worker (a hostname), this try and the earlier ones; a task
    the scheduler skipped has none."""
    sql = ("SELECT count(*) FROM {table} WHERE dag_id = %s AND run_id = %s AND map_index >= 0 "
           "AND coalesce(hostname, '') <> ''")
    return sum(int(_query(database, sql.format(table=t), DAG_ID, run_id)[0][0])
               for t in ("task_instance", "task_instance_history"))


def xcom_bytes(database: str, run_id: str) -> int:
    """The XCom the run wrote: the length of each value's JSON text."""
    return int(_query(database, "SELECT coalesce(sum(octet_length(x.value::text)), 0) FROM xcom x "
                                "JOIN dag_run r ON r.id = x.dag_run_id WHERE r.dag_id = %s AND r.run_id = %s",
                      DAG_ID, run_id)[0][0])


def cpu_seconds(stack) -> dict[str, float]:
    """CPU seconds so far of each stack process (with its descendants, live and ended), of PostgreSQL and of
    Redis: where a night's CPU goes on two cores."""
    import psutil

    def total(proc: psutil.Process) -> float:
        # a reaped child's time is in its parent's children_*; a live one's in its own
        t = proc.cpu_times()
        return t.user + t.system + t.children_user + t.children_system

    seconds: dict[str, float] = {}
    for proc in stack.procs:
        try:
            top = psutil.Process(proc.popen.pid)
            family = [top, *top.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        name = "workers" if proc.name.startswith("worker-") else proc.name
        for member in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                seconds[name] = seconds.get(name, 0.0) + total(member)
    for member in psutil.process_iter(["name"]):
        name = member.info["name"] or ""
        if name.startswith(("postgres", "redis-server")):
            try:
                key = "postgres" if name.startswith("postgres") else "redis"
                seconds[key] = seconds.get(key, 0.0) + total(member)
            except psutil.NoSuchProcess:
                pass
    return seconds


def latencies(database: str, run_id: str) -> str:
    """Median and 90th percentile seconds of the per-volume tasks' steps, from the metadata database: scheduled
    to queued (the scheduler), queued to started (the executor and a worker), started to ended (the task, its
    wait included). Where a night's wall goes when the cores are not busy."""
    sql = ("SELECT task_id, extract(epoch FROM queued_dttm - scheduled_dttm), "
           "extract(epoch FROM start_date - queued_dttm), extract(epoch FROM end_date - start_date) "
           "FROM task_instance WHERE dag_id = %s AND run_id = %s AND map_index >= 0 AND queued_dttm IS NOT NULL")
    rows = _query(database, sql, DAG_ID, run_id)
    parts = []
    for task_id in sorted({r[0] for r in rows}):
        for i, step in ((1, "sched_to_queued"), (2, "queued_to_start"), (3, "start_to_end")):
            values = sorted(float(r[i]) for r in rows if r[0] == task_id and r[i] is not None)
            if values:
                parts.append(f"{task_id.split('.')[-1]}.{step}=p50 {values[len(values) // 2]:.1f}s "
                             f"p90 {values[int(len(values) * 0.9)]:.1f}s")
    return "; ".join(parts)


def page_load(stack) -> tuple[float, float]:
    """The Protection page (/oci/) after the run: the first request (its cache cold) and the second, seconds."""
    times = []
    for _ in range(2):
        began = time.perf_counter()
        stack.api._call("GET", "/oci/", accept="text/html")
        times.append(time.perf_counter() - began)
    return times[0], times[1]


def run_once(n: int, executor: str, time_scale: float, workdir: Path) -> str:
    from tests.distributed.run_stack import Stack

    stack = Stack(workdir, estate(n), time_scale=time_scale, guest_exec=False,
                  executor="CeleryExecutor" if executor == "celery" else "LocalExecutor")
    try:
        stack.start()
        api, tenancy = stack.api, stack.tenancy
        critical = critical_path(stack, time_scale)
        stack.wait(f"{DAG_ID} parsed", lambda: api.get(f"/dags/{DAG_ID}"), 300)
        api.patch(f"/dags/{DAG_ID}", {"is_paused": False})
        conf = {"compartment_ids": tenancy["compartments"]["prod"], "verification_level": "api"}
        rows_before = count_rows(stack.database)
        cpu_before = cpu_seconds(stack)
        run_id = api.post(f"/dags/{DAG_ID}/dagRuns", {"logical_date": None, "conf": conf})["dag_run_id"]
        base = f"/dags/{DAG_ID}/dagRuns/{urllib.parse.quote(run_id, safe='')}"
        # every 5 s: a run's GET loads its task instances, 0.34 s of the API server's time at 500 volumes, so
        # polling every second took 8% of the two cores from the night it measures (wall is Airflow's own record)
        state = stack.wait(f"run {run_id}", lambda: (s := api.get(base)["state"]) in ("success", "failed") and s,
                           3600 + 6 * n, every=5.0)
        run = api.get(base)
        wall = _when(run["end_date"]) - _when(run["start_date"])

        def took(task_id: str) -> float:
            """An unmapped task's duration (read by its id: a run of N volumes has several N task instances)."""
            ti = api.get(f"{base}/taskInstances/{task_id}")
            return _when(ti["end_date"]) - _when(ti["start_date"]) if ti["end_date"] and ti["start_date"] else -1

        cpu_after = cpu_seconds(stack)
        cpu = {k: cpu_after[k] - cpu_before.get(k, 0.0) for k in cpu_after}
        rows = count_rows(stack.database) - rows_before
        executions = ran_on_a_worker(stack.database, run_id)
        starts = count_executions(stack.workdir / "airflow" / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}")
        page_cold, page_warm = page_load(stack)
        admin = stack.admin()
        leaked = [v["id"] for v in admin.resources("volume")
                  if (v.get("freeform_tags") or {}).get("airflow-temporary") and v["lifecycle_state"] != "TERMINATED"]
        print(f"[bench] N={n} {executor}: discovery={took('discover_volumes'):.1f}s "
              f"protection_page={page_cold:.2f}s (then {page_warm:.2f}s) db_rows={rows} ({rows / n:.1f} per volume) "
              f"log_starts_per_volume={starts / n:.2f}", flush=True)
        print(f"[bench] N={n} {executor}: cpu_s total={sum(cpu.values()):.0f} (of {2 * wall:.0f} on 2 cores) "
              + " ".join(f"{k}={v:.0f}" for k, v in sorted(cpu.items(), key=lambda kv: -kv[1])), flush=True)
        print(f"[bench] N={n} {executor}: {latencies(stack.database, run_id)}", flush=True)
        if state != "success":
            print(f"[bench] run {run_id} ended {state}", flush=True)
        return (f"nightly N={n} executor={executor} wall={wall:.1f}s critical={critical:.1f}s "
                f"ratio={wall / critical:.1f} teardown={took('delete_test_restores'):.1f}s "
                f"executions_per_volume={executions / n:.2f} leaked={len(leaked)} plan={took('plan_backups'):.1f}s "
                f"report={took('report'):.1f}s xcom_kb={xcom_bytes(stack.database, run_id) / 1024:.0f}")
    finally:
        stack.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--executor", choices=("celery", "local", "both"), default="both")
    parser.add_argument("--time-scale", type=float, default=60.0)
    args = parser.parse_args()
    os.environ.setdefault("OCI_DIST_REDIS_DB", "7")
    lines = []
    for executor in (["celery", "local"] if args.executor == "both" else [args.executor]):
        started = time.monotonic()
        line = run_once(args.n, executor, args.time_scale, Path(tempfile.mkdtemp(prefix="oci-bench-scale-")))
        print(f"[bench] {executor}: {time.monotonic() - started:.0f} s with start and stop", flush=True)
        lines.append(line)
    print("\n".join(lines), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
