"""The channel adapter protocol (CHANNELS.md §2.3) and the values that cross it.

Provider JSON never leaves an adapter module: inbound it becomes `InboundEvent`s, outbound it comes back
as a `SendResult`. Errors are the typed channel errors of `chalicelib.errors`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib.domain.model import Channel, InboundEvent


@dataclass(frozen=True)
class WebhookRequest:
    method: str
    headers: dict[str, str]  # lower-cased names
    query: dict[str, str]
    raw_body: bytes
    request_id: str = ""
    received_at: str = ""  # ISO-8601 UTC, set by the API layer


@dataclass
class WebhookResult:
    events: list[InboundEvent] = field(default_factory=list)
    status: int = 200
    body: str = ""
    content_type: str = "text/plain"


@dataclass(frozen=True)
class ConvRef:
    """Where to send: the provider's chat, plus thread / business-connection ids where they exist."""

    external_conversation_id: str
    external_thread_id: str = ""


@dataclass(frozen=True)
class OutboundMedia:
    kind: str  # image | document | voice | audio | video
    file_name: str
    mime_type: str
    data: bytes


@dataclass(frozen=True)
class SendResult:
    external_message_id: str
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FetchedMedia:
    data: bytes
    mime_type: str
    file_name: str


class ChannelAdapter(Protocol):
    kind: str
    capabilities: frozenset[str]

    def parse_webhook(self, channel: Channel, request: WebhookRequest) -> WebhookResult:
        """Handshake, authenticate (raises Unauthenticated / Forbidden), parse into normalised events."""
        ...

    def send_text(self, channel: Channel, conv: ConvRef, text: str, *, reply_to: str | None,
                  idempotency_key: str) -> SendResult: ...

    def send_media(self, channel: Channel, conv: ConvRef, media: OutboundMedia, *, caption: str | None,
                   reply_to: str | None, idempotency_key: str) -> SendResult: ...

    def fetch_media(self, channel: Channel, file_ref: str) -> FetchedMedia: ...

    def register_webhook(self, channel: Channel, url: str) -> None: ...

    def check_health(self, channel: Channel) -> dict[str, Any]: ...
