"""Outgoing webhook subscriptions and their deliveries (E5): every DynamoDB call of services/webhooks_out.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.model import iso
from chalicelib.store import keys
from chalicelib.store.base import epoch, put_new, typed, update_if
from chalicelib.store.models import DeliveryItem, HookItem

KEEP_DELIVERIES = timedelta(days=14)


def put_hook(ws: str, hook_id: str, *, url: str, events: list[str], sealed: str, description: str,
             now: datetime) -> HookItem:
    pk, sk = keys.hook(ws, hook_id)
    item = typed(HookItem, pk, sk, workspace_id=ws, hook_id=hook_id, url=url, events=events, secret_sealed=sealed,
                 description=description, created_at=iso(now))
    item.save(condition=HookItem.pk.does_not_exist())
    return item


def list_hooks(ws: str) -> list[HookItem]:
    return list(HookItem.query(keys.hooks(ws), HookItem.sk.startswith("HOOK#")))


def get_hook(ws: str, hook_id: str) -> HookItem | None:
    pk, sk = keys.hook(ws, hook_id)
    try:
        return HookItem.get(pk, sk, consistent_read=True)
    except HookItem.DoesNotExist:
        return None


def update_hook(item: HookItem, actions: list[Any]) -> None:
    item.update(actions=actions, condition=HookItem.pk.exists())


def delete_hook(item: HookItem) -> None:
    item.delete()


def put_delivery(ws: str, hook_id: str, delivery_id: str, *, event: str, event_at: str, payload: str,
                 now: datetime) -> bool:
    """A new delivery, once per event and subscription (False: this event was queued before)."""
    pk, sk = keys.delivery(ws, hook_id, event_at, delivery_id)
    item = typed(DeliveryItem, pk, sk, workspace_id=ws, delivery_id=delivery_id, hook_id=hook_id, event=event,
                 payload=payload, state="pending", created_at=iso(now), expires_at=epoch(now + KEEP_DELIVERIES))
    return put_new(item)


def get_delivery(pk: str, sk: str) -> DeliveryItem | None:
    try:
        return DeliveryItem.get(pk, sk, consistent_read=True)
    except DeliveryItem.DoesNotExist:
        return None


def find_delivery(ws: str, hook_id: str, delivery_id: str, *, look_back: int = 500) -> DeliveryItem | None:
    pk, _ = keys.delivery(ws, hook_id, "", "")
    for item in DeliveryItem.query(pk, scan_index_forward=False, limit=look_back):
        if item.delivery_id == delivery_id:
            return item
    return None


def list_deliveries(ws: str, hook_id: str, *, limit: int) -> list[DeliveryItem]:
    pk, _ = keys.delivery(ws, hook_id, "", "")
    return list(DeliveryItem.query(pk, scan_index_forward=False, limit=limit))


def claim(item: DeliveryItem, *, now: datetime, lease: timedelta) -> bool:
    """pending / retrying -> sending, by one worker only (a delivered one is never sent again)."""
    free = DeliveryItem.lease.does_not_exist() | (DeliveryItem.lease < iso(now))
    return update_if(item, [DeliveryItem.state.set("sending"), DeliveryItem.lease.set(iso(now + lease))],
                     DeliveryItem.state.is_in("pending", "retrying") & free)


def record(item: DeliveryItem, actions: list[Any]) -> None:
    item.update(actions=[*actions, DeliveryItem.lease.remove()], condition=DeliveryItem.state == "sending")


def redeliver(item: DeliveryItem) -> bool:
    """An admin asks again: delivered or failed -> pending (the stream sends it)."""
    return update_if(item, [DeliveryItem.state.set("pending"), DeliveryItem.first_attempt_at.remove(),
                            DeliveryItem.next_attempt_at.remove()],
                     DeliveryItem.state.is_in("delivered", "failed", "cancelled"))
