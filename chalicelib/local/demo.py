"""The demo workspace of embedded mode: a Telegram channel wired to the built-in fake Bot API."""

from __future__ import annotations

from dataclasses import dataclass

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
class Demo:
    workspace_id: str
    telegram: Channel
    created: bool


def seed(d: Deps) -> Demo:
    """Idempotent: the second run finds everything in place and changes nothing."""
    created = repo.put_workspace(WORKSPACE, "Demo shop", language="ru", now=d.now())
    telegram = repo.get_channel(TELEGRAM_CHANNEL, cached=False)
    if telegram is None:
        telegram = channels.create_channel(d, WORKSPACE, "telegram", "Telegram demo bot",
                                           {"bot_token": TELEGRAM_TOKEN}, channel_id=TELEGRAM_CHANNEL)
    return Demo(WORKSPACE, telegram, created)


def sample_update_json() -> str:
    """A Telegram update as a customer's first message, with a fresh update_id (the webhook dedupes on it)."""
    import json
    import time

    now = int(time.time())
    return json.dumps({"update_id": now, "message": {
        "message_id": now % 100000, "date": now, "text": "Здравствуйте! Где мой заказ?",
        "from": {"id": 5550001, "is_bot": False, "first_name": "Anna", "language_code": "ru"},
        "chat": {"id": 5550001, "type": "private", "first_name": "Anna"}}}, ensure_ascii=False)


def admin_key(d: Deps) -> str:
    return create_api_key(WORKSPACE, "admin", name="make run", now=d.now())
