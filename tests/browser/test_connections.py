"""The OCI key never comes back out of Airflow, against `make up`'s real api-server (the session's stack,
tests/browser/conftest.py: free ports, a random database). An oci connection with a known key, encrypted with a
known pass phrase, is made through the REST API and the airflow CLI; every connections response (by id, the list,
create, edit, test) read as the admin and as `op` (the simple auth manager's lowest role that may read connections;
`viewer` may not read them at all: 403) holds neither the key's body nor the pass phrase. Edited through the REST
API with its masked values, then in Chromium's edit form (which shows only `***`), the stored key still signs
requests to ocisim: the Test button and `POST /api/v2/connections/test` succeed and ocisim counts the signed calls.
Every file of `make up`'s folder that holds a key or a password is its owner's alone (mode 600), and `oci_default`
is listed under Admin > Connections with a working Test button."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from demo.stack import LOGINS, Layout
from ocisim.testing import AdminClient

ROOT = Path(__file__).resolve().parents[2]
PASS_PHRASE = "fake pass phrase 7f3c horse battery"
CONN_ID = "oci_secret_check"
# files `make up` writes that hold a key, a token or a password (besides any other the content scan finds)
SECRET_FILES = ("passwords.json", "keys.json", "env.sh", "stack.json", "airflow/airflow.cfg", "ocisim/tenancy.json",
                "ocisim/config", "ocisim/oci_api_key.pem", "ocisim/admin_token")

pytestmark = pytest.mark.skipif(os.environ.get("OCI_BROWSER") != "1",
                                reason="the browser tests run with `make test-browser` (OCI_BROWSER=1)")


class Rest:
    """The REST API as one login, keeping every response body it reads (the scan below looks at all of them)."""

    def __init__(self, url: str, user: str, bodies: list[str]):
        self.url, self.bodies = url, bodies
        token = self.call("POST", "/auth/token", {"username": user, "password": LOGINS[user][1]}, auth=False)
        self.token = token[1]["access_token"]

    def call(self, method: str, path: str, body=None, auth: bool = True) -> tuple[int, dict]:
        headers = {"content-type": "application/json", "accept": "application/json"}
        if auth:
            headers["authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(f"{self.url}{path}", method=method, headers=headers,
                                     data=None if body is None else json.dumps(body).encode())
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                status, raw = resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read().decode()
        if auth:
            self.bodies.append(raw)
        return status, json.loads(raw) if raw else {}

    def ok(self, method: str, path: str, body=None) -> dict:
        status, answer = self.call(method, path, body)
        assert status in (200, 201), f"{method} {path}: {status} {answer}"
        return answer


def encrypted_key(out: Path) -> str:
    """ocisim's API key (so ocisim accepts its signatures) as PKCS#8 encrypted with PASS_PHRASE: a PEM body no
    file holds, so any occurrence in a response came from the connection."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key((out / "ocisim" / "oci_api_key.pem").read_bytes(), None)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(PASS_PHRASE.encode())).decode()


def occurrences(texts: list[str], needles: list[str]) -> int:
    return sum(text.count(needle) for text in texts for needle in needles)


def stack_env(out: Path) -> dict:
    """The environment `make up` writes to env.sh for the airflow CLI."""
    env = dict(os.environ)
    for line in (out / "env.sh").read_text().splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            env[name] = shlex.split(value)[0]
    return env


def check_file_modes(out: Path) -> int:
    """Every file under the folder that holds one of the stack's secrets (or is a known secret file) is mode 600;
    returns how many such files there are."""
    keys = json.loads((out / "keys.json").read_text())
    needles = [*keys.values(), (out / "ocisim" / "admin_token").read_text().strip(),
               max((out / "ocisim" / "oci_api_key.pem").read_text().splitlines(), key=len)]
    holding = {out / name for name in SECRET_FILES}
    for path in out.rglob("*"):
        if path.is_file() and any(n.encode() in path.read_bytes() for n in needles):
            holding.add(path)
    readable = sorted(f"{p.relative_to(out)} {p.stat().st_mode & 0o777:o}" for p in holding
                      if p.stat().st_mode & 0o077)
    assert readable == [], f"secret-holding files readable by other users: {readable}"
    assert out.stat().st_mode & 0o077 == 0, f"{out} is mode {out.stat().st_mode & 0o777:o}, not 700"
    return len(holding)


def test_the_oci_key_never_comes_back_out_of_the_api_or_the_ui(stack, chromium, tmp_path):
    out, url = stack.out, stack.url
    assert f"make down UP_DIR={out}" in stack.started.stdout, "make up prints the full stop command"
    secret_files = check_file_modes(out)

    bodies: list[str] = []  # every connections response any reader got
    admin, op = Rest(url, "admin", bodies), Rest(url, "op", bodies)
    viewer = Rest(url, "viewer", [])
    layout = Layout(out)
    sim = AdminClient(json.loads(layout.info.read_text())["ocisim"]["us-ashburn-1"],
                      (layout.sim_state / "admin_token").read_text())

    # oci_default is in the metadata database: listed (its Test reaches ocisim: below)
    listed = {c["connection_id"]: c for c in admin.ok("GET", "/api/v2/connections")["connections"]}
    assert listed["oci_default"]["conn_type"] == "oci"

    # an oci connection with a key and a pass phrase, through REST (port 0: the Test button, below)
    pem = encrypted_key(out)
    needles = [line for line in pem.splitlines() if not line.startswith("-----")] + [PASS_PHRASE]
    tenancy = json.loads((layout.sim_state / "tenancy.json").read_text())
    extra = {"auth": "api_key", "tenancy": tenancy["tenancy_id"], "user": tenancy["user_id"],
             "fingerprint": tenancy["fingerprint"], "key_content": pem, "pass_phrase": PASS_PHRASE,
             "region": tenancy["home_region"], "service_endpoints": tenancy["regions"]}
    sent = {"connection_id": CONN_ID, "conn_type": "oci", "port": 0, "extra": json.dumps(extra)}
    assert occurrences([json.dumps(sent)], needles) == len(needles), "the scan finds what it looks for"
    admin.ok("POST", "/api/v2/connections", sent)
    # ... and one through the airflow CLI, as an operator would
    cli = subprocess.run([sys.executable, "-m", "airflow", "connections", "add", "oci_cli_check", "--conn-json",
                          json.dumps({"conn_type": "oci", "extra": extra})], env=stack_env(out), cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stdout + cli.stderr

    # every reader: by id and in the list; a viewer may not read connections at all
    for reader in (admin, op):
        for conn_id in (CONN_ID, "oci_cli_check"):
            got = reader.ok("GET", f"/api/v2/connections/{conn_id}")
            assert json.loads(got["extra"])["key_content"] == "***", got
            assert json.loads(got["extra"])["pass_phrase"] == "***", got
        reader.ok("GET", "/api/v2/connections?limit=100")
    assert viewer.call("GET", f"/api/v2/connections/{CONN_ID}")[0] == 403
    assert viewer.call("GET", "/api/v2/connections")[0] == 403

    # edited through the API with the masked values it returned (a client's round trip), and with an update
    # mask: the stored key and pass phrase stay, and still sign
    got = op.ok("GET", f"/api/v2/connections/{CONN_ID}")
    op.ok("PATCH", f"/api/v2/connections/{CONN_ID}", {**got, "description": "edited through REST"})
    op.ok("PATCH", f"/api/v2/connections/{CONN_ID}?update_mask=description",
          {"connection_id": CONN_ID, "conn_type": "oci", "description": "edited through REST, masked"})
    got = op.ok("GET", f"/api/v2/connections/{CONN_ID}")
    assert got["description"] == "edited through REST, masked"

    # the runs the walk-through started are calling ocisim meanwhile (ListRegions too, for OCI's clock), so a
    # test's own calls are told apart by GetCompartment, which only a connection test makes (after its ListRegions)
    tested, calls = connection_test_calls(sim, lambda: admin.ok("POST", "/api/v2/connections/test",
                                                                listed["oci_default"]))
    assert tested["status"] is True, tested
    assert calls == {"GetCompartment": 1}, calls
    tested, calls = connection_test_calls(sim, lambda: op.ok("POST", "/api/v2/connections/test", got))
    assert tested == {"status": True, "message": "Connected to us-ashburn-1; 2 regions visible"}, tested
    assert calls == {"GetCompartment": 1}, "the test signed its calls with the stored key"

    browser_bodies = edit_and_test_in_the_browser(chromium, url, tmp_path, needles)
    tested, calls = connection_test_calls(sim, lambda: admin.ok("POST", "/api/v2/connections/test",
                                                                admin.ok("GET", f"/api/v2/connections/{CONN_ID}")))
    assert tested["status"] is True, f"edited in the UI, the connection no longer authenticates: {tested}"
    assert calls == {"GetCompartment": 1}, calls

    found = occurrences(bodies + browser_bodies, needles)
    print(f"[connections] {len(bodies)} REST and {len(browser_bodies)} browser responses: {found} occurrences "
          f"of the key's {len(needles) - 1} body lines or the pass phrase; {secret_files} secret files, "
          "all mode 600", flush=True)
    assert found == 0
    check_file_modes(out)
    stack.clock.lap("connections: REST, CLI and the edit form never return the key; Test works")


def connection_test_calls(sim: AdminClient, test) -> tuple[dict, dict]:
    """A connection test's answer, and the calls ocisim answered meanwhile that only a connection test makes:
    GetCompartment of the tenancy (OciHook.test_connection makes it once its ListRegions has answered). ocisim
    counts only calls whose signature it accepted."""
    before = sim.counters()
    answer = test()
    after = sim.counters()
    return answer, {op: after[op] - before.get(op, 0) for op in ("GetCompartment",) if after.get(op, 0) >
                    before.get(op, 0)}


def edit_and_test_in_the_browser(chromium, url: str, tmp_path: Path, needles: list[str]) -> list[str]:
    """Admin > Connections in Chromium: the edit form shows the key and pass phrase as `***` and nowhere in clear;
    its description changed and saved without retyping the key; then the row's Test button, and oci_default's,
    succeed. Returns every connections response the page read."""
    from playwright.sync_api import expect

    bodies: list[str] = []

    def keep(response) -> None:
        if "/api/v2/connections" in response.url or "/ui/connections" in response.url:
            with contextlib.suppress(Exception):
                bodies.append(response.text())

    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.set_default_timeout(30_000)
        page.on("response", keep)
        page.goto(f"{url}/connections")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill("admin")
        page.get_by_role("button", name="Sign in").click()
        row = page.locator("tr", has_text=CONN_ID)
        expect(row).to_be_visible()
        expect(page.locator("tr", has_text="oci_default")).to_contain_text("oci")

        row.get_by_role("button", name="Edit Connection").click()
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_role("heading", name="Edit Connection")).to_be_visible()
        key_input = dialog.locator("[name=element_key_content]")
        expect(key_input).to_have_value("***")
        expect(key_input).to_have_attribute("type", "password")
        expect(dialog.locator("[name=element_pass_phrase]")).to_have_value("***")
        page.screenshot(path=str(tmp_path / "connection_edit_form.png"), animations="disabled")
        html = page.content()
        values = [field.input_value() for field in dialog.locator("input, textarea").all()]
        assert occurrences([html, *values], needles) == 0, "the edit form holds the key or its pass phrase"

        dialog.get_by_role("textbox", name="Description").fill("edited in the UI")
        with page.expect_response(lambda r: f"/api/v2/connections/{CONN_ID}" in r.url
                                  and r.request.method == "PATCH") as saved:
            dialog.get_by_role("button", name="Save").click()
        assert saved.value.status == 200
        expect(dialog).to_be_hidden()
        expect(row).to_contain_text("edited in the UI")

        for conn_id in (CONN_ID, "oci_default"):
            with page.expect_response(lambda r: r.url.endswith("/api/v2/connections/test")) as test:
                page.locator("tr", has_text=conn_id).get_by_role("button", name="Test Connection").click()
            answer = test.value.json()
            assert answer.get("status") is True, f"the Test button of {conn_id}: {answer}"
        page.screenshot(path=str(tmp_path / "connection_tested.png"), animations="disabled")
        bodies.append(page.content())
    finally:
        page.close()
    assert len(bodies) >= 4
    return bodies
