"""The OCI Protection page in a real browser against the session's `make up` stack (tests/browser/conftest.py),
after the walk-through's two nights: Debian's headless Chromium (signed in by the walk-through) opens OCI
Protection from the navigation, checks that the tiles add up to the rows and the volumes, follows a row's run
link to the run in Airflow's UI and its task-log link to the mapped task (reads only: the plan runs are counting
mutating calls meanwhile); later, its "Restore…" link into the restore form pre-filled with the volume;
submitting it creates an `oci_restore` run with that `volume_id` (checked through the REST API)."""

from __future__ import annotations

import os
import re
import urllib.parse

import pytest

from demo.stack import Api, stack_pids
from tests.browser.test_ui import keep_shots, started, wait_for

DAG_ID = "oci_nightly_backup"
STATES = ("ok", "at_risk", "out", "not_protected")

pytestmark = pytest.mark.skipif(os.environ.get("OCI_BROWSER") != "1",
                                reason="the browser test runs with `make test-browser` (OCI_BROWSER=1)")


def test_protection_page_tiles_add_up_and_rows_lead_to_their_run(stack, walk, tmp_path):
    api = Api(stack.url)
    runs_path = f"/api/v2/dags/{DAG_ID}/dagRuns"

    def scheduled_done():
        stack.seen.update(started(stack_pids(stack.layout)))
        runs = api.call("GET", f"{runs_path}?limit=50")["dag_runs"]
        run = next((r for r in runs if r["run_type"] == "scheduled"), None)
        return run if run and run["state"] in ("success", "failed") else None

    run = wait_for("the scheduled nightly run", scheduled_done, 420)
    assert run["state"] == "success", f"{run['dag_run_id']} did not succeed; logs in {stack.out}"
    # the walk-through's two nights have ended (conftest.py): a green row's evidence is the newest night, the
    # second (a plan run, which backs nothing up, is not a night)
    ended = [r for r in api.call("GET", f"{runs_path}?limit=50")["dag_runs"]
             if r["state"] in ("success", "failed") and not (r.get("conf") or {}).get("plan_only")]
    newest = max(ended, key=lambda r: r["run_after"])["dag_run_id"]
    shot = tmp_path / "oci_protection_states.png"
    page = signed_in_page(walk)
    try:
        read_tiles_and_follow_links(page, stack.url, newest, shot)
    finally:
        page.close()
    assert shot.stat().st_size > 20_000, f"{shot} looks empty"
    keep_shots([shot, shot.with_suffix(".jpg")])
    stack.clock.lap("OCI Protection in Chromium: tiles, run link, task link")


def test_a_rows_restore_link_opens_a_prefilled_restore_form(stack, walk, tmp_path):
    api = Api(stack.url)
    before = {r["dag_run_id"] for r in api.call("GET", "/api/v2/dags/oci_restore/dagRuns?limit=100")["dag_runs"]}
    page = signed_in_page(walk)
    try:
        volume_id = restore_link(page, stack.url, tmp_path)
    finally:
        page.close()
    restores = [r for r in api.call("GET", "/api/v2/dags/oci_restore/dagRuns?limit=100")["dag_runs"]
                if r["dag_run_id"] not in before]
    assert [r["conf"] for r in restores] == [{"volume_id": volume_id}], restores
    stack.clock.lap("OCI Protection in Chromium: a row's Restore… link, the pre-filled form, triggered")


def signed_in_page(walk):
    """A page of the walk-through's browser context: signed in as it is (the walk-through logged in)."""
    page = walk.page.context.new_page()
    page.set_viewport_size({"width": 1600, "height": 1100})
    page.set_default_timeout(30_000)
    return page


def open_page(page, url: str):
    """The page from the UI's navigation, in the UI's frame."""
    from playwright.sync_api import expect

    page.goto(f"{url}/")
    page.get_by_role("link", name="OCI Protection").click()
    page.wait_for_url(f"{url}/plugin/oci-protection")
    frame = page.frame_locator("iframe").first
    expect(frame.get_by_role("heading", name="Protected volumes")).to_be_visible()
    return frame


def read_tiles_and_follow_links(page, url: str, run_id: str, shot) -> None:
    """The tiles add up to the rows and the volumes; a green row's run link and task-log link lead into Airflow."""
    from playwright.sync_api import expect

    frame = open_page(page, url)
    tiles = frame.locator("#tiles")
    counts = {s: int(tiles.locator(f'[data-state="{s}"] b').inner_text()) for s in STATES}
    volumes = int(tiles.get_attribute("data-volumes"))
    rows = frame.locator("#protected-volumes tbody tr[data-state], #unprotected-volumes tbody tr[data-state]")
    states = [rows.nth(i).get_attribute("data-state") for i in range(rows.count())]
    print(f"[browser] OCI Protection tiles {counts}, {volumes} volumes, rows {states}", flush=True)
    assert sum(counts.values()) == volumes == len(states) > 0
    assert counts == {s: states.count(s) for s in STATES}
    assert counts["ok"] >= 1  # the night succeeded: its volumes are verified within their RPO
    page.screenshot(path=str(shot), animations="disabled")
    page.screenshot(path=str(shot.with_suffix(".jpg")), type="jpeg", quality=70, animations="disabled")

    # the page is in a sandboxed frame: a link into Airflow moves the UI around it, not inside it
    green = frame.locator('#protected-volumes tbody tr[data-state="ok"]').first
    green.get_by_role("link", name="run", exact=True).first.click()
    page.wait_for_function("path => decodeURIComponent(location.pathname) === path",
                           arg=f"/dags/{DAG_ID}/runs/{run_id}")
    expect(page.get_by_role("navigation", name="breadcrumb")).to_contain_text(run_id, timeout=30_000)
    expect(page.locator("iframe")).to_have_count(0)

    frame = open_page(page, url)
    green = frame.locator('#protected-volumes tbody tr[data-state="ok"]').first
    green.get_by_role("link", name="task log", exact=True).first.click()
    quoted = re.escape(urllib.parse.quote(run_id, safe=""))
    page.wait_for_url(re.compile(rf".*/dags/{DAG_ID}/runs/{quoted}/tasks/protect_\w+\.verify_restore/"
                                 rf"mapped/\d+"))
    expect(page.get_by_role("navigation", name="breadcrumb")).to_contain_text("verify_restore", timeout=30_000)


def restore_link(page, url: str, tmp_path) -> str:
    """A green row's "Restore…" link opens the restore form in the frame, pre-filled with the row's volume; its
    submit starts the run. Returns the volume's OCID."""
    from playwright.sync_api import expect

    frame = open_page(page, url)
    green = frame.locator('#protected-volumes tbody tr[data-state="ok"]').first
    name = green.get_attribute("data-volume")
    restore = green.get_by_role("link", name="Restore…")
    href = restore.get_attribute("href")
    volume_id = urllib.parse.parse_qs(urllib.parse.urlparse(href).query)["volume_id"][0]
    restore.click()  # the form opens in the frame, pre-filled
    page.wait_for_url(re.compile(r".*/plugin/oci-protection/oci/restore\?volume_id=ocid1\..*"))
    form = page.frame_locator("iframe").first
    expect(form.locator("#p-volume_id")).to_have_value(volume_id, timeout=30_000)
    print(f"[browser] Restore… for {name}: {volume_id}", flush=True)
    page.screenshot(path=str(tmp_path / "oci_restore_form.png"), animations="disabled")
    form.locator("#trigger-submit").click()
    page.wait_for_url(re.compile(r".*/dags/oci_restore/runs/.+"))
    expect(page.get_by_role("navigation", name="breadcrumb")).to_contain_text("oci_restore", timeout=30_000)
    return volume_id
