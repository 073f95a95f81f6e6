"""`make demo`: ocisim with a seeded tenancy, the main DAGs run against it with `airflow dags test`, a summary.

Everything it starts it stops; it exits non-zero when any DAG run failed. Output and logs go to out/demo/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ocisim.testing import free_port

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "out" / "demo"
PY = sys.executable




class Step:
    def __init__(self):
        self.started = time.monotonic()

    def took(self) -> str:
        return f"{time.monotonic() - self.started:.1f} s"


def ocisim_argv(state: Path, port: int) -> list[str]:
    """ocisim with the demo's seed (applied to a new state directory only), time x600, guest exec on."""
    return [PY, "-m", "ocisim", "--port", str(port), "--state-dir", str(state), "--time-scale", "600",
            "--seed", str(ROOT / "demo" / "seed.json"), "--guest-exec", "--log-level", "WARNING"]


def start_ocisim(state: Path, port: int) -> subprocess.Popen:
    log = open(OUT / "ocisim.log", "w")  # noqa: SIM115 (lives as long as the process)
    proc = subprocess.Popen(ocisim_argv(state, port), cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        line = proc.stdout.readline()
        if "ocisim ready" in line:
            return proc
        if proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError(f"ocisim did not start; see {OUT / 'ocisim.log'}")


def tag_with_cli(state: Path, endpoint: str, volume_id: str, tags: dict) -> None:
    """How a user opts a volume into the nightly backup: the real `oci` CLI (.venv-cli), as docs/ocisim.md shows."""
    cli = ROOT / ".venv-cli" / "bin" / "oci"
    subprocess.run([str(cli), "--config-file", str(state / "config"), "--endpoint", endpoint, "bv", "volume", "update",
                    "--volume-id", volume_id, "--freeform-tags", json.dumps(tags), "--force"],
                   check=True, capture_output=True, timeout=120,
                   env={**os.environ, "OCI_CLI_SUPPRESS_FILE_PERMISSIONS_WARNING": "True"})


def airflow_env(tenancy: dict, state: Path, home: Path | None = None, base: dict | None = None) -> dict:
    """`base` (default: this process's environment) plus AIRFLOW_HOME (default out/demo/airflow), the DAG and
    plugin folders and connection `oci_default` pointing at the ocisim whose state directory is `state`."""
    home = home or OUT / "airflow"
    base = os.environ if base is None else base
    identity = json.loads((state / "tenancy.json").read_text())
    extra = {"auth": "api_key", "tenancy": identity["tenancy_id"], "user": identity["user_id"],
             "fingerprint": identity["fingerprint"], "key_file": str(state / "oci_api_key.pem"),
             "region": identity["home_region"], "service_endpoints": identity["regions"]}
    return {**base, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"), "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "PYTHONPATH": f"{ROOT}:{ROOT / 'plugins'}", "OCI_POLL_INTERVAL": "1",
            "OCI_TRIGGER_MIN_EVENT_AGE": "0",  # airflow dags test runs triggers inline: no race to avoid
            "OCI_TRIGGER_END_TASK": "0",  # ... and resumes the task whatever the event
            # Airflow 3.3.2's `dags test` fails after a successful run of a DAG with a DeadlineAlert (the
            # nightly's RPO deadline; docs/notifications.md): a deployment keeps it, the demo leaves it off
            "OCI_RPO_DEADLINE": "0",
            "AIRFLOW_CONN_OCI_DEFAULT": json.dumps({"conn_type": "oci", "extra": extra})}


def run_dag(env: dict, dag_id: str, conf: dict) -> tuple[bool, str]:
    step = Step()
    with open(OUT / f"{dag_id}.log", "w") as log:
        done = subprocess.run([str(Path(PY).parent / "airflow"), "dags", "test", dag_id, "-c", json.dumps(conf)],
                              env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, timeout=1800)
    text = (OUT / f"{dag_id}.log").read_text()
    ok = done.returncode == 0 and "state=success" in text.split("DagRun Finished")[-1]
    return ok, step.took()


def main() -> int:
    total = Step()
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    state = OUT / "ocisim"
    port = free_port(pair=True)
    print(f"ocisim: starting on 127.0.0.1:{port} (DR region on {port + 1}), time x600, guest exec on")
    sim = start_ocisim(state, port)
    results: list[tuple[str, bool, str]] = []
    try:
        tenancy = json.loads((state / "tenancy.json").read_text())
        env = airflow_env(tenancy, state)
        step = Step()
        tag_with_cli(state, tenancy["regions"][tenancy["home_region"]], tenancy["volumes"]["db-data"],
                     {"backup-policy": "gold"})
        print(f"oci CLI: db-data tagged backup-policy=gold with `oci bv volume update --freeform-tags` "
              f"({step.took()})")
        step = Step()
        subprocess.run([str(Path(PY).parent / "airflow"), "db", "migrate"], env=env, cwd=ROOT, check=True,
                       capture_output=True)
        print(f"airflow: metadata database ready ({step.took()})")
        from demo.scenarios import SCENARIOS, upload_roots

        env.update(upload_roots(OUT))

        for dag_id, make_conf in SCENARIOS:
            conf = make_conf(tenancy, OUT)
            print(f"running {dag_id} ...", flush=True)
            ok, took = run_dag(env, dag_id, conf)
            results.append((dag_id, ok, took))
            print(f"  {'ok' if ok else 'FAILED'} in {took} (log: {OUT / (dag_id + '.log')})")
        os.environ.update({k: v for k, v in env.items() if k.startswith(("AIRFLOW", "PYTHONPATH"))})
        from demo.summary import print_summary

        print_summary(tenancy, state, results)
        from demo.quiesce import app_consistent_backup  # after the summary, which reads the nightly's last run

        quiesced = app_consistent_backup(env, tenancy, state, run_dag)
        if quiesced:
            results.append(quiesced)
    finally:
        sim.terminate()
        try:
            sim.wait(timeout=20)
        except subprocess.TimeoutExpired:
            sim.kill()
    failed = [d for d, ok, _ in results if not ok]
    print(f"\ndemo finished in {total.took()}: {len(results) - len(failed)} of {len(results)} DAG runs succeeded"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
