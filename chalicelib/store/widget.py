"""Repository functions of the site-chat widget: visitor sessions, one-time WebSocket tickets, our own rate limits
(fixed windows counted with atomic conditional updates) and the per-conversation push sequence.

Every call is a key lookup or a conditional write on one item: no scans, no queries across visitors.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib.domain.model import InboundEvent, iso
from chalicelib.store import keys
from chalicelib.store.base import condition_failed, epoch
from chalicelib.store.models import (
    TYPE_OF,
    ContactItem,
    IdentityItem,
    InboundItem,
    RateWindowItem,
    VisitorItem,
    WidgetSeqItem,
    WidgetTicketItem,
)

# --- visitors ----------------------------------------------------------------------------------------------------


def put_visitor(ws: str, token_hash: str, *, now: datetime, idle: timedelta, **attrs: Any) -> VisitorItem:
    """A new visitor session (the token hash is random: a clash would be a bug, so it is refused)."""
    pk, sk = keys.visitor(ws, token_hash)
    item = VisitorItem(pk, sk, type=TYPE_OF[VisitorItem], workspace_id=ws, created_at=iso(now),
                       last_seen_at=iso(now), expires_at=epoch(now + idle), **attrs)
    item.save(condition=VisitorItem.pk.does_not_exist())
    return item


def get_visitor(ws: str, token_hash: str) -> VisitorItem | None:
    pk, sk = keys.visitor(ws, token_hash)
    try:
        return VisitorItem.get(pk, sk, consistent_read=True)
    except DoesNotExist:
        return None


def touch_visitor(item: VisitorItem, *, now: datetime, idle: timedelta) -> None:
    """Slide the idle expiry (the caller does it at most once a day per visitor)."""
    try:
        item.update(actions=[VisitorItem.last_seen_at.set(iso(now)), VisitorItem.expires_at.set(epoch(now + idle))],
                    condition=VisitorItem.pk.exists())
    except UpdateError as err:
        if not condition_failed(err):
            raise


def mark_started(item: VisitorItem) -> None:
    item.update(actions=[VisitorItem.started.set(True)], condition=VisitorItem.pk.exists())


def update_profile(item: VisitorItem, *, name: str | None, email: str | None) -> VisitorItem:
    actions: list[Any] = []
    if name is not None:
        actions.append(VisitorItem.name.set(name))
    if email is not None:
        actions.append(VisitorItem.email.set(email))
    if actions:
        item.update(actions=actions, condition=VisitorItem.pk.exists())
    return item


# --- one-time WebSocket tickets ------------------------------------------------------------------------------------


def put_ticket(ws: str, ticket_hash: str, *, visitor_id: str, channel_id: str, conversation_id: str, now: datetime,
               ttl: timedelta) -> None:
    pk, sk = keys.widget_ticket(ws, ticket_hash)
    WidgetTicketItem(pk, sk, type=TYPE_OF[WidgetTicketItem], workspace_id=ws, visitor_id=visitor_id,
                     channel_id=channel_id, conversation_id=conversation_id, created_at=iso(now),
                     expires_at=epoch(now + ttl)).save()


def use_ticket(ws: str, ticket_hash: str, *, now: datetime) -> WidgetTicketItem | None:
    """Spend a ticket: only the first use before it expires succeeds (conditional update)."""
    pk, sk = keys.widget_ticket(ws, ticket_hash)
    item = WidgetTicketItem(pk, sk)
    try:
        item.update(actions=[WidgetTicketItem.used_at.set(iso(now))],
                    condition=WidgetTicketItem.pk.exists() & WidgetTicketItem.used_at.does_not_exist()
                    & (WidgetTicketItem.expires_at > epoch(now)))
    except UpdateError as err:
        if condition_failed(err):
            return None
        raise
    return item


# --- our rate limits -----------------------------------------------------------------------------------------------


def count_request(ws: str, scope: str, subject: str, *, limit: int, window_seconds: int, now: datetime) -> int | None:
    """Count one request in the current fixed window. None: allowed; else the seconds until the window ends."""
    window = epoch(now) // window_seconds
    ends = (window + 1) * window_seconds
    pk, sk = keys.rate_window(ws, scope, subject, window)
    try:
        RateWindowItem(pk, sk).update(
            actions=[RateWindowItem.hits.add(1), RateWindowItem.type.set(TYPE_OF[RateWindowItem]),
                     RateWindowItem.workspace_id.set(ws), RateWindowItem.expires_at.set(ends + window_seconds)],
            condition=RateWindowItem.hits.does_not_exist() | (RateWindowItem.hits < limit),
        )
    except UpdateError as err:
        if condition_failed(err):
            return max(1, math.ceil(ends - now.timestamp()))
        raise
    return None


# --- push sequence ------------------------------------------------------------------------------------------------


def next_seq(ws: str, conversation_id: str) -> int:
    pk, sk = keys.widget_seq(ws, conversation_id)
    item = WidgetSeqItem(pk, sk)
    item.update(actions=[WidgetSeqItem.seq.add(1), WidgetSeqItem.type.set(TYPE_OF[WidgetSeqItem]),
                         WidgetSeqItem.workspace_id.set(ws)])
    return int(item.seq)


# --- what the widget reads of the shared entities ------------------------------------------------------------------


def get_inbound_event(dedupe_key: str) -> InboundEvent | None:
    """A stored inbound event by its dedupe key (a repeated `client_message_id` answers from it)."""
    pk, sk = keys.inbound(dedupe_key)
    try:
        return InboundEvent.from_json(InboundItem.get(pk, sk, consistent_read=True).event)
    except DoesNotExist:
        return None


def contact_of(ws: str, channel_id: str, external_user_id: str) -> str | None:
    pk, sk = keys.identity(ws, channel_id, external_user_id)
    try:
        return IdentityItem.get(pk, sk).contact_id
    except DoesNotExist:
        return None


def update_contact(ws: str, contact_id: str, *, name: str | None, email: str | None) -> bool:
    actions: list[Any] = []
    if name is not None:
        actions.append(ContactItem.display_name.set(name))
    if email is not None:
        actions.append(ContactItem.email.set(email))
    if not actions:
        return False
    pk, sk = keys.contact(ws, contact_id)
    try:
        ContactItem(pk, sk).update(actions=actions, condition=ContactItem.pk.exists())
    except UpdateError as err:
        if condition_failed(err):
            return False
        raise
    return True

