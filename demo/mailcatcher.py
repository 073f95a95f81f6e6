"""The demo's mail catcher: an SMTP server on loopback (aiosmtpd) that writes every message it receives as an
`.eml` file into a folder, so `make up`'s failure mails, summaries and watchdog mails can be read without a
mail server (open one in any mail client, or `cat` it).

    python -m demo.mailcatcher --dir out/up/mail --port 8025
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path


class FolderHandler:
    """Writes each message as <UTC time>-<n>.eml, mode 600 (a mail may name what the tenancy holds)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's hook name
        with self.lock:
            self.count += 1
            name = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{self.count:04d}.eml"
        path = self.folder / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(envelope.original_content or envelope.content)
        print(f"mail from {envelope.mail_from} to {', '.join(envelope.rcpt_tos)}: {path}", flush=True)
        return "250 OK"


def main(argv: list[str] | None = None) -> int:
    from aiosmtpd.controller import Controller

    parser = argparse.ArgumentParser(prog="python -m demo.mailcatcher", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True, help="folder the .eml files are written to")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    args.dir.chmod(0o700)
    controller = Controller(FolderHandler(args.dir), hostname=args.host, port=args.port)
    controller.start()
    print(f"mail catcher ready on {args.host}:{args.port}, writing to {args.dir}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
