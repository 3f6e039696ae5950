"""Small helpers every repository module shares: typed items, pynamodb's condition failures, transactions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError

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
