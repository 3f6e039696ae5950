"""The DynamoDB Streams handler: Powertools batch processing with partial failures.

Registered on the app in `app.py` (not through a Blueprint): Lambda then imports `app`, so the handler runs
with the app's logger middleware.

Side effects are idempotent (conditional writes; Powertools idempotency around provider calls), because a
stream checkpoints at the lowest failed record and successful records come back (Powertools batch docs).
Bad input and permanent errors are logged and skipped so a poison record cannot block the shard.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from chalicelib.errors import InvalidInput, PermanentError
from chalicelib.observability import logger
from chalicelib.services import analytics, search
from chalicelib.services.changes import handle_change
from chalicelib.services.deps import deps
from chalicelib.store import repo

# Chalice needs an ARN at declaration; infra/ replaces it with the table's real stream (DEPLOY-NOTES §2).
STREAM_ARN = os.environ.get(
    "MAIN_TABLE_STREAM_ARN", "arn:aws:dynamodb:us-east-1:000000000000:table/zabota-main/stream/placeholder")

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord


@lru_cache(maxsize=1)
def _processor() -> Any:
    """Built on the first batch: Powertools' batch utilities (and asyncio) stay off every other cold start."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

    return BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> None:
    raw = record.raw_event
    data = raw.get("dynamodb", {})
    new = repo.decode(data["NewImage"]) if data.get("NewImage") else None
    old = repo.decode(data["OldImage"]) if data.get("OldImage") else None
    if new is None:  # REMOVE (TTL expiry, deletes): only the search index follows
        if old is not None:
            search.on_remove(deps(), old)
        return
    correlation = getattr(new, "correlation_id", "") or data.get("SequenceNumber", "")
    logger.set_correlation_id(correlation)
    try:
        handle_change(deps(), raw.get("eventName", ""), new, old)
    except (InvalidInput, PermanentError) as err:
        logger.warning("record skipped", extra={"code": err.code, "sequence": data.get("SequenceNumber")})


def handle_stream(event: Any) -> dict[str, Any]:
    d = deps()
    d.lambda_context = event.context
    from aws_lambda_powertools.utilities.batch import process_partial_response

    raw = event.to_dict()
    with d.live.batched():  # one push per console for the whole batch (best effort: never fails the batch)
        response = process_partial_response(event=raw, record_handler=record_handler, processor=_processor(),
                                            context=event.context)
        # last, once per batch: the search segments (one per workspace; if writing one fails, the batch is retried
        # whole: every side effect is idempotent), then the counts of what will not come back: nothing after them
        # can fail the batch, so a retried batch is one that did not count (store/analytics.py: the counts of a
        # batch that comes back after they were written are found by their keys)
        analytics.count_batch(d, raw.get("Records") or [], response)
    return response
