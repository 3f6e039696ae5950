"""Outgoing webhooks (E5): the workspace's systems hear of conversations and messages, signed and retried.

From the stream: a change that is an event (`events_of`) becomes one delivery item per subscription that wants it,
keyed by the event (a replayed record queues nothing new). The delivery's INSERT comes back through the stream
and is sent at once; a failure is retried by a timer with exponential backoff and full jitter for up to 24 h,
then the delivery is failed. Five deliveries in a row failed that way switch the subscription off and tell the
workspace's admins. Each attempt leases the delivery first, so two workers never send it together, and a
delivered one is never sent again; receivers still dedupe on `Zabota-Delivery` (a worker that dies after the
POST but before recording it sends that delivery once more).
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any

from chalicelib.api.serialize import conversation_json, message_json
from chalicelib.auth.keys import Principal
from chalicelib.domain import webhooks_out as rules
from chalicelib.domain.model import iso, parse_iso, stable_hash
from chalicelib.errors import InvalidInput, NotFound, Unprocessable
from chalicelib.observability import logger
from chalicelib.services import notifications, timers
from chalicelib.services.deps import Deps
from chalicelib.store import hooks as store
from chalicelib.store import team
from chalicelib.store.models import ConversationItem, DeliveryItem, HookItem, MainItem, MessageItem, TimerItem, plain
from chalicelib.store.secrets import box
from chalicelib.warm import WarmCache

MAX_HOOKS = 20
LEASE = timedelta(seconds=60)
TIMEOUT = (3.05, 10.0)  # connect, read
USER_AGENT = "Zabota-Webhooks/1"
_cache: WarmCache[list[HookItem]] = WarmCache(10.0)


# --- subscriptions ---------------------------------------------------------------------------------------------


def _check(d: Deps, url: object) -> str:
    try:
        return rules.check_url(url, allow_http=d.settings.embedded, allow_loopback=d.settings.embedded)
    except rules.RefusedUrl as err:
        raise Unprocessable(str(err), code="url_refused") from err


def _events(value: object) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(e, str) for e in value):
        raise InvalidInput(f"events is a list of: {', '.join(rules.EVENTS)}")
    unknown = [e for e in value if e not in rules.EVENTS]
    if unknown:
        raise InvalidInput(f"unknown events {', '.join(unknown)}; events are {', '.join(rules.EVENTS)}")
    return list(dict.fromkeys(value))


def create(d: Deps, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    ws = principal.workspace_id
    if len(store.list_hooks(ws)) >= MAX_HOOKS:
        raise InvalidInput(f"a workspace has up to {MAX_HOOKS} webhooks")
    url = _check(d, body.get("url"))
    events = _events(body.get("events"))
    description = body.get("description", "")
    if not isinstance(description, str) or len(description) > 200:
        raise InvalidInput("description is up to 200 characters")
    hook_id = f"wh_{secrets.token_hex(6)}"
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    item = store.put_hook(ws, hook_id, url=url, events=events, sealed=box().seal({"secret": secret}, context=hook_id),
                          description=description.strip(), now=d.now())
    _cache.forget(ws)
    return {**hook_json(item), "secret": secret}  # shown once: never again


def update(d: Deps, principal: Principal, hook_id: str, body: dict[str, Any]) -> dict[str, Any]:
    item = require(principal.workspace_id, hook_id)
    actions: list[Any] = []
    if "url" in body:
        actions.append(HookItem.url.set(_check(d, body["url"])))
    if "events" in body:
        actions.append(HookItem.events.set(_events(body["events"])))
    if "enabled" in body:
        if not isinstance(body["enabled"], bool):
            raise InvalidInput("enabled is true or false")
        actions.append(HookItem.enabled.set(body["enabled"]))
        if body["enabled"]:
            actions += [HookItem.disabled_reason.remove(), HookItem.failed_in_a_row.set(0)]
    if not actions:
        raise InvalidInput("send url, events and/or enabled")
    store.update_hook(item, actions)
    _cache.forget(principal.workspace_id)
    return hook_json(require(principal.workspace_id, hook_id))


def remove(principal: Principal, hook_id: str) -> None:
    store.delete_hook(require(principal.workspace_id, hook_id))
    _cache.forget(principal.workspace_id)


def require(ws: str, hook_id: str) -> HookItem:
    item = store.get_hook(ws, hook_id) if hook_id.startswith("wh_") and len(hook_id) < 40 else None
    if item is None:
        raise NotFound(f"no webhook {hook_id}")
    return item


def hook_json(item: HookItem) -> dict[str, Any]:
    return {"id": item.hook_id, "url": item.url, "events": list(item.events or []), "description": item.description,
            "enabled": bool(item.enabled), "disabled_reason": item.disabled_reason,
            "failed_in_a_row": int(item.failed_in_a_row or 0), "created_at": item.created_at}


def delivery_json(item: DeliveryItem) -> dict[str, Any]:
    return {"id": item.delivery_id, "event": item.event, "state": item.state, "attempts": int(item.attempts or 0),
            "created_at": item.created_at, "last_attempt_at": item.last_attempt_at,
            "next_attempt_at": item.next_attempt_at, "last_status": None if item.last_status is None
            else int(item.last_status), "last_error": item.last_error, "delivered_at": item.delivered_at}


def subscriptions(ws: str) -> list[HookItem]:
    """Enabled subscriptions of a workspace; a warm Lambda keeps them 10 s (read once per message otherwise)."""
    return _cache.get(ws, lambda: [h for h in store.list_hooks(ws) if h.enabled])


# --- events from the stream ------------------------------------------------------------------------------------


def events_of(event_name: str, new: MainItem, old: MainItem | None) -> list[tuple[str, str, str]]:
    """(event, stable key, event time) of one change."""
    out: list[tuple[str, str, str]] = []
    if isinstance(new, ConversationItem):
        before = old if isinstance(old, ConversationItem) else None
        cid = new.conversation_id
        if event_name == "INSERT":
            out.append(("conversation.created", cid, new.created_at or new.last_activity_at))
        elif before is not None:
            if new.status == "closed" and before.status != "closed":
                out.append(("conversation.closed", f"{cid}#{new.closed_at}", new.closed_at or new.last_activity_at))
            if new.assignee_id and new.assignee_id != before.assignee_id:
                out.append(("conversation.assigned", f"{cid}#{new.assignee_id}#{new.changed_at}",
                            new.changed_at or new.last_activity_at))
            if new.sla_breach_since and new.sla_breach_since != before.sla_breach_since:
                out.append(("sla.breached", f"{cid}#{new.sla_breach_since}", new.sla_breached_at or ""))
    elif isinstance(new, MessageItem):
        before_m = old if isinstance(old, MessageItem) else None
        at = new.created_at or ""
        if event_name == "INSERT" and new.direction == "in":
            out.append(("message.received", new.message_id, at))
        elif new.direction == "out" and before_m is not None and new.status != before_m.status:
            if new.status == "sent":
                out.append(("message.sent", f"{new.message_id}#{new.generation}", new.sent_at or at))
            elif new.status == "failed":
                out.append(("message.failed", f"{new.message_id}#{new.generation}", at))
    return out


def on_change(d: Deps, event_name: str, new: MainItem, old: MainItem | None) -> int:
    ws = new.workspace_id or ""
    found = events_of(event_name, new, old) if ws else []
    if not found:
        return 0
    hooks = subscriptions(ws)
    queued = 0
    for event, key, at in found:
        wanted = [h for h in hooks if event in (h.events or [])]
        if not wanted:
            continue
        data = _data(d, new)
        for h in wanted:
            delivery_id = f"dl_{stable_hash(h.hook_id, event, key, length=20)}"
            body = json.dumps({"id": delivery_id, "type": event, "created_at": at, "workspace_id": ws, "data": data},
                              ensure_ascii=False, separators=(",", ":"))
            if store.put_delivery(ws, h.hook_id, delivery_id, event=event, event_at=at or iso(d.now()), payload=body,
                                  now=d.now()):
                queued += 1
    return queued


def _data(d: Deps, item: MainItem) -> dict[str, Any]:
    if isinstance(item, ConversationItem):
        return {"conversation": conversation_json(item)}
    assert isinstance(item, MessageItem)
    return {"message": message_json(item, d.files)}


def ping(d: Deps, principal: Principal, hook_id: str) -> dict[str, Any]:
    item = require(principal.workspace_id, hook_id)
    now = d.now()
    delivery_id = f"dl_{secrets.token_hex(10)}"
    body = json.dumps({"id": delivery_id, "type": "ping", "created_at": iso(now), "workspace_id": item.workspace_id,
                       "data": {"hook_id": hook_id}}, separators=(",", ":"))
    store.put_delivery(principal.workspace_id, hook_id, delivery_id, event="ping", event_at=iso(now), payload=body,
                       now=now)
    return {"id": delivery_id, "state": "pending"}


# --- sending ---------------------------------------------------------------------------------------------------


def needs_sending(new: DeliveryItem, old: DeliveryItem | None) -> bool:
    return new.state == "pending" and (old is None or old.state != "pending")


def send(d: Deps, delivery: DeliveryItem) -> str:
    """One attempt; returns the state it leaves the delivery in."""
    ws = delivery.workspace_id or ""
    now = d.now()
    if not store.claim(delivery, now=now, lease=LEASE):
        return "busy"
    hook = store.get_hook(ws, delivery.hook_id)
    if hook is None or not hook.enabled:
        store.record(delivery, [DeliveryItem.state.set("cancelled"),
                                DeliveryItem.last_error.set("the webhook was removed or switched off")])
        return "cancelled"
    first = delivery.first_attempt_at or iso(now)
    attempts = int(delivery.attempts or 0) + 1
    status, error = _post(d, hook, delivery)
    done = [DeliveryItem.attempts.set(attempts), DeliveryItem.first_attempt_at.set(first),
            DeliveryItem.last_attempt_at.set(iso(now))]
    done.append(DeliveryItem.last_status.set(status) if status is not None else DeliveryItem.last_status.remove())
    if status is not None and 200 <= status < 300:
        store.record(delivery, [*done, DeliveryItem.state.set("delivered"), DeliveryItem.delivered_at.set(iso(now)),
                                DeliveryItem.last_error.remove(), DeliveryItem.next_attempt_at.remove()])
        if hook.failed_in_a_row:
            store.update_hook(hook, [HookItem.failed_in_a_row.set(0)])
        return "delivered"
    error = error or f"the receiver answered {status}"
    later = rules.next_attempt(attempts, parse_iso(first), now)
    if later is None:
        store.record(delivery, [*done, DeliveryItem.state.set("failed"), DeliveryItem.last_error.set(error[:300]),
                                DeliveryItem.next_attempt_at.remove()])
        _count_failure(d, hook)
        return "failed"
    store.record(delivery, [*done, DeliveryItem.state.set("retrying"), DeliveryItem.last_error.set(error[:300]),
                            DeliveryItem.next_attempt_at.set(iso(later))])
    from chalicelib.store import repo

    repo.put_timer(ws, f"hook#{delivery.delivery_id}", "hook-retry", iso(later), {"pk": delivery.pk, "sk": delivery.sk},
                   now=now)
    return "retrying"


def _post(d: Deps, hook: HookItem, delivery: DeliveryItem) -> tuple[int | None, str | None]:
    import requests

    try:
        _check(d, hook.url)  # again at send time: a name may resolve elsewhere now
    except Unprocessable as err:
        return None, err.message
    secret = box().open(hook.secret_sealed, context=hook.hook_id)["secret"]
    body = delivery.payload.encode()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "Zabota-Event": delivery.event,
               "Zabota-Delivery": delivery.delivery_id,
               "Zabota-Signature": rules.sign(secret, int(d.now().timestamp()), body)}
    try:
        resp = requests.post(hook.url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False)
    except requests.RequestException as err:
        return None, f"could not reach the receiver ({type(err).__name__})"
    return resp.status_code, None


def _count_failure(d: Deps, hook: HookItem) -> None:
    count = int(hook.failed_in_a_row or 0) + 1
    if count < rules.DISABLE_AFTER_FAILED:
        store.update_hook(hook, [HookItem.failed_in_a_row.set(count)])
        return
    reason = f"{count} deliveries in a row failed for 24 hours"
    store.update_hook(hook, [HookItem.failed_in_a_row.set(count), HookItem.enabled.set(False),
                             HookItem.disabled_reason.set(reason)])
    _cache.forget(hook.workspace_id or "")
    ws = hook.workspace_id or ""
    admins = [m.user_id for m in team.list_members(ws) if m.role == "admin"]
    notifications.notify(d, ws, admins, "webhook_disabled", title=f"Webhook switched off: {hook.url}", body=reason,
                         link={"webhook_id": hook.hook_id}, key=f"hook-off#{hook.hook_id}#{hook.created_at}#{count}",
                         text_key="webhook_disabled", params={"url": hook.url})
    logger.warning("outgoing webhook switched off", extra={"hook_id": hook.hook_id})


@timers.register("hook-retry")
def retry(d: Deps, timer: TimerItem) -> None:
    target = plain(timer.target)
    delivery = store.get_delivery(str(target["pk"]), str(target["sk"]))
    if delivery is not None and delivery.state == "retrying":
        send(d, delivery)


def deliveries(principal: Principal, hook_id: str, limit: int = 50) -> list[dict[str, Any]]:
    require(principal.workspace_id, hook_id)
    return [delivery_json(i) for i in store.list_deliveries(principal.workspace_id, hook_id, limit=limit)]


def redeliver(principal: Principal, hook_id: str, delivery_id: str) -> dict[str, Any]:
    require(principal.workspace_id, hook_id)
    item = store.find_delivery(principal.workspace_id, hook_id, delivery_id)
    if item is None:
        raise NotFound(f"no delivery {delivery_id}")
    if not store.redeliver(item):
        from chalicelib.errors import Conflict

        raise Conflict(f"delivery {delivery_id} is {item.state}: it is still being tried", code="in_flight")
    return delivery_json(store.find_delivery(principal.workspace_id, hook_id, delivery_id) or item)
