"""Every operator, sensor and trigger class in plugins/ documents each argument of its own `__init__` with a
Sphinx `:param name:` line in its own docstring (the shared arguments once, on OciBaseOperator, _OciSensor), and
documents no argument it does not take. A new class is covered without a new test."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import operators
import pytest
import sensors
import triggers
from airflow.sdk import BaseOperator
from airflow.triggers.base import BaseTrigger


def documented_classes() -> list[type]:
    found = []
    for package in (operators, sensors, triggers):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            module = importlib.import_module(info.name)
            found += [cls for _, cls in inspect.getmembers(module, inspect.isclass)
                      if cls.__module__ == module.__name__ and issubclass(cls, BaseOperator | BaseTrigger)]
    return sorted(found, key=lambda cls: (cls.__module__, cls.__name__))


def arguments(cls: type) -> list[str]:
    """The named arguments of the class's own __init__ (none when it inherits its __init__)."""
    if "__init__" not in vars(cls):
        return []
    return [p.name for p in inspect.signature(cls.__init__).parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def params_in(cls: type) -> list[str]:
    """The names of the `:param name:` lines of the class's own docstring (not a base's)."""
    return re.findall(r"^\s*:param (\w+):", vars(cls).get("__doc__") or "", re.M)


def undocumented(cls: type) -> list[str]:
    return [name for name in arguments(cls) if name not in params_in(cls)]


CLASSES = documented_classes()


def test_every_operator_sensor_and_trigger_is_found():
    names = {cls.__name__ for cls in CLASSES}
    assert {"OciBaseOperator", "_OciSensor", "OciWaitTrigger", "OciLaunchInstanceOperator",
            "OciLifecycleStateSensor", "OciCreateBackupOperator"} <= names
    assert len(names) >= 30


def test_the_check_finds_an_undocumented_argument():
    class Undocumented(BaseOperator):
        """Does nothing.

        :param documented: this one is
        """

        def __init__(self, *, documented: int = 0, forgotten: int = 0, **kwargs):
            super().__init__(**kwargs)

    assert undocumented(Undocumented) == ["forgotten"]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: f"{cls.__module__}.{cls.__name__}")
def test_each_argument_has_a_param_line(cls):
    assert undocumented(cls) == [], f"{cls.__name__}: no `:param name:` line for these __init__ arguments"
    stale = sorted(set(params_in(cls)) - set(arguments(cls)))
    assert stale == [], f"{cls.__name__}: `:param` lines for arguments its __init__ does not take: {stale}"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: f"{cls.__module__}.{cls.__name__}")
def test_templated_arguments_say_so(cls):
    """As the amazon and google providers write it: a template field's `:param` line ends with (templated)."""
    doc = vars(cls).get("__doc__") or ""
    own = set(arguments(cls)) & set(getattr(cls, "template_fields", ()) or ())
    unmarked = [name for name in sorted(own)
                if not re.search(rf"^\s*:param {name}:(?:(?!\n\s*:param).)*\(templated\)", doc, re.M | re.S)]
    assert unmarked == [], f"{cls.__name__}: template fields whose :param line does not say (templated)"
