"""The stream filter (services/stream_filter.py): what it lets through is everything the stream handler reacts to,
what it drops the handler ignores anyway, its syntax is Lambda's, and it fits the event source mapping's limits."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from chalicelib.services import analytics, stream_filter
from chalicelib.store.models import MAIN_MODELS, TYPE_OF

EVENTS = ("INSERT", "MODIFY", "REMOVE")


def image(type_name: str, **extra: str) -> dict[str, Any]:
    raw = {"pk": f"WS#w1#{type_name.upper()}#x1", "sk": type_name.upper(), "type": type_name, "workspace_id": "w1"}
    return {name: {"S": value} for name, value in {**raw, **extra}.items()}


def record(event_name: str, type_name: str, sequence: str = "100") -> dict[str, Any]:
    data: dict[str, Any] = {"Keys": {"pk": {"S": f"WS#w1#{type_name}"}}, "SequenceNumber": sequence,
                            "SizeBytes": 10, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if event_name != "INSERT":
        data["OldImage"] = image(type_name)
    if event_name != "REMOVE":
        data["NewImage"] = image(type_name, changed_at="2026-12-03T10:00:00+00:00")
    return {"eventID": f"e{sequence}", "eventName": event_name, "eventSource": "aws:dynamodb", "dynamodb": data}


class Untouchable:
    """Deps that any use fails: a handler that does something with a record must reach for them (or the network)."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the stream handler used deps.{name}")


@pytest.fixture
def no_io(monkeypatch):
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the stream handler opened a connection")

    from chalicelib.events import stream

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(stream, "deps", Untouchable)


def dropped() -> list[tuple[str, str]]:
    filters = stream_filter.patterns()
    return [(event, TYPE_OF[cls]) for cls in MAIN_MODELS for event in EVENTS
            if not stream_filter.passes(filters, record(event, TYPE_OF[cls]))]


@pytest.mark.parametrize(("event_name", "type_name"), dropped())
def test_a_record_the_filter_drops_is_one_the_stream_handler_does_nothing_with(no_io, event_name, type_name):
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

    from chalicelib.events import stream

    raw = record(event_name, type_name)
    stream.record_handler(DynamoDBRecord(raw))  # the per-record dispatch: changes, search, audit
    assert analytics.count_batch(Untouchable(), [raw], {}) == 0  # type: ignore[arg-type]  # counters per batch


@pytest.mark.parametrize(("event_name", "type_name"), [("INSERT", "message"), ("MODIFY", "conversation"),
                                                     ("REMOVE", "message")])
def test_the_handler_does_react_to_what_the_filter_keeps(no_io, event_name, type_name):
    """The check above can fail: a kept record reaches for the deps."""
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

    from chalicelib.events import stream

    with pytest.raises(AssertionError, match="deps|connection"):
        stream.record_handler(DynamoDBRecord(record(event_name, type_name)))


def test_every_item_type_a_consumer_handles_passes():
    filters = stream_filter.patterns()
    kept = {(event, TYPE_OF[cls]) for cls, events in stream_filter.WANTED.items() for event in events}
    assert all(stream_filter.passes(filters, record(event, name)) for event, name in kept)
    assert set(dropped()) == {(e, TYPE_OF[cls]) for cls in MAIN_MODELS for e in EVENTS} - kept
    assert stream_filter.counted_types_missing() == set()  # analytics counts conversations, messages, surveys
    for name in ("inbound", "conversation", "message", "contact", "notification", "delivery", "task", "export"):
        assert stream_filter.passes(filters, record("INSERT", name))
    for name in ("conversation", "message", "contact", "article"):  # search follows deletes and TTL expiry
        assert stream_filter.passes(filters, record("REMOVE", name))


def test_the_records_a_message_leaves_behind_are_dropped():
    filters = stream_filter.patterns()
    for name in ("anx", "anxmark", "extmsg", "recentin", "ratewindow", "session", "timer", "presence", "audit"):
        for event in EVENTS:
            assert not stream_filter.passes(filters, record(event, name)), (event, name)
    assert not stream_filter.passes(filters, record("MODIFY", "inbound"))
    assert not stream_filter.passes(filters, record("REMOVE", "inbound"))  # its TTL expiry


def test_the_criteria_fit_the_mapping_s_limits_and_are_json_patterns():
    criteria = stream_filter.filter_criteria()
    assert 1 <= len(criteria["Filters"]) <= stream_filter.MAX_FILTERS
    for item in criteria["Filters"]:
        assert len(item["Pattern"]) <= stream_filter.MAX_PATTERN_CHARS
        assert json.loads(item["Pattern"]) in stream_filter.patterns()


# Examples from the Lambda developer guide (with-ddb-filtering.html, invocation-eventfiltering.html).
DOCS_RECORD = {
    "eventID": "1", "eventVersion": "1.0", "eventName": "INSERT",
    "dynamodb": {
        "ApproximateCreationDateTime": "1678831218.0",
        "Keys": {"CustomerName": {"S": "AnyCompany Industries"}},
        "NewImage": {"AccountManager": {"S": "Pat Candella"}, "PaymentTerms": {"S": "60 days"},
                     "CustomerName": {"S": "AnyCompany Industries"}},
        "SequenceNumber": "111", "SizeBytes": 26, "StreamViewType": "NEW_IMAGE",
    },
}


@pytest.mark.parametrize(("pattern", "expected"), [
    ({"dynamodb": {"Keys": {"CustomerName": {"S": ["AnyCompany Industries"]}}}}, True),
    ({"dynamodb": {"NewImage": {"AccountManager": {"S": ["Pat Candella"]}}}}, True),
    ({"dynamodb": {"NewImage": {"AccountManager": {"S": ["Pat Candella", "Jane Doe"]}}}}, True),
    ({"dynamodb": {"NewImage": {"AccountManager": {"S": ["Jane Doe"]}}}}, False),
    ({"eventName": ["INSERT"]}, True),
    ({"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": {"PaymentTerms": {"S": ["60 days"]}}}}, True),
    ({"eventName": ["REMOVE"], "dynamodb": {"NewImage": {"PaymentTerms": {"S": ["60 days"]}}}}, False),
    ({"dynamodb": {"OldImage": {"PaymentTerms": {"S": ["60 days"]}}}}, False),  # no old image in an INSERT
    ({"dynamodb": {"NewImage": {"PaymentTerms": {"N": ["60 days"]}}}}, False),  # another attribute type
    ({"dynamodb": {"NewImage": ["x"]}}, False),  # a leaf rule against an object never matches
])
def test_patterns_match_as_lambda_s_documented_examples(pattern, expected):
    assert stream_filter.matches(pattern, DOCS_RECORD) is expected
    assert stream_filter.passes([{"eventName": ["MODIFY"]}, pattern], DOCS_RECORD) is expected


def test_no_filter_matches_nothing_and_unsupported_rules_are_refused():
    assert stream_filter.passes([], DOCS_RECORD) is False
    with pytest.raises(ValueError, match="unsupported"):
        stream_filter.matches({"eventName": "INSERT"}, DOCS_RECORD)
