"""Real servers on loopback that the notification tests point Airflow at: an SMTP server (aiosmtpd) that keeps
every message it receives, and an HTTP server that keeps every webhook body."""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: email.message.EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        return body.get_content() if body is not None else ""


@dataclass
class Mailbox:
    port: int
    mails: list[Received] = field(default_factory=list)

    def connection_json(self, from_email: str = "airflow@example.com") -> str:
        return json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": self.port,
                           "extra": {"disable_ssl": True, "disable_tls": True, "from_email": from_email,
                                     "timeout": 10}})


@contextlib.contextmanager
def smtp_server():
    """aiosmtpd's Controller on a free loopback port; yields the Mailbox that fills as mails arrive."""
    from aiosmtpd.controller import Controller

    box = Mailbox(free_port())

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
            box.mails.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg))
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@dataclass
class Webhook:
    port: int
    status: int = 200
    posts: list[tuple[str, dict]] = field(default_factory=list)

    def connection_json(self, path: str = "hooks/s3cr3t-token") -> str:
        return json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": self.port, "schema": path})


@contextlib.contextmanager
def webhook_server(status: int = 200):
    """A JSON webhook receiver on a free loopback port answering `status` to every POST."""
    hook = Webhook(free_port(), status)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hook.posts.append((self.path, json.loads(body or b"{}")))
            self.send_response(hook.status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", hook.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
