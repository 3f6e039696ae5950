"""The demo workspace of embedded mode: one channel of every kind, each wired to its built-in fake provider.

A channel kind joins the demo with one entry in DEMO_CHANNELS: its id, kind, name, credentials, and a function
that prepares the fake provider (a bot token it accepts, a page it knows, ...).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.auth.keys import create_api_key
from chalicelib.domain.model import Channel
from chalicelib.services import channels
from chalicelib.services.deps import Deps
from chalicelib.store import repo

WORKSPACE = "demo"
TELEGRAM_CHANNEL = "ch_demo_telegram"
TELEGRAM_TOKEN = "700000001:demo-token"
TELEGRAM_BOT = "zabota_demo_bot"


@dataclass(frozen=True)
class DemoChannel:
    id: str
    kind: str
    name: str
    credentials: dict[str, str]
    prepare_fake: Callable[[dict[str, Any]], None] = lambda fakes: None


DEMO_CHANNELS: list[DemoChannel] = [
    DemoChannel(TELEGRAM_CHANNEL, "telegram", "Telegram demo bot", {"bot_token": TELEGRAM_TOKEN},
                lambda fakes: fakes["telegram"].add_bot(TELEGRAM_TOKEN, TELEGRAM_BOT)),
]


@dataclass(frozen=True)
class Demo:
    workspace_id: str
    channels: dict[str, Channel] = field(default_factory=dict)
    created: bool = False

    @property
    def telegram(self) -> Channel:
        return self.channels[TELEGRAM_CHANNEL]


def seed(d: Deps, fakes: dict[str, Any]) -> Demo:
    """Idempotent: the second run finds everything in place and changes nothing."""
    created = repo.put_workspace(WORKSPACE, "Demo shop", language="ru", now=d.now())
    found: dict[str, Channel] = {}
    for spec in DEMO_CHANNELS:
        spec.prepare_fake(fakes)  # fakes live in memory: prepare them on every start
        channel = repo.get_channel(spec.id, cached=False)
        if channel is None:
            channel = channels.create_channel(d, WORKSPACE, spec.kind, spec.name, dict(spec.credentials),
                                              channel_id=spec.id)
        found[spec.id] = channel
    return Demo(WORKSPACE, found, created)


def sample_update_json() -> str:
    """A Telegram update as a customer's first message, with a fresh update_id (the webhook dedupes on it)."""
    now = int(time.time())
    return json.dumps({"update_id": now, "message": {
        "message_id": now % 100000, "date": now, "text": "Здравствуйте! Где мой заказ?",
        "from": {"id": 5550001, "is_bot": False, "first_name": "Anna", "language_code": "ru"},
        "chat": {"id": 5550001, "type": "private", "first_name": "Anna"}}}, ensure_ascii=False)


def admin_key(d: Deps) -> str:
    return create_api_key(WORKSPACE, "admin", name="make run", now=d.now())
