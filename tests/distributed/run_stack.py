"""The docker-compose stack without Docker: Airflow's distributed deployment as separate processes on loopback.

PostgreSQL (a database of its own, dropped at the end) is the metadata database and the Celery result backend,
Redis (a DB number of its own, flushed before and after) the Celery broker; then ocisim, `airflow api-server`,
`scheduler`, `dag-processor`, `triggerer` and two `celery worker`s with different hostnames, all with one temporary
AIRFLOW_HOME. Every process runs in a process group of its own, logs to a file under the work directory, and is
stopped by PID (SIGTERM, then SIGKILL for it, its group and every descendant seen) — also when starting failed.

    python -m tests.distributed.run_stack      # start it with the test's seed, print the URLs, Ctrl-C stops it
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ocisim.testing import free_port

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
AIRFLOW = [PY, "-m", "airflow"]

PG_HOST = os.environ.get("OCI_DIST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("OCI_DIST_PG_PORT", "5432"))
PG_USER = os.environ.get("OCI_DIST_PG_USER", "postgres")
REDIS_HOST = os.environ.get("OCI_DIST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("OCI_DIST_REDIS_PORT", "6379"))
REDIS_DB = int(os.environ.get("OCI_DIST_REDIS_DB", "5"))
HOSTNAME_CALLABLE = "tests.distributed.hostname.from_env"


class StackError(RuntimeError):
    """The stack could not be started (a service unreachable, a process died or never got ready)."""


def check_postgres(host: str = PG_HOST, port: int = PG_PORT, user: str = PG_USER) -> None:
    """PostgreSQL answers; otherwise a StackError naming host:port and what to do."""
    import psycopg2

    try:
        psycopg2.connect(host=host, port=port, user=user, dbname="postgres", connect_timeout=5).close()
    except psycopg2.Error as exc:
        reason = " ".join(str(exc).split())
        raise StackError(f"PostgreSQL is not reachable at {host}:{port} as user {user!r} (trust auth expected): "
                         f"{reason} -- start it, or set OCI_DIST_PG_HOST/OCI_DIST_PG_PORT/OCI_DIST_PG_USER") from exc


def check_redis(host: str = REDIS_HOST, port: int = REDIS_PORT) -> None:
    """Redis answers; otherwise a StackError naming host:port and what to do."""
    import redis

    try:
        redis.Redis(host=host, port=port, socket_connect_timeout=5).ping()
    except redis.RedisError as exc:
        raise StackError(f"Redis is not reachable at {host}:{port}: {exc} -- start it, or set "
                         "OCI_DIST_REDIS_HOST/OCI_DIST_REDIS_PORT") from exc


def _pg(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=5)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def _flush_redis_db() -> None:
    import redis

    redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, socket_connect_timeout=5).flushdb()


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"


class Phases:
    """Wall time of each phase, printed as it ends and summed up at the end."""

    def __init__(self):
        self.done: list[tuple[str, float]] = []
        self.started = time.monotonic()

    @contextlib.contextmanager
    def __call__(self, name: str):
        began = time.monotonic()
        print(f"[distributed] {name} ...", flush=True)
        try:
            yield
        finally:
            took = time.monotonic() - began
            self.done.append((name, took))
            print(f"[distributed] {name}: {took:.1f} s", flush=True)

    def summary(self) -> str:
        rows = [f"  {name:<60} {took:7.1f} s" for name, took in self.done]
        rows.append(f"  {'total':<60} {time.monotonic() - self.started:7.1f} s")
        return "phase times:\n" + "\n".join(rows)


class Api:
    """Airflow's public REST API (`/api/v2`) with a JWT from the simple auth manager's `POST /auth/token`."""

    def __init__(self, base: str, username: str, password: str):
        self.base = base.rstrip("/")
        self.username, self.password = username, password
        self.token: str | None = None

    def _call(self, method: str, path: str, body=None, params: dict | None = None, auth: bool = True,
              accept: str = "application/json"):
        url = f"{self.base}{path}" + (f"?{urllib.parse.urlencode(params, doseq=True)}" if params else "")
        headers = {"content-type": "application/json", "accept": accept}
        if auth:
            if self.token is None:
                self.login()
            headers["authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(url, method=method, headers=headers,
                                     data=json.dumps(body).encode() if body is not None else None)
        with urllib.request.urlopen(req, timeout=60) as resp:
            payload = resp.read()
        if accept != "application/json":
            return payload.decode(errors="replace")
        return json.loads(payload) if payload else None

    def login(self) -> None:
        answer = self._call("POST", "/auth/token", {"username": self.username, "password": self.password},
                            auth=False)
        self.token = answer["access_token"]

    def get(self, path: str, **params):
        return self._call("GET", f"/api/v2{path}", params=params or None)

    def post(self, path: str, body: dict):
        return self._call("POST", f"/api/v2{path}", body)

    def patch(self, path: str, body: dict):
        return self._call("PATCH", f"/api/v2{path}", body)

    def text(self, path: str, **params) -> str:
        return self._call("GET", f"/api/v2{path}", params=params or None, accept="text/plain")


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path
    # descendants met while it ran (task processes have own groups), as (pid, start time): a PID is reused once its
    # process ended (a night of 500 volumes starts thousands), so only the very process seen is ever killed
    seen: set[tuple[int, float]] = field(default_factory=set)


@dataclass
class Stack:
    """Start with `start()` (or `with Stack(...) as stack:`), stop with `stop()`; both print their phase times."""

    workdir: Path
    seed: dict
    workers: int = 2
    concurrency: int = 3
    time_scale: float = 600.0
    # CeleryExecutor (the workers above) or LocalExecutor (the scheduler runs workers x concurrency tasks itself)
    executor: str = "CeleryExecutor"
    guest_exec: bool = True
    extra_env: dict = field(default_factory=dict)
    phases: Phases = field(default_factory=Phases)
    procs: list[Proc] = field(default_factory=list)
    database: str = field(default_factory=lambda: f"airflow_dist_{secrets.token_hex(4)}")
    db_created: bool = False
    stopped: bool = False
    env: dict = field(default_factory=dict)
    api: Api | None = None
    tenancy: dict = field(default_factory=dict)

    # -- paths and configuration -----------------------------------------------------------------------
    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    @property
    def sim_state(self) -> Path:
        return self.workdir / "ocisim"

    def admin(self):
        """ocisim's admin API (AdminClient) with the token the server wrote to its state directory."""
        from ocisim.testing import AdminClient

        return AdminClient(self.tenancy["regions"][self.tenancy["home_region"]],
                           (self.sim_state / "admin_token").read_text().strip())

    def _airflow_env(self, api_port: int, trigger_log_port: int) -> dict:
        from cryptography.fernet import Fernet

        identity = self.tenancy
        extra = {"auth": "api_key", "tenancy": identity["tenancy_id"], "user": identity["user_id"],
                 "fingerprint": identity["fingerprint"], "key_file": str(self.sim_state / "oci_api_key.pem"),
                 "region": identity["home_region"], "service_endpoints": identity["regions"]}
        passwords = self.workdir / "simple_auth_manager_passwords.json"
        password = secrets.token_urlsafe(12)
        passwords.write_text(json.dumps({"admin": password}) + "\n")
        passwords.chmod(0o600)
        db_url = f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.database}"
        base_url = f"http://127.0.0.1:{api_port}"
        # nothing of the calling process's Airflow configuration (tests/conftest.py sets its own) leaks in
        # ... and the Airflow processes keep the bytecode of dags/ and plugins/ (a machine that sets
        # PYTHONDONTWRITEBYTECODE made every DAG-file parse compile them again: 40% of the dag-processor's CPU)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("AIRFLOW") and k != "PYTHONDONTWRITEBYTECODE"}
        env.update({
            "AIRFLOW_HOME": str(self.workdir / "airflow"),
            "PYTHONPATH": f"{ROOT}:{ROOT / 'plugins'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": self.executor,
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": HOSTNAME_CALLABLE,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            # as make up and docker-compose.yaml: the oci connection's password fields masked (docs/connections.md)
            "AIRFLOW__CORE__SENSITIVE_VAR_CONN_NAMES": "key_content,pass_phrase",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
            "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.database}",
            # workers import the OCI SDK and the operators once, before their pool forks (plugins/celery_config.py)
            "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": "celery_config.CELERY_CONFIG",
            # DAG files change with a deployment, not during a night: parse them every 5 minutes, not every 30 s
            # (each parse of the nightly costs about a CPU-second; at 30 s the dag-processor took 14% of 2 cores)
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "300",
            # a task supervisor that sees its task's sockets close a moment before the process can be reaped
            # sleeps up to this long before it looks again, holding the worker slot (docs/running.md)
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
            "AIRFLOW__API__BASE_URL": base_url,
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            # runs come from the REST API only: unpausing must not add a scheduled run of the cron interval
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(trigger_log_port),
            "AIRFLOW_CONN_OCI_DEFAULT": json.dumps({"conn_type": "oci", "extra": extra}),
            "OCI_POLL_INTERVAL": "1", "OCI_TRIGGER_MIN_EVENT_AGE": "5",
        })
        if self.executor == "LocalExecutor":
            env["AIRFLOW__CORE__PARALLELISM"] = str(self.workers * self.concurrency)
        env.update(self.extra_env)
        self.api = Api(base_url, "admin", password)
        return env

    # -- processes -------------------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str], env: dict | None = None) -> Proc:
        log = self.logs / f"{name}.log"
        with open(log, "w") as out:
            popen = subprocess.Popen(argv, cwd=ROOT, env=env or self.env, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def _check_alive(self) -> None:
        self._remember_descendants()
        for proc in self.procs:
            if proc.popen.poll() is not None:
                raise StackError(f"{proc.name} (pid {proc.popen.pid}) exited with {proc.popen.returncode}; "
                                 f"log {proc.log}:\n{tail(proc.log)}")

    def _remember_descendants(self) -> None:
        import psutil

        for proc in self.procs:
            with contextlib.suppress(psutil.Error):
                proc.seen.update((c.pid, c.create_time())
                                 for c in psutil.Process(proc.popen.pid).children(recursive=True))

    def _wait(self, what: str, ready, timeout: float, every: float = 1.0):
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            with contextlib.suppress(OSError, urllib.error.URLError, ValueError, KeyError):
                value = ready()
                if value:
                    return value
            if time.monotonic() > deadline:
                raise StackError(f"{what}: not ready after {timeout:.0f} s\n{self.tails()}")
            time.sleep(every)

    def start(self) -> Stack:
        self.logs.mkdir(parents=True, exist_ok=True)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        with self.phases("check PostgreSQL and Redis"):
            check_postgres()
            check_redis()
        with self.phases("create database, flush Redis DB"):
            print(f"[distributed] database {self.database}, Redis DB {REDIS_DB}", flush=True)
            _pg(f'CREATE DATABASE "{self.database}"')
            self.db_created = True
            _flush_redis_db()
        with self.phases("ocisim (seeded tenancy)"):
            seed_file = self.workdir / "seed.json"
            seed_file.write_text(json.dumps(self.seed))
            port = free_port(pair=True)
            sim = self._spawn("ocisim", [PY, "-m", "ocisim", "--port", str(port), "--state-dir",
                                         str(self.sim_state), "--time-scale", str(self.time_scale), "--seed",
                                         str(seed_file), *(["--guest-exec"] if self.guest_exec else []),
                                         "--log-level", "WARNING"], env=dict(os.environ))
            self._wait("ocisim", lambda: "ocisim ready" in sim.log.read_text(), 120, 0.2)
            self.tenancy = json.loads((self.sim_state / "tenancy.json").read_text())
        api_port, trigger_log_port = free_port(), free_port()
        self.env = self._airflow_env(api_port, trigger_log_port)
        with self.phases("airflow db migrate (PostgreSQL)"):
            with open(self.logs / "db-migrate.log", "w") as out:
                done = subprocess.run([*AIRFLOW, "db", "migrate"], cwd=ROOT, env=self.env, stdout=out,
                                      stderr=subprocess.STDOUT, timeout=600)
            if done.returncode:
                raise StackError(f"airflow db migrate failed:\n{tail(self.logs / 'db-migrate.log')}")
        with self.phases(f"api-server, scheduler, dag-processor, triggerer, {self.workers} workers"):
            self._spawn("api-server", [*AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(api_port),
                                       "--workers", "1"], env={**self.env, "OCI_AIRFLOW_HOSTNAME": "api-server"})
            for name in ("scheduler", "dag-processor", "triggerer"):
                self._spawn(name, [*AIRFLOW, name], env={**self.env, "OCI_AIRFLOW_HOSTNAME": name})
            for n in range(1, self.workers + 1 if self.executor == "CeleryExecutor" else 1):
                self._spawn(f"worker-{n}", [*AIRFLOW, "celery", "worker", "--celery-hostname", f"w{n}@%h",
                                            "--concurrency", str(self.concurrency), "--without-gossip",
                                            "--without-mingle"],
                            env={**self.env, "OCI_AIRFLOW_HOSTNAME": f"worker-{n}",
                                 "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())})
            self._wait("api-server and its metadata database", self._healthy, 300)
            self.create_pool()
            for proc in self.procs:
                if proc.name.startswith("worker-"):
                    self._wait(f"celery {proc.name}",
                               lambda p=proc: re.search(r"@\S+ ready\.", p.log.read_text(errors="replace")), 300)

    def create_pool(self) -> None:
        """The pool the OCI tasks run in (common/pools.py), as docker-compose's init and `make up` make it."""
        from common.pools import pool_body

        body = pool_body()
        try:
            self.api.post("/pools", body)
        except urllib.error.HTTPError as exc:
            if exc.code != 409:
                raise
            self.api.patch(f"/pools/{body['name']}", body)
        print(f"[distributed] pool {body['name']}: {body['slots']} slots", flush=True)

    def _healthy(self) -> bool:
        with urllib.request.urlopen(f"{self.api.base}/api/v2/monitor/health", timeout=10) as resp:
            health = json.loads(resp.read())
        return all((health.get(part) or {}).get("status") == "healthy"
                   for part in ("metadatabase", "scheduler", "triggerer", "dag_processor"))

    def wait(self, what: str, ready, timeout: float, every: float = 2.0):
        """Until `ready()` is truthy (its value is returned); a StackError when a process died or at timeout."""
        return self._wait(what, ready, timeout, every)

    def stop(self) -> None:
        """Every process started: SIGTERM to its group, then SIGKILL to the group and each descendant seen."""
        import psutil

        if self.procs and not self.stopped:
            self.stopped = True
            with self.phases("stop every process"):
                self._remember_descendants()
                for proc in self.procs:
                    if proc.popen.poll() is None:
                        with contextlib.suppress(ProcessLookupError, PermissionError):
                            os.killpg(proc.popen.pid, signal.SIGTERM)
                deadline = time.monotonic() + 30
                for proc in self.procs:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
                for proc in self.procs:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(proc.popen.pid, signal.SIGKILL)
                    if proc.popen.poll() is None:
                        proc.popen.kill()
                    proc.popen.wait(timeout=10)
                    for pid, started in proc.seen:
                        with contextlib.suppress(psutil.Error):
                            if (process := psutil.Process(pid)).create_time() == started:
                                process.kill()
        if self.db_created:
            with self.phases("drop database, flush Redis DB"):
                _pg(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
                self.db_created = False
                with contextlib.suppress(Exception):
                    _flush_redis_db()

    def leftovers(self) -> list[int]:
        """PIDs of started processes or their descendants still alive (after stop(): none)."""
        import psutil

        alive = []
        for pid, started in sorted({(p.popen.pid, None) for p in self.procs} | {s for p in self.procs for s in p.seen},
                                   key=lambda seen: seen[0]):
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)
                if process.status() != psutil.STATUS_ZOMBIE and started in (None, process.create_time()):
                    alive.append(pid)
        return alive

    def tails(self, lines: int = 40) -> str:
        logs = sorted(self.logs.glob("*.log"))
        return "\n".join(f"----- {log.name} (last {lines} lines) -----\n{tail(log, lines)}" for log in logs)

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> int:
    from tests.distributed.seeds import six_volume_estate

    workdir = Path(tempfile.mkdtemp(prefix="oci-distributed-"))
    stack = Stack(workdir, six_volume_estate())
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    try:
        stack.start()
        print(f"api-server {stack.api.base} (admin / {stack.api.password}); logs in {stack.logs}; Ctrl-C stops it")
        while not stop:
            stack.wait("the stack", lambda: bool(stop), timeout=10**9, every=1.0)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        print(stack.phases.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
