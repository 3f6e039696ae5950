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
}


def build(name: str) -> Any:
    module, _, cls = FAKES[name][1].partition(":")
    return getattr(importlib.import_module(module), cls)()


def environ(base_url: str) -> dict[str, str]:
    return {var: f"{base_url}/_fake/{name}" for name, (var, _) in FAKES.items()}
