"""`make up` / `make down`: a standalone-like Airflow with ocisim and the demo's seeded tenancy, left running.

`up` starts, each detached in a session of its own (setsid; stdin closed, output to a log file): ocisim with
demo/seed.json, then `airflow api-server`, `scheduler`, `dag-processor` and `triggerer` with the LocalExecutor on a
PostgreSQL database of their own (SQLite cannot serve LocalExecutor's parallel writers). It returns once the health
endpoint reports every component healthy and every DAG in dags/ is parsed and unpaused, printing the URL and the
login. Connection `oci_default` points at ocisim (as in `make demo`, but in the metadata database, where Admin >
Connections lists, edits and tests it); connection `airflow_api` lets the nightly report set its run's note.
Everything lives under the out directory (default out/up, mode 700; every file in it that holds a key or a password
mode 600): AIRFLOW_HOME, ocisim's state, logs, `pids` (name, pid, start time of each session leader) and
`stack.json` (ports, database, URL).

A second `up` with the stack running only prints where it is. After `down`, `up` resumes with the same ocisim state
and metadata database; when ocisim's state directory is new (first run, or out/up removed), the database is
dropped and made anew, so Airflow's history and the tenancy always belong together.

`down` stops, for each recorded leader, its whole session (descendants in process groups of their own included, as
Airflow's task processes are) in waves: scheduler, dag-processor and triggerer with their tasks, then the api-server,
then ocisim; each with SIGTERM, up to 20 s, then SIGKILL. It removes `pids`; without `pids` it does nothing.

    python -m demo.stack up [--out DIR] [--port 8080] [--db airflow_up]
    python -m demo.stack down [--out DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from demo.run import airflow_env, ocisim_argv
from oci_provider import SENSITIVE_FIELDS
from ocisim.testing import free_port

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
AIRFLOW = [PY, "-m", "airflow"]
USER = PASSWORD = "admin"  # loopback only; the simple auth manager reads the password from passwords.json
# the other logins (docs/connections.md): op may read and edit connections but not administer; viewer reads only
LOGINS = {USER: ("admin", PASSWORD), "op": ("op", "op"), "viewer": ("viewer", "viewer")}
# connection extras Airflow's API and UI return masked: the oci connection type's password fields
SENSITIVE_VAR_CONN_NAMES = ",".join(SENSITIVE_FIELDS)
HOST = "127.0.0.1"
PG = {"host": os.environ.get("UP_PG_HOST", "127.0.0.1"), "port": int(os.environ.get("UP_PG_PORT", "5432")),
      "user": os.environ.get("UP_PG_USER", "postgres")}
COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")
STOP_GRACE = 20.0  # seconds from SIGTERM to SIGKILL, per wave


class StackError(RuntimeError):
    """The stack could not be started; the message says why and where the logs are."""


@dataclass(frozen=True)
class Layout:
    out: Path

    @property
    def pids(self) -> Path:
        return self.out / "pids"

    @property
    def info(self) -> Path:
        return self.out / "stack.json"

    @property
    def logs(self) -> Path:
        return self.out / "logs"

    @property
    def home(self) -> Path:
        return self.out / "airflow"

    @property
    def sim_state(self) -> Path:
        return self.out / "ocisim"


def say(message: str) -> None:
    print(f"[up] {message}", flush=True)


class Phase:
    """Prints what starts and how long it took."""

    def __init__(self, name: str):
        self.name = name

    def __enter__(self):
        self.began = time.monotonic()
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            say(f"{self.name}: {time.monotonic() - self.began:.1f} s")


# -- processes ------------------------------------------------------------------------------------------------
def _start_time(pid: int) -> float | None:
    """When the process started, rounded as `pids` records it; None when there is no such process."""
    import psutil

    try:
        return round(psutil.Process(pid).create_time(), 2)
    except psutil.Error:
        return None


def read_pids(layout: Layout) -> list[tuple[str, int, float]]:
    if not layout.pids.exists():
        return []
    rows = []
    for line in layout.pids.read_text().splitlines():
        name, pid, started = line.split()
        rows.append((name, int(pid), float(started)))
    return rows


def _leader_alive(pid: int, started: float) -> bool:
    """The recorded process itself (not a later process that got its PID), and not a zombie."""
    return _start_time(pid) == started and bool(live([pid]))


def live(pids) -> set[int]:
    """Those of `pids` that still run (zombies, already dead and waiting to be reaped, do not count)."""
    import psutil

    found = set()
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                found.add(pid)
    return found


def stack_pids(layout: Layout, names=None) -> set[int]:
    """Every live process of the stack (or of the leaders `names`): the recorded leaders, whatever runs in their
    sessions (Airflow's task processes have process groups of their own, but stay in the session), and every
    descendant (ocisim's guest scripts get sessions of their own)."""
    import psutil

    records = [r for r in read_pids(layout) if names is None or r[0] in names]
    found = {pid for _, pid, started in records if _leader_alive(pid, started)}
    # a session is ours while its leader is, or is gone (Linux hands out no PID still in use as a session ID);
    # a PID that now leads some other process (after a reboot, say) is not
    sessions = {pid for _, pid, started in records if (_start_time(pid) or started) == started}
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if os.getsid(proc.pid) in sessions:
                found.add(proc.pid)
    for pid in list(found):
        with contextlib.suppress(psutil.Error):
            found.update(c.pid for c in psutil.Process(pid).children(recursive=True))
    return live(found)


def spawn(layout: Layout, name: str, argv: list[str], env: dict) -> subprocess.Popen:
    """Detached: a session of its own, stdin closed, output to logs/NAME.log; recorded in `pids` at once."""
    log = layout.logs / f"{name}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    started = _start_time(proc.pid) or time.time()
    with open(layout.pids, "a") as pids:
        pids.write(f"{name} {proc.pid} {started:.2f}\n")
    return proc


def down(out: Path, quiet: bool = False) -> list[int]:
    """Stop every process of the stack by PID; returns the PIDs stopped. In waves, so the tasks that are still running
    can report their end while the API server is up: scheduler, dag-processor and triggerer (and the task processes
    in their sessions) first, then the api-server, then ocisim. Each wave: SIGTERM to the process groups, a grace
    period, then SIGKILL to whatever of it is left."""
    layout = Layout(out)
    records = read_pids(layout)
    if not records:
        if not quiet:
            print(f"[down] nothing to stop: no {layout.pids}", flush=True)
        return []
    names = [name for name, _, _ in records]
    last = ("api-server", "ocisim")
    waves = [[n for n in names if n not in last], *[[n] for n in last if n in names]]
    seen: set[int] = set()
    for wave in waves:
        if wave:
            seen |= _stop_wave(layout, wave)
    left = stack_pids(layout) | live(seen)  # anything started meanwhile
    _kill(left)
    seen |= left
    deadline = time.monotonic() + 10
    while live(seen) and time.monotonic() < deadline:
        time.sleep(0.1)
    _reap(records)
    if live(seen):
        raise StackError(f"processes still alive after SIGKILL: {sorted(live(seen))}")
    layout.pids.unlink(missing_ok=True)
    if not quiet:
        listed = ", ".join(f"{name} ({pid})" for name, pid, _ in records)
        print(f"[down] stopped {len(seen)} processes: {listed} and their children; removed {layout.pids}", flush=True)
    return sorted(seen)


def _stop_wave(layout: Layout, names: list[str]) -> set[int]:
    seen = stack_pids(layout, names)
    groups = set()
    for pid in seen:
        with contextlib.suppress(OSError):
            groups.add(os.getpgid(pid))
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    while True:
        running = stack_pids(layout, names) | live(seen)
        seen |= running
        if not running or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    _kill(running)
    return seen


def _kill(pids) -> None:
    import psutil

    for pid in pids:
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()


def _reap(records) -> None:
    """Collect exit statuses of leaders that are our own children (when up and down run in one process)."""
    for _, pid, _ in records:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)


# -- PostgreSQL -----------------------------------------------------------------------------------------------
def _pg(sql: str, params: tuple = ()) -> list:
    import psycopg2

    conn = psycopg2.connect(dbname="postgres", connect_timeout=5, **PG)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def prepare_database(db: str, fresh: bool) -> str:
    import psycopg2

    try:
        exists = bool(_pg("SELECT 1 FROM pg_database WHERE datname = %s", (db,)))
    except psycopg2.Error as exc:
        raise StackError(f"PostgreSQL is not reachable at {PG['host']}:{PG['port']} as user {PG['user']!r} "
                         f"(trust auth expected): {str(exc).strip()}. Start it, or set UP_PG_HOST/UP_PG_PORT/"
                         "UP_PG_USER.") from exc
    if exists and fresh:
        _pg(f'DROP DATABASE "{db}" WITH (FORCE)')
    if not exists or fresh:
        _pg(f'CREATE DATABASE "{db}"')
        return "created" + (" anew (new ocisim state)" if exists else "")
    return "reused"


def drop_database(db: str) -> None:
    _pg(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


# -- the REST API ---------------------------------------------------------------------------------------------
class Api:
    def __init__(self, base: str):
        self.base = base
        self.token: str | None = None

    def call(self, method: str, path: str, body=None, auth: bool = True):
        headers = {"content-type": "application/json", "accept": "application/json"}
        if auth:
            if self.token is None:
                self.token = self.call("POST", "/auth/token", {"username": USER, "password": PASSWORD},
                                       auth=False)["access_token"]
            headers["authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(f"{self.base}{path}", method=method, headers=headers,
                                     data=None if body is None else json.dumps(body).encode())
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def healthy(self) -> dict:
        health = self.call("GET", "/api/v2/monitor/health", auth=False)
        return {part: (health.get(part) or {}).get("status") for part in COMPONENTS}


def port_free(port: int) -> bool:
    """Nothing listens on it (SO_REUSEADDR, as servers bind: connections in TIME_WAIT do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def dag_ids() -> list[str]:
    """One DAG per file in dags/, named after it."""
    return sorted(p.stem for p in (ROOT / "dags").glob("*.py") if not p.name.startswith("_"))


# -- up -------------------------------------------------------------------------------------------------------
def _env(layout: Layout, tenancy: dict, info: dict, keys: dict) -> dict:
    # no caller's Airflow config; bytecode of dags/ and plugins/ is kept, or every DAG-file parse compiles them
    base = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW") and k != "PYTHONDONTWRITEBYTECODE"}
    env = airflow_env(tenancy, layout.sim_state, home=layout.home, base=base)
    url = info["url"]
    env.update({
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "8",
        # a task's supervisor may sleep this long after its task ended, holding the slot (docs/running.md)
        "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
        "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{role}" for u, (role, _) in LOGINS.items()),
        "AIRFLOW__CORE__SENSITIVE_VAR_CONN_NAMES": SENSITIVE_VAR_CONN_NAMES,
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",  # the UI's Test button and POST /api/v2/connections/test
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(layout.out / "passwords.json"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN":
            f"postgresql+psycopg2://{PG['user']}@{PG['host']}:{PG['port']}/{info['database']}",
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__API__SECRET_KEY": keys["api_secret_key"],
        "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(info["worker_log_port"]),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(info["trigger_log_port"]),
        # deployment settings (plugins/common/config.py); what the nightly works on is its Variable, below
        "OCI_POLL_INTERVAL": "1", "OCI_TRIGGER_MIN_EVENT_AGE": "5",
    })
    return env


def _write_env_sh(layout: Layout, env: dict) -> None:
    keep = sorted(k for k in env if k.startswith(("AIRFLOW", "OCI_")) or k == "PYTHONPATH")
    lines = ["# source this file to use the airflow CLI against the `make up` stack"]
    lines += [f"export {k}={_sh_quote(env[k])}" for k in keep]
    write_private(layout.out / "env.sh", "\n".join(lines) + "\n")


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner may read (mode 600 from its creation on, and again if it existed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(text)


def _sh_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def _running_info(layout: Layout) -> dict | None:
    """The stack's info when its processes are all alive and the API answers; None otherwise."""
    records = read_pids(layout)
    if not records or not layout.info.exists():
        return None
    if not all(_leader_alive(pid, started) for _, pid, started in records):
        return None
    info = json.loads(layout.info.read_text())
    with contextlib.suppress(OSError, ValueError):
        if all(s == "healthy" for s in Api(info["url"]).healthy().values()):
            return info
    return None


def _wait(layout: Layout, procs: dict[str, subprocess.Popen], what: str, ready, timeout: float,
          every: float = 1.0):
    deadline = time.monotonic() + timeout
    last_error = ""
    while True:
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise StackError(f"{name} exited with {proc.returncode} while waiting for {what}; "
                                 f"{layout.logs / (name + '.log')}:\n{tail(layout.logs / (name + '.log'))}")
        try:
            value = ready()
            if value:
                return value
        except (OSError, ValueError, KeyError) as exc:
            last_error = str(exc)
        if time.monotonic() > deadline:
            raise StackError(f"{what}: not ready after {timeout:.0f} s ({last_error or 'no answer yet'}); "
                             f"logs in {layout.logs}")
        time.sleep(every)


def up(out: Path, port: int = 8080, database: str = "airflow_up") -> dict:
    """Start the stack (or find it running); returns stack.json's content: url, ports, database, dag ids."""
    layout = Layout(out)
    total = time.monotonic()
    running = _running_info(layout)
    if running:
        say("already running")
        return running
    if read_pids(layout):
        say("a previous stack is partly alive: stopping what is left of it first")
        down(out, quiet=True)
    if not port_free(port):
        raise StackError(f"port {port} on {HOST} is in use: stop what uses it or run `make up PORT=<another>`")
    layout.logs.mkdir(parents=True, exist_ok=True)
    layout.out.chmod(0o700)  # keys, passwords, the tenancy: the folder is its owner's alone
    layout.pids.unlink(missing_ok=True)
    fresh = not (layout.sim_state / "tenancy.json").exists()
    try:
        with Phase(f"PostgreSQL database {database}") as phase:
            phase.name += f" {prepare_database(database, fresh)}"
        info = _start(layout, port, database, fresh)
    except BaseException:
        down(out, quiet=True)
        raise
    say(f"ready in {time.monotonic() - total:.1f} s")
    return info


def _start(layout: Layout, port: int, database: str, fresh: bool) -> dict:
    from cryptography.fernet import Fernet

    keys_file = layout.out / "keys.json"
    if fresh or not keys_file.exists():
        write_private(keys_file, json.dumps({"fernet_key": Fernet.generate_key().decode(),
                                             "api_secret_key": secrets.token_urlsafe(32),
                                             "jwt_secret": secrets.token_urlsafe(32)}))
    keys_file.chmod(0o600)
    keys = json.loads(keys_file.read_text())
    write_private(layout.out / "passwords.json",
                  json.dumps({u: password for u, (_, password) in LOGINS.items()}) + "\n")
    procs: dict[str, subprocess.Popen] = {}

    with Phase("ocisim with demo/seed.json" + (" (new tenancy)" if fresh else " (existing state)")):
        sim_port = free_port(pair=True)
        log = layout.logs / "ocisim.log"
        mark = log.stat().st_size if log.exists() else 0
        procs["ocisim"] = spawn(layout, "ocisim", ocisim_argv(layout.sim_state, sim_port), dict(os.environ))
        _wait(layout, procs, "ocisim", lambda: "ocisim ready" in log.read_bytes()[mark:].decode(errors="replace"),
              120, 0.2)
        (layout.sim_state / "tenancy.json").chmod(0o600)  # ocisim writes it at each start
        tenancy = json.loads((layout.sim_state / "tenancy.json").read_text())

    info = {"url": f"http://{HOST}:{port}", "login": {"username": USER, "password": PASSWORD},
            "database": database, "ocisim": tenancy["regions"], "worker_log_port": free_port(),
            "trigger_log_port": free_port(), "dags": dag_ids(), "out": str(layout.out)}
    env = _env(layout, tenancy, info, keys)
    # oci_default lives in the metadata database (_store_oci_default), where the UI lists and edits it: an
    # environment variable would win over it and stay invisible
    oci_default = json.loads(env.pop("AIRFLOW_CONN_OCI_DEFAULT"))
    _write_env_sh(layout, env)

    with Phase("airflow db migrate"):
        with open(layout.logs / "db-migrate.log", "w") as log_out:
            done = subprocess.run([*AIRFLOW, "db", "migrate"], cwd=ROOT, env=env, stdout=log_out,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=900)
        if done.returncode:
            raise StackError(f"airflow db migrate failed:\n{tail(layout.logs / 'db-migrate.log')}")

    api = Api(info["url"])
    with Phase("api-server, scheduler, dag-processor, triggerer healthy"):
        procs["api-server"] = spawn(layout, "api-server", [*AIRFLOW, "api-server", "--host", HOST, "--port",
                                                           str(port), "--workers", "1"], env)
        for name in ("scheduler", "dag-processor", "triggerer"):
            procs[name] = spawn(layout, name, [*AIRFLOW, name], env)
        _wait(layout, procs, "the health of " + ", ".join(COMPONENTS),
              lambda: all(s == "healthy" for s in api.healthy().values()), 300)

    with Phase("pool oci_api (the OCI tasks' pool, size OCI_API_POOL_SLOTS)"):
        from common.pools import pool_body

        pool = pool_body()
        _upsert(api, "pools", pool["name"], pool)

    with Phase("Variable oci_nightly_backup (the nightly's configuration, from the seeded tenancy)"):
        from demo.scenarios import nightly

        variable = {"key": "oci_nightly_backup", "value": json.dumps(nightly(tenancy, layout.out)),
                    "description": "nightly backup configuration (JSON, the Params' keys), written by make up"}
        try:
            api.call("POST", "/api/v2/variables", variable)
        except urllib.error.HTTPError as exc:
            if exc.code != 409:
                raise
            api.call("PATCH", f"/api/v2/variables/{variable['key']}", variable)

    with Phase("connection oci_default in the metadata database (Admin > Connections lists it)"):
        _store_oci_default(api, oci_default)

    _mail_catcher(layout, procs, api, info)
    with Phase(f"{len(info['dags'])} DAGs parsed and unpaused"):
        _wait(layout, procs, "the DAGs in dags/ parsed", lambda: _parsed(api, info["dags"]), 300)
        for dag_id in info["dags"]:
            api.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    with Phase("connection airflow_api (the nightly report sets its run's note with it)"):
        conn = {"connection_id": "airflow_api", "conn_type": "http", "host": info["url"], "login": USER,
                "password": PASSWORD, "description": "The api-server of `make up`, for DAG run notes"}
        _upsert_connection(api, conn)

    write_private(layout.info, json.dumps(info, indent=2) + "\n")  # it holds the login
    return info


def _store_oci_default(api: Api, conn: dict) -> None:
    """Create oci_default, or point it at this start's ocisim ports (they change at every `up`)."""
    # port 0, not none: Airflow 3.3.2's Test button sends port 0 for a connection without one, and the API then
    # refuses to test with the stored key ("host or port ... differs"; apache/airflow#73298, docs/connections.md)
    body = {"connection_id": "oci_default", "conn_type": conn["conn_type"], "extra": json.dumps(conn["extra"]),
            "port": 0, "description": "ocisim, the local OCI emulator of `make up` (key file in its state folder)"}
    _upsert_connection(api, body)


def _upsert_connection(api: Api, conn: dict) -> None:
    """Create the connection, or update it where an earlier `up` made it (its ports change at every start)."""
    _upsert(api, "connections", conn["connection_id"], conn)


def _upsert(api: Api, collection: str, name: str, body: dict) -> None:
    """POST to a REST collection, or PATCH the item an earlier `up` made (409)."""
    try:
        api.call("POST", f"/api/v2/{collection}", body)
    except urllib.error.HTTPError as exc:
        if exc.code != 409:
            raise
        api.call("PATCH", f"/api/v2/{collection}/{name}", body)


DEMO_MAIL_TO = ["ops@example.com"]


def _mail_catcher(layout: Layout, procs: dict[str, subprocess.Popen], api: Api, info: dict) -> None:
    """The demo's mails (docs/notifications.md): a loopback SMTP server writing `.eml` files into out/up/mail,
    the connection smtp_default pointing at it, and notify_to in the nightly's Variable."""
    with Phase("mail catcher (smtp_default; the mails land in mail/ as .eml files)"):
        port, folder = free_port(), layout.out / "mail"
        log = layout.logs / "mailcatcher.log"
        mark = log.stat().st_size if log.exists() else 0
        procs["mailcatcher"] = spawn(layout, "mailcatcher", [PY, "-m", "demo.mailcatcher", "--dir", str(folder),
                                                              "--port", str(port)], dict(os.environ))
        _wait(layout, procs, "mailcatcher",
              lambda: "mail catcher ready" in log.read_bytes()[mark:].decode(errors="replace"), 60, 0.2)
        conn = {"connection_id": "smtp_default", "conn_type": "smtp", "host": HOST, "port": port,
                "extra": json.dumps({"disable_ssl": True, "disable_tls": True, "from_email": "airflow@localhost"}),
                "description": "The demo's mail catcher (make up): mails land in mail/ as .eml files"}
        _upsert_connection(api, conn)
        variable = api.call("GET", "/api/v2/variables/oci_nightly_backup")
        value = {**json.loads(variable["value"]), "notify_to": DEMO_MAIL_TO}
        api.call("PATCH", "/api/v2/variables/oci_nightly_backup",
                 {"key": variable["key"], "value": json.dumps(value), "description": variable.get("description")})
        info["mail"] = str(folder)


def _parsed(api: Api, expected: list[str]) -> bool:
    found = {d["dag_id"] for d in api.call("GET", "/api/v2/dags?limit=1000")["dags"]}
    if set(expected) <= found:
        return True
    errors = api.call("GET", "/api/v2/importErrors?limit=100")["import_errors"]
    if errors:
        raise StackError("the dag-processor could not import: "
                         + "; ".join(f"{e['filename']}: {e['stack_trace'].strip().splitlines()[-1]}" for e in errors))
    return False


def print_banner(info: dict) -> None:
    home = next(iter(info["ocisim"].values()))
    print(f"""
Airflow   {info['url']}    login: {info['login']['username']} / {info['login']['password']}
DAGs      {', '.join(info['dags'])} (unpaused; the nightly backup's latest interval starts now)
ocisim    {home} (seeded from demo/seed.json), state {info['out']}/ocisim
logs      {info['out']}/logs    airflow CLI: source {info['out']}/env.sh
mail      {info.get('mail', '-')} (.eml files: failure mails, summaries, RPO alerts)
stop      make down UP_DIR={info['out']}
""", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.stack", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "up")
    parser.add_argument("--port", type=int, default=8080, help="the api-server's port (UI and REST API)")
    parser.add_argument("--db", default="airflow_up", help="PostgreSQL database for Airflow's metadata")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    try:
        if args.command == "down":
            down(out)
            return 0
        print_banner(up(out, args.port, args.db))
        return 0
    except StackError as exc:
        print(f"[{args.command}] FAILED: {exc}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
