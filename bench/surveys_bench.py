"""Surveys (G4): DynamoDB requests per close and per answer, counted (a machine-independent figure).

One Telegram workspace with surveys off and one with CSAT on (no delay). Per close: the requests of the stream's
whole work after `PATCH status=closed` (the close record, the survey's transaction, the prompt's delivery and its
records), surveys on minus surveys off. Per answer: a pressed button, webhook plus stream (the event's dedupe put,
the answer's conditional update, the thank-you reply and its delivery), and the same for a text answer "5". Per
ordinary message: a customer's message with surveys on minus off (the goal is 0: only a message that is just a
number looks for an open survey).
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from typing import Any

import requests

from bench import harness
from bench.ddbcalls import DynamoCallCounter

CLOSES = 10


def _api(channel: harness.Channel, method: str, path: str, body: Any) -> requests.Response:
    return requests.request(method, f"{channel.url}/api{path}", json=body, timeout=60,
                            headers={"Authorization": f"Bearer {channel.api_key}"})


def _conversations(stack: Any, channel: harness.Channel, chats: list[int]) -> list[str]:
    from chalicelib.domain.model import conversation_id_for

    session = requests.Session()
    for chat in chats:
        assert harness.post(session, channel, harness.encode(harness.telegram_update(chat, "hello"))).status == 200
    stack.pump.drain(timeout=60)
    return [conversation_id_for(channel.workspace_id, channel.channel_id, str(chat)) for chat in chats]


def _closes(stack: Any, meter: DynamoCallCounter, channel: harness.Channel, convs: list[str]) -> Counter[str]:
    total: Counter[str] = Counter()
    for conv in convs:
        assert _api(channel, "PATCH", f"/conversations/{conv}", {"status": "closed"}).status_code == 200
        meter.take()
        stack.pump.drain(timeout=60)
        total.update(meter.take()[0])
    return total


def _messages(stack: Any, meter: DynamoCallCounter, channel: harness.Channel, chats: list[int]) -> Counter[str]:
    session = requests.Session()
    total: Counter[str] = Counter()
    for chat in chats:
        meter.take()
        assert harness.post(session, channel, harness.encode(harness.telegram_update(chat, "one more thing"))).status \
            == 200
        stack.pump.drain(timeout=60)
        total.update(meter.take()[0])
    return total


def _answers(stack: Any, meter: DynamoCallCounter, channel: harness.Channel,
             chats: list[int]) -> dict[str, Counter[str]]:
    session = requests.Session()
    button: Counter[str] = Counter()
    text: Counter[str] = Counter()
    bot = next(t for t, b in stack.fake_telegram._bots.items() if b.user["username"] == f"{channel.workspace_id}_bot")
    for index, chat in enumerate(chats):
        prompt = next(m for m in stack.fake_telegram.sent(chat) if m.get("reply_markup"))
        meter.take()
        if index % 2 == 0:
            data = prompt["reply_markup"]["inline_keyboard"][0][4]["callback_data"]
            update = stack.fake_telegram.press(bot, chat, prompt["message_id"], data)
            assert harness.post(session, channel, json.dumps(update).encode()).status == 200
            stack.pump.drain(timeout=60)
            button.update(meter.take()[0])
        else:
            assert harness.post(session, channel, harness.encode(harness.telegram_update(chat, "5"))).status == 200
            stack.pump.drain(timeout=60)
            text.update(meter.take()[0])
    return {"button": button, "text": text}


def _per(counts: Counter[str], n: int) -> dict[str, float]:
    return {name: round(v / n, 2) for name, v in counts.most_common()}


def _diff(on: Counter[str], off: Counter[str], n: int) -> dict[str, float]:
    names = set(on) | set(off)
    return {name: round((on[name] - off[name]) / n, 2) for name in sorted(names) if on[name] != off[name]}


def measure(stack: Any) -> dict[str, Any]:
    off, on = harness.new_channel(stack), harness.new_channel(stack)
    assert _api(on, "PUT", "/surveys/settings", {"csat_enabled": True, "delay_minutes": 0}).status_code == 200
    chats_off = [700_000_000 + secrets.randbelow(10**8) for _ in range(CLOSES)]
    chats_on = [700_000_000 + secrets.randbelow(10**8) for _ in range(CLOSES)]
    conv_off, conv_on = _conversations(stack, off, chats_off), _conversations(stack, on, chats_on)
    meter = DynamoCallCounter(exclude=[stack.pump._ddb]).install()
    try:
        closes_off = _closes(stack, meter, off, conv_off)
        closes_on = _closes(stack, meter, on, conv_on)
        answers = _answers(stack, meter, on, chats_on)
        more_off = _messages(stack, meter, off, chats_off)
        more_on = _messages(stack, meter, on, chats_on)
    finally:
        meter.uninstall()
    half = CLOSES // 2
    return {
        "closes": CLOSES,
        "requests_per_close_surveys_off": round(sum(closes_off.values()) / CLOSES, 2),
        "requests_per_close_surveys_on": round(sum(closes_on.values()) / CLOSES, 2),
        "extra_requests_per_close": round((sum(closes_on.values()) - sum(closes_off.values())) / CLOSES, 2),
        "extra_per_close_by_operation": _diff(closes_on, closes_off, CLOSES),
        "requests_per_button_answer": round(sum(answers["button"].values()) / half, 2),
        "button_answer_by_operation": _per(answers["button"], half),
        "requests_per_text_answer": round(sum(answers["text"].values()) / half, 2),
        "text_answer_by_operation": _per(answers["text"], half),
        "extra_requests_per_ordinary_message": round((sum(more_on.values()) - sum(more_off.values())) / CLOSES, 2),
    }
