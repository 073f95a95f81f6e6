"""Static checks of docker-compose.yaml where no Docker engine runs: `check_compose(path) -> list[str]` of problems.

What `docker compose config` would reject (the Compose Specification schema, after interpolation as Compose does
it) and what only fails once containers start: a bind mount of a missing path, an undeclared named volume, a
`depends_on` naming no service or waiting for a health check that does not exist, a dependency cycle, a service
without a health check, two services publishing one host port, a build whose Dockerfile COPYs what the context
does not hold. Then this project's rules: CeleryExecutor everywhere, the Airflow image of the version the lock
pins, the components a distributed Airflow needs, one JWT secret and database for all of them, the project folders
mounted, the environment the DAGs read passed in, and every ${VARIABLE} documented in .env.example.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import yaml

SCHEMA = Path(__file__).resolve().parent / "schemas" / "compose-spec.json"
RESTART = re.compile(r"^(no|always|unless-stopped|on-failure(:\d+)?)$")
DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")
_VAR = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|-|:\?|\?|:\+|\+)(?P<arg>.*))?$", re.S)
AIRFLOW_ROLES = {"api-server": "api-server", "scheduler": "scheduler", "dag-processor": "dag-processor",
                 "triggerer": "triggerer", "celery worker": "Celery worker"}
SHARED_AIRFLOW_ENV = ("AIRFLOW__CORE__EXECUTOR", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__BROKER_URL",
                      "AIRFLOW__CELERY__RESULT_BACKEND", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY",
                      "AIRFLOW__CORE__EXECUTION_API_SERVER_URL")
URL_ENV = ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CELERY__RESULT_BACKEND",
           "AIRFLOW__CORE__EXECUTION_API_SERVER_URL")
PROJECT_MOUNTS = {"dags": "/opt/airflow/dags", "plugins": "/opt/airflow/plugins", "include": "/opt/airflow/include"}
_DAG_ENV = re.compile(r"""(?:os\.environ\.get|os\.getenv|_env_json)\(\s*["']([A-Z][A-Z0-9_]*)["']|"""
                      r"""os\.environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]""")


def check_compose(path: str | Path, project_dir: str | Path | None = None, env: dict[str, str] | None = None,
                  schema_path: Path = SCHEMA) -> list[str]:
    """Every problem found in the compose file at `path`; [] when it passes. Relative host paths, build contexts
    and .env.example resolve against `project_dir` (default: the file's folder); `env` is the environment
    Compose would interpolate from (default: none, so every ${VAR:-default} takes its default)."""
    path = Path(path)
    project_dir = Path(project_dir) if project_dir else path.parent
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        return [f"yaml: {exc}"]
    if not isinstance(raw, dict):
        return ["top level: not a mapping"]
    problems: list[str] = []
    doc = interpolate(raw, env or {}, problems)
    problems += schema_problems(doc, schema_path)
    services = doc.get("services")
    if not isinstance(services, dict) or not services:
        return [*problems, "services: none defined"]
    services = {name: svc for name, svc in services.items() if isinstance(svc, dict)}
    problems += dependency_problems(services)
    problems += mount_problems(doc, services, project_dir)
    problems += build_problems(services, project_dir)
    problems += healthcheck_problems(services)
    problems += restart_problems(services)
    problems += port_problems(services)
    problems += variable_problems(raw, project_dir / ".env.example")
    problems += airflow_problems(services, project_dir)
    return problems


# -- interpolation and schema --------------------------------------------------------------------------------------
def interpolate(value, env: dict[str, str], problems: list[str], where: str = ""):
    """Compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}, ${VAR:+alt}, ${VAR+alt}, $VAR
    and $$ in every string value (not in keys)."""
    if isinstance(value, dict):
        return {k: interpolate(v, env, problems, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, problems, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(m: re.Match) -> str:
        if m.group("escaped"):
            return "$"
        if m.group("named"):
            name, op, arg = m.group("named"), None, ""
        else:
            parsed = _BRACED.match(m.group("braced"))
            if not parsed or "${" in (parsed.group("arg") or ""):
                problems.append(f"interpolation: {where}: unsupported expression ${{{m.group('braced')}}}")
                return ""
            name, op, arg = parsed.group("name"), parsed.group("op"), parsed.group("arg") or ""
        is_set, val = name in env, env.get(name, "")
        if op is None:
            if not is_set:
                problems.append(f"interpolation: {where}: ${{{name}}} has no default (Compose warns and uses '')")
            return val
        if op in (":-", "-"):
            return val if (val if op == ":-" else is_set) else arg
        if op in (":?", "?"):
            if not (val if op == ":?" else is_set):
                problems.append(f"interpolation: {where}: ${{{name}}} is required: {arg or 'not set'}")
            return val
        return arg if (val if op == ":+" else is_set) else ""

    return _VAR.sub(substitute, value)


def variables_used(value) -> set[str]:
    """Names of the variables a compose document interpolates (before interpolation)."""
    if isinstance(value, dict):
        return set().union(*(variables_used(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(variables_used(v) for v in value)) if value else set()
    if not isinstance(value, str):
        return set()
    names = set()
    for m in _VAR.finditer(value):
        if m.group("named"):
            names.add(m.group("named"))
        elif m.group("braced") and (parsed := _BRACED.match(m.group("braced"))):
            names.add(parsed.group("name"))
    return names


def schema_problems(doc: dict, schema_path: Path) -> list[str]:
    from jsonschema import Draft7Validator

    validator = Draft7Validator(json.loads(schema_path.read_text()))
    problems = []
    for error in sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path]):
        where = ".".join(str(p) for p in error.absolute_path) or "(root)"
        problems.append(f"schema: {where}: {error.message}")
    return problems


# -- services ------------------------------------------------------------------------------------------------------
def depends_on(service: dict) -> dict[str, dict]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {str(d): {"condition": "service_started"} for d in deps if isinstance(d, str)}
    return {str(k): (v if isinstance(v, dict) else {}) for k, v in deps.items()} if isinstance(deps, dict) else {}


def one_shot_services(services: dict) -> set[str]:
    """Services others wait for to *complete*: init jobs, exempt from health checks."""
    return {dep for svc in services.values() for dep, spec in depends_on(svc).items()
            if spec.get("condition") == "service_completed_successfully"}


def has_healthcheck(service: dict) -> bool:
    hc = service.get("healthcheck")
    if not isinstance(hc, dict) or str(hc.get("disable", "false")).lower() == "true":
        return False
    test = hc.get("test")
    return bool(test) and not (isinstance(test, list) and test[0] == "NONE")


def _as_dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def dependency_problems(services: dict) -> list[str]:
    problems = []
    for name, svc in services.items():
        for dep, spec in depends_on(svc).items():
            where = f"services.{name}.depends_on"
            if dep == name:
                problems.append(f"{where}: '{name}' depends on itself")
            elif dep not in services:
                problems.append(f"{where}: '{dep}' is not a defined service")
            elif spec.get("condition") == "service_healthy" and not has_healthcheck(services[dep]):
                problems.append(f"{where}: waits for service_healthy on '{dep}' which has no healthcheck")
            elif spec.get("condition") == "service_completed_successfully" and \
                    services[dep].get("restart") in ("always", "unless-stopped"):
                problems.append(f"{where}: waits for '{dep}' to complete, but it restarts "
                                f"({services[dep]['restart']}): it never completes")
    # cycles: Compose refuses to start any of them
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for dep in depends_on(services[node]):
            if dep not in services or dep == node:
                continue
            if state.get(dep) == 1:
                cycle = [*trail[trail.index(dep):], dep]
                problems.append(f"depends_on cycle: {' -> '.join(cycle)}")
            elif dep not in state:
                visit(dep, [*trail, dep])
        state[node] = 2

    for name in services:
        if name not in state:
            visit(name, [name])
    return problems


def _mounts(service: dict):
    """(kind, source, target) per volume entry: kind is bind, volume or anonymous."""
    entries = service.get("volumes") or []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, str):
            parts = entry.split(":")
            if len(parts) == 1:
                yield "anonymous", None, parts[0]
                continue
            source, target = parts[0], parts[1]
            kind = "bind" if source.startswith((".", "/", "~")) else "volume"
            yield kind, source, target
        elif isinstance(entry, dict):
            kind = entry.get("type", "volume")
            if kind == "volume" and not entry.get("source"):
                kind = "anonymous"
            yield kind, entry.get("source"), entry.get("target")


def mount_problems(doc: dict, services: dict, project_dir: Path) -> list[str]:
    declared = set(_as_dict(doc.get("volumes")))
    used, problems = set(), []
    for name, svc in services.items():
        targets = []
        for kind, source, target in _mounts(svc):
            targets.append(target)
            where = f"services.{name}.volumes"
            if kind == "bind":
                host = Path(source).expanduser()
                host = host if host.is_absolute() else project_dir / host
                if not host.exists():
                    problems.append(f"{where}: bind mount source {source} does not exist ({host})")
            elif kind == "volume":
                used.add(source)
                if source not in declared:
                    problems.append(f"{where}: named volume '{source}' is not declared under top-level volumes")
        for target in {t for t in targets if targets.count(t) > 1}:
            problems.append(f"services.{name}.volumes: two mounts at {target}")
    problems += [f"volumes.{v}: declared but no service mounts it" for v in sorted(declared - used)]
    return problems


def build_problems(services: dict, project_dir: Path) -> list[str]:
    problems = []
    for name, svc in services.items():
        build = svc.get("build")
        if build is None:
            continue
        build = {"context": build} if isinstance(build, str) else _as_dict(build)
        context = project_dir / str(build.get("context", "."))
        where = f"services.{name}.build"
        if not context.is_dir():
            problems.append(f"{where}: context {context} is not a folder")
            continue
        dockerfile = Path(str(build.get("dockerfile", "Dockerfile")))
        dockerfile = dockerfile if dockerfile.is_absolute() else context / dockerfile
        if not dockerfile.is_file():
            problems.append(f"{where}: dockerfile {dockerfile} does not exist")
            continue
        ignore = dockerignore(context / ".dockerignore")
        for source in copy_sources(dockerfile.read_text()):
            if not (context / source).exists():
                problems.append(f"{where}: {dockerfile.name} copies {source}, missing from the context")
            elif ignored(source, ignore):
                problems.append(f"{where}: {dockerfile.name} copies {source}, excluded by .dockerignore")
    return problems


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def copy_sources(text: str) -> list[str]:
    sources = []
    for keyword, rest in dockerfile_instructions(text):
        if keyword not in ("COPY", "ADD"):
            continue
        args = shlex.split(rest)
        if any(a.startswith("--from") for a in args):
            continue
        paths = [a for a in args if not a.startswith("--")]
        sources += [p.rstrip("/") or "." for p in paths[:-1]]
    return sources


def dockerignore(path: Path) -> list[tuple[bool, str]]:
    if not path.is_file():
        return []
    rules = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negate = line.startswith("!")
            rules.append((negate, line.lstrip("!").strip().strip("/")))
    return rules


def ignored(source: str, rules: list[tuple[bool, str]]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent folders decides."""
    parts = Path(source).parts
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    excluded = False
    for negate, pattern in rules:
        if any(fnmatch.fnmatchcase(p, pattern) for p in prefixes):
            excluded = not negate
    return excluded


def healthcheck_problems(services: dict) -> list[str]:
    problems, exempt = [], one_shot_services(services)
    for name, svc in services.items():
        hc = svc.get("healthcheck")
        if name in exempt:
            continue
        if not has_healthcheck(svc):
            problems.append(f"services.{name}: no healthcheck (only one-shot init services may go without)")
            continue
        test = hc["test"]
        if isinstance(test, list) and test[0] not in ("CMD", "CMD-SHELL"):
            problems.append(f"services.{name}.healthcheck.test: starts with {test[0]!r}, not CMD or CMD-SHELL")
        for key in ("interval", "timeout", "start_period", "start_interval"):
            if key in hc and not DURATION.match(str(hc[key])):
                problems.append(f"services.{name}.healthcheck.{key}: {hc[key]!r} is not a duration like 30s or 1m30s")
    return problems


def restart_problems(services: dict) -> list[str]:
    """The schema takes any string; the engine takes these."""
    return [f"services.{name}.restart: {svc['restart']!r} is not no, always, unless-stopped or on-failure[:N]"
            for name, svc in services.items()
            if svc.get("restart") is not None and not RESTART.match(str(svc["restart"]))]


def _published(service: dict):
    """(host_ip, host_port, protocol) for every published port."""
    entries = service.get("ports") or []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict):
            if entry.get("published") is not None:
                yield from _expand(entry.get("host_ip") or "", str(entry["published"]), entry.get("protocol", "tcp"))
            continue
        spec, _, proto = str(entry).partition("/")
        parts = spec.rsplit(":", 2)
        if len(parts) == 1:
            continue  # container port only: Docker picks a free host port
        host_ip, host = (parts[0], parts[1]) if len(parts) == 3 else ("", parts[0])
        if host:
            yield from _expand(host_ip.strip("[]"), host, proto or "tcp")


def _expand(host_ip: str, host: str, proto: str):
    first, _, last = host.partition("-")
    try:
        ports = range(int(first), int(last or first) + 1)
    except ValueError:
        yield host_ip, host, proto
        return
    for port in ports:
        yield host_ip, port, proto


def port_problems(services: dict) -> list[str]:
    problems, seen = [], []
    for name, svc in services.items():
        for host_ip, port, proto in _published(svc):
            if not isinstance(port, int) or not 1 <= port <= 65535:
                problems.append(f"services.{name}.ports: host port {port!r} is not a port number")
                continue
            for other, other_ip, other_port, other_proto in seen:
                same_ip = not host_ip or not other_ip or host_ip in ("0.0.0.0", "::") or host_ip == other_ip
                if port == other_port and proto == other_proto and same_ip:
                    problems.append(f"services.{name}.ports: host port {port}/{proto} is already published by "
                                    f"'{other}'")
            seen.append((name, host_ip, port, proto))
    return problems


def variable_problems(raw: dict, env_example: Path) -> list[str]:
    """Every variable the file interpolates is documented in .env.example, and nothing stale is documented."""
    used = variables_used(raw)
    if not env_example.is_file():
        return [f"{env_example.name}: missing; it documents {', '.join(sorted(used))}"] if used else []
    documented = set(re.findall(r"^\s*#?\s*([A-Za-z_][A-Za-z0-9_]*)=", env_example.read_text(), re.M))
    problems = [f"{env_example.name}: ${{{v}}} is used in the compose file but not documented"
                for v in sorted(used - documented)]
    set_lines = set(re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)=", env_example.read_text(), re.M))
    problems += [f"{env_example.name}: {v} is set but the compose file never uses it"
                 for v in sorted(set_lines - used)]
    return problems


# -- this project: a distributed Airflow with CeleryExecutor and ocisim --------------------------------------------
def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict([*item.split("=", 1), ""][:2] for item in env if isinstance(item, str))
    return {str(k): "" if v is None else str(v) for k, v in env.items()} if isinstance(env, dict) else {}


def command_text(service: dict) -> str:
    parts = []
    for key in ("entrypoint", "command"):
        value = service.get(key)
        parts.append(" ".join(map(str, value)) if isinstance(value, list) else str(value or ""))
    return " ".join(parts)


def base_image(service: dict, project_dir: Path) -> str:
    """The image a service runs or, when it builds one, the Dockerfile's (last) FROM."""
    build = service.get("build")
    if build is None:
        return str(service.get("image", ""))
    build = {"context": build} if isinstance(build, str) else _as_dict(build)
    context = project_dir / str(build.get("context", "."))
    dockerfile = Path(str(build.get("dockerfile", "Dockerfile")))
    dockerfile = dockerfile if dockerfile.is_absolute() else context / dockerfile
    if not dockerfile.is_file():
        return ""
    froms = [rest.split()[0] for kw, rest in dockerfile_instructions(dockerfile.read_text()) if kw == "FROM" and rest]
    return froms[-1] if froms else ""


def locked_versions(project_dir: Path) -> tuple[str | None, str | None]:
    """(Airflow version pinned in requirements.txt, Python the lock is compiled for)."""
    req = project_dir / "requirements.txt"
    cons = project_dir / "constraints.txt"
    airflow = re.search(r"^apache-airflow==([\w.]+)", req.read_text(), re.M) if req.is_file() else None
    python = re.search(r"-p\s+(\d+\.\d+)", cons.read_text()) if cons.is_file() else None
    return (airflow.group(1) if airflow else None), (python.group(1) if python else None)


def parsed_settings(config_module: Path) -> list[str]:
    """The deployment settings of plugins/common/config.py marked `parsed=True` (read when DAG files are parsed)."""
    if not config_module.is_file():
        return []
    found = []
    for node in ast.walk(ast.parse(config_module.read_text())):
        if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Setting" and node.args
                and isinstance(node.args[0], ast.Constant)
                and any(k.arg == "parsed" and getattr(k.value, "value", False) is True for k in node.keywords)):
            found.append(node.args[0].value)
    return found


def dag_environment(project_dir: Path) -> dict[str, list[str]]:
    """Environment variables read when the DAG files are parsed: {name: [where]}."""
    names: dict[str, list[str]] = {}
    for path in sorted((project_dir / "dags").glob("*.py")):
        for name in sorted({a or b for a, b in _DAG_ENV.findall(path.read_text())}):
            names.setdefault(name, []).append(f"dags/{path.name}")
    config = "plugins/common/config.py"
    for name in parsed_settings(project_dir / config):
        names.setdefault(name, []).append(f"{config} when DAG files are parsed")
    return names


def airflow_problems(services: dict, project_dir: Path) -> list[str]:
    problems = []
    airflow = {n: s for n, s in services.items() if any(k.startswith("AIRFLOW__") for k in environment(s))}
    if not airflow:
        return ["no Airflow service (none sets AIRFLOW__* configuration)"]
    commands = {n: command_text(s) for n, s in airflow.items()}
    for role, label in AIRFLOW_ROLES.items():
        if not any(re.search(rf"(^|\s){role}(\s|$)", c) for c in commands.values()):
            problems.append(f"no {label} service (no Airflow service runs `{role}`)")
    if not any("db migrate" in c for c in commands.values()):
        problems.append("no init service running `airflow db migrate`")
    images = {n: str(s.get("image", "")) for n, s in services.items()}
    if not any(re.match(r"^postgres:16(\b|$)", i) for i in images.values()):
        problems.append("no PostgreSQL 16 service (image postgres:16...)")
    if not any(re.match(r"^redis:7(\b|$)", i) for i in images.values()):
        problems.append("no Redis 7 service (image redis:7...)")
    ocisim = [n for n, s in services.items() if "-m ocisim" in command_text(s) or "ocisim" in str(s.get("build"))]
    if not ocisim:
        problems.append("no ocisim service")
    for name in ocisim:
        text = command_text(services[name])
        if "--guest-exec" in text and "--host 127.0.0.1" not in text:
            problems.append(f"services.{name}: --guest-exec on a non-loopback host (ocisim refuses to start)")

    version, python = locked_versions(project_dir)
    tag = re.compile(rf"^apache/airflow:(slim-)?{re.escape(version or '?')}-python{re.escape(python or '?')}$")
    for name, svc in airflow.items():
        where = f"services.{name}"
        env = environment(svc)
        if env.get("AIRFLOW__CORE__EXECUTOR") != "CeleryExecutor":
            problems.append(f"{where}: AIRFLOW__CORE__EXECUTOR is {env.get('AIRFLOW__CORE__EXECUTOR')!r}, "
                            f"not CeleryExecutor")
        if env.get("AIRFLOW__CORE__LOAD_EXAMPLES", "").lower() != "false":
            problems.append(f"{where}: AIRFLOW__CORE__LOAD_EXAMPLES is not false")
        image = base_image(svc, project_dir)
        if not tag.match(image):
            problems.append(f"{where}: Airflow image {image!r} is not apache/airflow {version} for Python {python} "
                            f"(the versions requirements.txt and constraints.txt lock)")
        for key in URL_ENV:
            host = urlsplit(env.get(key, "")).hostname
            if host and host not in services:
                problems.append(f"{where}: {key} points at host '{host}', which is no service")
        mounted = {target: source for kind, source, target in _mounts(svc) if kind == "bind"}
        for folder, target in PROJECT_MOUNTS.items():
            if (project_dir / folder).resolve() != (project_dir / (mounted.get(target) or "/nonexistent")).resolve():
                problems.append(f"{where}: ./{folder} is not mounted at {target}")
    for name, files in dag_environment(project_dir).items():
        lacking = [n for n, s in airflow.items() if name not in environment(s)]
        if lacking:
            problems.append(f"{name} (read by {', '.join(files)}) is not in the environment of {', '.join(lacking)}")
    for key in SHARED_AIRFLOW_ENV:
        values = {environment(s).get(key) for s in airflow.values()}
        if len(values) > 1:
            problems.append(f"{key} differs between the Airflow services; every component needs the same value")
    return problems
