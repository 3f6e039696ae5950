"""AWS mode's search index keeps a small segment as an item of the main table (DynamoDB Local here) instead of an
S3 object (moto): a trickle's batch costs a write unit, not a PUT. The reader applies both stores' segments in
order, a cold reader sees them, and the compaction folds both into the base and removes them."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.search import analyze, documents
from chalicelib.search.engines import ItemSegments, S3Engine
from chalicelib.search.index import Filter, Op
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
