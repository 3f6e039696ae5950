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
    source_ip: str = ""  # API Gateway's requestContext.identity.sourceIp ("" if unknown)


@dataclass
class WebhookResult:
    events: list[InboundEvent] = field(default_factory=list)
    status: int = 200
    body: str = ""
    content_type: str = "text/plain"
    ignored: str = ""  # acknowledged but not stored: the refusal's code (sent as X-Zabota-Ignored)


@dataclass(frozen=True)
class ConvRef:
    """Where to send: the provider's chat, plus thread / business-connection ids where they exist.

    `last_inbound_at` (ISO-8601 UTC, "" if unknown) lets adapters with a reply window (WhatsApp, Meta: 24 h)
    refuse with `WindowClosed` before calling the provider. `surface` is private | group | comment.
    """

    external_conversation_id: str
    external_thread_id: str = ""
    last_inbound_at: str = ""
    surface: str = "private"


@dataclass(frozen=True)
class CommentRef:
    """A public comment to answer: VK wall comment, Instagram / Facebook comment."""

    external_comment_id: str
    post_id: str
    conv: ConvRef
    author_external_id: str = ""


@dataclass(frozen=True)
class Template:
    """A provider-approved template (WhatsApp outside the 24-hour window)."""

    name: str
    language: str
    parameters: tuple[str, ...] = ()


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

    def register_webhook(self, channel: Channel, url: str) -> dict[str, Any] | None:
        """Register our webhook with the provider where it allows; may return settings to keep on the channel
        (e.g. VK's confirmation code). Raises ChannelError subclasses."""
        ...

    def check_health(self, channel: Channel) -> dict[str, Any]: ...


class CommentsAdapter(Protocol):
    """Optional: channels with public comments (VK, Instagram, Messenger/Facebook Pages)."""

    def reply_comment(self, channel: Channel, comment: CommentRef, text: str, *, private: bool,
                      idempotency_key: str) -> SendResult: ...

    def delete_comment(self, channel: Channel, comment: CommentRef) -> None: ...

    def hide_comment(self, channel: Channel, comment: CommentRef, hidden: bool) -> None: ...


class ModerationAdapter(Protocol):
    """Optional: edit / delete our sent messages and block a customer where the provider allows."""

    def edit_text(self, channel: Channel, conv: ConvRef, external_message_id: str, text: str) -> SendResult: ...

    def delete(self, channel: Channel, conv: ConvRef, external_message_id: str) -> None: ...

    def block(self, channel: Channel, conv: ConvRef, external_user_id: str) -> None: ...


class TemplateAdapter(Protocol):
    """Optional: template messages (WhatsApp outside the customer-service window)."""

    def send_template(self, channel: Channel, conv: ConvRef, template: Template, *,
                      idempotency_key: str) -> SendResult: ...
