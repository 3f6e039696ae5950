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
    return "\n".join(lines + refused_input_markdown()) + "\n"


def refused_input_markdown() -> list[str]:
    """The refusals of `/api/webhooks/{kind}/{channel_id}` (api/routing.py's guard, registry.WEBHOOK_RULES)."""
    from chalicelib.channels.registry import WEBHOOK_RULES

    lines = [
        "", "## Refused input", "",
        "Before any channel is read, the guard in `route()` refuses on every kind (and on every other route): a",
        "channel id not of the form `ch_` + up to 64 of `A-Z a-z 0-9 _ -` or an unknown kind: 404; another method:",
        "405 with `Allow`; over 512 KB: 413; a content type other than JSON (or SNS's `text/plain`), or a charset",
        "other than UTF-8: 415; not UTF-8, not JSON, nested deeper than 64 levels, a lone surrogate: 400; an",
        "integer outside 64 bits, NaN or Infinity: 422. Then the adapter authenticates (401 / 403). An",
        "authenticated payload that misses what the adapter needs (the provider's required fields, by type) is",
        "never stored; whether it is acknowledged (marked `X-Zabota-Ignored: invalid_payload`) or refused follows",
        "the provider's retry rules. When our store is out of reach nothing is stored and the answer is 503 with",
        "`Retry-After`, which every provider retries.", "",
        "| kind | methods | the adapter needs | authenticated but unusable payload | why |",
        "| --- | --- | --- | --- | --- |",
    ]
    for kind, rules in WEBHOOK_RULES.items():
        answer = "422 `invalid_payload`" if rules.acknowledge is None else (
            f"200 `{rules.acknowledge}`" if rules.acknowledge else "200 (empty body)")
        lines.append(f"| {kind} | {', '.join(rules.methods)} | {rules.requires} | {answer}, not stored | {rules.why} |")
    return lines


if __name__ == "__main__":  # python -m chalicelib.channels.capabilities > docs/CHANNELS.md
    import os
    import sys

    from chalicelib.local.env import embedded_environ
    from chalicelib.settings import load

    env = {**embedded_environ(port=8000, ddb_port=8001, data_dir=".data"), **os.environ}
    sys.stdout.write(channels_markdown(load(env)))
