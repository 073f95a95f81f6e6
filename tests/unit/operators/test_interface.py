"""What every operator and sensor shares, checked on each class found in plugins/operators and plugins/sensors
(a new one is covered without a new test): its template fields are attributes once built, and `validate()`
refuses bad input with OciInputError naming the field, before any hook is made."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import operators
import pytest
import sensors
from airflow.sdk import BaseOperator
from common.errors import OciInputError
from operators.base import OciBaseOperator, OciWaitingOperator


def task_classes() -> list[type[BaseOperator]]:
    found = []
    for package in (operators, sensors):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            found += [cls for name, cls in inspect.getmembers(module, inspect.isclass)
                      if issubclass(cls, BaseOperator) and cls.__module__ == module.__name__
                      and not name.startswith("_")]
    return sorted(found, key=lambda cls: cls.__name__)


CLASSES = task_classes()


def build(cls: type[BaseOperator], **kwargs) -> BaseOperator:
    """The class with a placeholder for every required argument (nothing is validated in __init__)."""
    required = [p.name for p in inspect.signature(cls.__init__).parameters.values()
                if p.default is inspect.Parameter.empty and p.kind is p.KEYWORD_ONLY]
    return cls(task_id="t", **{name: "x" for name in required}, **kwargs)


def test_every_operator_and_sensor_is_found():
    names = {cls.__name__ for cls in CLASSES}
    assert {"OciCreateBackupOperator", "OciLaunchInstanceOperator", "OciUploadFileOperator",
            "OciWorkRequestSensor", "OciLifecycleStateSensor"} <= names
    assert len(names) >= 25


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_template_fields_are_attributes(cls):
    task = build(cls)
    missing = [name for name in cls.template_fields if not hasattr(task, name)]
    assert missing == [], f"{cls.__name__}.template_fields names no attribute: {missing}"
    assert len(set(cls.template_fields)) == len(cls.template_fields), "a template field is listed twice"
    assert {"oci_conn_id", "region"} <= set(cls.template_fields)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_a_bad_region_is_refused_naming_the_field(cls):
    with pytest.raises(OciInputError) as err:
        build(cls, region="moon-base-1").validate()
    assert str(err.value).startswith("region 'moon-base-1': not an OCI region identifier")


OPERATORS = [cls for cls in CLASSES if issubclass(cls, OciBaseOperator)]


def takes(cls: type, name: str) -> bool:
    return name in inspect.signature(cls.__init__).parameters


# The operators that make or list resources in a compartment; no other operator takes compartment_id.
COMPARTMENT_OPERATORS = {
    "OciBackupVolumeGroupOperator", "OciCloneVolumeOperator", "OciCreateImageFromInstanceOperator",
    "OciImportImageOperator", "OciLaunchInstanceOperator", "OciListBackupsOperator", "OciRestoreVolumeGroupOperator",
    "OciRestoreVolumeOperator", "OciRunCommandOperator"}


def test_compartment_id_is_taken_only_by_the_operators_that_use_it():
    assert {cls.__name__ for cls in OPERATORS if takes(cls, "compartment_id")} == COMPARTMENT_OPERATORS


@pytest.mark.parametrize("cls", OPERATORS, ids=lambda cls: cls.__name__)
def test_a_bad_compartment_or_wait_is_refused_naming_the_field(cls):
    if takes(cls, "compartment_id"):
        assert "compartment_id" in cls.template_fields
        with pytest.raises(OciInputError, match=r"^compartment_id 'c1': not an OCID"):
            build(cls, compartment_id="c1").validate()
    else:  # refused like any argument the operator does not take (Airflow's own check)
        assert "compartment_id" not in cls.template_fields
        with pytest.raises(TypeError, match=r"(?s)Invalid arguments were passed.*compartment_id"):
            build(cls, compartment_id="ocid1.compartment.oc1..aaaa")
    if issubclass(cls, OciWaitingOperator):
        with pytest.raises(OciInputError, match=r"^poll_interval and timeout: must be greater than 0"):
            build(cls, poll_interval=0).validate()


# What waits takes the wait arguments (OciWaitingOperator); what never waits does not take them.
WAIT_ARGUMENTS = ("wait_for_completion", "deferrable", "poll_interval", "max_interval", "timeout")


@pytest.mark.parametrize("cls", OPERATORS, ids=lambda cls: cls.__name__)
def test_only_the_operators_that_wait_take_the_wait_arguments(cls):
    if issubclass(cls, OciWaitingOperator):
        assert all(takes(OciWaitingOperator, name) for name in WAIT_ARGUMENTS)
        return
    for name in WAIT_ARGUMENTS:
        with pytest.raises(TypeError, match=rf"(?s)Invalid arguments were passed.*{name}"):
            build(cls, **{name: 1})


def test_no_operator_or_sensor_writes_its_own_execute():
    """One `execute` for every OCI task (OciTaskMixin's): `validate()`, then the class's `execute_step`; so no
    class validates by hand or forgets to."""
    def own_classes(cls: type) -> tuple[type, ...]:
        """The class and its bases below the shared ones of operators/base.py."""
        return cls.__mro__[:next(i for i, k in enumerate(cls.__mro__) if k.__module__ == "operators.base")]

    assert len(CLASSES) >= 30
    assert [cls.__name__ for cls in CLASSES if any("execute" in vars(k) for k in own_classes(cls))] == []


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_placeholder_arguments_are_input_errors_naming_an_argument_not_crashes(cls):
    """Required arguments set to "x": validate() refuses them with OciInputError naming the argument (never a
    TypeError or AttributeError from deeper code)."""
    try:
        build(cls).validate()
    except OciInputError as err:
        field = re.match(r"[a-z_]+", str(err)).group(0)
        assert field in {*inspect.signature(cls.__init__).parameters, *cls.template_fields}, str(err)


RENAMED = [(cls, old, new) for cls in CLASSES for old, new in getattr(cls, "renamed_arguments", {}).items()]


def test_the_renamed_arguments_are_the_known_ones():
    assert {(cls.__name__, old, new) for cls, old, new in RENAMED} >= {
        ("OciCreateBackupOperator", "source_id", "volume_id"), ("OciCopyBackupOperator", "source_id", "volume_id"),
        ("OciCloneVolumeOperator", "source_volume_id", "volume_id"), ("OciDeleteVolumeOperator", "max_wait", "timeout")}


@pytest.mark.parametrize(("cls", "old", "new"), RENAMED, ids=lambda x: getattr(x, "__name__", x))
def test_an_old_argument_name_still_works_with_a_deprecation_warning(cls, old, new):
    value = 120.0 if new == "timeout" else "ocid1.volume.oc1..old"
    with pytest.warns(DeprecationWarning, match=f"^{old}: renamed {new}$"):
        task = build(cls, **{old: value})
    assert getattr(task, new) == value
    # an explicit argument, so mapped tasks take it as well (Airflow checks partial()/expand() names at parse time)
    cls.partial(task_id="mapped").expand(**{old: [value]})
    if new != "timeout":  # both names at once: refused
        with pytest.raises(TypeError, match=f"{new}, {old}: give one"), pytest.warns(DeprecationWarning):
            build(cls, **{old: value, new: value})


def boolean_arguments(cls: type) -> list[tuple[type, str]]:
    """(declaring class, name) of each `bool` argument of the class's __init__ and its bases' __init__."""
    found = []
    for klass in cls.__mro__:
        if "__init__" in vars(klass) and klass.__module__.split(".")[0] in ("operators", "sensors"):
            found += [(klass, p.name) for p in inspect.signature(klass.__init__).parameters.values()
                      if "bool" in str(p.annotation)]
    return found


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_boolean_argument_goes_through_flag(cls):
    """A templated boolean renders as "True"/"False"; one helper (forms.params.flag) turns it into a bool and
    refuses anything else naming the field: each `bool` argument is passed through it during validation."""
    missing = [name for klass, name in boolean_arguments(cls)
               if f'flag(self.{name}, "{name}")' not in inspect.getsource(klass)]
    assert missing == [], f"{cls.__name__}: boolean arguments not passed through flag(): {missing}"


def test_a_templated_boolean_becomes_a_bool_and_a_wrong_one_is_refused():
    from operators.retention import OciPruneBackupsOperator
    from operators.volumes import OciDeleteVolumeOperator

    task = OciPruneBackupsOperator(task_id="t", volumes=[], policies={"default": {}}, dry_run="True")
    task.validate()
    assert task.dry_run is True
    waits = OciDeleteVolumeOperator(task_id="t", volume_id="ocid1.volume.oc1.iad.aaaaaaaaabcdefgh", deferrable="false")
    waits.validate()
    assert waits.deferrable is False
    with pytest.raises(OciInputError, match=r"^dry_run 'maybe': true or false"):
        OciPruneBackupsOperator(task_id="t", volumes=[], policies={"default": {}}, dry_run="maybe").validate()
