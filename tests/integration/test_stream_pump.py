"""The stream pump against a real DynamoDB Local: Lambda-shaped batches, partial failures, parking, restarts."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib.local.dynamodb import DynamoDBLocal
from chalicelib.local.stream_pump import StreamPump

RECORD_KEYS = {"eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb", "eventSourceARN"}
DYNAMODB_KEYS = {"ApproximateCreationDateTime", "Keys", "SequenceNumber", "SizeBytes", "StreamViewType"}


# --- helpers --------------------------------------------------------------------------------------------------------


class Table:
    """A fresh table with a NEW_AND_OLD_IMAGES stream on the module's DynamoDB Local."""

    def __init__(self, endpoint: str) -> None:
        self.client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
        self.name = f"pump-{uuid.uuid4().hex[:10]}"
        self.client.create_table(
            TableName=self.name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        self.stream_arn = self.client.describe_table(TableName=self.name)["Table"]["LatestStreamArn"]

    def put(self, *keys: str, value: str = "v") -> None:
        for key in keys:
            self.client.put_item(TableName=self.name, Item={"pk": {"S": key}, "value": {"S": value}})

    def delete(self, key: str) -> None:
        self.client.delete_item(TableName=self.name, Key={"pk": {"S": key}})


class Recorder:
    """A stream handler that remembers every batch and fails the records ``fail(record, call)`` picks."""

    def __init__(self, fail: Callable[[dict[str, Any], int], bool] = lambda record, call: False) -> None:
        self.fail = fail
        self.batches: list[list[dict[str, Any]]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        records = event["Records"]
        self.batches.append(records)
        failures = [r for r in records if self.fail(r, len(self.batches))]
        return {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in failures]}

    def keys_of(self, batch: int) -> list[str]:
        return [key_of(r) for r in self.batches[batch]]

    def delivered(self) -> list[str]:
        return [key_of(r) for batch in self.batches for r in batch]


def key_of(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["Keys"]["pk"]["S"])


def read_checkpoint(path: Path, table: Table) -> str | None:
    if not path.exists():
        return None
    sequences = json.loads(path.read_text())["streams"].get(table.stream_arn, {}).get("sequences", {})
    return next(iter(sequences.values()), None)


def keys(n: int) -> list[str]:
    return [f"k{i:03d}" for i in range(n)]


@pytest.fixture
def table(dynamodb_local: DynamoDBLocal) -> Table:
    return Table(dynamodb_local.endpoint)


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    return tmp_path / "state" / "stream-checkpoints.json"


@pytest.fixture
def parked() -> list[tuple[dict[str, Any], str]]:
    return []


@pytest.fixture
def make_pump(
    dynamodb_local: DynamoDBLocal, table: Table, checkpoint: Path, parked: list[tuple[dict[str, Any], str]]
) -> Callable[..., StreamPump]:
    def make(handler: Callable[..., Any], **options: Any) -> StreamPump:
        settings: dict[str, Any] = {"backoff_base": 0.01, "backoff_max": 0.05, "poll_interval": 0.02, **options}
        return StreamPump(
            handler,
            table_names=[table.name],
            endpoint=dynamodb_local.endpoint,
            checkpoint_path=str(checkpoint),
            park=lambda record, error: parked.append((record, error)),
            **settings,
        )

    return make


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.01)


# --- tests ----------------------------------------------------------------------------------------------------------


def test_records_arrive_lambda_shaped_in_order_in_batches_of_one_shard(table: Table, make_pump: Any) -> None:
    table.put("a", "b", "c", "d")
    table.put("a", value="changed")
    table.delete("b")
    handler = Recorder()

    processed = make_pump(handler, batch_size=4).drain()

    assert processed == 6
    assert [len(batch) for batch in handler.batches] == [4, 2]
    records = [r for batch in handler.batches for r in batch]
    assert [r["eventName"] for r in records] == ["INSERT"] * 4 + ["MODIFY", "REMOVE"]
    assert [key_of(r) for r in records] == ["a", "b", "c", "d", "a", "b"]
    sequences = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequences == sorted(sequences) and len(set(sequences)) == 6
    for record in records:
        assert RECORD_KEYS <= set(record)
        assert DYNAMODB_KEYS <= set(record["dynamodb"])
        assert record["eventVersion"] == "1.1"
        assert record["eventSource"] == "aws:dynamodb"
        assert record["awsRegion"] == "us-east-1"
        assert record["eventSourceARN"] == table.stream_arn
        assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int | float)
        assert abs(record["dynamodb"]["ApproximateCreationDateTime"] - time.time()) < 600
        json.dumps(record)  # exactly what a JSON Lambda event can carry
    modify, remove = records[4], records[5]
    assert modify["dynamodb"]["NewImage"] == {"pk": {"S": "a"}, "value": {"S": "changed"}}
    assert modify["dynamodb"]["OldImage"] == {"pk": {"S": "a"}, "value": {"S": "v"}}
    assert "NewImage" not in remove["dynamodb"] and remove["dynamodb"]["OldImage"]["pk"] == {"S": "b"}
    assert "OldImage" not in records[0]["dynamodb"]


def test_a_record_reported_failed_comes_back_with_the_records_after_it_and_holds_the_checkpoint(
    table: Table, make_pump: Any, checkpoint: Path
) -> None:
    table.put(*keys(5))
    seen_checkpoints: list[str | None] = []

    def fails_k002_twice(record: dict[str, Any], call: int) -> bool:
        return key_of(record) == "k002" and call <= 2

    recorder = Recorder(fails_k002_twice)

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen_checkpoints.append(read_checkpoint(checkpoint, table))
        return recorder(event, context)

    processed = make_pump(handler).drain()

    assert recorder.keys_of(0) == keys(5)
    assert recorder.keys_of(1) == ["k002", "k003", "k004"]
    assert recorder.keys_of(2) == ["k002", "k003", "k004"]
    assert len(recorder.batches) == 3
    first_sequences = [r["dynamodb"]["SequenceNumber"] for r in recorder.batches[0]]
    assert seen_checkpoints == [None, first_sequences[1], first_sequences[1]]
    assert read_checkpoint(checkpoint, table) == first_sequences[-1]
    assert processed == 5


def test_a_record_failing_max_attempts_times_is_parked_and_later_records_are_processed(
    table: Table, make_pump: Any, checkpoint: Path, parked: list[tuple[dict[str, Any], str]]
) -> None:
    table.put(*keys(4))
    recorder = Recorder(lambda record, call: key_of(record) == "k001")
    pump = make_pump(recorder, max_attempts=3)

    processed = pump.drain()

    assert recorder.delivered().count("k001") == 3
    assert [key_of(record) for record, _ in parked] == ["k001"]
    assert parked[0][1] == "reported in batchItemFailures"
    assert recorder.keys_of(-1) == ["k002", "k003"]
    assert processed == 3
    assert (pump.stats.parked, pump.stats.failed_attempts, pump.stats.processed) == (1, 3, 3)
    assert read_checkpoint(checkpoint, table) == recorder.batches[-1][-1]["dynamodb"]["SequenceNumber"]
    table.put("k100")
    assert pump.drain() == 1 and recorder.keys_of(-1) == ["k100"]


def test_a_handler_that_raises_fails_the_whole_batch_and_the_batch_is_retried(
    table: Table, make_pump: Any, parked: list[tuple[dict[str, Any], str]]
) -> None:
    table.put(*keys(3))
    calls: list[list[str]] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        calls.append([key_of(r) for r in event["Records"]])
        if len(calls) == 1:
            raise RuntimeError("database is busy")

    pump = make_pump(handler)
    processed = pump.drain()

    assert calls == [keys(3), keys(3)]
    assert processed == 3
    assert pump.stats.failed_attempts == 1
    assert parked == []


def test_a_handler_that_always_raises_gets_each_first_record_parked_with_the_error(
    table: Table, make_pump: Any, parked: list[tuple[dict[str, Any], str]]
) -> None:
    table.put(*keys(2))

    def handler(event: dict[str, Any], context: Any) -> None:
        raise ValueError("bad record")

    pump = make_pump(handler, max_attempts=2)
    pump.drain()

    assert [key_of(record) for record, _ in parked] == keys(2)
    assert all(error == "ValueError: bad record" for _, error in parked)
    assert pump.stats.failed_attempts == 4


def test_a_stopped_pump_and_its_successor_process_every_record_exactly_once(
    table: Table, make_pump: Any, checkpoint: Path
) -> None:
    table.put(*keys(40))
    counts: Counter[str] = Counter()
    third_batch_started = threading.Event()
    release = threading.Event()

    def slow_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        counts.update(key_of(r) for r in event["Records"])
        if sum(counts.values()) == 15:
            third_batch_started.set()
            release.wait(10)
        return {"batchItemFailures": []}

    first = make_pump(slow_handler, batch_size=5)
    first.start()
    assert third_batch_started.wait(10)
    stopper = threading.Thread(target=first.stop)
    stopper.start()
    wait_until(lambda: not first.running)
    release.set()
    stopper.join(10)
    assert sum(counts.values()) == 15

    def handler(event: dict[str, Any], context: Any) -> None:
        counts.update(key_of(r) for r in event["Records"])

    second = make_pump(handler, batch_size=5)
    assert second.drain() == 25
    assert counts == Counter({key: 1 for key in keys(40)})
    table.put("late")
    assert make_pump(handler).drain() == 1 and counts["late"] == 1


def test_the_background_pump_delivers_new_writes_without_drain(table: Table, make_pump: Any) -> None:
    handler = Recorder()
    pump = make_pump(handler)
    pump.start()
    try:
        table.put("x", "y")
        wait_until(lambda: handler.delivered() == ["x", "y"])
    finally:
        pump.stop()
    assert not pump.running


def test_tables_without_a_stream_are_skipped(dynamodb_local: DynamoDBLocal, checkpoint: Path) -> None:
    client = boto3.client("dynamodb", endpoint_url=dynamodb_local.endpoint, region_name="us-east-1")
    name = f"plain-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.put_item(TableName=name, Item={"pk": {"S": "a"}})
    handler = Recorder()
    pump = StreamPump(handler, table_names=[name, "missing-table"], endpoint=dynamodb_local.endpoint,
                      checkpoint_path=str(checkpoint), park=lambda record, error: None)
    assert pump.drain(timeout=2) == 0
    assert handler.batches == []


# --- shard lineage, with a scripted streams API (DynamoDB Local rarely splits shards on its own) --------------------


def raw_record(sequence: int, key: str) -> dict[str, Any]:
    return {
        "eventID": f"e{sequence}", "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
        "awsRegion": "ddblocal",
        "dynamodb": {"ApproximateCreationDateTime": 1700000000, "Keys": {"pk": {"S": key}},
                     "NewImage": {"pk": {"S": key}, "blob": {"B": b"\x00\x01"}}, "SequenceNumber": f"{sequence:021d}",
                     "SizeBytes": 10, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    }


class ScriptedStreams:
    """A stream with a closed parent shard and its open child; the child is listed first."""

    ARN = "arn:aws:dynamodb:ddblocal:000000000000:table/scripted/stream/label"

    def __init__(self) -> None:
        self.records = {"parent": [raw_record(1, "p1"), raw_record(2, "p2")], "child": [raw_record(3, "c1")]}
        self.expire_next = True

    def describe_table(self, TableName: str) -> dict[str, Any]:  # noqa: N803 - boto3's parameter names
        return {"Table": {"LatestStreamArn": self.ARN, "StreamSpecification": {"StreamEnabled": True}}}

    def describe_stream(self, StreamArn: str, **_: Any) -> dict[str, Any]:  # noqa: N803
        return {"StreamDescription": {"Shards": [
            {"ShardId": "child", "ParentShardId": "parent", "SequenceNumberRange": {"StartingSequenceNumber": "3"}},
            {"ShardId": "parent", "SequenceNumberRange": {"StartingSequenceNumber": "1", "EndingSequenceNumber": "2"}},
        ]}}

    def get_shard_iterator(self, StreamArn: str, ShardId: str, ShardIteratorType: str,  # noqa: N803
                           SequenceNumber: str | None = None) -> dict[str, Any]:
        after = int(SequenceNumber) if ShardIteratorType == "AFTER_SEQUENCE_NUMBER" and SequenceNumber else 0
        return {"ShardIterator": f"{ShardId}|{after}"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:  # noqa: N803
        if self.expire_next:
            self.expire_next = False
            raise ClientError({"Error": {"Code": "ExpiredIteratorException", "Message": "expired"}}, "GetRecords")
        shard, after = ShardIterator.split("|")
        pending = [r for r in self.records[shard] if int(r["dynamodb"]["SequenceNumber"]) > int(after)][:Limit]
        last = int(pending[-1]["dynamodb"]["SequenceNumber"]) if pending else int(after)
        closed_and_read = shard == "parent" and not pending
        return {"Records": pending, **({} if closed_and_read else {"NextShardIterator": f"{shard}|{last}"})}


def test_a_parent_shard_is_read_to_its_end_before_its_child_and_is_remembered_as_finished(checkpoint: Path) -> None:
    streams = ScriptedStreams()
    handler = Recorder()

    def make() -> StreamPump:
        return StreamPump(handler, table_names=["scripted"], endpoint="http://127.0.0.1:9", park=lambda r, e: None,
                          checkpoint_path=str(checkpoint), dynamodb_client=streams, streams_client=streams)

    assert make().drain(timeout=5) == 3

    assert handler.delivered() == ["p1", "p2", "c1"]
    assert handler.batches[0][0]["dynamodb"]["NewImage"]["blob"] == {"B": "AAE="}
    saved = json.loads(checkpoint.read_text())["streams"][ScriptedStreams.ARN]
    assert saved["finished"] == ["parent"]
    assert saved["sequences"] == {"child": "000000000000000000003"}
    streams.records["child"].append(raw_record(4, "c2"))
    assert make().drain(timeout=5) == 1
    assert handler.delivered()[-1] == "c2"


# --- DynamoDB Local itself ------------------------------------------------------------------------------------------


def test_starting_dynamodb_local_on_a_busy_port_fails_with_a_clear_error(dynamodb_local: DynamoDBLocal) -> None:
    with pytest.raises(RuntimeError, match=f"port {dynamodb_local.port} is in use"):
        DynamoDBLocal(port=dynamodb_local.port, in_memory=True).start()


def test_a_persistent_dynamodb_local_keeps_tables_and_stream_position_across_restarts(tmp_path: Path) -> None:
    data_dir = tmp_path / "data" / "dynamodb"
    checkpoint = tmp_path / "checkpoints.json"
    counts: Counter[str] = Counter()

    def handler(event: dict[str, Any], context: Any) -> None:
        counts.update(key_of(r) for r in event["Records"])

    def pump(server: DynamoDBLocal, table: Table) -> StreamPump:
        return StreamPump(handler, table_names=[table.name], endpoint=server.endpoint, checkpoint_path=str(checkpoint),
                          park=lambda record, error: None)

    with DynamoDBLocal(data_dir=data_dir) as server:
        table = Table(server.endpoint)
        table.put("before-1", "before-2")
        assert pump(server, table).drain() == 2
    assert (data_dir / "dynamodb-local.log").exists()

    with DynamoDBLocal(data_dir=data_dir) as server:
        table.client = boto3.client("dynamodb", endpoint_url=server.endpoint, region_name="us-east-1")
        assert table.client.describe_table(TableName=table.name)["Table"]["LatestStreamArn"] == table.stream_arn
        table.put("after")
        assert pump(server, table).drain() == 1
    assert counts == Counter({"before-1": 1, "before-2": 1, "after": 1})


# --- event filtering (the event source mapping's FilterCriteria) ---------------------------------------------------

WANTED_VALUE = [{"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": {"value": {"S": ["wanted"]}}}}]


def test_records_no_filter_matches_are_not_delivered_and_a_batch_of_them_invokes_nothing(
        table: Table, make_pump: Any, checkpoint: Path) -> None:
    table.put("a", "b", value="noise")
    handler = Recorder()
    pump = make_pump(handler, filters=WANTED_VALUE)

    assert pump.drain() == 2  # the checkpoint passed them
    assert handler.batches == [] and pump.stats.batches == 0 and pump.stats.filtered == 2

    table.put("c", value="wanted")
    table.put("d", value="noise")
    table.delete("c")  # a REMOVE has no new image: dropped
    assert pump.drain() == 3
    assert handler.delivered() == ["c"] and pump.stats.batches == 1 and pump.stats.filtered == 4
    assert make_pump(Recorder(), filters=WANTED_VALUE).drain() == 0  # the checkpoint is past the dropped ones


def test_a_failed_record_among_filtered_ones_comes_back_alone_with_what_follows_it(
        table: Table, make_pump: Any) -> None:
    table.put("n1", value="noise")
    table.put("w1", value="wanted")
    table.put("n2", value="noise")
    table.put("w2", value="wanted")
    handler = Recorder(fail=lambda record, call: key_of(record) == "w2" and call == 1)
    pump = make_pump(handler, filters=WANTED_VALUE)

    pump.drain()

    assert handler.keys_of(0) == ["w1", "w2"] and handler.keys_of(1) == ["w2"]
    assert pump.stats.failed_attempts == 1 and pump.stats.batches == 2
