"""The Airflow REST API, for what a task cannot do through the Task SDK: setting its own DAG run's note.

Connection `airflow_api` (conn_type http): host = the api-server URL, login/password = a user allowed to
edit DAG runs. Airflow 3 issues a JWT from /auth/token for them; the note goes in with PATCH .../dagRuns/{id}.
"""

from __future__ import annotations

from urllib.parse import quote

from airflow.sdk import BaseHook

NOTE_LIMIT = 1000  # Airflow stores notes in a 1000-character column


def set_run_note(dag_id: str, run_id: str, note: str, conn_id: str = "airflow_api", timeout: float = 30) -> str:
    """Set the run's note; returns a one-line outcome for the log (never raises on a missing connection)."""
    import requests

    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception:
        return f"run note not set: no connection {conn_id!r} (see docs/nightly-backup.md, 'The report in the UI')"
    base = (conn.host or "").rstrip("/")
    if conn.port and f":{conn.port}" not in base:
        base = f"{base}:{conn.port}"
    if not base.startswith("http"):
        base = f"http://{base}"
    token = requests.post(f"{base}/auth/token", json={"username": conn.login, "password": conn.password},
                          timeout=timeout)
    if token.status_code >= 300:
        return f"run note not set: {base}/auth/token answered {token.status_code}"
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    url = f"{base}/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}"
    resp = requests.patch(url, json={"note": note[:NOTE_LIMIT]}, params={"update_mask": "note"},
                          headers=headers, timeout=timeout)
    if resp.status_code >= 300:
        return f"run note not set: PATCH {url} answered {resp.status_code} {resp.text[:200]}"
    return f"run note set ({min(len(note), NOTE_LIMIT)} characters)"
