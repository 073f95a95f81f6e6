"""The Airflow UI in a real browser against `make up`'s stack, as an operator walks through it, in steps that the
session's order (tests/browser/conftest.py) interleaves with the other files' tests on the one stack. Debian's
headless Chromium (driven by Playwright, never a downloaded browser) logs in and triggers everything through the
DAGs' forms, typing into the form's fields (never the JSON editor): while the scheduled nightly run that
unpausing starts is still running, the golden image, VMDK migration and clone forms, then the nightly's form (its
run, the second night, waits for the first) with the next block volume backup corrupted as it is made (ocisim's
admin API), and a restore with two fields that exclude each other. Then: the first night succeeded, the second
failed that volume's verification, the on-demand runs succeeded, the restore was refused naming both fields. The
good night's note (a Markdown table), the backup task's OCI Console link, the OCI Protection page and the
nightly's mapped group by volume name are read. Last, the restore form refuses a bad OCID naming the field and
takes the corrected one, an in-place restore is approved under Browse > Required Actions, and both runs must
succeed. Screenshots go to the test's directory, out/browser/ and (the ones the README shows) docs/img/. Last of
the session, `make down`, and no process of the stack may be left (checked by PID)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
from pathlib import Path

import pytest
from reports.names import short_ocid

from demo.stack import Layout, port_free, read_pids, stack_pids
from ocisim.testing import AdminClient

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DAG_ID = "oci_nightly_backup"
SHOTS = ROOT / "out" / "browser"

pytestmark = pytest.mark.skipif(os.environ.get("OCI_BROWSER") != "1",
                                reason="the browser test runs with `make test-browser` (OCI_BROWSER=1)")


class Clock:
    def __init__(self):
        self.began = time.monotonic()
        self.rows: list[tuple[str, float]] = []
        self.last = self.began

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.rows.append((name, now - self.last))
        print(f"[browser] {name}: {now - self.last:.1f} s", flush=True)
        self.last = now

    def summary(self) -> str:
        rows = [f"  {name:<100} {took:6.1f} s" for name, took in self.rows]
        return "phase times:\n" + "\n".join(rows) + f"\n  {'total':<100} {time.monotonic() - self.began:6.1f} s"


# `make up` as a deployment runs it: tests/conftest.py switches the in-place approval off for dag.test(), and the
# stack would inherit that
STACK_ENV = {**os.environ, "OCI_APPROVAL_IN_PLACE": "1"}


def make(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=STACK_ENV)
    print(done.stdout + done.stderr, flush=True)
    return done


def wait_for(what: str, check, timeout: float, every: float = 1.0):
    """check() until it returns something, polled every `every` seconds. A poll the api-server did not answer in
    time (a loaded machine) counts as "not yet", until the deadline."""
    deadline = time.monotonic() + timeout
    last_error = ""
    while True:
        try:
            value = check()
        except (TimeoutError, urllib.error.URLError) as exc:
            if isinstance(exc, urllib.error.HTTPError):
                raise
            value, last_error = None, f" (last poll: {exc})"
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not after {timeout:.0f} s{last_error}"
        time.sleep(every)


def started(pids) -> set[tuple[int, float]]:
    """Each PID with its process's start time: once a process ends its PID is reused (a night starts many task
    processes), and a later process under the same PID is not the one seen."""
    import psutil

    found = set()
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            found.add((pid, psutil.Process(pid).create_time()))
    return found


def alive(seen) -> list[int]:
    """The processes seen (PID, start time) still running: the same PID and the same start time."""
    import psutil

    left = []
    for pid, began in sorted(seen):
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            if proc.create_time() == began and proc.status() != psutil.STATUS_ZOMBIE:
                left.append(pid)
    return left


def test_forms_started_while_the_first_night_runs(stack, walk):
    """First of the session, while the scheduled nightly run that unpausing started is still running: the golden
    image, VMDK migration and clone forms; then, once that night has made its block volume backups (their bytes are
    taken as each is made), both block volumes change and ocisim corrupts the next block volume backup as it is
    made, and the nightly's form at its defaults starts the second night (it waits for the first: max_active_runs
    1); last, a restore naming two fields that exclude each other. Their ends are checked after the connections
    test (conftest.py's order)."""
    url = stack.url
    assert f"Airflow   {url}    login: admin / admin" in stack.started.stdout
    assert [name for name, _, _ in read_pids(stack.layout)] == ["ocisim", "api-server", "scheduler", "dag-processor",
                                                                 "triggerer", "mailcatcher"]
    dags = {d["dag_id"]: d for d in walk.api.call("GET", "/api/v2/dags?limit=100")["dags"]}
    assert DAG_ID in dags
    assert not any(d["is_paused"] for d in dags.values()), "make up leaves every DAG unpaused"
    stack.runs["first night"] = wait_for("the scheduled nightly run", lambda: walk.newest(DAG_ID, "scheduled"), 60)
    stack.runs.update(walk.forms_during_the_first_night(stack.clock))
    stack.clock.lap("the nightly's form (the second night, a backup to be corrupted), a restore with two "
                    "exclusive fields")


def test_the_first_night_succeeded(stack, walk):
    """The first night succeeded with its report in the note; the second starts now."""
    # 420 s leaves room for one 2-minute retry of a deferred task hit by Airflow 3.3's stale defer-exit event race
    # (apache/airflow#71580, #72716): the run still succeeds, a try later
    run = walk.wait(DAG_ID, stack.runs["first night"], 420)
    assert run["state"] == "success", f"{run['dag_run_id']} did not succeed; logs in {stack.out}"
    assert run["note"].startswith("**OCI nightly backup report"), f"no report in the run note: {run['note']!r}"
    assert re.search(r"\b3 volumes, 3 backed up, 3 verified, 0 failed\b", run["note"]), run["note"]
    stack.shared["first night"] = run
    stack.clock.lap("the scheduled nightly backup (unpaused by make up) succeeded")


def test_the_good_night_its_note_console_link_and_mapped_names_in_chromium(stack, walk):
    """While the second night runs: the good night's run, its note and the backup task's OCI Console link; the
    nightly's mapped group by volume name."""
    run = stack.shared["first night"]
    shots = browse(walk.page, stack.url, run["dag_run_id"], run["note"], walk.tmp)
    stack.clock.lap("Chromium: the good run, its note, the Console link")
    walk.mapped_names(run["dag_run_id"])
    stack.clock.lap("the nightly's mapped group, its tasks by volume name")
    keep_shots([*shots, *walk.shots])


def test_the_second_night_and_the_form_runs_end_as_they_should(stack, walk):
    """The second night failed the corrupted volume's verification; the golden image, VMDK migration and clone runs
    succeeded; the restore with two exclusive fields was refused naming both."""
    stack.shared["corrupted"] = walk.form_runs_ended(stack.runs)
    stack.clock.lap(f"form runs: the second night failed {stack.shared['corrupted']}'s verification; golden "
                    "image, VMDK migration, clone succeeded; the restore with two exclusive fields refused")


def test_the_protection_page_shows_the_corrupted_volume_at_risk_once(stack, walk):
    """The OCI Protection page after the two nights, before any restore has made a volume and before the plan
    runs (conftest.py)."""
    shot = walk.tmp / "oci_protection.png"
    protection(walk.page, stack.url, stack.shared["corrupted"], shot)
    assert shot.stat().st_size > 20_000, f"{shot} looks empty"
    keep_shots([shot, shot.with_suffix(".jpg")])
    stack.clock.lap("Chromium: OCI Protection, the corrupted volume at risk, counted once")


def test_an_in_place_restore_is_requested(stack, walk):
    """Once the plan runs have ended: an in-place restore of app1's boot volume through the REST API. It gets to
    its approval while the next tests use the browser."""
    stack.runs["in place"] = run_id = walk.request_in_place_restore()
    run = walk.api.call("GET", f"/api/v2/dags/oci_restore/dagRuns/{urllib.parse.quote(run_id, safe='')}")
    assert run["conf"]["in_place"] is True and run["state"] in ("queued", "running"), run


def test_the_restore_form_refuses_a_bad_ocid_naming_the_field_then_starts_the_run(stack, walk):
    """The restore form: a bad OCID refused naming the field, then the corrected run starts (checked below)."""
    stack.runs["restore form"] = walk.restore_form()
    stack.clock.lap("the restore form: a bad OCID refused naming the field, then triggered")


def test_an_in_place_restore_approved_under_required_actions_and_the_restore_form_run(stack, walk):
    """The in-place restore's approval under Browse > Required Actions: it swaps. The restore form's run
    succeeded."""
    walk.approve_in_place(stack.runs["in place"])
    stack.clock.lap("the in-place restore approved under Browse > Required Actions: it swapped")
    run = walk.wait("oci_restore", stack.runs["restore form"], 300)
    assert run["state"] == "success", run
    assert run["note"].startswith("**OCI restore: done**"), run["note"]
    assert re.search(r"\| new volume \| \S+ \| volume…\w+ \| AVAILABLE after", run["note"]), run["note"]
    stack.clock.lap("the restore form's run succeeded")
    keep_shots(walk.shots)


def test_make_down_stops_every_process_of_the_stack(stack):
    """Last of the session (tests/browser/conftest.py orders it): `make down` stops every process the stack ran,
    task processes included (checked by PID), frees the port, and is safe to run twice."""
    stopped = stack.down()
    stack.clock.lap("make down")
    assert stopped.returncode == 0
    assert "[down] stopped" in stopped.stdout
    assert not stack.layout.pids.exists(), "make down removes the pids file"
    assert len(stack.seen) >= 5
    assert alive(stack.seen) == [], f"processes of the stack left after make down: {alive(stack.seen)}"
    assert port_free(stack.port), f"port {stack.port} still in use after make down"
    again = make("down", *stack.args)
    assert again.returncode == 0 and "nothing to stop" in again.stdout, "make down is safe to run twice"


# the screenshots the README shows, kept current by this test: (this test's name) -> docs/img name
README_SHOTS = {"restore_form_bad_value.png": "trigger-form.png", "nightly_mapped_names.png": "mapped-names.png",
                "required_action_in_place.png": "required-action.png"}


def keep_shots(shots: list[Path]) -> None:
    """Screenshots to out/browser/, and the ones the docs show to docs/img/."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for shot in shots:
        shutil.copy(shot, SHOTS / shot.name)
        if shot.name in README_SHOTS:
            shutil.copy(shot, ROOT / "docs" / "img" / README_SHOTS[shot.name])


def login(page, url: str, path: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{url}{path}")
    expect(page.get_by_text("Sign into Airflow")).to_be_visible()
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("admin")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}{path}*")


class Walk:
    """What an operator does in the UI: open a DAG's Trigger form, type into its fields, trigger, and follow the
    run (the REST API tells when it ended)."""

    def __init__(self, page, url: str, api, layout: Layout, tmp: Path, seen: set | None = None):
        self.page, self.url, self.api, self.layout, self.tmp = page, url, api, layout, tmp
        self.seen = seen if seen is not None else set()
        self.tenancy = json.loads((layout.sim_state / "tenancy.json").read_text())
        self.sim = AdminClient(json.loads(layout.info.read_text())["ocisim"]["us-ashburn-1"],
                               (layout.sim_state / "admin_token").read_text())
        self.shots: list[Path] = []

    # -- the REST API: which runs exist, when they end --------------------------------------------------------
    def runs(self, dag_id: str) -> list[dict]:
        return self.api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=50")["dag_runs"]

    def newest(self, dag_id: str, run_type: str | None = None) -> str | None:
        runs = sorted((r for r in self.runs(dag_id) if run_type in (None, r["run_type"])),
                      key=lambda r: r["run_after"])
        return runs[-1]["dag_run_id"] if runs else None

    def wait(self, dag_id: str, run_id: str | None, timeout: float) -> dict:
        def ended():
            self.seen.update(started(stack_pids(self.layout)))  # task processes come and go: remember each for the end
            runs = self.runs(dag_id)  # one call per poll
            run = next((r for r in runs if run_id in (None, r["dag_run_id"])), None)
            return run if run and run["state"] in ("success", "failed") else None
        return wait_for(f"{dag_id} run {run_id or '(the first)'}", ended, timeout)

    def wait_all(self, runs: dict[str, str], timeout: float) -> dict[str, dict]:
        ended = {}
        deadline = time.monotonic() + timeout
        for dag_id, run_id in runs.items():
            ended[dag_id] = self.wait(dag_id, run_id, max(5.0, deadline - time.monotonic()))
        return ended

    # -- the form -----------------------------------------------------------------------------------------------
    def open_form(self, dag_id: str):
        """The DAG's Trigger dialog; its Trigger button is enabled as the form opens (no field blocks it)."""
        from playwright.sync_api import expect

        page = self.page
        if not page.url.split("?")[0].endswith(f"/dags/{dag_id}"):
            page.goto(f"{self.url}/dags/{dag_id}")
        page.get_by_role("button", name="Trigger").first.click()
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_text(f"Trigger Dag - {dag_id}")).to_be_visible()
        expect(dialog.get_by_role("button", name="Trigger", exact=True)).to_be_enabled()
        return dialog

    def fill(self, dialog, section: str, values: dict) -> None:
        """Type each value into its field (`#element_<name>`), opening the field's section first."""
        field = dialog.locator(f"#element_{next(iter(values))}")
        if not field.is_visible():
            dialog.get_by_role("button", name=section, exact=True).click()
        for name, value in values.items():
            dialog.locator(f"#element_{name}").fill(value)

    def trigger(self, dialog, dag_id: str) -> str:
        """Press the form's Trigger; the new run's id (the REST API lists it)."""
        from playwright.sync_api import expect

        before = {r["dag_run_id"] for r in self.runs(dag_id)}
        dialog.get_by_role("button", name="Trigger", exact=True).click()
        expect(self.page.get_by_role("dialog")).to_have_count(0, timeout=30_000)
        return wait_for(f"a new {dag_id} run", lambda: next(
            (r["dag_run_id"] for r in self.runs(dag_id) if r["dag_run_id"] not in before), None), 30, every=0.5)

    def shot(self, name: str) -> None:
        path = self.tmp / name
        self.page.screenshot(path=str(path), animations="disabled")
        self.shots.append(path)

    # -- the walk-through ---------------------------------------------------------------------------------------
    def forms_during_the_first_night(self, clock: Clock) -> dict[str, str]:
        """The golden image, VMDK migration and clone forms; the nightly's form at its defaults (the Variable
        configures the run) with the next block volume backup corrupted, so its run fails that volume's
        verification; a restore naming two fields that exclude each other. None of them makes a volume the nightly
        protects, so the Protection page read later counts the same volumes. Returns the runs started by name."""
        runs = self.image_forms()
        dialog = self.open_form("oci_emergency_clone")  # the untagged scratch volume, by the list field
        self.fill(dialog, "What to clone", {"volume_ids": self.tenancy["volumes"]["scratch"]})
        runs["oci_emergency_clone"] = self.trigger(dialog, "oci_emergency_clone")
        clock.lap("Chromium signed in; the golden image, VMDK migration and clone forms")

        # the first night's block volume backups are made (ocisim takes a backup's bytes as it is made), so the
        # next CreateVolumeBackup is the second night's
        volumes = {name: self.tenancy["volumes"][name] for name in ("db-data", "app-data")}

        def first_backups() -> dict | None:
            made: dict[str, str] = {}
            for b in self.sim.resources("volumebackup"):  # oldest first; not the DR copies
                if b["lifecycle_state"] == "AVAILABLE" and b["_region"] == self.tenancy["home_region"]:
                    made.setdefault(b["volume_id"], b["id"])
            return made if all(v in made for v in volumes.values()) else None

        backups = wait_for("the first night's block volume backups", first_backups, 300)
        clock.lap("the first night's block volume backups made")
        # the second night's first block volume backup is damaged as it is made (ocisim's fault), in the block it
        # stores: both block volumes change their first block (ext4 leaves its first 1024 bytes unused), so the
        # damaged block holds the superblock, and e2fsck fails on the restored volume
        for volume_id in volumes.values():
            self.sim.write(volume_id, 0, b"night two")
        self.sim.fault("CreateVolumeBackup", "corrupt_backup", count=1)
        runs["second night"] = self.trigger(self.open_form(DAG_ID), DAG_ID)  # queued until the first night ends

        volume = volumes["db-data"]
        dialog = self.open_form("oci_restore")
        self.fill(dialog, "Which backup", {"backup_id": backups[volume], "volume_id": volume})
        runs["refused restore"] = self.trigger(dialog, "oci_restore")
        runs["refused backup"] = backups[volume]
        return runs

    def form_runs_ended(self, runs: dict[str, str]) -> str:
        """The runs forms_during_the_first_night started ended as they should. Returns the corrupted volume's
        name."""
        started = {dag_id: runs[dag_id] for dag_id in ("oci_golden_image", "oci_vmdk_migration",
                                                       "oci_emergency_clone")}
        ended = self.wait_all({**started, DAG_ID: runs["second night"]}, 420)
        bad = ended.pop(DAG_ID)
        assert bad["state"] == "failed", f"{bad['dag_run_id']}: a corrupted backup must fail the run"
        assert re.search(r"\b3 volumes, 3 backed up, 2 verified, 1 failed\b", bad["note"]), bad["note"]
        corrupted = re.search(r"^\| ([\w-]+) \| VERIFICATION FAILED \|", bad["note"], re.M).group(1)
        refused = self.wait("oci_restore", runs["refused restore"], 60)
        assert refused["state"] == "failed"
        # the run's note (and validate_request's log) says why, naming both fields
        backup, volume = runs["refused backup"], self.tenancy["volumes"]["db-data"]
        assert refused["note"].startswith("**OCI restore: nothing done**"), refused["note"]
        assert f"refused: backup_id '{short_ocid(backup)}' and volume_id '{short_ocid(volume)}': both given, but " \
               f"they exclude each other" in refused["note"], refused["note"]
        assert {dag_id: r["state"] for dag_id, r in ended.items()} == {
            "oci_golden_image": "success", "oci_vmdk_migration": "success", "oci_emergency_clone": "success"}, ended
        assert ended["oci_golden_image"]["note"].startswith("**OCI golden image: done**")
        assert "| image | win1-golden | image…" in ended["oci_golden_image"]["note"]
        assert "| image | legacy-erp | image…" in ended["oci_vmdk_migration"]["note"]
        assert "| clone of scratch | scratch-clone | volume…" in ended["oci_emergency_clone"]["note"]
        return corrupted

    def image_forms(self) -> dict[str, str]:
        """The golden image form images win1; the VMDK migration form imports a disk image already in a bucket."""
        import oci

        runs = {}
        dialog = self.open_form("oci_golden_image")
        self.fill(dialog, "Which instance", {"instance_id": self.tenancy["instances"]["win1"]})
        self.fill(dialog, "The image", {"image_name": "win1-golden"})
        runs["oci_golden_image"] = self.trigger(dialog, "oci_golden_image")

        # the disk image a migration team uploaded (the form's local_path needs OCI_UPLOAD_ROOTS on the worker)
        from demo.scenarios import on_prem_disk

        config = oci.config.from_file(str(self.layout.sim_state / "config"))
        storage = oci.object_storage.ObjectStorageClient(
            config, service_endpoint=json.loads(self.layout.info.read_text())["ocisim"]["us-ashburn-1"])
        with open(on_prem_disk(self.tmp), "rb") as disk:
            storage.put_object(self.tenancy["namespace"], "images", "disks/legacy-erp.vmdk", disk)
        dialog = self.open_form("oci_vmdk_migration")
        self.fill(dialog, "Which disk image", {"namespace": self.tenancy["namespace"], "bucket": "images",
                                               "object_name": "disks/legacy-erp.vmdk"})
        runs["oci_vmdk_migration"] = self.trigger(dialog, "oci_vmdk_migration")
        return runs

    def request_in_place_restore(self) -> str:
        """An in-place restore of app1's boot volume, through the REST API: it waits for a person's approval before
        the instance stops (OCI_APPROVAL_IN_PLACE is on in `make up`). Returns the run id."""
        return self.api.call("POST", "/api/v2/dags/oci_restore/dagRuns", {"logical_date": None, "conf": {
            "volume_id": self.tenancy["boot_volumes"]["app1"], "in_place": True, "approvers": ["admin"]}})["dag_run_id"]

    def approve_in_place(self, run_id: str) -> None:
        """A person opens the in-place restore's approval under Browse > Required Actions, reads what will happen,
        gives a reason and approves; the run swaps the boot volume and its note says who approved."""
        from playwright.sync_api import expect

        page, instance = self.page, self.tenancy["instances"]["app1"]

        def awaiting():
            tis = self.api.call("GET", f"/api/v2/dags/oci_restore/dagRuns/{urllib.parse.quote(run_id, safe='')}"
                                       f"/taskInstances")["task_instances"]
            return next((t for t in tis if t["task_id"] == "approve_swap" and t["state"] == "awaiting_input"), None)

        wait_for("the in-place restore's approval request", awaiting, 300)
        assert [i["lifecycle_state"] for i in self.sim.resources("instance") if i["id"] == instance] == ["RUNNING"]
        page.goto(f"{self.url}/")
        page.get_by_role("button", name="Browse").click()
        page.get_by_role("menuitem", name="Required Actions").click()
        page.get_by_role("link", name=re.compile(r"^Approve the in-place restore of app1")).click()
        expect(page.get_by_text("Expected downtime")).to_be_visible()
        expect(page.get_by_text(instance)).to_be_visible()
        page.locator("#element_reason").fill("browser walk-through")
        self.shot("required_action_in_place.png")
        page.get_by_role("button", name="Approve", exact=True).click()
        run = self.wait("oci_restore", run_id, 300)
        assert run["state"] == "success", run
        assert re.search(r"^\| approved by \| admin \| - \| .*browser walk-through \|$", run["note"], re.M), run["note"]
        assert "| swapped into | app1 |" in run["note"], run["note"]

    def restore_form(self) -> str:
        """The restore form: a bad OCID is refused as the run would be created, naming the field and its rule;
        corrected, the run restores db-data's newest verified backup. Returns the run id."""
        from playwright.sync_api import expect

        volume = self.tenancy["volumes"]["db-data"]
        dialog = self.open_form("oci_restore")
        self.fill(dialog, "Which backup", {"volume_id": "not-an-ocid"})
        dialog.get_by_role("button", name="Trigger", exact=True).click()
        error = dialog.get_by_text(re.compile(r"^Invalid input for param volume_id: 'not-an-ocid' does not match"))
        expect(error).to_contain_text("'title': 'Or: the newest verified backup of volume'")  # the field's label
        self.shot("restore_form_bad_value.png")
        self.page.mouse.move(5, 5)  # off the error toast (it pauses under the pointer and covers Trigger)
        expect(self.page.get_by_role("status").filter(has_text="Failed to Trigger Dag")).to_have_count(
            0, timeout=30_000)
        self.fill(dialog, "Which backup", {"volume_id": volume})
        return self.trigger(dialog, "oci_restore")

    def mapped_names(self, run_id: str) -> None:
        """The good nightly run's grid: its mapped group `protect_volume` expanded, each task named by its volume."""
        from playwright.sync_api import expect

        page = self.page
        run = f"{self.url}/dags/{DAG_ID}/runs/{urllib.parse.quote(run_id, safe='')}"
        page.goto(run)
        page.locator('[aria-label="Toggle group"][data-group-id="protect_volume"]').click()  # the grid's group
        for task in ("backup_volume", "restore_for_test", "verify_restore"):
            expect(page.get_by_test_id(f"protect_volume.{task}")).to_be_visible()
        page.goto(f"{run}/tasks/group/protect_volume")  # the group's task instances in this run
        rows = page.locator("table tbody tr")
        expect(rows).to_have_count(9, timeout=30_000)
        names = sorted(set(rows.locator("td:nth-child(3)").all_inner_texts()))
        print(f"[browser] protect_volume's map indexes: {names}", flush=True)
        assert names == ["app-data", "app1 (Boot Volume)", "db-data"], names
        self.shot("nightly_mapped_names.png")


def browse(page, url: str, run_id: str, note: str, tmp_path: Path) -> list[Path]:
    """The good nightly run, its report in the note and the backup task's OCI Console link."""
    from playwright.sync_api import expect

    quoted = urllib.parse.quote(run_id, safe="")
    shots = [tmp_path / f"{name}.png" for name in ("nightly_run", "nightly_run_report", "backup_task_console_link")]
    page.goto(f"{url}/dags/{DAG_ID}/runs")
    latest = page.get_by_role("link", name=run_id)
    expect(latest.first).to_be_visible()
    latest.first.click()
    page.wait_for_function("path => decodeURIComponent(location.pathname) === path",
                           arg=f"/dags/{DAG_ID}/runs/{run_id}")
    header = page.get_by_test_id("header-card")
    expect(header.get_by_text(run_id, exact=True)).to_be_visible()
    expect(header.get_by_test_id("state-badge")).to_have_text("Success")
    expect(page.get_by_text("OCI nightly backup report").first).to_be_visible()  # the note's heading
    expect(page.get_by_role("heading", name=re.compile(r"\d+ Task Instances"))).to_be_visible()
    page.screenshot(path=str(shots[0]), animations="disabled")

    page.get_by_role("button", name="Edit note").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("Dag Run Note")).to_be_visible()
    expect(dialog).to_contain_text("3 volumes, 3 backed up, 3 verified, 0 failed")
    for volume in ("app-data", "db-data", "app1 (Boot Volume)"):  # the note's table, rendered: a row per volume
        expect(dialog.get_by_role("row", name=re.compile(rf"^{re.escape(volume)} verified "))).to_be_visible()
    expect(dialog).to_contain_text("script: PASS")
    page.screenshot(path=str(shots[1]), animations="disabled")
    page.keyboard.press("Escape")

    page.goto(f"{url}/dags/{DAG_ID}/runs/{quoted}/tasks/protect_volume.backup_volume/mapped/0/details")
    expect(page.get_by_text("Extra Links")).to_be_visible()
    link = page.get_by_role("link", name="OCI Console")
    expect(link).to_be_visible()
    href = link.get_attribute("href")
    page.screenshot(path=str(shots[2]), animations="disabled")
    match = re.fullmatch(r"https://cloud\.oracle\.com/block-storage/(?:boot-volume-)?backups/"
                         r"(ocid1\.(?:boot)?volumebackup\.oc1\.iad\.\w+)\?region=us-ashburn-1", href or "")
    assert match, f"OCI Console link {href!r} is not a console URL of a backup in us-ashburn-1"
    assert match.group(1)[-6:] in note, "the link's backup is one the run's report names (its short OCID)"
    for shot in shots:
        assert shot.stat().st_size > 20_000, f"{shot} looks empty"
    return shots


def protection(page, url: str, corrupted: str, shot: Path) -> None:
    """From the UI's home, the navigation's OCI Protection entry: the page in the UI's frame, every tagged volume
    with its verification and RPO compliance; the corrupted one at risk, not also listed as not protected."""
    from playwright.sync_api import expect

    page.goto(f"{url}/")
    page.get_by_role("link", name="OCI Protection").click()
    page.wait_for_url(f"{url}/plugin/oci-protection")
    frame = page.frame_locator("iframe").first
    expect(frame.get_by_role("heading", name="Protected volumes")).to_be_visible()
    expect(frame.locator("#stale")).to_have_count(0)  # OCI answered: no stale-data banner
    rows = frame.locator("#protected-volumes tbody tr")
    expect(rows).to_have_count(3)
    seen = {}
    for i in range(3):
        row = rows.nth(i)
        seen[row.get_attribute("data-volume")] = (row.get_attribute("data-verification"),
                                                  row.get_attribute("data-compliance"))
    print(f"[browser] OCI Protection: {seen}", flush=True)
    assert set(seen) == {"app-data", "db-data", "app1 (Boot Volume)"}
    # the corrupted volume's newest backup failed; the night before's verified one keeps it within its RPO
    assert seen.pop(corrupted) == ("FAIL", "compliant")
    assert set(seen.values()) == {("PASS", "compliant")}
    expect(rows.filter(has_text=corrupted)).to_contain_text("e2fsck")
    unprotected = frame.locator("#unprotected-volumes")
    expect(unprotected).to_contain_text("scratch")
    # one state per volume: the corrupted one is at risk (its last attempt failed, a verified backup still within
    # target), never also "not protected"
    expect(rows.filter(has_text=corrupted)).to_have_attribute("data-state", "at_risk")
    expect(unprotected.locator("tr", has_text=corrupted)).to_have_count(0)
    expect(frame.get_by_role("heading", name=re.compile(r"History, last 2 nights"))).to_be_visible()
    page.screenshot(path=str(shot), animations="disabled")
    page.screenshot(path=str(shot.with_suffix(".jpg")), type="jpeg", quality=70, animations="disabled")
