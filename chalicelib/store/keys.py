"""Key builders for the main table. Every key of workspace data starts with `WS#<workspace>#` (I3)."""

from __future__ import annotations


def workspace(ws: str) -> tuple[str, str]:
    return f"WS#{ws}", "WORKSPACE"


def channel(channel_id: str) -> tuple[str, str]:
    # Webhook URLs carry only the channel id, so the channel is found without its workspace.
    return f"CH#{channel_id}", "CHANNEL"


def channels_of(ws: str) -> str:
    return f"WS#{ws}#CHANNELS"


def contact(ws: str, contact_id: str) -> tuple[str, str]:
    return f"WS#{ws}#CONTACT#{contact_id}", "CONTACT"


def contact_history(ws: str, contact_id: str) -> str:
    return f"WS#{ws}#CONTACT#{contact_id}"


def identity(ws: str, channel_id: str, external_user_id: str) -> tuple[str, str]:
    return f"WS#{ws}#IDENT#{channel_id}#{external_user_id}", "IDENT"


def conversation(ws: str, conv_id: str) -> tuple[str, str]:
    return f"WS#{ws}#CONV#{conv_id}", "CONV"


def message(ws: str, conv_id: str, msg_id: str) -> tuple[str, str]:
    return f"WS#{ws}#CONV#{conv_id}", f"MSG#{msg_id}"


MESSAGE_PREFIX = "MSG#"


def external_message(ws: str, channel_id: str, ext_conv: str, ext_msg: str) -> tuple[str, str]:
    return f"WS#{ws}#EXTMSG#{channel_id}#{ext_conv}#{ext_msg}", "EXTMSG"


def inbox(ws: str, status: str) -> str:
    return f"WS#{ws}#STATUS#{status}"


def assignee(ws: str, user_id: str | None) -> str:
    return f"WS#{ws}#ASSIGNEE#{user_id or '-'}"


def inbound(dedupe_key: str) -> tuple[str, str]:
    return f"IN#{dedupe_key}", "IN"


def api_key(key_hash: str) -> tuple[str, str]:
    return f"APIKEY#{key_hash}", "APIKEY"


def api_keys_of(ws: str) -> str:
    return f"WS#{ws}#APIKEYS"


def parked(ws: str) -> str:
    return f"WS#{ws}#PARKED"


TIMER_SHARDS = 4


def timer(ws: str, timer_id: str) -> tuple[str, str]:
    return f"WS#{ws}#TIMER#{timer_id}", "TIMER"


def timers_due(shard: int) -> str:
    return f"TIMERS#{shard}"


def workspace_of_pk(pk: str) -> str | None:
    if pk.startswith("WS#"):
        return pk.split("#", 2)[1]
    return None
