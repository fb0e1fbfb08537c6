"""A small SMTP server for tests, on the stdlib only: EHLO, STARTTLS or implicit TLS, AUTH PLAIN.

It speaks just enough RFC 5321 for ``smtplib`` (the sink's client) and keeps every mail it
accepted, with the envelope and whether the session was encrypted and logged in. Written
here rather than depending on ``aiosmtpd`` because ~100 lines cover what the tests need
(including refusing a wrong password and a plain-text login) without a new dev dependency.
"""

from __future__ import annotations

import base64
import socketserver
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Literal


@dataclass
class Mail:
    """One accepted mail."""

    sender: str
    recipients: list[str]
    data: bytes
    tls: bool
    user: str | None

    @property
    def message(self) -> EmailMessage:
        """The mail parsed (headers unfolded)."""
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SmtpServer:
    """Server settings and what it received."""

    mode: Literal["starttls", "ssl", "none"] = "starttls"
    user: str = "alerts@example.test"
    password: str = "s3cret-pass"
    tls_context: ssl.SSLContext | None = None
    refuse: set[str] = field(default_factory=set)
    """Recipients answered 550."""
    mails: list[Mail] = field(default_factory=list)
    port: int = 0


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1/localhost (the ``openssl`` command makes it)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )
    return cert, key


class _Session(socketserver.StreamRequestHandler):
    server: _Server

    def setup(self) -> None:
        state = self.server.state
        if state.mode == "ssl":
            assert state.tls_context is not None
            self.request = state.tls_context.wrap_socket(self.request, server_side=True)
        super().setup()
        self.tls = state.mode == "ssl"

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        state = self.server.state
        self.reply("220 test ESMTP")
        user: str | None = None
        sender, recipients = "", []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode().rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                lines = ["250-test", "250-AUTH PLAIN", "250 8BITMIME"]
                if state.mode == "starttls" and not self.tls:
                    lines.insert(1, "250-STARTTLS")
                for out in lines:
                    self.reply(out)
            elif verb == "STARTTLS":
                assert state.tls_context is not None
                self.reply("220 go ahead")
                self.request = state.tls_context.wrap_socket(self.request, server_side=True)
                self.rfile = self.request.makefile("rb")
                self.wfile = self.request.makefile("wb")
                self.tls = True
            elif verb == "AUTH":
                if state.mode == "starttls" and not self.tls:
                    self.reply("538 encryption required")
                    continue
                parts = line.split(" ")
                token = parts[2] if len(parts) > 2 else ""
                if not token:
                    self.reply("334 ")
                    token = self.rfile.readline().decode().strip()
                _, name, secret = base64.b64decode(token).decode().split("\0")
                if (name, secret) == (state.user, state.password):
                    user = name
                    self.reply("235 ok")
                else:
                    self.reply("535 5.7.8 authentication failed")
            elif verb == "MAIL":
                sender, recipients = line.split(":", 1)[1].strip().strip("<>").split(">")[0], []
                self.reply("250 ok")
            elif verb == "RCPT":
                to = line.split(":", 1)[1].strip().strip("<>")
                if to in state.refuse:
                    self.reply("550 no such user")
                else:
                    recipients.append(to)
                    self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 end with .")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                state.mails.append(Mail(sender, recipients, data, self.tls, user))
                self.reply("250 queued")
            elif verb == "RSET":
                sender, recipients = "", []
                self.reply("250 ok")
            elif verb == "NOOP":
                self.reply("250 ok")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, state: SmtpServer) -> None:
        super().__init__(("127.0.0.1", 0), _Session)
        self.state = state


@contextmanager
def smtp_server(state: SmtpServer) -> Iterator[SmtpServer]:
    """Serve ``state`` on a free loopback port (``state.port``) in a thread."""
    server = _Server(state)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
