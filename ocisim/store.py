"""Metadata of every resource, in SQLite under the state directory, so a restart loses nothing.

A resource is a plain dict of snake_case fields (what the API shows) plus private `_` fields: `_kind`,
`_region`, and `_timeline`, the state changes still to come as [[emulated_ts, {field: value}], ...].
Asynchronous OCI states are derived from elapsed time by applying due timeline entries whenever a resource
is read, the way moto advances its transition tables.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from .errors import not_found

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, region TEXT NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS resources_kind ON resources(kind, region);
CREATE TABLE IF NOT EXISTS retry_tokens (
    key TEXT PRIMARY KEY, body_hash TEXT NOT NULL, status INTEGER NOT NULL, headers TEXT NOT NULL,
    body BLOB NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys (key_id TEXT PRIMARY KEY, public_pem TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Store:
    def __init__(self, state_dir: Path, now: Callable[[], float]):
        state_dir.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(state_dir / "ocisim.sqlite3", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self.lock = threading.RLock()
        self._now = now

    # -- resources -------------------------------------------------------------------------------------
    def put(self, res: dict) -> dict:
        with self.lock:
            row = self._db.execute("SELECT seq FROM resources WHERE id=?", (res["id"],)).fetchone()
            seq = row[0] if row else self._next_seq()
            self._db.execute(
                "INSERT OR REPLACE INTO resources(id, kind, region, seq, data) VALUES (?,?,?,?,?)",
                (res["id"], res["_kind"], res["_region"], seq, json.dumps(res)),
            )
        return res

    def _next_seq(self) -> int:
        return self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM resources").fetchone()[0]

    def find(self, resource_id: str) -> dict | None:
        """Any kind, any region: for rules that cross services (a backup's volume, an image's instance)."""
        with self.lock:
            row = self._db.execute("SELECT data FROM resources WHERE id=?", (resource_id,)).fetchone()
            return self._settle(json.loads(row[0])) if row else None

    def get(self, kind: str | Iterable[str], resource_id: str, region: str | None = None) -> dict:
        """The resource as of now; 404 for another kind or, as OCI does, for another region's resource."""
        kinds = {kind} if isinstance(kind, str) else set(kind)
        res = self.find(resource_id)
        if res is None or res["_kind"] not in kinds or (region and res["_region"] != region):
            raise not_found()
        return res

    def list(self, kind: str, region: str | None = None, where: Callable[[dict], bool] | None = None) -> list[dict]:
        """Resources of a kind in creation order."""
        with self.lock:
            if region:
                rows = self._db.execute(
                    "SELECT data FROM resources WHERE kind=? AND region=? ORDER BY seq", (kind, region))
            else:
                rows = self._db.execute("SELECT data FROM resources WHERE kind=? ORDER BY seq", (kind,))
            items = [self._settle(json.loads(r[0])) for r in rows.fetchall()]
        return [r for r in items if where is None or where(r)]

    def delete(self, resource_id: str) -> None:
        with self.lock:
            self._db.execute("DELETE FROM resources WHERE id=?", (resource_id,))

    # -- time-driven transitions -----------------------------------------------------------------------
    def schedule(self, res: dict, steps: list[tuple[float, dict]], start: float | None = None) -> dict:
        """Queue state changes at emulated offsets (seconds) from `start` (default now); replaces pending ones."""
        t0 = self._now() if start is None else start
        res["_timeline"] = [[t0 + delay, fields] for delay, fields in steps]
        return self._settle(res, force_save=True)

    def _settle(self, res: dict, force_save: bool = False) -> dict:
        held = res.get("_held")
        if held is not None:  # an admin hold (api/admin.py) stops the clock of this resource in real time
            if held["until"] is None or time.time() < held["until"]:
                if force_save:
                    self.put(res)
                return res
            # released: its steps come as long after the release as they were due after the hold began
            shift = held.get("released_at", self._now()) - held["since"]
            res["_timeline"] = [[ts + shift, fields] for ts, fields in res.get("_timeline") or []]
            res["_held"] = None
            force_save = True
        timeline = res.get("_timeline") or []
        now = self._now()
        due = [step for step in timeline if step[0] <= now]
        if due:
            for _, fields in sorted(due, key=lambda s: s[0]):
                res.update(fields)
            res["_timeline"] = [step for step in timeline if step[0] > now]
        if due or force_save:
            self.put(res)
        return res

    def pending(self, res: dict) -> list:
        return res.get("_timeline") or []

    # -- retry tokens ----------------------------------------------------------------------------------
    def retry_lookup(self, key: str) -> tuple[str, int, dict, bytes] | None:
        with self.lock:
            row = self._db.execute(
                "SELECT body_hash, status, headers, body FROM retry_tokens WHERE key=?", (key,)).fetchone()
        return (row[0], row[1], json.loads(row[2]), row[3]) if row else None

    def retry_save(self, key: str, body_hash: str, status: int, headers: dict, body: bytes) -> None:
        with self.lock:
            self._db.execute(
                "INSERT OR REPLACE INTO retry_tokens VALUES (?,?,?,?,?,?)",
                (key, body_hash, status, json.dumps(headers), body, self._now()),
            )

    # -- keys and meta ---------------------------------------------------------------------------------
    def add_key(self, key_id: str, public_pem: str) -> None:
        with self.lock:
            self._db.execute("INSERT OR REPLACE INTO api_keys VALUES (?,?)", (key_id, public_pem))

    def key(self, key_id: str) -> str | None:
        with self.lock:
            row = self._db.execute("SELECT public_pem FROM api_keys WHERE key_id=?", (key_id,)).fetchone()
        return row[0] if row else None

    def meta_get(self, key: str, default=None):
        with self.lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def meta_set(self, key: str, value) -> None:
        with self.lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?,?)", (key, json.dumps(value)))

    def reset(self) -> None:
        with self.lock:
            for table in ("resources", "retry_tokens"):
                self._db.execute(f"DELETE FROM {table}")

    def close(self) -> None:
        with self.lock:
            self._db.close()
