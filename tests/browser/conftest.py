"""One `make up` stack for the whole browser session (free ports, a temporary out directory, a random database):
starting it costs about a minute and its first nightly run another, so the three files share it instead of each
starting its own. The order is fixed (pytest_collection_modifyitems): the connections test first, while the
scheduled nightly run that unpausing starts is still running; then the walk-through; then the Protection page
(its Restore… run makes a volume that a later nightly would protect, so it comes after the walk-through's second
night); last the check that `make down` stops every process. Phase times are printed at the end."""

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
ORDER = ("test_connections.py::test_the_oci_key_never_comes_back_out_of_the_api_or_the_ui",
         "test_ui.py::test_ui_walk_through_every_form_the_nightly_run_its_names_and_the_protection_page",
         "test_protection_page.py::test_protection_page_tiles_add_up_and_rows_lead_to_their_run_and_a_prefilled_"
         "restore",
         "test_ui.py::test_make_down_stops_every_process_of_the_stack")


def pytest_collection_modifyitems(items: list) -> None:
    def rank(item) -> int:
        name = f"{Path(item.fspath).name}::{item.name}"
        return ORDER.index(name) if name in ORDER else len(ORDER)

    items.sort(key=rank)


@dataclass
class Stack:
    """The running stack: where it lives, its URL, what `make up` printed, and every PID seen (for the end)."""

    out: Path
    port: int
    db: str
    started: subprocess.CompletedProcess
    clock: object
    seen: set[int] = field(default_factory=set)
    stopped: subprocess.CompletedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def layout(self) -> Layout:
        return Layout(self.out)

    @property
    def args(self) -> list[str]:
        return [f"UP_DIR={self.out}", f"PORT={self.port}", f"UP_DB={self.db}"]

    def first_night(self, timeout: float = 420) -> dict:
        """The scheduled nightly run that `make up`'s unpausing started, once it has ended (either way)."""
        from demo.stack import Api
        from tests.browser.test_ui import wait_for

        api = Api(self.url)

        def ended():
            self.seen.update(stack_pids(self.layout))
            runs = api.call("GET", "/api/v2/dags/oci_nightly_backup/dagRuns?limit=50")["dag_runs"]
            run = next((r for r in runs if r["run_type"] == "scheduled"), None)
            return run if run and run["state"] in ("success", "failed") else None

        return wait_for("the scheduled nightly run", ended, timeout, every=1.0)

    def down(self) -> subprocess.CompletedProcess:
        from tests.browser.test_ui import make

        self.seen |= stack_pids(self.layout)
        self.stopped = make("down", *self.args)
        return self.stopped


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    from tests.browser.test_ui import Clock, make

    if os.environ.get("OCI_BROWSER") != "1":
        pytest.skip("the browser tests run with `make test-browser` (OCI_BROWSER=1)")
    clock = Clock()
    out = tmp_path_factory.mktemp("stack") / "up"
    port, db = free_port(), f"airflow_up_test_{secrets.token_hex(4)}"
    running = Stack(out, port, db, subprocess.CompletedProcess([], 1, "", ""), clock)
    try:
        running.started = make("up", *running.args)
        assert running.started.returncode == 0, "make up failed"
        running.seen |= stack_pids(running.layout)
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
