"""docker-compose.yaml, checked without a Docker engine: the Compose Specification schema plus what only breaks once
containers start (tests/compose_check.py), on the real file and on deliberately broken copies; and airflow-init's
project step (docker/compose_init.py) run for real against ocisim and Airflow's metadata database."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.compose_check import SCHEMA, check_compose

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yaml"
AIRFLOW_SERVICES = ("airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer", "airflow-worker-1", "airflow-worker-2")


def test_compose_file_passes_every_check():
    assert check_compose(COMPOSE) == []


def test_compose_file_has_the_stack_the_issue_asks_for():
    doc = yaml.safe_load(COMPOSE.read_text())
    services = doc["services"]
    assert set(services) == {"postgres", "redis", "ocisim", *AIRFLOW_SERVICES}
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"].startswith("redis:7")
    for name in AIRFLOW_SERVICES:  # the x-airflow-common anchor reached every Airflow service
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
        assert services[name]["build"]["dockerfile"] == "docker/Dockerfile"
    assert "FROM apache/airflow:slim-3.3.2-python3.11\n" in (ROOT / "docker/Dockerfile").read_text()
    workers = {services[n]["hostname"] for n in ("airflow-worker-1", "airflow-worker-2")}
    assert workers == {"airflow-worker-1", "airflow-worker-2"}
    ocisim_cmd = services["ocisim"]["command"]
    assert "--guest-exec" not in ocisim_cmd and ocisim_cmd[ocisim_cmd.index("--host") + 1] == "0.0.0.0"
    assert services["airflow-apiserver"]["ports"] == ["${AIRFLOW_API_PORT:-8080}:8080"]


def test_schema_is_the_shared_copy():
    """tests/schemas/ carries the schema so a clean clone validates without ../shared; the two must not drift."""
    shared = ROOT.parent / "shared" / "schemas" / "compose-spec.json"
    if not shared.is_file():
        pytest.skip(f"{shared} not present (a clone without the shared folder)")
    assert SCHEMA.read_bytes() == shared.read_bytes()


def test_unmodified_copy_passes(tmp_path):
    """The broken copies below differ from this one by their mutation only."""
    copy = tmp_path / "docker-compose.yaml"
    copy.write_text(COMPOSE.read_text())
    assert check_compose(copy, project_dir=ROOT) == []


def _replace(old: str, new: str):
    def mutate(text: str, tmp_path: Path) -> str:
        assert text.count(old) == 1, f"the mutation's anchor text {old!r} must occur exactly once"
        return text.replace(old, new)

    return mutate


def _edit(change):
    def mutate(text: str, tmp_path: Path) -> str:
        doc = yaml.safe_load(text)
        change(doc, tmp_path)
        return yaml.safe_dump(doc, sort_keys=False)

    return mutate


def _older_airflow_dockerfile(text: str, tmp_path: Path) -> str:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text((ROOT / "docker/Dockerfile").read_text().replace("slim-3.3.2-python3.11",
                                                                          "slim-3.2.0-python3.11"))
    return text.replace("dockerfile: docker/Dockerfile\n", f"dockerfile: {dockerfile}\n")


def _add_dependency(service: str, dep: str, condition: str):
    def change(doc, tmp_path):
        doc["services"][service].setdefault("depends_on", {})[dep] = {"condition": condition}

    return change


BROKEN = {
    "depends_on a missing service": (
        _edit(_add_dependency("airflow-scheduler", "postgress", "service_healthy")),
        "services.airflow-scheduler.depends_on: 'postgress' is not a defined service"),
    "misspelt top-level key": (
        _edit(lambda doc, _: doc.update(servics=doc.pop("services"))),
        "schema: (root): 'servics' does not match any of the regexes: '^x-'"),
    "misspelt service key": (
        _replace("    healthcheck:\n      test: [\"CMD\", \"redis-cli\", \"ping\"]",
                 "    healthchek:\n      test: [\"CMD\", \"redis-cli\", \"ping\"]"),
        "schema: services.redis: 'healthchek' does not match any of the regexes: '^x-'"),
    "wrong type": (
        _edit(lambda doc, _: doc["services"]["airflow-apiserver"].update(ports=8080)),
        "schema: services.airflow-apiserver.ports: 8080 is not of type 'array'"),
    "bind mount of a missing path (through the anchor)": (
        _replace("    - ./include:/opt/airflow/include:ro\n    - airflow-logs:/opt/airflow/logs\n    # ocisim's",
                 "    - ./includes:/opt/airflow/include:ro\n    - airflow-logs:/opt/airflow/logs\n    # ocisim's"),
        "services.airflow-scheduler.volumes: bind mount source ./includes does not exist"),
    "undeclared named volume": (
        _edit(lambda doc, _: doc["volumes"].pop("ocisim-state")),
        "named volume 'ocisim-state' is not declared under top-level volumes"),
    "service without a healthcheck": (
        _edit(lambda doc, _: doc["services"]["ocisim"].pop("healthcheck")),
        "services.ocisim: no healthcheck"),
    "service_healthy on a service without a healthcheck": (
        _edit(lambda doc, _: doc["services"]["ocisim"].pop("healthcheck")),
        "services.airflow-init.depends_on: waits for service_healthy on 'ocisim' which has no healthcheck"),
    "waiting for a long-running service to complete": (
        _edit(_add_dependency("airflow-triggerer", "airflow-scheduler", "service_completed_successfully")),
        "waits for 'airflow-scheduler' to complete, but it restarts (always): it never completes"),
    "dependency cycle": (
        _edit(_add_dependency("postgres", "airflow-init", "service_completed_successfully")),
        "depends_on cycle: postgres -> airflow-init -> postgres"),
    "host port clash": (
        _edit(lambda doc, _: doc["services"]["ocisim"].update(ports=["8080:12000"])),
        "host port 8080/tcp is already published by 'ocisim'"),
    "not a duration": (
        _replace("      interval: 10s\n      timeout: 5s", "      interval: 10 seconds\n      timeout: 5s"),
        "services.postgres.healthcheck.interval: '10 seconds' is not a duration"),
    "LocalExecutor": (
        _replace("AIRFLOW__CORE__EXECUTOR: CeleryExecutor", "AIRFLOW__CORE__EXECUTOR: LocalExecutor"),
        "services.airflow-worker-1: AIRFLOW__CORE__EXECUTOR is 'LocalExecutor', not CeleryExecutor"),
    "Airflow image of another version": (
        _older_airflow_dockerfile,
        "Airflow image 'apache/airflow:slim-3.2.0-python3.11' is not apache/airflow 3.3.2 for Python 3.11"),
    "a component with its own JWT secret": (
        _replace('    DUMB_INIT_SETSID: "0"\n',
                 '    DUMB_INIT_SETSID: "0"\n    AIRFLOW__API_AUTH__JWT_SECRET: other\n'),
        "AIRFLOW__API_AUTH__JWT_SECRET differs between the Airflow services"),
    "broker on a host that is no service": (
        _replace("redis://:@redis:6379/0", "redis://:@localhost:6379/0"),
        "AIRFLOW__CELERY__BROKER_URL points at host 'localhost', which is no service"),
    "a setting the DAGs read is not passed": (
        _replace("    OCI_BACKUP_SCHEDULE: ${OCI_BACKUP_SCHEDULE:-0 2 * * *}\n", ""),
        "OCI_BACKUP_SCHEDULE (read by plugins/common/config.py when DAG files are parsed) is not in the environment "
        "of airflow-init"),
    "a variable .env.example does not document": (
        _replace("${OCISIM_TIME_SCALE:-60}", "${OCISIM_SPEED:-60}"),
        ".env.example: ${OCISIM_SPEED} is used in the compose file but not documented"),
    "a variable without a default": (
        _replace("${OCISIM_TIME_SCALE:-60}", "${OCISIM_TIME_SCALE}"),
        "interpolation: services.ocisim.command[10]: ${OCISIM_TIME_SCALE} has no default"),
    "project folder not mounted": (
        _replace("    - ./plugins:/opt/airflow/plugins:ro\n    - ./include:/opt/airflow/include:ro\n"
                 "    - airflow-logs:/opt/airflow/logs\n    # ocisim's",
                 "    - ./include:/opt/airflow/include:ro\n    - airflow-logs:/opt/airflow/logs\n    # ocisim's"),
        "services.airflow-scheduler: ./plugins is not mounted at /opt/airflow/plugins"),
    "no triggerer": (
        _edit(lambda doc, _: doc["services"].pop("airflow-triggerer")),
        "no triggerer service"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_copy_fails_the_same_check(case, tmp_path):
    mutate, expected = BROKEN[case]
    broken = tmp_path / "docker-compose.yaml"
    broken.write_text(mutate(COMPOSE.read_text(), tmp_path))
    problems = check_compose(broken, project_dir=ROOT)
    assert any(expected in p for p in problems), f"{expected!r} not among {problems}"


def test_dockerfiles_copy_only_what_the_context_sends(tmp_path):
    """A .dockerignore that drops a COPY source breaks the build: the check sees it."""
    context = tmp_path / "ctx"
    (context / "docker").mkdir(parents=True)
    for name in ("requirements.txt", "constraints.txt", "docker/Dockerfile", "docker/compose_init.py"):
        (context / name).write_text((ROOT / name).read_text())
    (context / ".dockerignore").write_text("*\n!requirements.txt\n!constraints.txt\n")
    compose = tmp_path / "docker-compose.yaml"
    compose.write_text(yaml.safe_dump({"services": {"a": {
        "build": {"context": str(context), "dockerfile": "docker/Dockerfile"},
        "healthcheck": {"test": ["CMD", "true"]}}}}))
    problems = check_compose(compose, project_dir=ROOT)
    assert any("copies docker/compose_init.py, excluded by .dockerignore" in p for p in problems), problems


# -- what the containers run, checked against the locked packages and a live ocisim ------------------------------
def _airflow_invocations(doc: dict) -> list[list[str]]:
    """The Airflow CLI arguments of every Airflow service's command, init script and health check."""
    out = []
    for svc in doc["services"].values():
        if "AIRFLOW__CORE__EXECUTOR" not in (svc.get("environment") or {}):
            continue
        command = svc.get("command")
        if isinstance(command, str):
            out.append(shlex.split(command))
        else:  # the init script: `/entrypoint airflow <subcommand>` lines
            out += [m.split() for m in re.findall(r"airflow ((?:[a-z][a-z-]* ?)+)", "\n".join(command))]
        test = (svc.get("healthcheck") or {}).get("test") or []
        if test[:1] == ["CMD-SHELL"] and test[1].startswith("airflow "):
            out.append(shlex.split(test[1])[1:])
    return out


def test_airflow_and_celery_commands_exist_in_the_locked_versions():
    """Every Airflow command of the stack parses with the locked Airflow's CLI, and the Celery app the worker
    health check pings imports with the locked celery (celery 5.7.0 broke that import: the lock pins 5.6.3)."""
    from airflow.cli import cli_parser

    doc = yaml.safe_load(COMPOSE.read_text())
    invocations = _airflow_invocations(doc)
    assert {" ".join(a[:2]) for a in invocations} >= {"api-server", "scheduler", "dag-processor", "triggerer",
                                                       "celery worker", "db migrate", "jobs check"}
    parser = cli_parser.get_parser()
    for args in invocations:
        parser.parse_args(args)  # SystemExit (test error) on an unknown command or flag
    ping = doc["services"]["airflow-worker-1"]["healthcheck"]["test"][1]
    module, attr = re.search(r"--app ([\w.]+)\.(\w+) inspect ping", ping).groups()
    assert type(getattr(importlib.import_module(module), attr)).__name__ == "Celery"


def test_ocisim_healthcheck_against_a_live_ocisim(ocisim, tmp_path):
    """The ocisim service's health check, run as written (state dir and ports pointed at this ocisim): healthy
    when seeded and both regions answer; unhealthy before seeding."""
    code = yaml.safe_load(COMPOSE.read_text())["services"]["ocisim"]["healthcheck"]["test"][3]
    ports = tuple(int(url.rsplit(":", 1)[1]) for url in ocisim.endpoints.values())
    assert "(12000, 12001)" in code and '"/ocisim-state"' in code
    live = code.replace("(12000, 12001)", repr(ports))

    def run(state_dir: Path) -> subprocess.CompletedProcess:
        script = live.replace('"/ocisim-state"', repr(str(state_dir)))
        return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)

    healthy = run(ocisim.state_dir)
    assert healthy.returncode == 0, healthy.stderr
    unseeded = run(tmp_path)
    assert unseeded.returncode != 0 and "not seeded yet" in unseeded.stderr


# -- airflow-init's project step, for real ---------------------------------------------------------------------
@pytest.fixture
def init_module(airflow_db):
    """docker/compose_init.py as a module; afterwards the session's metadata DB loses what it wrote (later tests
    run the nightly DAG, which would read this Variable)."""
    from airflow.models.connection import Connection
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    spec = importlib.util.spec_from_file_location("compose_init", ROOT / "docker" / "compose_init.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    Variable.delete(module.VARIABLE)
    with create_session() as session:
        session.query(Connection).filter(Connection.conn_id == module.CONN_ID).delete()


def test_compose_init_wires_login_connection_and_variable(init_module, ocisim, tmp_path, monkeypatch):
    """What airflow-init writes, read back and used: the api_key connection (key file from ocisim's state, one
    endpoint per region with the service host) reaches both regions; the Variable gets ocisim's ids and keeps the
    user's keys; the login is merged into the passwords file; a second run (every `compose up`) changes nothing."""
    from airflow.models.connection import Connection
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from hooks.oci import OciHook

    init = init_module
    monkeypatch.delenv("AIRFLOW_CONN_OCI_DEFAULT", raising=False)
    monkeypatch.setenv("_AIRFLOW_WWW_USER_USERNAME", "admin-user")
    monkeypatch.setenv("_AIRFLOW_WWW_USER_PASSWORD", "s3cret-pw")
    passwords = tmp_path / "auth" / "passwords.json"
    passwords.parent.mkdir()
    passwords.write_text(json.dumps({"viewer": "kept"}))
    Variable.set(init.VARIABLE, {"dry_run": True, "compartment_ids": ["ocid1.compartment.oc1..stale"]},
                 serialize_json=True)
    args = ["--state-dir", str(ocisim.state_dir), "--ocisim-host", "127.0.0.1", "--passwords-file", str(passwords),
            "--wait", "5"]

    assert init.main(args) == 0
    assert init.main(args) == 0

    assert json.loads(passwords.read_text()) == {"viewer": "kept", "admin-user": "s3cret-pw"}
    with create_session() as session:
        rows = session.query(Connection).filter(Connection.conn_id == "oci_default").all()
        assert len(rows) == 1
        extra = rows[0].extra_dejson
    assert extra["key_file"] == str(ocisim.state_dir / "oci_api_key.pem") and "key_content" not in extra
    assert extra["service_endpoints"] == ocisim.endpoints
    # In compose ocisim binds 0.0.0.0 and records that; the connection gets the service name, ports kept.
    assert init.service_endpoints({"us-ashburn-1": "http://0.0.0.0:12000", "us-phoenix-1": "http://0.0.0.0:12001"},
                                  "ocisim") == {"us-ashburn-1": "http://ocisim:12000",
                                                "us-phoenix-1": "http://ocisim:12001"}
    # A task gets the connection through the execution API; this test process reads the same row through env.
    monkeypatch.setenv("AIRFLOW_CONN_OCI_DEFAULT", json.dumps({"conn_type": "oci", "extra": extra}))
    hook = OciHook()
    ok, message = hook.test_connection()
    assert ok, message
    volume_id = ocisim.tenancy["volumes"]["data1"]
    assert hook.get_resource(volume_id).display_name == "data1"
    other = next(r for r in ocisim.endpoints if r != ocisim.home_region)
    assert hook.get_client("identity", other).list_regions().status == 200
    variable = Variable.get(init.VARIABLE, deserialize_json=True)
    assert variable == {"dry_run": True, "compartment_ids": [ocisim.tenancy["compartment_id"]],
                        "subnet_id": ocisim.tenancy["subnet_id"], "verification_level": "boot"}


def test_compose_init_leaves_a_real_tenancy_alone(init_module, ocisim, tmp_path, monkeypatch, capsys):
    """AIRFLOW_CONN_OCI_DEFAULT set (a real tenancy in .env): no ocisim connection or Variable is written."""
    from airflow.models.connection import Connection
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    init = init_module
    with create_session() as session:
        session.query(Connection).filter(Connection.conn_id == "oci_default").delete()
    Variable.delete(init.VARIABLE)
    monkeypatch.setenv("AIRFLOW_CONN_OCI_DEFAULT", json.dumps({"conn_type": "oci", "extra": {"auth": "config_file"}}))
    monkeypatch.setenv("_AIRFLOW_WWW_USER_PASSWORD", "")
    assert init.main(["--state-dir", str(ocisim.state_dir), "--passwords-file", str(tmp_path / "p.json")]) == 0
    with create_session() as session:
        assert session.query(Connection).filter(Connection.conn_id == "oci_default").count() == 0
    assert Variable.get(init.VARIABLE, default_var=None) is None
    assert not (tmp_path / "p.json").exists()
    out = capsys.readouterr().out
    assert "AIRFLOW_CONN_OCI_DEFAULT is set" in out and "generates a password" in out
