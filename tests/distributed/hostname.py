"""`[core] hostname_callable` for the distributed stack: several Airflow processes on one machine, each with a name
of its own (the Celery workers record `worker-1` / `worker-2` on the task instances they run)."""

from __future__ import annotations

import os
import socket

ENV = "OCI_AIRFLOW_HOSTNAME"


def from_env() -> str:
    return os.environ.get(ENV) or socket.getfqdn()
