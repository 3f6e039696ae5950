"""Storage-blind domain types: the normalised inbound event (CHANNELS.md §2.2) and friends.

Standard library only. Times are aware UTC datetimes; functions take `now` as an argument.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

STATUSES = ("new", "in_progress", "closed")
DIRECTIONS = ("in", "out", "note", "system")
ATTACHMENT_KINDS = ("image", "document", "audio", "voice", "video", "sticker", "location", "contact", "other")
EVENT_TYPES = (
    "message", "message_edited", "message_deleted", "comment", "comment_edited", "comment_deleted",
    "status", "read", "typing", "subscription", "survey_answer", "other",
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a Z: sorts as text in time order."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


MAX_EPOCH_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second a datetime can hold


def iso_from_epoch(seconds: float) -> str:
    """ISO-8601 UTC of a provider's epoch seconds; "" for a value no calendar date has (<= 0, past 9999, NaN)."""
    if not 0 < seconds <= MAX_EPOCH_SECONDS:
        return ""
    return iso(datetime.fromtimestamp(seconds, tz=UTC))


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def stable_hash(*parts: str, length: int = 20) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return digest[:length]


def new_id(prefix: str, now: datetime | None = None) -> str:
    """Time-sortable id: prefix, 12 hex digits of milliseconds, 8 random hex digits."""
    ms = int((now or utcnow()).timestamp() * 1000)
    return f"{prefix}{ms:012x}{secrets.token_hex(4)}"


def derived_id(prefix: str, when: datetime, *parts: str) -> str:
    """Time-sortable id derived from stable parts: the same inputs give the same id (safe retries)."""
    ms = int(when.timestamp() * 1000)
    return f"{prefix}{ms:012x}{stable_hash(*parts, length=8)}"


@dataclass
class Sender:
    external_user_id: str
    display_name: str = ""
    username: str = ""
    phone: str = ""
    email: str = ""
    avatar_url: str = ""
    is_bot: bool = False
    language: str = ""


@dataclass
class Attachment:
    kind: str
    mime_type: str = ""
    file_name: str = ""
    size_bytes: int = 0
    duration_s: int = 0
    width: int = 0
    height: int = 0
    file_ref: str = ""  # provider file id, fetched later by the stream handler
    url: str = ""  # provider URL (never one that embeds a token)
    storage_key: str = ""  # ours, once fetched / uploaded
    caption: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Attachment:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class InboundEvent:
    channel_kind: str
    channel_id: str
    workspace_id: str
    event_type: str
    external_event_id: str
    external_conversation_id: str
    sender: Sender
    occurred_at: str
    received_at: str
    external_message_id: str = ""
    external_thread_id: str = ""
    reply_to_external_message_id: str = ""
    text: str = ""
    text_format: str = "plain"
    html: str = ""  # sanitised HTML (e-mail) beside the plain text; shown only in a sandboxed frame
    attachments: list[Attachment] = field(default_factory=list)
    surface: str = "private"
    is_edited: bool = False
    is_deleted: bool = False
    conversation_title: str = ""
    correlation_id: str = ""
    # "out": a message the brand sent outside Zabota (VK admin UI, an echo); recorded, never sent again
    direction: str = "in"
    # comment: {post_id, parent_comment_id, permalink, private_reply_until}
    comment: dict[str, Any] = field(default_factory=dict)
    # status / read: {message_id, state (sent delivered read failed), error_code, error_title}
    status: dict[str, Any] = field(default_factory=dict)
    # survey_answer (G4): {survey_id, score, via: button | list, callback_id (Telegram: answered with a toast)}
    answer: dict[str, Any] = field(default_factory=dict)
    schema: int = 1

    @property
    def dedupe_key(self) -> str:
        return f"{self.channel_kind}#{self.channel_id}#{self.external_event_id}"

    def to_json(self) -> str:
        """The stored form. A lone UTF-16 surrogate a provider's bytes left in a field becomes U+FFFD: the store
        (and every encoder after it) takes UTF-8 only."""
        text = json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")

    @classmethod
    def from_json(cls, text: str) -> InboundEvent:
        data = json.loads(text)
        data["sender"] = Sender(**data["sender"])
        data["attachments"] = [Attachment.from_dict(a) for a in data.get("attachments", [])]
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class Channel:
    id: str
    workspace_id: str
    kind: str
    name: str
    secrets: dict[str, str]
    settings: dict[str, Any]
    enabled: bool = True


def conversation_id_for(workspace_id: str, channel_id: str, external_conversation_id: str) -> str:
    """One conversation per external chat: a closed one is reopened by the next customer message (B9)."""
    return "c_" + stable_hash(workspace_id, channel_id, external_conversation_id)


MESSAGE_EVENTS = ("message", "comment")


def message_id_for(event: InboundEvent) -> str:
    """Our id of an inbound message: time-sortable (the thread's order), derived from the event (safe retries)."""
    return derived_id("m", parse_iso(event.received_at), event.dedupe_key)


def queued_by_pointer(event: InboundEvent) -> bool:
    """Is this webhook event stored under its provider-id pointer (store/repo.put_inbound)? A customer's message
    or comment with the provider's id; echoes of the brand's messages, edits, statuses and the rest are not."""
    return event.event_type in MESSAGE_EVENTS and event.direction != "out" and bool(event.external_message_id)


def pointer_of(event: InboundEvent) -> tuple[str, str]:
    """The conversation and message ids a queued event's pointer holds: those the stream derives anyway."""
    return (conversation_id_for(event.workspace_id, event.channel_id, event.external_conversation_id),
            message_id_for(event))


def contact_id_for(workspace_id: str, channel_id: str, external_user_id: str) -> str:
    """The contact first created for an identity; merging (C2) later points identities elsewhere."""
    return "p_" + stable_hash("contact", workspace_id, channel_id, external_user_id)


def preview(text: str, attachments: list[Attachment] | list[dict], limit: int = 140) -> str:
    if text:
        flat = " ".join(text.split())
        return flat if len(flat) <= limit else flat[: limit - 1] + "…"
    if attachments:
        first = attachments[0]
        kind = first.kind if isinstance(first, Attachment) else first.get("kind", "other")
        return f"[{kind}]"
    return ""
