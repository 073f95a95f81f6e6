"""One `make up` stack and one Chromium for the whole browser session (free ports, a temporary out directory, a
random database): starting the stack costs about 20 s and each nightly run about a minute, so the files share it
and overlap their waits with the nights instead of each waiting in turn.

The order is fixed (pytest_collection_modifyitems, ORDER below) because the tests share OCI state and ocisim's
global request counters, and it puts work where the CPU has room (2 cores: the first night's window is full):
1. the walk-through starts every form's run while the first (scheduled) nightly run is still running: the golden
   image, VMDK migration and clone forms, a restore refused for two exclusive fields, and the nightly's form,
   whose run waits for the first (max_active_runs 1) with the next block volume backup corrupted;
2. once the first night has succeeded, while the second runs: the connections test (it counts only the calls its
   own Test makes), the good night's note and Console link, and the mapped group's names in Chromium;
3. the second night and the form runs have ended as they should; the OCI Protection page shows 3 protected
   volumes (no restore has made a fourth yet), the corrupted one at risk, and 2 nights (before any plan run: the
   page tells a plan run from a night by what its configuration task resolved, so it would count one that has
   not got that far);
4. a plan run of each of the five DAGs is triggered: from here to 6, only reads (the browser reading the
   Protection page), so ocisim's counters show every mutating call the plan runs made;
5. the Protection page's tiles add up and a row's run and task-log links lead into Airflow;
6. the plan runs have ended with 0 mutating calls and notes that say what they would do;
7. an in-place restore is requested (REST); the restore form; the Protection page's "Restore…" link opens a
   pre-filled form whose run starts; then the in-place restore approved under Required Actions (their runs make
   volumes a later night would protect);
8. last, `make down` stops every process. Phase times are printed at the end."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from demo.stack import Layout, drop_database, free_port, stack_pids

ROOT = Path(__file__).resolve().parents[2]
# the order the tests run in (a test not listed runs after these, in collection order)
ORDER = ("test_ui.py::test_forms_started_while_the_first_night_runs",
         "test_ui.py::test_the_first_night_succeeded",
         "test_connections.py::test_the_oci_key_never_comes_back_out_of_the_api_or_the_ui",
         "test_ui.py::test_the_good_night_its_note_console_link_and_mapped_names_in_chromium",
         "test_ui.py::test_the_second_night_and_the_form_runs_end_as_they_should",
         "test_ui.py::test_the_protection_page_shows_the_corrupted_volume_at_risk_once",
         "test_plan_runs.py::test_a_plan_run_of_each_dag_is_triggered",
         "test_protection_page.py::test_protection_page_tiles_add_up_and_rows_lead_to_their_run",
         "test_plan_runs.py::test_the_plan_runs_made_no_mutating_call_and_their_notes_say_what_would_happen",
         "test_ui.py::test_an_in_place_restore_is_requested",
         "test_ui.py::test_the_restore_form_refuses_a_bad_ocid_naming_the_field_then_starts_the_run",
         "test_protection_page.py::test_a_rows_restore_link_opens_a_prefilled_restore_form",
         "test_ui.py::test_an_in_place_restore_approved_under_required_actions_and_the_restore_form_run",
         "test_ui.py::test_make_down_stops_every_process_of_the_stack")


def pytest_collection_modifyitems(items: list) -> None:
    def rank(item) -> int:
        name = f"{Path(item.fspath).name}::{item.name}"
        return ORDER.index(name) if name in ORDER else len(ORDER)

    items.sort(key=rank)


@dataclass
class Stack:
    """The running stack: where it lives, its URL, what `make up` printed, every PID seen (for the end), and what
    one test started for a later one to check (`runs`: name -> run id)."""

    out: Path
    port: int
    db: str
    started: subprocess.CompletedProcess
    clock: object
    seen: set[tuple[int, float]] = field(default_factory=set)  # (PID, start time)
    stopped: subprocess.CompletedProcess | None = None
    runs: dict = field(default_factory=dict)
    shared: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def layout(self) -> Layout:
        return Layout(self.out)

    @property
    def args(self) -> list[str]:
        return [f"UP_DIR={self.out}", f"PORT={self.port}", f"UP_DB={self.db}"]

    def down(self) -> subprocess.CompletedProcess:
        from tests.browser.test_ui import make, started

        self.seen |= started(stack_pids(self.layout))
        self.stopped = make("down", *self.args)
        return self.stopped


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    from tests.browser.test_ui import Clock, make, started

    if os.environ.get("OCI_BROWSER") != "1":
        pytest.skip("the browser tests run with `make test-browser` (OCI_BROWSER=1)")
    clock = Clock()
    out = tmp_path_factory.mktemp("stack") / "up"
    port, db = free_port(), f"airflow_up_test_{secrets.token_hex(4)}"
    running = Stack(out, port, db, subprocess.CompletedProcess([], 1, "", ""), clock)
    try:
        running.started = make("up", *running.args)
        assert running.started.returncode == 0, "make up failed"
        running.seen |= started(stack_pids(running.layout))
        clock.lap("make up (PostgreSQL db, ocisim, 4 Airflow services, DAGs unpaused)")
        yield running
    finally:
        if running.stopped is None or running.layout.pids.exists():  # the last test did not stop it
            running.down()
            if running.stopped.returncode or running.layout.pids.exists():
                subprocess.run(["make", "down", *running.args], cwd=ROOT, timeout=120)
        with contextlib.suppress(Exception):
            drop_database(db)
        clock.lap("make down, database dropped")
        print(clock.summary(), flush=True)


@pytest.fixture(scope="session")
def chromium(stack):
    """Debian's headless Chromium (never a downloaded browser), one for the session; each test opens its own pages
    (a new context: its own login)."""
    from playwright.sync_api import expect, sync_playwright

    from tests.browser.test_ui import CHROMIUM, CHROMIUM_ARGS

    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install -y chromium (never a downloaded browser)"
    # a loaded machine (CI, other jobs on both cores) renders slowly: waits that pass in seconds when it is idle
    # get half a minute, and cost nothing more when it is not loaded
    expect.set_options(timeout=30_000)
    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    try:
        yield browser
    finally:
        browser.close()
        pw.stop()
        expect.set_options(timeout=5_000)


@pytest.fixture(scope="session")
def walk(stack, chromium, tmp_path_factory):
    """The walk-through's operator: one logged-in page the walk-through's tests share, in order."""
    from demo.stack import Api
    from tests.browser.test_ui import Walk, login

    walk = Walk(None, stack.url, Api(stack.url), stack.layout, tmp_path_factory.mktemp("walk"), stack.seen)
    # a context of its own, so that other tests may open pages in it, signed in
    walk.page = chromium.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    walk.page.set_default_timeout(60_000)
    login(walk.page, stack.url, "/dags/oci_nightly_backup/runs")
    return walk
