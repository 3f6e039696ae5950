"""Notifications of users (D3): every DynamoDB call of the bell and the notification e-mails."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.model import iso
from chalicelib.store import keys
from chalicelib.store.base import epoch, put_new, typed, update_if
from chalicelib.store.models import NotificationItem, plain

KEEP = timedelta(days=60)
UNREAD_CAP = 100  # the bell says 99+ above this; counting stops there


def put(ws: str, user_id: str, notification_id: str, *, kind: str, title: str, body: str, link: dict[str, str],
        actor: str | None, console: bool, email_state: str | None, now: datetime, text_key: str | None = None,
        params: dict[str, str] | None = None) -> bool:
    """Store a notification once: False when one with this id (the same event) exists."""
    pk, sk = keys.notification(ws, user_id, notification_id)
    at = iso(now)
    item = typed(NotificationItem, pk, sk, workspace_id=ws, notification_id=notification_id, user_id=user_id,
                 kind=kind, title=title, body=body, link=link, actor=actor, console=console,
                 email_state=email_state, created_at=at, expires_at=epoch(now + KEEP), text_key=text_key,
                 params=dict(params or {}))
    if console:
        item.gsi1pk, item.gsi1sk = keys.notifications_of(ws, user_id), f"{at}#{notification_id}"
        item.gsi2pk, item.gsi2sk = keys.unread_of(ws, user_id), f"{at}#{notification_id}"
    return put_new(item)


def list_of(ws: str, user_id: str, *, limit: int, before: str | None = None) -> list[NotificationItem]:
    cond = NotificationItem.gsi1sk < before if before else None
    return list(NotificationItem.gsi1.query(keys.notifications_of(ws, user_id), cond, scan_index_forward=False,
                                            limit=limit))


def unread_count(ws: str, user_id: str) -> int:
    return int(NotificationItem.gsi2.count(keys.unread_of(ws, user_id), limit=UNREAD_CAP))


def unread(ws: str, user_id: str, *, limit: int = 500) -> list[NotificationItem]:
    return list(NotificationItem.gsi2.query(keys.unread_of(ws, user_id), limit=limit))


def get(ws: str, user_id: str, notification_id: str) -> NotificationItem | None:
    pk, sk = keys.notification(ws, user_id, notification_id)
    try:
        return NotificationItem.get(pk, sk)
    except NotificationItem.DoesNotExist:
        return None


def mark_read(item: NotificationItem, *, now: datetime) -> bool:
    """Leave the unread index; False when it was read already (or is gone)."""
    return update_if(item, [NotificationItem.read_at.set(iso(now)), NotificationItem.gsi2pk.remove(),
                            NotificationItem.gsi2sk.remove()],
                     NotificationItem.pk.exists() & NotificationItem.read_at.does_not_exist())


def move_email(item: NotificationItem, from_state: str, to_state: str) -> bool:
    """Compare-and-set the e-mail state (pending -> sending -> sent): of two workers one wins."""
    return update_if(item, [NotificationItem.email_state.set(to_state)], NotificationItem.email_state == from_state)


def held(ws: str, user_id: str, *, limit: int = 200) -> list[NotificationItem]:
    """E-mails waiting for a user's digest (or for their quiet hours to end), oldest first."""
    pk, _ = keys.notification(ws, user_id, "")
    return list(NotificationItem.query(pk, NotificationItem.sk.startswith("N#"),
                                       filter_condition=NotificationItem.email_state == "held", limit=limit))


def as_json(item: NotificationItem) -> dict[str, Any]:
    return {"id": item.notification_id, "kind": item.kind, "title": item.title, "body": item.body,
            "link": plain(item.link), "actor": item.actor, "created_at": item.created_at,
            "read": item.read_at is not None, "text_key": item.text_key, "params": plain(item.params)}
