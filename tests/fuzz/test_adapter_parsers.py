"""Property-based tests of every channel adapter's webhook parser (Hypothesis), on generated and mutated payloads.

Seeds are the recorded payloads in tests/fixtures/<kind>/. Each example is either a seed mutated one to four
times (a value replaced by any JSON, a key dropped, a number at a boundary, a type changed) or JSON built from
nothing but the kind's field names, then signed as the provider would sign it (so the parser behind the
authentication runs too). The property: `parse_webhook` returns events that can be stored, or raises one of the
declared refusals (`DECLARED`, mapped to 4xx by the API); no other exception escapes. No network, no DynamoDB:
OK's fetch-back meets a session that cannot connect (accepted on the URL token, as when OK is down).

Budget: `MAX_EXAMPLES` per adapter, derandomized, no example database: the same examples on every run.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import errors, safejson
from chalicelib.channels.base import WebhookRequest
from chalicelib.channels.email import EmailAdapter
from chalicelib.channels.instagram import InstagramAdapter
from chalicelib.channels.messenger import MessengerAdapter
from chalicelib.channels.meta import signature
from chalicelib.channels.ok import OKAdapter
from chalicelib.channels.telegram import TelegramAdapter
from chalicelib.channels.vk import VKAdapter
from chalicelib.channels.whatsapp import WhatsAppAdapter
from chalicelib.domain.model import EVENT_TYPES, Channel, InboundEvent
from chalicelib.local.fakes.email import make_authority, ses_notification
from tests.fuzz.counts import COUNTS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MAX_EXAMPLES = 200
FUZZ = settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# what a parser may raise: each maps to a 4xx (api/http.py), or an acknowledgement for InvalidPayload
DECLARED: tuple[type[errors.AppError], ...] = (errors.InvalidInput, errors.Unauthenticated, errors.Forbidden,
                                               errors.NotFound)
EDGE_NUMBERS = [0, -1, 1, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, -(2**63), 10**12, 253_402_300_800, 10**18,
                1.5, -0.0, 1e308, -1e308, 5e-324]
EDGE_TEXT = ["", " ", "0", "-1", "١٢٣", "²", "9" * 30, "\u0000", "\ud83d\ude00", "a" * 5000, "null", "[]", "{}",
             "user:", "chat:", "mid:", "wamid.", "<script>", "%00", "../../etc/passwd"]

_scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1)
            | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
            | st.sampled_from(EDGE_NUMBERS) | st.sampled_from(EDGE_TEXT))


def json_values(keys: list[str]) -> st.SearchStrategy[Any]:
    names = st.sampled_from(keys) | st.text(max_size=8)
    return st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(names, inner, max_size=5), max_leaves=24)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _keys(value: Any) -> set[str]:
    found: set[str] = set()
    for path in _paths(value):
        found.update(p for p in path if isinstance(p, str))
    return found


@st.composite
def mutated(draw: st.DrawFn, seeds: list[Any], keys: list[str]) -> Any:
    doc = copy.deepcopy(draw(st.sampled_from(seeds)))
    anything = json_values(keys)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        path = draw(st.sampled_from(list(_paths(doc))))
        op = draw(st.sampled_from(["replace", "drop", "edge", "retype", "grow"]))
        if not path:
            doc = draw(anything) if op == "replace" else doc
            continue
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        last, current = path[-1], parent[path[-1]]
        if op == "drop":
            del parent[last]
        elif op == "replace":
            parent[last] = draw(anything)
        elif op == "edge":
            parent[last] = draw(st.sampled_from(EDGE_NUMBERS) | st.sampled_from(EDGE_TEXT))
        elif op == "retype":
            parent[last] = str(current) if not isinstance(current, str) else ([current] if draw(st.booleans())
                                                                              else {"value": current})
        elif isinstance(current, dict):
            current[draw(st.sampled_from(keys))] = draw(anything)
        elif isinstance(current, list):
            current.append(draw(anything))
    return doc


def payloads(kind: str) -> st.SearchStrategy[Any]:
    seeds: list[Any] = []
    for path in sorted((FIXTURES / kind).glob("*.json")):
        loaded = json.loads(path.read_text(encoding="utf-8"))
        seeds.extend(loaded if isinstance(loaded, list) and kind == "telegram" else [loaded])
    keys = sorted(set().union(*(_keys(s) for s in seeds)))
    return mutated(seeds, keys) | json_values(keys)


def encode(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8", "surrogatepass")


def request(body: bytes, headers: dict[str, str] | None = None, query: dict[str, str] | None = None) -> WebhookRequest:
    return WebhookRequest(method="POST", headers=headers or {}, query=query or {}, raw_body=body,
                          request_id="req-fuzz", received_at="2024-05-20T10:20:00.000Z", source_ip="217.20.145.200")


def check(kind: str, parse: Callable[[], Any]) -> None:
    """The property, and the counts the report prints (tests/fuzz/counts.py)."""
    tally = COUNTS.setdefault(kind, {"examples": 0, "parsed": 0, "events": 0, "refused": 0})
    tally["examples"] += 1
    try:
        result = parse()
    except DECLARED:
        tally["refused"] += 1
        return
    tally["parsed"] += 1
    assert 200 <= result.status < 300
    for event in result.events:
        tally["events"] += 1
        assert isinstance(event, InboundEvent) and event.event_type in EVENT_TYPES
        assert event.external_event_id and event.external_conversation_id, "an event we could not find again"
        stored = event.to_json()
        stored.encode("utf-8")  # DynamoDB takes UTF-8 only: no lone surrogates reach the store
        assert InboundEvent.from_json(stored).dedupe_key == event.dedupe_key


# --- Telegram: the secret token header --------------------------------------------------------------------------

TELEGRAM = Channel(id="ch_tg1", workspace_id="ws_1", kind="telegram", name="bot",
                   secrets={"bot_token": "1:t", "webhook_secret": "s3cret"}, settings={})


@FUZZ
@given(payload=payloads("telegram"))
def test_telegram_parser_stores_or_refuses(payload: Any) -> None:
    adapter = TelegramAdapter("http://127.0.0.1:9")
    check("telegram", lambda: adapter.parse_webhook(TELEGRAM, request(
        encode(payload), {"x-telegram-bot-api-secret-token": "s3cret"})))


# --- VK: secret and group id in the body (put back after mutation, most of the time) ------------------------------

VK = Channel(id="ch_vk1", workspace_id="ws_1", kind="vk", name="vk",
             secrets={"access_token": "t", "group_id": "123456", "secret_key": "s3cr3t", "confirmation_code": "c0de",
                      "webhook_secret": "w"}, settings={})


@FUZZ
@given(payload=payloads("vk"), authenticate=st.integers(min_value=0, max_value=9))
def test_vk_parser_stores_or_refuses(payload: Any, authenticate: int) -> None:
    if isinstance(payload, dict) and authenticate:
        payload = {**payload, "secret": "s3cr3t", "group_id": 123456}
    adapter = VKAdapter("http://127.0.0.1:9")
    check("vk", lambda: adapter.parse_webhook(VK, request(encode(payload))))


# --- Meta: X-Hub-Signature-256 over the mutated body -----------------------------------------------------------

META: dict[str, tuple[Channel, Any]] = {
    "whatsapp": (Channel(id="ch_wa1", workspace_id="ws_1", kind="whatsapp", name="wa", secrets={
        "access_token": "t", "phone_number_id": "106540352242922", "waba_id": "1", "app_secret": "app",
        "webhook_secret": "v"}, settings={}), WhatsAppAdapter),
    "messenger": (Channel(id="ch_fb1", workspace_id="ws_1", kind="messenger", name="fb", secrets={
        "page_access_token": "t", "page_id": "104000000000001", "app_secret": "app", "webhook_secret": "v"},
        settings={}), MessengerAdapter),
    "instagram": (Channel(id="ch_ig1", workspace_id="ws_1", kind="instagram", name="ig", secrets={
        "page_access_token": "t", "page_id": "104000000000002", "ig_user_id": "17841400000000001",
        "app_secret": "app", "webhook_secret": "v"}, settings={}), InstagramAdapter),
}


@pytest.mark.parametrize("kind", sorted(META))
def test_meta_parsers_store_or_refuse(kind: str) -> None:
    channel, adapter_class = META[kind]
    adapter = adapter_class("http://127.0.0.1:9", "25.0")

    @FUZZ
    @given(payload=payloads(kind))
    def run(payload: Any) -> None:
        body = encode(payload)
        check(kind, lambda: adapter.parse_webhook(channel, request(body, {
            "x-hub-signature-256": signature("app", body)})))

    run()


# --- OK: the URL token; fetch-back cannot connect ------------------------------------------------------------------

OK = Channel(id="ch_ok1", workspace_id="ws_1", kind="ok", name="ok",
             secrets={"access_token": "t", "webhook_secret": "k-token"}, settings={})


class Unreachable(requests.Session):
    def request(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        raise requests.ConnectionError("no network in the fuzzer")


@FUZZ
@given(payload=payloads("ok"))
def test_ok_parser_stores_or_refuses(payload: Any) -> None:
    adapter = OKAdapter("http://127.0.0.1:9", "https://zabota.example", session=Unreachable(), attachment_wait=0.0)
    check("ok", lambda: adapter.parse_webhook(OK, request(encode(payload), query={"k": "k-token"})))


# --- E-mail: SNS envelopes signed by a test CA, the SES notification inside mutated ---------------------------------

TOPIC = "arn:aws:sns:eu-west-1:123456789012:zabota-inbound-mail"
EMAIL = Channel(id="ch_mail1", workspace_id="ws_1", kind="email", name="mail",
                secrets={"from_address": "support@brand.example", "topic_arns": TOPIC, "webhook_secret": "w"},
                settings={})
SIGNER = make_authority("fuzz")
MIME_SEEDS = sorted(p.read_bytes() for p in (FIXTURES / "email").glob("*.eml"))
ENVELOPE_FIELDS = ("Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp")


def _notification_seeds() -> list[Any]:
    return [json.loads(ses_notification(TOPIC, mime, recipients=["support@brand.example"], signer=SIGNER)["Message"])
            for mime in MIME_SEEDS]


@st.composite
def mail_deliveries(draw: st.DrawFn) -> tuple[bytes, bool]:
    """(SNS body, signed after the mutation?) with a mutated SES notification or mutated MIME bytes."""
    mime = draw(st.sampled_from(MIME_SEEDS))
    if draw(st.booleans()):
        cut = draw(st.integers(min_value=0, max_value=len(mime)))
        mime = mime[:cut] + draw(st.binary(max_size=40)) + mime[cut + draw(st.integers(0, 200)):]
    envelope = ses_notification(TOPIC, mime, recipients=["support@brand.example"], signer=SIGNER)
    seeds = _NOTIFICATIONS
    if draw(st.booleans()):
        message = draw(mutated(seeds, sorted(set().union(*(_keys(s) for s in seeds)))))
        envelope["Message"] = json.dumps(message) if draw(st.integers(0, 9)) else draw(st.text(max_size=30))
    signed = draw(st.integers(0, 9)) > 0
    body = SIGNER.sign({k: envelope[k] for k in ENVELOPE_FIELDS}) if signed else envelope
    return json.dumps(body).encode(), signed


_NOTIFICATIONS = _notification_seeds()


@FUZZ
@given(delivery=mail_deliveries())
def test_email_parser_stores_or_refuses(delivery: tuple[bytes, bool]) -> None:
    body, _ = delivery
    adapter = EmailAdapter("eu-west-1", certificate_fetcher=lambda url: SIGNER.certificate_pem,
                           confirm_subscription=lambda message: None, mail_store=lambda: _NullStore(),
                           thread_lookup=lambda channel, conversation: None)
    check("email", lambda: adapter.parse_webhook(EMAIL, request(body, {
        "content-type": "text/plain; charset=UTF-8"})))


class _NullStore:
    """A file store that keeps nothing (the parser stores a mail's attachments on the way)."""

    def put(self, key: str, data: bytes, content_type: str = "") -> str:
        return key

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


# --- the safe loader itself: any bytes, any JSON text ------------------------------------------------------------


@FUZZ
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode)
       | json_values(["a", "b"]).map(lambda v: json.dumps(v).encode())
       | st.integers(min_value=1, max_value=200).map(lambda n: b"[" * n + b"]" * n))
def test_the_safe_loader_parses_or_refuses_and_never_recurses(raw: bytes) -> None:
    tally = COUNTS.setdefault("safejson", {"examples": 0, "parsed": 0, "events": 0, "refused": 0})
    tally["examples"] += 1
    try:
        value = safejson.loads(raw)
    except (errors.MalformedBody, errors.Unprocessable):
        tally["refused"] += 1
        return
    tally["parsed"] += 1
    assert safejson.nesting_depth(json.dumps(value)) <= safejson.MAX_DEPTH
    json.dumps(value, ensure_ascii=False).encode("utf-8")

