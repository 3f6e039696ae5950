"""Fake providers of embedded mode and tests. Each speaks its provider's real HTTP protocol and is mounted by
the runner at `/_fake/<name>`; the variable named here points the adapters at it.

A fake has `handle(method, path_with_query, headers, body) -> (status, headers, body)`.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> (environment variable with the provider's base URL, "module:Class")
FAKES: dict[str, tuple[str, str]] = {
    "telegram": ("TELEGRAM_API_URL", "chalicelib.local.fakes.telegram:FakeTelegram"),
    "oidc": ("OIDC_FAKE_ISSUER", "chalicelib.local.fakes.oidc:FakeOidc"),  # sign-in ("local" provider)
    "email": ("AWS_ENDPOINT_URL_SESV2", "chalicelib.local.fakes.email:FakeEmail"),
    "vk": ("VK_API_URL", "chalicelib.local.fakes.vk:FakeVK"),
    "ok": ("OK_API_URL", "chalicelib.local.fakes.ok:FakeOK"),
    "graph": ("GRAPH_API_URL", "chalicelib.local.fakes.graph:FakeGraph"),
}


def build(name: str) -> Any:
    module, _, cls = FAKES[name][1].partition(":")
    return getattr(importlib.import_module(module), cls)()


def environ(base_url: str) -> dict[str, str]:
    return {var: f"{base_url}/_fake/{name}" for name, (var, _) in FAKES.items()}


# --- the customer simulator's contract (embedded mode only) -------------------------------------------------
#
# Each fake module may offer two functions so the simulator page can "write as a customer" in that channel:
#
#   simulate_customer(channel: Channel, *, user_id: str, name: str, text: str, reply_to: str | None = None)
#       -> SimulatedRequest  (the provider's native webhook request for that message, signed / authenticated with
#          the channel's secrets exactly as the provider would)
#   customer_view(fake, external_conversation_id: str) -> list[dict]
#       -> what the customer sees from the brand, oldest first: {"text", "attachments": [...], "at", "id"}


class SimulatedRequest:
    """A provider's webhook request: posted by the simulator through the real webhook path."""

    def __init__(self, method: str, query: str, headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.query = query  # "" or "k=v&..." appended to /api/webhooks/<kind>/<channel_id>
        self.headers = headers
        self.body = body
