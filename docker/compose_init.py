"""airflow-init's project step in docker-compose.yaml, after `airflow db migrate`:

1. the admin login of the simple auth manager (its passwords file), from _AIRFLOW_WWW_USER_USERNAME/_PASSWORD;
2. the connection `oci_default` pointing at the ocisim service: api_key auth with the key ocisim generated in its
   state volume (mounted read-only here), one endpoint per region with the host the other containers reach;
3. the Variable `oci_nightly_backup` (the nightly's configuration, README "Configuration"): ocisim's
   compartment(s) and subnet merged in (its ids are made when ocisim seeds its state, so no .env can hold them),
   and verification_level `boot` unless the Variable names a level (ocisim here cannot run `script` checks);
0. before those, the pool `oci_api` the OCI tasks run in (size OCI_API_POOL_SLOTS), always.

Steps 2 and 3 are skipped when AIRFLOW_CONN_OCI_DEFAULT is set (a real tenancy: its Variable is yours to set).
Idempotent: every `docker compose up` runs it again. Prints no secret.

    python compose_init.py [--state-dir /ocisim-state] [--ocisim-host ocisim] [--passwords-file PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

CONN_ID = "oci_default"
VARIABLE = "oci_nightly_backup"
KEY_FILE = "oci_api_key.pem"
SIMPLE_AUTH_MANAGER = "SimpleAuthManager"


def read_tenancy(state_dir: Path, timeout: float = 60.0) -> dict:
    """ocisim's tenancy.json (ids, home region, region endpoints, seed summary), waiting for its first start."""
    path = state_dir / "tenancy.json"
    deadline = time.monotonic() + timeout
    while not path.is_file():
        if time.monotonic() > deadline:
            raise SystemExit(f"{path}: not found after {timeout:.0f}s; is the ocisim service healthy and its "
                             f"state volume mounted at {state_dir}?")
        time.sleep(1)
    return json.loads(path.read_text())


def service_endpoints(regions: dict[str, str], host: str) -> dict[str, str]:
    """ocisim's endpoints as it bound them (0.0.0.0:PORT) with the host other containers use (ocisim:PORT)."""
    out = {}
    for region, url in regions.items():
        parts = urlsplit(url)
        out[region] = urlunsplit((parts.scheme, f"{host}:{parts.port}", parts.path, "", ""))
    return out


def connection_extra(state_dir: Path, tenancy: dict, host: str) -> dict:
    """The extras OciHook reads for api_key auth (see plugins/hooks/oci.py); the key stays a file reference."""
    key_file = state_dir / KEY_FILE
    if not key_file.is_file():
        raise SystemExit(f"{key_file}: ocisim's API key is missing from its state volume")
    return {"auth": "api_key", "tenancy": tenancy["tenancy_id"], "user": tenancy["user_id"],
            "fingerprint": tenancy["fingerprint"], "key_file": str(key_file), "region": tenancy["home_region"],
            "service_endpoints": service_endpoints(tenancy["regions"], host)}


def ocisim_variable_keys(tenancy: dict) -> dict:
    """What the nightly DAG needs from ocisim's seed: every seeded compartment, and the subnet for `boot` checks."""
    compartments = list((tenancy.get("compartments") or {}).values()) or [tenancy["compartment_id"]]
    keys: dict = {"compartment_ids": compartments}
    if tenancy.get("subnet_id"):
        keys["subnet_id"] = tenancy["subnet_id"]
    return keys


def write_password(passwords_file: Path, username: str, password: str) -> None:
    """Set one user's password in the simple auth manager's file, keeping the others (the api-server adds a
    generated password only for users missing from it)."""
    passwords_file.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(passwords_file.read_text() or "{}") if passwords_file.is_file() else {}
    current[username] = password
    passwords_file.write_text(json.dumps(current) + "\n")
    passwords_file.chmod(0o660)


def upsert_connection(extra: dict) -> None:
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(Connection).filter(Connection.conn_id == CONN_ID).delete()
        session.add(Connection(conn_id=CONN_ID, conn_type="oci", extra=json.dumps(extra),
                               description="ocisim (docker-compose service), written by airflow-init"))


def merge_variable(keys: dict, defaults: dict | None = None) -> dict:
    """The Variable with `keys` set and `defaults` set where it has none; the user's other keys kept."""
    from airflow.models.variable import Variable

    current = Variable.get(VARIABLE, default_var=None, deserialize_json=True) or {}
    merged = {**(defaults or {}), **current, **keys}
    Variable.set(VARIABLE, merged, serialize_json=True,
                 description="nightly backup configuration (ocisim ids merged in by airflow-init)")
    return merged


def ensure_pool() -> dict:
    """The pool the OCI tasks run in (plugins/common/pools.py): created, or resized to OCI_API_POOL_SLOTS."""
    from airflow.models.pool import Pool
    from common.pools import pool_body

    body = pool_body()
    Pool.create_or_update_pool(body["name"], body["slots"], body["description"], body["include_deferred"])
    return body


def default_passwords_file() -> Path | None:
    from airflow.configuration import conf

    if not conf.get("core", "auth_manager").endswith(SIMPLE_AUTH_MANAGER):
        return None
    configured = conf.get("core", "simple_auth_manager_passwords_file", fallback=None)
    return Path(configured) if configured else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, default=Path(os.environ.get("OCISIM_STATE_DIR", "/ocisim-state")))
    parser.add_argument("--ocisim-host", default=os.environ.get("OCISIM_HOST", "ocisim"))
    parser.add_argument("--passwords-file", type=Path, help="default: [core] simple_auth_manager_passwords_file")
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for ocisim's tenancy.json")
    args = parser.parse_args(argv)

    username = os.environ.get("_AIRFLOW_WWW_USER_USERNAME", "")
    password = os.environ.get("_AIRFLOW_WWW_USER_PASSWORD", "")
    passwords_file = args.passwords_file or default_passwords_file()
    if passwords_file and username and password:
        write_password(passwords_file, username, password)
        print(f"login: user {username!r} (role from [core] simple_auth_manager_users), password from "
              f"_AIRFLOW_WWW_USER_PASSWORD")
    elif passwords_file:
        print("login: _AIRFLOW_WWW_USER_PASSWORD is empty; the api-server generates a password and logs it")

    pool = ensure_pool()
    print(f"pool {pool['name']!r}: {pool['slots']} slots (OCI_API_POOL_SLOTS)")

    if os.environ.get("AIRFLOW_CONN_OCI_DEFAULT"):
        print(f"connection {CONN_ID!r}: AIRFLOW_CONN_OCI_DEFAULT is set (it takes precedence); ocisim not wired in")
        return 0
    tenancy = read_tenancy(args.state_dir, args.wait)
    extra = connection_extra(args.state_dir, tenancy, args.ocisim_host)
    upsert_connection(extra)
    print(f"connection {CONN_ID!r}: ocisim, auth api_key, home region {extra['region']}, endpoints "
          f"{extra['service_endpoints']}")

    merged = merge_variable(ocisim_variable_keys(tenancy), {"verification_level": "boot"})
    print(f"variable {VARIABLE!r}: compartment_ids {merged['compartment_ids']}, subnet_id {merged.get('subnet_id')}, "
          f"verification_level {merged['verification_level']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
