"""Poll DynamoDB Local streams and call the stream handler with Lambda-shaped batches, like an event source mapping.

Semantics copied from Lambda with ``ReportBatchItemFailures``:

- a batch is up to ``batch_size`` records of ONE shard, in sequence order;
- the handler answers ``{"batchItemFailures": [{"itemIdentifier": <SequenceNumber>}]}``; if it raises, or names a
  record that is not in the batch, the whole batch failed;
- the checkpoint advances to just before the first failed record; that record and everything after it come back in
  the next batch after an exponential backoff with jitter (records that had succeeded are delivered again, so
  handlers must be idempotent);
- with ``filters`` (the event source mapping's ``FilterCriteria`` patterns, chalicelib/services/stream_filter.py),
  records no filter matches are dropped before the handler is called, and a batch left empty calls nothing (Lambda
  event filtering: such records are neither delivered nor billed); the checkpoint moves past them all the same;
- after ``max_attempts`` failures of the same first-failed record, it is handed to ``park(record, error_text)`` (our
  on-failure destination) and the checkpoint moves past it.

Checkpoints (last fully processed SequenceNumber per shard, and the shards already finished) are saved atomically as
JSON after every batch, so a restart neither loses nor replays processed records. A child shard waits until its
parent is closed and read to the end. Record contents are never logged: they hold customers' messages.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.local.dynamodb import local_client
from chalicelib.services.stream_filter import passes

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], dict[str, Any] | None]
Park = Callable[[dict[str, Any], str], None]

CHECKPOINT_VERSION = 1
MAX_GET_RECORDS = 1000


@dataclass
class PumpStats:
    """Counters since the pump was built."""

    processed: int = 0
    failed_attempts: int = 0
    parked: int = 0
    batches: int = 0  # handler invocations
    filtered: int = 0  # records no filter matched (counted in `processed` too: the checkpoint passed them)


@dataclass
class _Shard:
    stream_arn: str
    shard_id: str
    parent_id: str | None
    ending_sequence: str | None
    iterator: str | None = None
    retry_at: float = 0.0
    end_reached: bool = False


@dataclass
class _Outcome:
    """What one handler call did to a batch: ``first_failed`` is an index into the batch, or None."""

    first_failed: int | None
    error: str = ""


def default_context() -> Any:
    """A Lambda context object like the one Chalice's local server passes."""
    from chalice.local import LambdaContext

    return LambdaContext(function_name="handle_stream", memory_size=1024, max_runtime_ms=900_000)


# --- record shape -------------------------------------------------------------------------------------------------


def lambda_record(raw: dict[str, Any], *, stream_arn: str, region: str) -> dict[str, Any]:
    """Turn a ``GetRecords`` record into the record Lambda puts in a DynamoDB Streams event."""
    source = raw["dynamodb"]
    image: dict[str, Any] = {"ApproximateCreationDateTime": _epoch(source.get("ApproximateCreationDateTime"))}
    for key in ("Keys", "NewImage", "OldImage"):
        if key in source:
            image[key] = _json_item(source[key])
    image["SequenceNumber"] = source["SequenceNumber"]
    image["SizeBytes"] = source.get("SizeBytes", 0)
    image["StreamViewType"] = source.get("StreamViewType", "NEW_AND_OLD_IMAGES")
    record: dict[str, Any] = {
        "eventID": raw.get("eventID", ""),
        "eventName": raw.get("eventName", ""),
        "eventVersion": raw.get("eventVersion", "1.1"),
        "eventSource": raw.get("eventSource", "aws:dynamodb"),
        "awsRegion": region,
        "dynamodb": image,
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in raw:
        record["userIdentity"] = raw["userIdentity"]
    return record


def _epoch(value: Any) -> int | float:
    if isinstance(value, dt.datetime):
        seconds = value.timestamp()
        return int(seconds) if seconds.is_integer() else seconds
    if isinstance(value, int | float):
        return value
    return int(time.time())


def _json_item(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _json_value(value) for name, value in item.items()}


def _json_value(value: dict[str, Any]) -> dict[str, Any]:
    """AttributeValue as it appears in Lambda's JSON event: binary values base64-encoded."""
    if not value:  # DynamoDB Local's stream gives an empty map ({"M": {}}) as {}: restore what AWS sends
        return {"M": {}}
    (kind, inner), = value.items()
    if kind == "B":
        return {"B": _b64(inner)}
    if kind == "BS":
        return {"BS": [_b64(part) for part in inner]}
    if kind == "M":
        return {"M": _json_item(inner)}
    if kind == "L":
        return {"L": [_json_value(part) for part in inner]}
    return {kind: inner}


def _b64(data: bytes | str) -> str:
    return base64.b64encode(data).decode("ascii") if isinstance(data, bytes) else data


def _sequence(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def outcome_of(result: Any, records: list[dict[str, Any]]) -> _Outcome:
    """Read the handler's answer the way Lambda does with ``ReportBatchItemFailures``."""
    if not isinstance(result, dict) or not result.get("batchItemFailures"):
        return _Outcome(None)
    index = {_sequence(record): i for i, record in enumerate(records)}
    failed: list[int] = []
    for failure in result["batchItemFailures"]:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if identifier not in index:
            return _Outcome(0, "batchItemFailures names an itemIdentifier that is not in the batch")
        failed.append(index[identifier])
    return _Outcome(min(failed), "reported in batchItemFailures")


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """``base * 2**(attempt-1)`` capped at ``cap``, with "equal jitter" (between half and all of it)."""
    delay = min(cap, base * 2.0 ** max(0, attempt - 1))
    return delay / 2 + random.uniform(0, delay / 2)


# --- checkpoints ----------------------------------------------------------------------------------------------------


class CheckpointStore:
    """Per stream: the last fully processed SequenceNumber of each shard, and the shards read to their end."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._streams: dict[str, dict[str, Any]] = self._load()

    def sequence(self, stream_arn: str, shard_id: str) -> str | None:
        sequence = self._stream(stream_arn)["sequences"].get(shard_id)
        return None if sequence is None else str(sequence)

    def is_finished(self, stream_arn: str, shard_id: str) -> bool:
        return shard_id in self._stream(stream_arn)["finished"]

    def advance(self, stream_arn: str, shard_id: str, sequence: str) -> None:
        self._stream(stream_arn)["sequences"][shard_id] = sequence

    def finish(self, stream_arn: str, shard_id: str) -> None:
        stream = self._stream(stream_arn)
        if shard_id not in stream["finished"]:
            stream["finished"].append(shard_id)
        stream["sequences"].pop(shard_id, None)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        payload = {"version": CHECKPOINT_VERSION, "streams": self._streams}
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def _stream(self, stream_arn: str) -> dict[str, Any]:
        return self._streams.setdefault(stream_arn, {"sequences": {}, "finished": []})

    def _load(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        try:
            payload = json.loads(self.path.read_text(encoding="utf-8"))
            streams = payload["streams"]
        except (ValueError, KeyError, TypeError) as exc:
            message = f"stream checkpoint file {self.path} is unreadable ({exc}); delete it to start over"
            raise RuntimeError(message) from exc
        return {arn: {"sequences": dict(s.get("sequences", {})), "finished": list(s.get("finished", []))}
                for arn, s in streams.items()}


# --- the pump -------------------------------------------------------------------------------------------------------


class StreamPump:
    """Read the streams of ``table_names`` and call ``handler`` like Lambda's event source mapping."""

    def __init__(
        self,
        handler: Handler,
        *,
        table_names: list[str],
        endpoint: str,
        checkpoint_path: str | os.PathLike[str],
        park: Park,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        poll_interval: float = 0.2,
        batch_size: int = 100,
        region: str = "us-east-1",
        context_factory: Callable[[], Any] | None = None,
        describe_interval: float = 5.0,
        dynamodb_client: Any = None,
        streams_client: Any = None,
        filters: list[dict[str, Any]] | None = None,
    ) -> None:
        if not 1 <= batch_size <= MAX_GET_RECORDS:
            raise ValueError(f"batch_size must be between 1 and {MAX_GET_RECORDS}")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.handler = handler
        self.table_names = list(table_names)
        self.park = park
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.region = region
        self.describe_interval = describe_interval
        self.filters = None if filters is None else list(filters)
        self._context_factory = context_factory or default_context
        self._ddb = dynamodb_client or local_client(endpoint, "dynamodb", region)
        self._streams = streams_client or local_client(endpoint, "dynamodbstreams", region)
        self._checkpoints = CheckpointStore(checkpoint_path)
        self._shards: dict[tuple[str, str], _Shard] = {}
        self._attempts: dict[tuple[str, str, str], int] = {}
        self._stats = PumpStats()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # public API

    @property
    def stats(self) -> PumpStats:
        return replace(self._stats)

    @property
    def running(self) -> bool:
        """True while the background thread polls and no stop was asked for."""
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def drain(self, timeout: float = 10.0) -> int:
        """Process until no shard has records left (waiting out retries); return how many records were processed."""
        deadline = time.monotonic() + timeout
        before = self._stats.processed
        with self._lock:
            self._refresh()
            while True:
                progressed, next_retry = self._pass()
                if progressed:
                    pass
                elif next_retry is not None:
                    time.sleep(max(0.0, min(next_retry, deadline) - time.monotonic()))
                elif not self._refresh():
                    break
                if time.monotonic() > deadline:
                    logger.warning("stream pump drain stopped after %.1f s with work left", timeout)
                    break
            return self._stats.processed - before

    def start(self) -> None:
        """Poll in a daemon thread until ``stop()``."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="stream-pump", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the batch in progress (its checkpoint is saved)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("stream pump thread did not stop within %.0f s", timeout)
            self._thread = None

    # background loop

    def _run(self) -> None:
        next_refresh = 0.0
        failures = 0
        while not self._stop.is_set():
            try:
                with self._lock:
                    if time.monotonic() >= next_refresh:
                        self._refresh()
                        next_refresh = time.monotonic() + self.describe_interval
                    progressed, _ = self._pass(self._stop)
                failures = 0
            except Exception:  # the pump must outlive a DynamoDB Local hiccup
                failures += 1
                logger.exception("stream pump poll failed")
                self._stop.wait(backoff_delay(failures, 1.0, self.backoff_max))
                continue
            if not progressed:
                self._stop.wait(self.poll_interval)

    # shard discovery

    def _refresh(self) -> bool:
        """Re-describe the streams; return True when shards were added."""
        arns = set(self._stream_arns())
        for key in [key for key in self._shards if key[0] not in arns]:
            del self._shards[key]
        added = False
        for arn in sorted(arns):
            for description in self._describe_shards(arn):
                added |= self._track(arn, description)
        return added

    def _stream_arns(self) -> Iterator[str]:
        for name in self.table_names:
            try:
                table = self._ddb.describe_table(TableName=name)["Table"]
            except ClientError as exc:
                if _code(exc) != "ResourceNotFoundException":
                    raise
                logger.debug("table %s does not exist (yet)", name)
                continue
            arn = table.get("LatestStreamArn")
            if arn and table.get("StreamSpecification", {}).get("StreamEnabled", True):
                yield arn

    def _describe_shards(self, arn: str) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {"StreamArn": arn}
        while True:
            try:
                description = self._streams.describe_stream(**kwargs)["StreamDescription"]
            except ClientError as exc:
                if _code(exc) != "ResourceNotFoundException":
                    raise
                return
            yield from description.get("Shards", [])
            last = description.get("LastEvaluatedShardId")
            if not last:
                return
            kwargs["ExclusiveStartShardId"] = last

    def _track(self, arn: str, description: dict[str, Any]) -> bool:
        shard_id = description["ShardId"]
        key = (arn, shard_id)
        ending = description.get("SequenceNumberRange", {}).get("EndingSequenceNumber")
        if key in self._shards:
            self._shards[key].ending_sequence = ending
            return False
        if self._checkpoints.is_finished(arn, shard_id):
            return False
        self._shards[key] = _Shard(arn, shard_id, description.get("ParentShardId"), ending)
        return True

    # one pass over the shards

    def _pass(self, stop: threading.Event | None = None) -> tuple[bool, float | None]:
        """One batch from every ready shard. Returns (anything happened, earliest retry time of a waiting shard)."""
        progressed = False
        next_retry: float | None = None
        for shard in list(self._shards.values()):
            if stop is not None and stop.is_set():
                break
            if not self._parent_done(shard):
                continue
            if shard.retry_at > time.monotonic():
                next_retry = shard.retry_at if next_retry is None else min(next_retry, shard.retry_at)
                continue
            progressed |= self._poll(shard)
        return progressed, next_retry

    def _parent_done(self, shard: _Shard) -> bool:
        return shard.parent_id is None or (shard.stream_arn, shard.parent_id) not in self._shards

    def _poll(self, shard: _Shard) -> bool:
        raw = self._read(shard)
        if raw is None:
            return False
        if raw:
            self._deliver(shard, raw)
            return True
        if shard.end_reached or self._read_to_end(shard):
            self._finish(shard)
            return True
        return False

    def _read(self, shard: _Shard) -> list[dict[str, Any]] | None:
        """The next records of the shard (None when the shard vanished)."""
        for _ in range(2):
            if shard.iterator is None:
                shard.iterator = self._iterator(shard)
                if shard.iterator is None:
                    return None
            try:
                page = self._streams.get_records(ShardIterator=shard.iterator, Limit=self.batch_size)
            except ClientError as exc:
                if _code(exc) == "ExpiredIteratorException":
                    logger.info("shard iterator of %s expired; re-creating it from the checkpoint", shard.shard_id)
                    shard.iterator = None
                    continue
                if _code(exc) in ("ResourceNotFoundException", "TrimmedDataAccessException"):
                    logger.warning("shard %s is gone (%s); forgetting it", shard.shard_id, _code(exc))
                    self._shards.pop((shard.stream_arn, shard.shard_id), None)
                    return None
                raise
            shard.iterator = page.get("NextShardIterator")
            shard.end_reached = shard.iterator is None
            return list(page.get("Records", []))
        return None

    def _iterator(self, shard: _Shard) -> str | None:
        checkpoint = self._checkpoints.sequence(shard.stream_arn, shard.shard_id)
        kwargs: dict[str, Any] = {"StreamArn": shard.stream_arn, "ShardId": shard.shard_id}
        if checkpoint is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=checkpoint)
        try:
            return str(self._streams.get_shard_iterator(**kwargs)["ShardIterator"])
        except ClientError as exc:
            if _code(exc) == "TrimmedDataAccessException" and checkpoint is not None:
                logger.warning("checkpoint of shard %s is older than the stream keeps; reading from the oldest record",
                               shard.shard_id)
                kwargs = {"StreamArn": shard.stream_arn, "ShardId": shard.shard_id, "ShardIteratorType": "TRIM_HORIZON"}
                return str(self._streams.get_shard_iterator(**kwargs)["ShardIterator"])
            if _code(exc) == "ResourceNotFoundException":
                logger.warning("shard %s no longer exists; forgetting it", shard.shard_id)
                self._shards.pop((shard.stream_arn, shard.shard_id), None)
                return None
            raise

    def _read_to_end(self, shard: _Shard) -> bool:
        checkpoint = self._checkpoints.sequence(shard.stream_arn, shard.shard_id)
        return shard.ending_sequence is not None and checkpoint is not None and int(checkpoint) >= int(
            shard.ending_sequence
        )

    def _finish(self, shard: _Shard) -> None:
        logger.info("shard %s is closed and fully processed", shard.shard_id)
        self._shards.pop((shard.stream_arn, shard.shard_id), None)
        self._checkpoints.finish(shard.stream_arn, shard.shard_id)
        self._checkpoints.save()

    # delivery

    def _deliver(self, shard: _Shard, raw: list[dict[str, Any]]) -> None:
        every = [lambda_record(r, stream_arn=shard.stream_arn, region=self.region) for r in raw]
        records = every if self.filters is None else [r for r in every if passes(self.filters, r)]
        self._stats.filtered += len(every) - len(records)
        outcome = self._invoke(records, shard) if records else _Outcome(None)
        self._stats.batches += bool(records)
        if outcome.first_failed is None:  # the checkpoint passes the filtered records at the end too
            self._advance(shard, _sequence(every[-1]))
            self._stats.processed += len(every)
        else:
            before = every.index(records[outcome.first_failed])
            if before:
                self._advance(shard, _sequence(every[before - 1]))
                self._stats.processed += before
        if outcome.first_failed is None:
            if shard.end_reached:
                self._finish(shard)
            else:
                self._checkpoints.save()
            return
        self._fail(shard, records[outcome.first_failed], outcome.error)
        self._checkpoints.save()

    def _invoke(self, records: list[dict[str, Any]], shard: _Shard) -> _Outcome:
        try:
            result = self.handler({"Records": records}, self._context_factory())
        except Exception as exc:  # a raising handler fails the batch, as in Lambda
            logger.warning("stream handler raised %s on a batch of %d records from shard %s",
                           type(exc).__name__, len(records), shard.shard_id, exc_info=True)
            return _Outcome(0, f"{type(exc).__name__}: {exc}")
        return outcome_of(result, records)

    def _advance(self, shard: _Shard, sequence: str) -> None:
        self._checkpoints.advance(shard.stream_arn, shard.shard_id, sequence)
        done = int(sequence)
        for key in [k for k in self._attempts if k[:2] == (shard.stream_arn, shard.shard_id) and int(k[2]) <= done]:
            del self._attempts[key]

    def _fail(self, shard: _Shard, record: dict[str, Any], error: str) -> None:
        sequence = _sequence(record)
        key = (shard.stream_arn, shard.shard_id, sequence)
        attempt = self._attempts.get(key, 0) + 1
        self._attempts[key] = attempt
        self._stats.failed_attempts += 1
        shard.iterator = None
        shard.end_reached = False
        if attempt >= self.max_attempts and self._park(record, error, shard):
            self._advance(shard, sequence)
            return
        delay = backoff_delay(attempt, self.backoff_base, self.backoff_max)
        shard.retry_at = time.monotonic() + delay
        logger.warning("record %s of shard %s failed (attempt %d of %d); retrying in %.2f s",
                       sequence, shard.shard_id, attempt, self.max_attempts, delay)

    def _park(self, record: dict[str, Any], error: str, shard: _Shard) -> bool:
        try:
            self.park(record, error)
        except Exception:  # keep the record in the stream rather than lose it
            logger.exception("parking record %s of shard %s failed; it stays in the stream",
                             _sequence(record), shard.shard_id)
            return False
        self._stats.parked += 1
        logger.error("record %s of shard %s failed %d times and was parked",
                     _sequence(record), shard.shard_id, self.max_attempts)
        return True


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextlib.contextmanager
def running(pump: StreamPump) -> Iterator[StreamPump]:
    """``with running(pump):`` polls in the background for the duration of the block."""
    pump.start()
    try:
        yield pump
    finally:
        pump.stop()
