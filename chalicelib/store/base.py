"""Small helpers every repository module shares: typed items, pynamodb's condition failures, transactions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import QueryError, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import safejson
from chalicelib.store.models import TYPE_OF, MainItem


def typed(cls: type[MainItem], pk: str, sk: str, **attrs: Any) -> Any:
    """A main-table item with its `type` set (the stream decodes images by it)."""
    return cls(pk, sk, type=TYPE_OF[cls], **attrs)


def condition_failed(err: Exception) -> bool:
    """A PutError / UpdateError / DeleteError caused by a failed condition (a retry, a race lost)."""
    return getattr(err, "cause_response_code", None) == "ConditionalCheckFailedException"


def cancel_codes(err: TransactWriteError) -> list[str | None]:
    """Why each item of a cancelled transaction failed, in the order the items were added."""
    return [r.code if r else None for r in err.cancellation_reasons]


def connection() -> Connection:
    """The low-level connection transactions need (the main table's)."""
    return MainItem._get_connection().connection


def epoch(when: datetime) -> int:
    return int(when.timestamp())


def start_key(cursor: str | None) -> dict[str, Any] | None:
    """A page cursor (a `last_evaluated_key` we handed out) back to a key; ValueError for one we did not make."""
    if not cursor:
        return None
    value = safejson.loads(cursor)
    if not isinstance(value, dict) or not 0 < len(value) <= 6 or not all(
            isinstance(v, dict) and len(v) == 1 and set(v) <= {"S", "N"} and all(isinstance(x, str) for x in v.values())
            for v in value.values()):
        raise ValueError("not a cursor of ours")
    return value


def page_items(result: Any, start: dict[str, Any] | None) -> list[Any]:
    """Read one query page; a cursor whose key names are not this index's is ValueError (400), not a 500."""
    return list(lazily(result, start))


def lazily(result: Any, start: dict[str, Any] | None) -> Iterator[Any]:
    """Iterate a query as it is consumed, page by page (for a caller that stops early), with `page_items`'s
    ValueError for a foreign cursor."""
    try:
        yield from result
    except QueryError as err:
        if start is not None and "ValidationException" in str(err):
            raise ValueError("not a cursor of this list") from err
        raise


_UNREACHABLE = ("EndpointConnectionError", "ConnectionClosedError", "ReadTimeoutError", "ConnectTimeoutError",
                "ConnectionError")
_RETRYABLE_CODES = ("ServiceUnavailable", "InternalServerError", "ThrottlingException", "RequestLimitExceeded",
                    "ProvisionedThroughputExceededException")


def store_unavailable(exc: BaseException) -> bool:
    """True when `exc` (or what caused it) is DynamoDB out of reach or refusing for load: retry, nothing was lost."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if type(seen).__name__ in _UNREACHABLE:
            return True
        response = getattr(seen, "response", None)
        if isinstance(response, dict) and (response.get("Error") or {}).get("Code") in _RETRYABLE_CODES:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def put_new(item: MainItem) -> bool:
    """Save an item unless its key exists: False when it does (a retry, a race lost, a replayed record)."""
    from pynamodb.exceptions import PutError

    try:
        item.save(condition=type(item).pk.does_not_exist())
        return True
    except PutError as err:
        if condition_failed(err):
            return False
        raise


def update_if(item: MainItem, actions: list[Any], condition: Any) -> bool:
    """Update under a condition: False when it does not hold (another worker got there first)."""
    from pynamodb.exceptions import UpdateError

    try:
        item.update(actions=actions, condition=condition)
        return True
    except UpdateError as err:
        if condition_failed(err):
            return False
        raise


def transact_if(build: Callable[[TransactWrite], None]) -> bool:
    """Run a transaction; False when one of its conditions fails (a race lost, a retry), instead of raising."""
    try:
        with TransactWrite(connection=connection()) as tx:
            build(tx)
        return True
    except TransactWriteError as err:
        if "ConditionalCheckFailed" in cancel_codes(err):
            return False
        raise
