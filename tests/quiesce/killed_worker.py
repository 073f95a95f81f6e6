"""A worker that opens a quiesce bracket on one volume and is then killed (tests/quiesce/test_nightly_quiesce.py):
run as `python -m tests.quiesce.killed_worker VOLUME_ID SPEC`; prints OPEN once the application is quiesced."""

from __future__ import annotations

import logging
import sys
import time
from types import SimpleNamespace

from hooks.oci import OciHook
from quiesce.bracket import Bracket


def main(volume_id: str, spec: str) -> None:
    ti = SimpleNamespace(dag_id="oci_nightly_backup", run_id="killed-run", task_id="backup_volume", map_index=0,
                         try_number=1)
    plan = {"items": [{"volume_id": volume_id, "display_name": "pg-data", "spec": spec, "source": "tag"}]}
    bracket = Bracket(OciHook(), plan, {"ti": ti}, logging.getLogger("killed"))
    bracket.open()
    print("OPEN", flush=True)
    time.sleep(600)  # killed before this ends


if __name__ == "__main__":
    main(*sys.argv[1:3])
