"""The stack under test and the provider side: start the embedded stack, add a Telegram channel, post updates.

A channel is created the way `tests/support.py` does it (workspace, fake bot, channel, API key); updates are
Telegram `message` updates with unique `update_id`s, posted over HTTP to the runner like Telegram would.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import requests

from chalicelib.local.runner import EmbeddedStack

_update_ids = itertools.count(700_000_000)
_message_ids = itertools.count(10_000)

QUICK_SENDS = {"SEND_BACKOFF_SECONDS": "0.01", "SEND_MAX_ATTEMPTS": "4", "SEND_MAX_WAIT_SECONDS": "5"}


def start_stack() -> EmbeddedStack:
    """DynamoDB Local in memory, a free port, no background pump (drained on demand), no demo data."""
    from chalicelib.local.dynamodb import free_port
    from chalicelib.local.runner import StackConfig

    for name, value in QUICK_SENDS.items():
        os.environ.setdefault(name, value)
    config = StackConfig(port=free_port(), data_dir=tempfile.mkdtemp(prefix="zabota-bench-"), in_memory=True,
                         start_pump=False, tick_seconds=3600, pump_backoff_base=0.05, pump_max_attempts=3,
                         seed_demo=False)
    stack = EmbeddedStack(config)
    try:
        return stack.start()
    except BaseException:
        stop_stack(stack)
        raise


def stop_stack(stack: EmbeddedStack) -> None:
    """Stop everything and remove the stack's temporary data directory (stream checkpoints, files)."""
    try:
        stack.stop()
    finally:
        shutil.rmtree(stack.config.data_dir, ignore_errors=True)


@dataclass(frozen=True)
class Channel:
    """A workspace with one Telegram channel: where to post updates and how to read the results."""

    url: str
    workspace_id: str
    channel_id: str
    webhook_secret: str
    api_key: str

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/api/webhooks/telegram/{self.channel_id}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": self.webhook_secret}


def new_channel(stack: EmbeddedStack) -> Channel:
    """A fresh workspace with a Telegram channel (its bot registered with the fake Bot API) and an admin key."""
    from chalicelib.auth.keys import create_api_key
    from chalicelib.services import channels
    from chalicelib.services.deps import deps
    from chalicelib.store import repo

    d = deps()
    ws = f"bench{secrets.token_hex(4)}"
    repo.put_workspace(ws, f"Bench {ws}", language="ru", now=d.now())
    token = f"{secrets.randbelow(10**9)}:{secrets.token_hex(8)}"
    stack.fake_telegram.add_bot(token, f"{ws}_bot")
    channel = channels.create_channel(d, ws, "telegram", "Bench bot", {"bot_token": token})
    key = create_api_key(ws, "admin", name="bench", now=d.now())
    return Channel(stack.url, ws, channel.id, channel.secrets["webhook_secret"], key)


def telegram_update(chat_id: int, text: str) -> dict[str, Any]:
    """A private-chat text message from customer `chat_id`, with a unique update_id and message_id."""
    message = {
        "message_id": next(_message_ids), "date": 1_716_200_000, "text": text,
        "from": {"id": chat_id, "is_bot": False, "first_name": f"Customer {chat_id}", "language_code": "ru"},
        "chat": {"id": chat_id, "type": "private", "first_name": f"Customer {chat_id}"},
    }
    return {"update_id": next(_update_ids), "message": message}


def encode(update: dict[str, Any]) -> bytes:
    return json.dumps(update).encode()


@dataclass(frozen=True)
class Posted:
    """The outcome of one webhook POST: HTTP status (0: no response), seconds, and the client error if any."""

    status: int
    seconds: float
    error: str = ""


def post(session: requests.Session, channel: Channel, body: bytes) -> Posted:
    """POST one webhook body, once (like a provider's delivery attempt; no client retries)."""
    started = time.perf_counter()
    try:
        status = session.post(channel.webhook_url, data=body, headers=channel.headers, timeout=60).status_code
    except requests.RequestException as err:
        return Posted(0, time.perf_counter() - started, _describe(err))
    return Posted(status, time.perf_counter() - started)


def _describe(err: BaseException) -> str:
    """The client error and its innermost cause, e.g. `ConnectionError <- RemoteDisconnected: ...`."""
    inner = err
    for _ in range(6):
        nested = inner.__cause__ or next((a for a in inner.args if isinstance(a, BaseException)), None)
        if nested is None:
            break
        inner = nested
    return f"{type(err).__name__} <- {type(inner).__name__}: {inner}"[:300]
