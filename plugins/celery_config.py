"""Celery settings for the workers: Airflow's own, and the OCI SDK and this library imported once per worker.

Why: a Celery worker runs each task in a process forked from its pool, and a fork starts with what its parent
had imported. Airflow preloads its own heavy modules there (the celery provider's `on_celery_import_modules`);
the OCI SDK's service clients and this library's operators were imported again by every task. At 500 volumes
that was about half of a nightly task's CPU on a worker (py-spy on `make bench-scale`; docs/measured.md).

Use: `AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=celery_config.CELERY_CONFIG` on the workers (docker-compose.yaml and
the distributed harness set it). The scheduler imports this module too, to build its Celery app; the preload runs
only where Celery fires `import_modules`, which is in a worker before its pool starts.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery.signals import import_modules

log = logging.getLogger(__name__)

# Airflow's configuration, unchanged (the same object, so Airflow applies it as its default)
CELERY_CONFIG = DEFAULT_CELERY_CONFIG

# What a task of these DAGs imports: its operators (and through them hooks, triggers and forms) and the SDK
PACKAGES = ("operators", "sensors", "triggers")


def preload() -> list[str]:
    """Import the SDK's service clients the hooks make and every module of PACKAGES; returns what it imported.
    A module that fails to import is left to the task that needs it (which then fails with the real error)."""
    from hooks.base import CLIENTS

    names = sorted({module for module, _ in CLIENTS.values()})
    for package in PACKAGES:
        names += [f"{package}.{info.name}" for info in pkgutil.iter_modules(importlib.import_module(package).__path__)]
    done = []
    for name in names:
        try:
            importlib.import_module(name)
            done.append(name)
        except Exception as err:  # a worker must start even if one module is broken
            log.warning("preload of %s failed: %s", name, err)
    return done


@import_modules.connect
def _on_import_modules(*args, **kwargs) -> None:
    log.info("preloaded %d modules for the tasks", len(preload()))
