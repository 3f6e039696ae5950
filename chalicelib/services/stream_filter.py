"""Which main-table stream records the stream handler needs: the one list, and the filter made from it.

Most records a message makes are read by nobody (analytics counters and their batch markers, provider-id
pointers, repeat-request items, rate windows, sessions, ...), yet each batch of them is a Lambda invocation. The
event source mapping drops the others before they invoke anything (Lambda event filtering: filtered records are
neither delivered nor billed). `WANTED` below is the single source of truth, per consumer of
`events/stream.py`; from it come both the template's `FilterCriteria` (infra/package.py) and the same filtering
in embedded mode's stream pump (chalicelib/local/stream_pump.py), which applies `matches` as Lambda does.
tests/unit/test_stream_filter.py runs every item type through the real handler: a type left out here does
nothing there.

Filter syntax used (docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html, with-ddb-filtering.html):
a pattern is a JSON object whose keys follow the record's shape; a leaf is a list of strings and matches when the
record's value at that path equals one of them (a missing value never matches); several keys must all match; a
record passes when any one of the mapping's filters matches (at most 5 filters of 4,096 characters each).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.services.analytics import COUNTED
from chalicelib.store import models as m
from chalicelib.store.models import TYPE_OF, MainItem

INSERT, MODIFY, REMOVE = "INSERT", "MODIFY", "REMOVE"
WRITTEN = (INSERT, MODIFY)

# item model -> the events some consumer of the stream reacts to (REMOVE records carry only the old image)
WANTED: dict[type[MainItem], tuple[str, ...]] = {
    m.InboundItem: (INSERT,),  # changes: contact, identity, conversation, message
    m.QueuedMessageItem: (INSERT,),  # the same, for a customer's message stored under its pointer
    m.ConversationItem: (*WRITTEN, REMOVE),  # changes (greeting, SLA, rules, webhooks, push), analytics, search, audit
    m.MessageItem: (*WRITTEN, REMOVE),  # changes (delivery, media, off-hours, clusters, push), analytics, search
    m.ContactItem: (*WRITTEN, REMOVE),  # search (INSERT / MODIFY / REMOVE), changes (name, push), audit (edits)
    m.ArticleItem: (*WRITTEN, REMOVE),  # search
    m.SurveyItem: WRITTEN,  # analytics, the thread's rating live
    m.ChannelItem: WRITTEN,  # audit (connected, renamed, ...)
    m.NotificationItem: (INSERT,),  # the bell and e-mail
    m.TaskItem: WRITTEN, m.TaskEventItem: WRITTEN,  # timers, notifications, push
    m.ExportItem: (INSERT,),  # the report file
    m.DeliveryItem: WRITTEN,  # outgoing webhooks: send when pending
}
MAX_FILTERS = 5  # per event source mapping (Lambda quota, default)
MAX_PATTERN_CHARS = 4096  # AWS::Lambda::EventSourceMapping Filter.Pattern


def wanted_types(event_name: str) -> list[str]:
    """The `type` values of the items whose `event_name` records the handler needs, sorted."""
    return sorted(TYPE_OF[cls] for cls, events in WANTED.items() if event_name in events)


def counted_types_missing() -> set[str]:
    """Types analytics counts (any change) that the filter would drop: must be empty (a unit test checks it)."""
    return {t for t in COUNTED if not all(t in wanted_types(e) for e in WRITTEN)}


def patterns() -> list[dict[str, Any]]:
    """The filters: one per set of written events (on the new image), one for REMOVE (on the old image)."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for cls, events in WANTED.items():
        written = tuple(e for e in WRITTEN if e in events)
        if written:
            groups.setdefault(written, []).append(TYPE_OF[cls])
    found = [{"eventName": list(events), "dynamodb": {"NewImage": {"type": {"S": sorted(types)}}}}
             for events, types in sorted(groups.items())]
    removed = wanted_types(REMOVE)
    if removed:
        found.append({"eventName": [REMOVE], "dynamodb": {"OldImage": {"type": {"S": removed}}}})
    return found


def filter_criteria() -> dict[str, Any]:
    """`FilterCriteria` of the event source mapping (CloudFormation / SAM shape), checked against Lambda's limits."""
    found = [json.dumps(p, separators=(",", ":"), sort_keys=True) for p in patterns()]
    if len(found) > MAX_FILTERS or any(len(p) > MAX_PATTERN_CHARS for p in found):
        raise ValueError(f"the stream filter exceeds Lambda's limits: {len(found)} filters of {MAX_FILTERS}, "
                         f"longest {max(map(len, found))} of {MAX_PATTERN_CHARS} characters")
    return {"Filters": [{"Pattern": p} for p in found]}


def matches(pattern: Mapping[str, Any], record: Any) -> bool:
    """Whether `record` (a Lambda stream record, as JSON) matches one pattern: the subset of the syntax emitted
    above (nested keys; a list of allowed strings as a leaf)."""
    if not isinstance(record, Mapping):
        return False
    for key, rule in pattern.items():
        if key not in record:
            return False
        value = record[key]
        if isinstance(rule, Mapping):
            if not matches(rule, value):
                return False
        elif isinstance(rule, list):
            if isinstance(value, Mapping | list) or value not in rule:
                return False
        else:
            raise ValueError(f"unsupported filter rule at {key!r}: {rule!r}")
    return True


def passes(filters: Iterable[Mapping[str, Any]], record: Any) -> bool:
    """A record passes when any filter matches it (as Lambda combines a mapping's filters)."""
    return any(matches(p, record) for p in filters)
