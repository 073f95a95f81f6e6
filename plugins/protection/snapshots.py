"""The page's cache: the last good read of OCI and of Airflow's history, refreshed without ever blocking a page
for long.

OCI is read in a background thread at most every `OCI_PROTECTION_CACHE_SECONDS` (default 60); a request waits
for a running read at most `OCI_PROTECTION_WAIT_SECONDS` (default 1.5), then is served the previous read with
the time it was taken, and the page says so (the stale-data banner); with no previous read it waits up to
`OCI_PROTECTION_FIRST_WAIT_SECONDS` (default 10). A failed read keeps the previous one too.
Airflow's history is read again only when a nightly run starts or ends (one cheap query says so).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from common import config as settings
from common.config import Setting
from hooks.oci import OciHook

from protection.catalogue import DAG_ID, Config, airflow_key, read_airflow, read_oci, resolve_config
from protection.view import build, now_utc

RETRY_AFTER_ERROR = 5.0  # seconds


def _seconds(setting: Setting) -> float:
    """A page never fails on a mistyped timing setting: it uses the default."""
    try:
        return setting.value()
    except ValueError:
        return setting.default


def describe(exc: BaseException) -> str:
    """OCI's own message (status, code, text), never the request's headers or the connection's extras."""
    status, code = getattr(exc, "status", None), getattr(exc, "code", None)
    head = f"{status} {code}: " if status else f"{type(exc).__name__}: "
    return (head + str(getattr(exc, "message", None) or exc))[:300]


@dataclass
class Status:
    """How fresh the OCI part of a view is; the page's banner and the API's `source` say it."""

    data_time: str | None  # OCI's clock when the shown data was read
    read_at: float | None  # this machine's clock then (time.time())
    stale: bool
    reason: str | None
    config_from: str

    def as_dict(self) -> dict:
        return {"oci_data_time": self.data_time, "stale": self.stale, "stale_reason": self.reason,
                "config_from": self.config_from}


class Snapshots:
    def __init__(self, conn_id: str | None = None, dag_id: str = DAG_ID):
        self.conn_id = conn_id or settings.PROTECTION_CONN_ID.value()
        self.dag_id = dag_id
        self._lock = threading.Lock()
        self._oci: dict | None = None
        self._oci_key: tuple | None = None  # the configuration the read was made for
        self._read_at = 0.0
        self._error: str | None = None
        self._error_at = 0.0
        self._reader: threading.Thread | None = None
        self._airflow: dict | None = None
        self._airflow_key: tuple | None = None
        self._view: tuple[dict, tuple | None, dict] | None = None

    def clear(self) -> None:
        with self._lock:
            self._oci = self._airflow = self._view = None
            self._oci_key = self._airflow_key = None

    # -- Airflow -------------------------------------------------------------------------------------------
    def airflow(self) -> dict:
        key = airflow_key(self.dag_id)
        if key != self._airflow_key or self._airflow is None:
            self._airflow = read_airflow(self.dag_id)
            self._airflow_key = key
        return self._airflow

    # -- OCI -----------------------------------------------------------------------------------------------
    def _read(self, config: Config, key: tuple) -> None:
        try:
            data = read_oci(OciHook(self.conn_id), config)
            with self._lock:
                self._oci, self._oci_key, self._read_at, self._error = data, key, time.time(), None
        except Exception as exc:  # the page shows it; the last good read stays
            with self._lock:
                self._error, self._error_at = describe(exc), time.time()

    def oci(self, config: Config) -> tuple[dict | None, Status]:
        key = (tuple(config.compartment_ids), config.include_subcompartments, config.tag_key,
               repr(sorted(config.policies.items())))
        ttl = _seconds(settings.PROTECTION_CACHE_SECONDS)
        with self._lock:
            now = time.time()
            have = self._oci is not None and self._oci_key == key
            due = not have or now - self._read_at >= ttl
            if self._error and now - self._error_at < RETRY_AFTER_ERROR:
                due = False  # a failing OCI is asked again every few seconds, not on every request
            reader = self._reader
            started = due and (reader is None or not reader.is_alive())
            if started:
                reader = self._reader = threading.Thread(target=self._read, args=(config, key), daemon=True,
                                                         name="oci-protection-read")
                reader.start()
        if (started or not have) and reader is not None:
            # with nothing to show yet, a first read is worth a longer wait than a banner over an empty page
            reader.join(_seconds(settings.PROTECTION_WAIT_SECONDS) if have else
                        _seconds(settings.PROTECTION_FIRST_WAIT_SECONDS))
        with self._lock:
            data = self._oci if self._oci_key == key else None
            reading = self._reader is not None and self._reader.is_alive()
            if data is not None and not reading and self._error is None:
                return data, Status(data["now"], self._read_at, False, None, config.source)
            if self._error:
                reason = f"OCI call failed: {self._error}" + ("; asking again" if reading else "")
            else:
                reason = "OCI is slow to answer; reading in the background"
            return data, Status(data["now"] if data else None, self._read_at if data else None, True, reason,
                                config.source)

    # -- the view ------------------------------------------------------------------------------------------
    def view(self) -> tuple[dict, Status]:
        airflow = self.airflow()
        config = resolve_config(airflow)
        if not config.compartment_ids:
            status = Status(None, None, True, "no compartments configured: set compartment_ids in the Variable "
                                              f"{self.dag_id!r} or run the nightly DAG once ({config.source})",
                            config.source)
            return build(empty_oci(), airflow, config, self.dag_id), status
        data, status = self.oci(config)
        cached = self._view  # (the OCI read, Airflow's key, the view): one join per read, not per request
        if data is not None and cached is not None and cached[0] is data and cached[1] == self._airflow_key:
            return cached[2], status
        view = build(data or empty_oci(), airflow, config, self.dag_id)
        if data is not None:
            self._view = (data, self._airflow_key, view)
        return view, status


def empty_oci() -> dict:
    """No OCI read yet (the first one failed or is still running): the page still shows Airflow's history."""
    return {"now": now_utc().isoformat(), "local_time": now_utc().isoformat(), "compartments": [], "region": "",
            "volumes": [], "backups": [], "copies": [], "images": [],
            "instances": [], "dr_regions": []}
