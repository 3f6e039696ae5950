"""AWS mode's search index keeps a small segment as an item of the main table (DynamoDB Local here) instead of an
S3 object (moto): a trickle's batch costs a write unit, not a PUT. The reader applies both stores' segments in
order, a cold reader sees them, and the compaction folds both into the base and removes them."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.search import analyze, documents
from chalicelib.search.engines import ItemSegments, S3Engine
from chalicelib.search.index import Filter, Op
from chalicelib.store import analytics as analytics_store
from chalicelib.store.base import connection
from chalicelib.store.models import MainItem

pytestmark = pytest.mark.ddblocal


def message(mid: str, text: str, *, second: int = 1) -> Any:
    return SimpleNamespace(conversation_id="c1", message_id=mid, text=text, deleted=False, hidden=False,
                           direction="in", occurred_at=f"2026-01-01T00:00:{second:02d}Z", created_at="")


def ops(mid: str, text: str, before: Any = None, **kw: Any) -> list[Op]:
    return documents.message_ops(message(mid, text, **kw), before)


def found(engine: S3Engine, ws: str, q: str) -> list[str]:
    hits = engine.search(ws, analyze.parse_query(q), Filter(), limit=50, offset=0)
    return [h.doc.message_id for h in hits]


@pytest.fixture
def aws(stack: Any, tmp_path: Any) -> Iterator[Any]:
    """(engine factory, S3 client, the workspace's items) with the tables on DynamoDB Local and S3 in moto."""
    with mock_aws(config={"core": {"passthrough": {"services": ["dynamodb", "dynamodbstreams"]}}}):
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="files")
        items = ItemSegments(connection().client, str(MainItem.Meta.table_name))

        def engine(name: str, *, chance: float = 1.0) -> S3Engine:  # 1.0: compacts only when told
            return S3Engine("files", s3, str(tmp_path / name), chance=lambda: chance, items=items)

        yield engine, s3, items


def written(engine: S3Engine, ws: str, batch: list[Op]) -> None:
    engine.add(ws, batch)
    engine.flush()


def s3_segments(s3: Any, ws: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket="files", Prefix=f"search/{ws}/seg/").get("Contents", [])]


def test_a_small_batch_is_an_item_a_big_one_an_object_and_the_reader_applies_them_in_order(aws):
    engine, s3, items = aws
    ws = f"ws-{secrets.token_hex(4)}"
    writer = engine("writer")
    written(writer, ws, ops("m1", "Где мой заказ?"))
    assert writer.requests["put"] == 0 and writer.requests["item_put"] == 1
    assert s3_segments(s3, ws) == [] and len(items.listing(ws)) == 1
    big = [op for i in range(40) for op in ops(f"b{i}", "посылка " + "очень длинный текст " * 20)]
    written(writer, ws, big)  # over SMALL_SEGMENT: one PUT
    assert writer.requests["put"] == 1 and len(s3_segments(s3, ws)) == 1
    written(writer, ws, ops("m1", "Жду возврат денег", before=message("m1", "Где мой заказ?"), second=5))
    reader = engine("reader")
    assert found(reader, ws, "заказ ") == []  # the edit, a later item segment, replaced the text
    assert found(reader, ws, "возврат ") == ["m1"]
    assert len(found(reader, ws, "посылка ")) == 40
    assert found(reader, f"ws-{secrets.token_hex(4)}", "возврат ") == []  # another workspace sees none of it


def test_the_compaction_folds_items_and_objects_into_the_base_and_removes_them(aws):
    engine, s3, items = aws
    ws = f"ws-{secrets.token_hex(4)}"
    writer = engine("writer")
    for i in range(5):
        written(writer, ws, ops(f"m{i}", f"заказ номер {i}"))
    written(writer, ws, [op for i in range(40) for op in ops(f"b{i}", "доставка " + "подробности " * 40)])
    assert len(items.listing(ws)) == 5 and len(s3_segments(s3, ws)) == 1
    assert engine("job").compact(ws) is True
    assert items.listing(ws) == {} and s3_segments(s3, ws) == []
    written(writer, ws, ops("m9", "заказ после сжатия"))  # a segment after the base
    cold = engine("cold")  # a cold Lambda: the base, then the one item segment
    assert sorted(found(cold, ws, "заказ ")) == sorted([f"m{i}" for i in range(5)] + ["m9"])
    assert len(found(cold, ws, "доставка ")) == 40
    assert cold.requests["get"] == 0  # the item segment came with the listing: no GET


def test_a_replayed_batch_writes_another_item_with_the_same_result(aws):
    engine, _, items = aws
    ws = f"ws-{secrets.token_hex(4)}"
    writer = engine("writer")
    for _ in range(2):
        written(writer, ws, ops("m1", "Где мой заказ?"))
    assert len(items.listing(ws)) == 2
    assert found(engine("reader"), ws, "заказ ") == ["m1"]


def carried(writer: S3Engine, ws: str, batch: list[Op], at: datetime, *, now: datetime | None = None) -> str:
    """A stream batch whose counter delta is on time: its small segment rides in the delta item (no write of its
    own). Returns the delta's key."""
    event_id = secrets.token_hex(8)
    record = (event_id, str(10**20), int(at.timestamp() * 1000), {(ws, "a#2031-05-06T10"): {"in": 1}})
    writer.add(ws, batch)
    when = now or at
    handed = writer.flush(analytics_store.on_time([record], now=when))
    assert set(handed) == {ws}
    assert analytics_store.apply([record], now=when, segments=handed) == 1
    return analytics_store.delta_key(record[2], event_id)


def test_a_segment_carried_by_the_counter_delta_is_read_compacted_and_left_to_expire_with_it(aws):
    engine, s3, items = aws
    ws = f"ws-{secrets.token_hex(4)}"
    writer = engine("writer")
    t = datetime.now(UTC) - timedelta(minutes=1)  # segments written as items are named by the clock's time
    carried(writer, ws, ops("m1", "Где мой заказ?"), t)
    assert writer.requests["item_put"] == 0 and writer.requests["put"] == 0 and items.listing(ws) == {}
    assert found(engine("cold"), ws, "заказ ") == ["m1"]  # a cold reader finds it in the delta

    assert engine("job").compact(ws) is True
    assert len(items.carried(ws, 0)) == 1  # the delta stays (the counters' item: it expires with them)
    # a delta written after the compaction with a key older than the base's last segment (late by 20 s) is applied
    # all the same; the one in the base is not applied twice (an edit after it would be undone)
    carried(writer, ws, ops("m2", "Возврат денег"), t - timedelta(seconds=20), now=t + timedelta(seconds=5))
    reader = engine("reader")
    assert found(reader, ws, "заказ ") == ["m1"] and found(reader, ws, "возврат ") == ["m2"]
    written(writer, ws, ops("m1", "Жду ответ", before=message("m1", "Где мой заказ?"), second=5))
    assert found(reader, ws, "заказ ") == [] and found(reader, ws, "ответ ") == ["m1"]
    assert found(engine("cold2"), ws, "заказ ") == []  # a cold one too: base, its late delta, the edit


def test_a_late_batch_or_one_without_counts_writes_its_segment_item_as_before(aws):
    engine, _, items = aws
    ws = f"ws-{secrets.token_hex(4)}"
    writer = engine("writer")
    t = datetime(2031, 5, 6, 10, 0, tzinfo=UTC)
    late = (secrets.token_hex(8), str(10**20), int(t.timestamp() * 1000), {(ws, "a#2031-05-06T10"): {"in": 1}})
    writer.add(ws, ops("m1", "Где мой заказ?"))
    assert analytics_store.on_time([late], now=t + timedelta(minutes=5)) == set()  # the checked path: no carrying
    assert writer.flush(set()) == {} and len(items.listing(ws)) == 1
    analytics_store.apply([late], now=t + timedelta(minutes=5))
    assert items.carried(ws, 0) == {}
    assert found(engine("reader"), ws, "заказ ") == ["m1"]


def test_the_weekly_counter_fold_puts_carried_segments_into_a_base_before_their_deltas_expire(aws):
    from chalicelib.services import analytics

    engine, s3, items = aws
    ws = f"ws-{secrets.token_hex(4)}"
    t = datetime.now(UTC) - timedelta(minutes=1)
    key = carried(engine("writer"), ws, ops("m1", "Где мой заказ?"), t)
    schedule = SimpleNamespace(search=engine("schedule"), now=lambda: t + timedelta(days=7))
    analytics._weekly_fold(schedule, SimpleNamespace(workspace_id=ws))  # the `analytics-fold` timer's handler
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="files", Prefix=f"search/{ws}/base/").get("Contents", [])]
    connection().client.delete_item(TableName=str(MainItem.Meta.table_name),  # the delta expires (TTL)
                                    Key={"pk": {"S": f"WS#{ws}#ANXD"}, "sk": {"S": key}})
    assert items.carried(ws, 0) == {}
    assert found(engine("cold"), ws, "заказ ") == ["m1"]  # in the base
