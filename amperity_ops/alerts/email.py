"""E-mail over SMTP (stdlib ``smtplib``): one plain-text mail per alert, threaded per run.

Each mail's ``Message-ID`` is derived from the run's dedup key and the level, so a mail sent
again after a crash (the outbox delivers at least once) carries the same id and mail systems
that de-duplicate by id show it once; every mail about one run ``References`` the same root,
so clients thread warning, breach and resolve together.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Literal

import httpx

from amperity_ops.alerts._http import Secret, SinkError, redact
from amperity_ops.core.alerts import AlertMessage

__all__ = ["EmailSink", "email_message"]

logger = logging.getLogger("amperity_ops.alerts.delivery")

Security = Literal["starttls", "ssl", "none"]
_DOMAIN = "amperity-ops"


def _msgid(*parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    return f"<{digest}@{_DOMAIN}>"


def email_message(message: AlertMessage, *, sender: str, to: tuple[str, ...]) -> EmailMessage:
    """The mail for one alert: the title as subject, the text, the facts and the link."""
    mail = EmailMessage()
    mail["Subject"] = f"[amperity-ops] {message.title}"
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail["Date"] = format_datetime(message.raised_at)
    mail["Message-ID"] = _msgid(message.dedup_key, message.level.value)
    root = _msgid(message.dedup_key)
    mail["In-Reply-To"] = root
    mail["References"] = root
    mail["X-Amperity-Ops-Dedup-Key"] = message.dedup_key
    mail["X-Amperity-Ops-Level"] = message.level.value
    width = max((len(label) for label, _ in message.facts), default=0)
    facts = "\n".join(f"{label:<{width}}  {value}" for label, value in message.facts)
    lines = [message.text, "", facts] if facts else [message.text]
    if message.link:
        lines += ["", f"Open in Amperity: {message.link}"]
    lines += ["", f"-- amperity-ops · {message.dedup_key}"]
    mail.set_content("\n".join(lines) + "\n")
    return mail


class EmailSink:
    """Sends each alert as a mail through an SMTP server; credentials are read at send time."""

    def __init__(self, sink_id: str, *, host: str, port: int, sender: str, to: tuple[str, ...],
                 security: Security = "starttls", username: Secret | None = None,
                 password: Secret | None = None, timeout: float = 10.0,
                 ca_file: str | None = None) -> None:
        self.sink_id = sink_id
        self.host = host
        self.port = port
        self.sender = sender
        self.to = tuple(to)
        self.security = security
        self._username = username
        self._password = password
        self.timeout = timeout
        self.ca_file = ca_file

    def send(self, message: AlertMessage, http: httpx.Client) -> None:
        """Send the mail (``http`` is unused; the signature is every sink's).

        Raises:
            SinkError: The server could not be reached, refused the login, the TLS handshake
                or a recipient; the text names the sink and the server, never a credential.
        """
        user = self._username.reveal() if self._username is not None else None
        password = self._password.reveal() if self._password is not None else None
        mail = email_message(message, sender=self.sender, to=self.to)
        context = ssl.create_default_context(cafile=self.ca_file)
        try:
            smtp: smtplib.SMTP
            if self.security == "ssl":
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                        context=context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if self.security == "starttls":
                    smtp.starttls(context=context)
                if user is not None and password is not None:
                    smtp.login(user, password)
                refused = smtp.send_message(mail)
        except (smtplib.SMTPException, OSError) as err:  # ssl.SSLError is an OSError
            detail = redact(str(err), *(s for s in (password, user) if s))
            raise SinkError(
                f"{self.sink_id}: SMTP {self.host}:{self.port}: {type(err).__name__}: {detail}"
                [:500]
            ) from None
        if refused:
            # Others got it: a retry would mail them twice. Delivered, and said loudly.
            logger.error("%s: SMTP %s:%d refused recipients %s (the others got the alert)",
                         self.sink_id, self.host, self.port, ", ".join(sorted(refused)))

    def __repr__(self) -> str:
        return f"EmailSink({self.sink_id!r}, {self.host}:{self.port})"
