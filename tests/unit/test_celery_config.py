"""plugins/celery_config.py: the workers' Celery settings are Airflow's, and the preload imports what tasks need."""

from __future__ import annotations

import pkgutil
import sys

import celery_config
import operators
from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery.signals import import_modules


def test_the_settings_are_airflows_own():
    assert celery_config.CELERY_CONFIG is DEFAULT_CELERY_CONFIG


def test_preload_imports_the_sdk_clients_and_every_operator_module():
    done = celery_config.preload()
    assert {"oci.core", "oci.identity", "oci.object_storage", "oci.work_requests"} <= set(done)
    every = {f"operators.{m.name}" for m in pkgutil.iter_modules(operators.__path__)}
    assert every and every <= set(done) and every <= set(sys.modules)
    assert "triggers.oci" in done and "sensors.oci" in done


def test_the_preload_runs_when_celery_imports_the_task_modules():
    receivers = [ref() for _, ref in import_modules.receivers]
    assert celery_config._on_import_modules in receivers
