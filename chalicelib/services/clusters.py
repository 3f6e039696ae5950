"""Repeat-request detection (H2): "N customers report the same problem in the last hour", and a word to the leads
when such a cluster appears suddenly.

Cost per inbound customer message: no write of its own (its first 300 characters ride in the stream batch's
counter delta item, store/clusters.py), and at most every 20 s per workspace and warm process one Query of the
last 15 minutes of those items (the sudden-cluster check; the conversations and announcements are read only
for a sudden cluster). Messages within those 20 s book a `clusters#<minute>` timer instead (once per workspace and
minute), which checks at the minute's end. The console's clusters are computed when read (one Query of the last
hour plus BatchGets of the conversations), never per message.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.domain import clusters as rules
from chalicelib.domain.model import iso, stable_hash
from chalicelib.services import notifications, timers
from chalicelib.services.deps import Deps
from chalicelib.store import clusters as store
from chalicelib.store import repo, team
from chalicelib.store.models import MessageItem, TimerItem

KIND = "clusters"
WINDOW_MINUTES = 60
MAX_MINUTES = 120
DOC_TEXT = 600
THROTTLE = timedelta(seconds=20)
_booked: dict[str, str] = {}  # workspace -> the minute this warm process booked a check for
_checked: dict[str, Any] = {}  # workspace -> when this warm process last checked it


def wanted(event_name: str, message: MessageItem) -> bool:
    """A customer's new message with text: it joins the recent ones (carried by its batch's counter item)."""
    return event_name == "INSERT" and message.direction == "in" and bool((message.text or "").strip())


def after_batch(d: Deps, pending: dict[str, list[list[str]]]) -> None:
    """Stream, once per batch, before its counter items are written (services/analytics.py): for each workspace
    with new customer messages the sudden-cluster check runs at once (the batch's messages given in memory) unless
    this warm process ran it for the workspace within THROTTLE; then the minute's timer runs it (booked once per
    workspace and minute), so the tail of a burst is checked too."""
    now = d.now()
    for ws, entries in sorted(pending.items()):
        last = _checked.get(ws)
        if last is None or not timedelta(0) <= now - last < THROTTLE:
            _checked[ws] = now
            check(d, ws, entries)
            continue
        minute = now.replace(second=0, microsecond=0)
        bucket = minute.strftime("%Y%m%d%H%M")
        if _booked.get(ws) != bucket:
            repo.put_timer(ws, f"{KIND}#{bucket}", KIND, iso(minute + timedelta(minutes=1)), {}, now=now,
                           only_new=True)
            _booked[ws] = bucket


def _docs(ws: str, since: str) -> tuple[list[rules.Doc], dict[str, Any]]:
    recent = store.recent_since(ws, since)
    texts: dict[str, list[str]] = {}
    last: dict[str, str] = {}
    customer: dict[str, str] = {}
    for item in recent:  # oldest first: a conversation's texts in order, its last time
        texts.setdefault(item.conversation_id, []).append(item.text)
        last[item.conversation_id] = item.at
        customer[item.conversation_id] = item.contact_id or item.conversation_id
    convs = store.conversations(ws, list(texts))
    docs = [rules.Doc(cid, convs[cid].contact_id or customer[cid], " ".join(texts[cid])[-DOC_TEXT:], last[cid],
                      tuple(convs[cid].tags or ()))
            for cid in texts if cid in convs and not convs[cid].blocked]
    return docs, convs


def current(d: Deps, ws: str, *, minutes: int = WINDOW_MINUTES,
            min_customers: int = rules.MIN_CUSTOMERS) -> dict[str, Any]:
    now = d.now()
    since = iso(now - timedelta(minutes=minutes))
    docs, convs = _docs(ws, since)
    sudden_since = iso(now - timedelta(minutes=rules.SUDDEN_MINUTES))
    items = []
    for found in rules.cluster(docs, min_customers=min_customers):
        items.append({
            "id": _cluster_id(found), "customers": found.customers, "terms": found.terms, "tags": found.tags,
            "first_at": found.first_at, "last_at": found.last_at,
            "sudden": rules.is_sudden(found, sudden_since),
            "conversations": [_row(convs[doc.id], doc) for doc in found.members],
        })
    return {"minutes": minutes, "since": since, "messages_read": len(docs), "items": items}


def _cluster_id(found: rules.Cluster) -> str:
    return stable_hash(*sorted(d.id for d in found.members), length=16)


def _row(conv: Any, doc: rules.Doc) -> dict[str, Any]:
    return {"id": conv.conversation_id, "contact_id": conv.contact_id, "contact_name": conv.contact_name,
            "channel_id": conv.channel_id, "channel_kind": conv.channel_kind, "status": conv.status,
            "tags": list(conv.tags or []), "text": doc.text[-300:], "at": doc.at, "surface": conv.surface}


@timers.register(KIND)
def on_timer(d: Deps, timer: TimerItem) -> None:
    check(d, timer.workspace_id or "")


def check(d: Deps, ws: str, pending: list[list[str]] | None = None) -> int:
    """Clusters that turned sudden (SUDDEN_CUSTOMERS customers within SUDDEN_MINUTES) are announced once to the
    workspace's admins (the leads). One Query of the window's recent messages; the conversations (to leave out
    blocked customers) and the announcements are read only when a cluster is sudden. Returns how many were told."""
    now = d.now()
    since = iso(now - timedelta(minutes=rules.SUDDEN_MINUTES))
    recent = store.recent_since(ws, since, pending)
    texts: dict[str, list[str]] = {}
    for item in recent:
        texts.setdefault(item.conversation_id, []).append(item.text)
    last = {item.conversation_id: item for item in recent}
    docs = [rules.Doc(cid, last[cid].contact_id or cid, " ".join(t)[-DOC_TEXT:], last[cid].at)
            for cid, t in texts.items()]
    sudden = [c for c in rules.cluster(docs, min_customers=rules.SUDDEN_CUSTOMERS) if rules.is_sudden(c, since)]
    if not sudden:
        return 0
    convs = store.conversations(ws, [doc.id for c in sudden for doc in c.members])
    announced = [list(n.conversation_ids or []) for n in store.notes_since(ws, iso(now - store.KEEP))]
    told = 0
    for found in sudden:
        found.members = [doc for doc in found.members if doc.id in convs and not convs[doc.id].blocked]
        members = [doc.id for doc in found.members]
        if not rules.is_sudden(found, since) or any(rules.same_cluster(members, before) for before in announced):
            continue
        cluster_id = _cluster_id(found)
        store.put_note(ws, cluster_id, members, found.customers, now=now)
        announced.append(members)
        _announce(d, ws, found, cluster_id, convs)
        told += 1
    return told


def _announce(d: Deps, ws: str, found: rules.Cluster, cluster_id: str, convs: dict[str, Any]) -> None:
    admins = [m.user_id for m in team.list_members(ws) if m.role == "admin"]
    about = ", ".join(found.tags or found.terms[:3]) or "—"
    params = {"count": str(found.customers), "minutes": str(rules.SUDDEN_MINUTES), "about": about}
    notifications.notify(d, ws, admins, "repeat_requests", key=f"cluster#{cluster_id}",
                         title=f"{found.customers} customers report the same problem: {about}",
                         body=found.members[0].text[:300], link={"conversation_id": found.members[0].id},
                         text_key="repeat_requests", params=params)


def parse_minutes(value: str | None) -> int:
    from chalicelib.errors import InvalidInput

    if value is None or value == "":
        return WINDOW_MINUTES
    if not value.isdigit() or not 1 <= int(value) <= MAX_MINUTES:
        raise InvalidInput(f"minutes is a whole number from 1 to {MAX_MINUTES}", code="invalid_minutes")
    return int(value)


