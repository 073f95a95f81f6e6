"""The Airflow UI in a real browser against `make up`'s stack: `make up` on free ports in a temporary out directory;
the nightly run that unpausing starts must succeed; then the next block volume backup is corrupted as it is made
(ocisim's admin API) and a second run, triggered through the REST API, must fail that volume's verification.
Debian's headless Chromium (driven by Playwright, never a downloaded browser) logs in, opens the good run, reads the
report in the run's note and the backup task's OCI Console link, then follows the navigation's OCI Protection entry
and reads the protected volumes with their compliance, the corrupted one failed. Screenshots go to the test's directory
and out/browser/. Finally `make down`, and no process of the stack may be left (checked by PID)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

from demo.stack import Api, Layout, drop_database, free_port, port_free, read_pids, stack_pids
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
        rows = [f"  {name:<46} {took:6.1f} s" for name, took in self.rows]
        return "phase times:\n" + "\n".join(rows) + f"\n  {'total':<46} {time.monotonic() - self.began:6.1f} s"


def make(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)
    print(done.stdout + done.stderr, flush=True)
    return done


def wait_for(what: str, check, timeout: float, every: float = 2.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not after {timeout:.0f} s"
        time.sleep(every)


def alive(pids) -> list[int]:
    import psutil

    left = []
    for pid in sorted(pids):
        with contextlib.suppress(psutil.Error):
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                left.append(pid)
    return left


def test_ui_shows_the_nightly_run_with_its_report_and_console_link(tmp_path):
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install -y chromium (never a downloaded browser)"
    clock = Clock()
    out, port, db = tmp_path / "up", free_port(), f"airflow_up_test_{secrets.token_hex(4)}"
    layout, seen = Layout(out), set()
    args = [f"UP_DIR={out}", f"PORT={port}", f"UP_DB={db}"]
    try:
        started = make("up", *args)
        assert started.returncode == 0, "make up failed"
        url = f"http://127.0.0.1:{port}"
        assert f"Airflow   {url}    login: admin / admin" in started.stdout
        records = read_pids(layout)
        assert [name for name, _, _ in records] == ["ocisim", "api-server", "scheduler", "dag-processor",
                                                    "triggerer"]
        seen |= stack_pids(layout)
        clock.lap("make up (PostgreSQL db, ocisim, 4 Airflow services, DAGs unpaused)")

        api = Api(url)
        dags = {d["dag_id"]: d for d in api.call("GET", "/api/v2/dags?limit=100")["dags"]}
        assert DAG_ID in dags
        assert not any(d["is_paused"] for d in dags.values()), "make up leaves every DAG unpaused"
        runs_path = f"/api/v2/dags/{DAG_ID}/dagRuns"

        def finished(run_type: str | None = None, run_id: str | None = None):
            def check():
                seen.update(stack_pids(layout))  # task processes come and go: remember each one for the final check
                runs = api.call("GET", f"{runs_path}?limit=20")["dag_runs"]
                run = next((r for r in runs if r["run_type"] == run_type or r["dag_run_id"] == run_id), None)
                return run if run and run["state"] in ("success", "failed") else None
            return check

        # unpausing started the latest scheduled interval. 420 s leaves room for one 2-minute retry of a deferred
        # task hit by Airflow 3.3's stale defer-exit event race (apache/airflow#71580, #72716): the run still
        # succeeds, a try later
        run = wait_for("the scheduled nightly run", finished(run_type="scheduled"), 420)
        run_id = run["dag_run_id"]
        assert run["state"] == "success", f"{run_id} did not succeed; logs in {out}"
        assert run["note"].startswith("OCI nightly backup report"), f"no report in the run note: {run['note']!r}"
        assert re.search(r"\b3 volumes, 3 backed up, 3 verified, 0 failed\b", run["note"]), run["note"]
        clock.lap("the scheduled nightly backup (unpaused by make up) succeeded")

        # the second night's first block volume backup is damaged as it is made (ocisim's fault), in the block it
        # stores: both block volumes change their first block (ext4 leaves its first 1024 bytes unused), so the
        # damaged block holds the superblock, and e2fsck fails on the restored volume
        sim = AdminClient(json.loads(layout.info.read_text())["ocisim"]["us-ashburn-1"],
                          (layout.sim_state / "admin_token").read_text())
        tenancy = json.loads((layout.sim_state / "tenancy.json").read_text())
        for name in ("db-data", "app-data"):
            sim.write(tenancy["volumes"][name], 0, b"night two")
        sim.fault("CreateVolumeBackup", "corrupt_backup", count=1)
        bad_id = api.call("POST", runs_path, {"logical_date": None, "conf": {}})["dag_run_id"]
        bad = wait_for(f"run {bad_id}", finished(run_id=bad_id), 420)
        assert bad["state"] == "failed", f"{bad_id}: a corrupted backup must fail the run; logs in {out}"
        assert re.search(r"\b3 volumes, 3 backed up, 2 verified, 1 failed\b", bad["note"]), bad["note"]
        corrupted = re.search(r"^- (\S+) \(volume\): VERIFICATION FAILED", bad["note"], re.M).group(1)
        retried = [f"{ti['dag_run_id']} {ti['task_id']}[{ti['map_index']}] try {ti['try_number']}" for ti in
                   api.call("GET", f"{runs_path}/~/taskInstances?limit=200")["task_instances"]
                   if ti["try_number"] > 1]
        print(f"[browser] tasks retried (both runs): {retried or 'none'}", flush=True)
        clock.lap(f"second night, {corrupted}'s backup corrupted: run failed its verification")

        shots = browse(url, run_id, run["note"], corrupted, tmp_path)
        SHOTS.mkdir(parents=True, exist_ok=True)
        for shot in [*shots, shots[-1].with_suffix(".jpg")]:
            shutil.copy(shot, SHOTS / shot.name)
        clock.lap(f"Chromium: login, run, note, link, OCI Protection; screenshots in {SHOTS}")
    finally:
        seen |= stack_pids(layout)
        stopped = make("down", *args)
        if layout.pids.exists() or stopped.returncode:
            subprocess.run(["make", "down", *args], cwd=ROOT, timeout=120)
        with contextlib.suppress(Exception):
            drop_database(db)
        clock.lap("make down, database dropped")
        print(clock.summary(), flush=True)
    assert stopped.returncode == 0
    assert "[down] stopped" in stopped.stdout
    assert not layout.pids.exists(), "make down removes the pids file"
    assert len(seen) >= 5
    assert alive(seen) == [], f"processes of the stack left after make down: {alive(seen)}"
    assert port_free(port), f"port {port} still in use after make down"
    again = make("down", *args)
    assert again.returncode == 0 and "nothing to stop" in again.stdout, "make down is safe to run twice"


def browse(url: str, run_id: str, note: str, corrupted: str, tmp_path: Path) -> list[Path]:
    """Log in, open the good nightly run, its report and the backup task's OCI Console link; then the OCI
    Protection page from the navigation."""
    from playwright.sync_api import expect, sync_playwright

    quoted = urllib.parse.quote(run_id, safe="")
    shots = [tmp_path / f"{name}.png" for name in ("nightly_run", "nightly_run_report", "backup_task_console_link",
                                                   "oci_protection")]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(30_000)
            page.goto(f"{url}/dags/{DAG_ID}/runs")
            expect(page.get_by_text("Sign into Airflow")).to_be_visible()
            page.get_by_label("Username").fill("admin")
            page.get_by_label("Password").fill("admin")
            page.get_by_role("button", name="Sign in").click()

            # the DAG's runs, newest first: the good one is second, after the failed one
            latest = page.get_by_role("link", name=run_id)
            expect(latest.first).to_be_visible()
            latest.first.click()
            page.wait_for_function("path => decodeURIComponent(location.pathname) === path",
                                   arg=f"/dags/{DAG_ID}/runs/{run_id}")
            header = page.get_by_test_id("header-card")
            expect(header.get_by_text(run_id, exact=True)).to_be_visible()
            expect(header.get_by_test_id("state-badge")).to_have_text("Success")
            expect(page.get_by_text("OCI nightly backup report").first).to_be_visible()  # the note, one line
            expect(page.get_by_role("heading", name=re.compile(r"\d+ Task Instances"))).to_be_visible()
            page.screenshot(path=str(shots[0]), animations="disabled")

            page.get_by_role("button", name="Edit note").click()
            dialog = page.get_by_role("dialog")
            expect(dialog.get_by_text("Dag Run Note")).to_be_visible()
            expect(dialog).to_contain_text("3 volumes, 3 backed up, 3 verified, 0 failed")
            for volume in ("app-data (volume): verified", "db-data (volume): verified", "app1 (Boot Volume)"):
                expect(dialog).to_contain_text(volume)
            expect(dialog).to_contain_text("check script: e2fsck -fn clean")
            page.screenshot(path=str(shots[1]), animations="disabled")
            page.keyboard.press("Escape")

            page.goto(f"{url}/dags/{DAG_ID}/runs/{quoted}/tasks/protect_volume.backup_volume/mapped/0/details")
            expect(page.get_by_text("Extra Links")).to_be_visible()
            link = page.get_by_role("link", name="OCI Console")
            expect(link).to_be_visible()
            href = link.get_attribute("href")
            page.screenshot(path=str(shots[2]), animations="disabled")
            protection(page, url, corrupted, shots[3])
        finally:
            browser.close()
    match = re.fullmatch(r"https://cloud\.oracle\.com/block-storage/(?:boot-volume-)?backups/"
                         r"(ocid1\.(?:boot)?volumebackup\.oc1\.iad\.\w+)\?region=us-ashburn-1", href or "")
    assert match, f"OCI Console link {href!r} is not a console URL of a backup in us-ashburn-1"
    assert match.group(1) in note, "the link's backup is one the run's report names"
    for shot in shots:
        assert shot.stat().st_size > 20_000, f"{shot} looks empty"
    return shots


def protection(page, url: str, corrupted: str, shot: Path) -> None:
    """From the UI's home, the navigation's OCI Protection entry: the page in the UI's frame, every tagged volume
    with its verification and RPO compliance; the corrupted one failed and listed as not protected."""
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
    expect(unprotected.locator("tr", has_text=corrupted)).to_contain_text("newest backup failed verification")
    expect(frame.get_by_role("heading", name=re.compile(r"History, last 2 nights"))).to_be_visible()
    page.screenshot(path=str(shot), animations="disabled")
    page.screenshot(path=str(shot.with_suffix(".jpg")), type="jpeg", quality=70, animations="disabled")
