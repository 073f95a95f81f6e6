"""`make demo`'s app-consistent backup: one volume backed up with the local PostgreSQL (127.0.0.1:5432, trust) in
backup mode around OCI's point in time (docs/quiesce.md); skipped, saying why, when no PostgreSQL answers."""

from __future__ import annotations

import json
import socket
from pathlib import Path

DEMO_TAG = "demo-app-consistent"  # the nightly's tag_key for this run: only the one volume carries it
CONN_ID = "demo_pg"


def postgres_answers() -> str | None:
    """Why the demo cannot use the local PostgreSQL, or None when it can."""
    try:
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=3)
    except Exception as exc:  # any failure is a reason to skip, shown as is
        with socket.socket() as s:
            s.settimeout(1)
            if s.connect_ex(("127.0.0.1", 5432)) != 0:
                return "no PostgreSQL answers on 127.0.0.1:5432"
        return f"PostgreSQL on 127.0.0.1:5432 refused user postgres: {str(exc).strip()[:200]}"
    conn.close()
    return None


def app_consistent_backup(env: dict, tenancy: dict, state: Path, run_dag) -> tuple[str, bool, str] | None:
    """Tag one volume `backup-quiesce: postgres:demo_pg`, run the nightly on it alone, print the evidence line
    from the backup's own tags. Returns the run's (dag id, ok, time) for the summary, or None when skipped."""
    import oci

    why = postgres_answers()
    if why:
        print(f"app-consistent backup: skipped ({why})")
        return None
    config = oci.config.from_file(str(state / "config"))
    client = oci.core.BlockstorageClient(config, service_endpoint=tenancy["regions"][tenancy["home_region"]])
    volume_id = tenancy["volumes"]["app-data"]
    tags = dict(client.get_volume(volume_id).data.freeform_tags or {})
    tags.update({DEMO_TAG: "default", "backup-quiesce": f"postgres:{CONN_ID}"})
    client.update_volume(volume_id, oci.core.models.UpdateVolumeDetails(freeform_tags=tags))
    env = {**env, f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps(
        {"conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "login": "postgres", "schema": "postgres"})}
    conf = {"compartment_ids": tenancy["compartments"]["prod"], "tag_key": DEMO_TAG, "verification_level": "api",
            "policies": {"default": {"full_interval_days": 7, "retention_days": 30}}}
    print("running oci_nightly_backup (app-consistent, PostgreSQL on 127.0.0.1:5432) ...", flush=True)
    ok, took = run_dag(env, "oci_nightly_backup", conf)
    backups = client.list_volume_backups(tenancy["compartments"]["prod"], volume_id=volume_id).data
    ours = [b for b in backups if (b.freeform_tags or {}).get("backup-consistency")]
    if not ours:
        print(f"  FAILED in {took}: no backup of app-data carries its consistency")
        return "oci_nightly_backup (app-consistent)", False, took
    newest = max(ours, key=lambda b: b.time_created)
    t = newest.freeform_tags
    app = t["backup-consistency"].startswith("app-consistent")
    evidence = f"app-consistent ({t.get('backup-consistency-position')})" if app else t["backup-consistency"]
    print(f"  {'ok' if ok else 'FAILED'} in {took}: app-data backup {newest.id}: {evidence}")
    return "oci_nightly_backup (app-consistent)", ok and app, took
