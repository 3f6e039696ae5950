"""E-mail to staff (sign-in links, invites): Amazon SES v2 in AWS; in embedded mode a local outbox, shown at
`/_outbox` and printed to the terminal by the runner. Logs name the kind of message, never address or text.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib.domain.model import iso, utcnow
from chalicelib.observability import logger
from chalicelib.settings import Settings


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    link: str = ""  # the one action of the message (sign-in / invite link)
    kind: str = ""  # "login" | "invite" | "forward"
    html: str = ""  # an HTML part beside the text (every piece of user text escaped by the sender)
    reply_to: str = ""
    at: str = field(default_factory=lambda: iso(utcnow()))


class Mailer(Protocol):
    def send(self, mail: Mail) -> None: ...


class SesMailer:
    """`sesv2.send_email` with a simple message: text, and HTML when there is one."""

    def __init__(self, client: Any, sender: str) -> None:
        self._client = client
        self._sender = sender

    def send(self, mail: Mail) -> None:
        body: dict[str, Any] = {"Text": {"Data": mail.text, "Charset": "UTF-8"}}
        if mail.html:
            body["Html"] = {"Data": mail.html, "Charset": "UTF-8"}
        extra: dict[str, Any] = {"ReplyToAddresses": [mail.reply_to]} if mail.reply_to else {}
        self._client.send_email(
            FromEmailAddress=self._sender,
            Destination={"ToAddresses": [mail.to]},
            Content={"Simple": {"Subject": {"Data": mail.subject, "Charset": "UTF-8"}, "Body": body}},
            **extra,
        )


class Outbox:
    """Embedded mode: messages stay in memory (newest last); listeners (the runner's terminal) see each one."""

    def __init__(self, keep: int = 200) -> None:
        self._lock = threading.Lock()
        self._keep = keep
        self.messages: list[Mail] = []
        self.listeners: list[Callable[[Mail], None]] = []

    def send(self, mail: Mail) -> None:
        with self._lock:
            self.messages.append(mail)
            del self.messages[: -self._keep]
        for listener in list(self.listeners):
            listener(mail)

    def to(self, address: str) -> list[Mail]:
        with self._lock:
            return [m for m in self.messages if m.to == address]


OUTBOX = Outbox()
_override: Mailer | None = None
_ses: dict[str, SesMailer] = {}


def override(mailer: Mailer | None) -> None:
    """Tests: send through this mailer (or back to the configured one with None)."""
    global _override
    _override = mailer


def mailer_for(settings: Settings) -> Mailer:
    if _override is not None:
        return _override
    transport = settings.mail_transport or ("outbox" if settings.embedded else "ses")
    if transport == "outbox":
        return OUTBOX
    if settings.region not in _ses:
        import boto3

        _ses[settings.region] = SesMailer(boto3.client("sesv2", region_name=settings.region), settings.mail_from)
    return _ses[settings.region]


def send(settings: Settings, mail: Mail) -> None:
    mailer_for(settings).send(mail)
    logger.info("mail sent", extra={"kind": mail.kind})
