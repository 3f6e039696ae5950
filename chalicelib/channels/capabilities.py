"""What each channel kind allows, read from the adapters themselves: the console greys out what a channel
cannot do, and docs/CHANNELS.md is generated from the same table (a test keeps it in step)."""

from __future__ import annotations

import importlib
from typing import Any

from chalicelib.channels.registry import FACTORIES
from chalicelib.settings import Settings

# Column order of the documentation table; names are the adapters' capability names.
COLUMNS = {
    "text": "text", "images": "images", "documents": "documents", "voice": "voice", "reply_to": "reply to",
    "edit_in": "edit (in)", "edit_out": "edit (out)", "delete_in": "delete (in)", "delete_out": "delete (out)",
    "comments": "comments", "private_reply": "private reply", "hide_comment": "hide comment",
    "delete_comment": "delete comment", "block": "block", "templates": "templates",
    "delivery_status": "delivery status", "read_receipts": "read receipts", "typing": "typing",
}
ALIASES = {"reply_to_in": "reply_to", "block_group": "block", "voice_in": "voice",
           "delete_comment_admin": "delete_comment"}
# A capability that names an operation counts only where the adapter has the method that carries it out
# (the moderation service calls exactly these): the table never promises what the console would be refused.
METHODS = {"hide_comment": "hide_comment", "delete_comment": "delete_comment", "delete_comment_admin": "delete_comment",
           "edit_out": "edit_text", "delete_out": "delete", "block": "block", "block_group": "block"}


def capability_table(settings: Settings) -> dict[str, dict[str, Any]]:
    from chalicelib.channels.registry import Adapters

    adapters = Adapters(settings)
    table: dict[str, dict[str, Any]] = {}
    for kind in FACTORIES:
        adapter = adapters.get(kind)
        names = sorted(n for n in adapter.capabilities if n not in METHODS or hasattr(adapter, METHODS[n]))
        module = importlib.import_module(type(adapter).__module__)
        table[kind] = {"capabilities": names, "details": getattr(module, "CAPABILITIES", {})}
    return table


def _mark(names: list[str], column: str) -> str:
    for name in names:
        if name == column:
            return "✓"
        if ALIASES.get(name) == column:
            return "~"
    return ""


def channels_markdown(settings: Settings) -> str:
    table = capability_table(settings)
    lines = [
        "# Channels: what works where", "",
        "Generated from the adapters (`chalicelib/channels/capabilities.py`); `GET /api/channels/capabilities` serves",
        "the same table to the console. ✓ supported, ~ partly (in only, groups only, or with an admin's user token),",
        "empty: not available.", "",
        "| kind | " + " | ".join(COLUMNS.values()) + " |",
        "| --- | " + " | ".join("---" for _ in COLUMNS) + " |",
    ]
    for kind, row in table.items():
        lines.append(f"| {kind} | " + " | ".join(_mark(row["capabilities"], c) for c in COLUMNS) + " |")
    lines += ["", "Limits and windows per kind (from each adapter's `CAPABILITIES`):", ""]
    for kind, row in table.items():
        if row["details"]:
            details = ", ".join(f"{k}: {v}" for k, v in row["details"].items())
            lines.append(f"- **{kind}**: {details}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m chalicelib.channels.capabilities > docs/CHANNELS.md
    import os
    import sys

    from chalicelib.local.env import embedded_environ
    from chalicelib.settings import load

    env = {**embedded_environ(port=8000, ddb_port=8001, data_dir=".data"), **os.environ}
    sys.stdout.write(channels_markdown(load(env)))
