"""Forward a conversation by e-mail to another department (B11): the whole transcript, as text and as HTML with
every piece of customer and operator text escaped, through the staff mailer (SES v2 in AWS, the outbox locally).

Safe to retry: the client's `request_id` names an internal note ("Forwarded to … by …") whose id derives from it;
only the request that writes the note sends the mail, a retry answers the same note. Files are listed with links
valid for 7 days. At most FORWARDS_PER_HOUR per workspace (429 with Retry-After beyond).
"""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

from chalicelib.auth import mail
from chalicelib.auth.keys import Principal
from chalicelib.domain.model import derived_id, parse_iso
from chalicelib.errors import InvalidInput, RateLimitedByUs
from chalicelib.services import contacts
from chalicelib.services.deps import Deps
from chalicelib.store import repo
from chalicelib.store import widget as counters
from chalicelib.store.models import ConversationItem, MessageItem

MAX_RECIPIENTS = 5
MAX_NOTE = 2000
MAX_MESSAGES = 500
FORWARDS_PER_HOUR = 50
LINK_DAYS = 7


def _recipients(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_RECIPIENTS:
        raise InvalidInput(f"to: 1 to {MAX_RECIPIENTS} e-mail addresses", code="invalid_email")
    found = [contacts.parse_email(v) for v in value]
    if not all(found):
        raise InvalidInput("to: an address is empty", code="invalid_email")
    return list(dict.fromkeys(found))


def forward(d: Deps, principal: Principal, conv_id: str, body: dict[str, Any]) -> MessageItem:
    ws = principal.workspace_id
    conv = repo.require_conversation(ws, conv_id)
    request_id = body.get("request_id")
    if not isinstance(request_id, str) or not 8 <= len(request_id) <= 100:
        raise InvalidInput("request_id is required: 8 to 100 characters, the same on every retry")
    to = _recipients(body.get("to"))
    note = body.get("note", "")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise InvalidInput(f"note: a text of at most {MAX_NOTE} characters")
    first = repo.first_seen(ws, "forward", request_id, now=d.now())
    note_id = derived_id("m", parse_iso(first), request_id, conv_id)
    existing = repo.get_message(ws, conv_id, note_id)
    if existing is not None:
        return existing  # a retry: sent (or refused) the first time
    retry = counters.count_request(ws, "forward", "workspace", limit=FORWARDS_PER_HOUR, window_seconds=3600,
                                   now=d.now())
    if retry is not None:
        raise RateLimitedByUs(f"at most {FORWARDS_PER_HOUR} forwards an hour: try again in {retry} s",
                              retry_after=retry)
    messages = _transcript(ws, conv_id)
    record = repo.new_message(
        ws, conv_id, note_id, channel_id=conv.channel_id, direction="note", origin="operator",
        author_id=principal.subject, status="received", created_at=first,
        text=f"Forwarded to {', '.join(to)}" + (f": {note.strip()}" if note.strip() else ""),
    )
    saved = repo.add_outbound_message(conv, record, now=d.now(), counts_as_response=False)
    if saved is not record:
        return saved  # a concurrent retry wrote the note first: it sends, this one does not
    subject = f"Fwd: {conv.contact_name or conv.title or 'conversation'} ({conv.channel_kind})"
    text, page = render(conv, messages, note.strip(), d)
    for address in to:
        mail.send(d.settings, mail.Mail(to=address, subject=subject, text=text, html=page, kind="forward"))
    return saved


def _transcript(ws: str, conv_id: str) -> list[MessageItem]:
    items: list[MessageItem] = []
    before: str | None = None
    while len(items) < MAX_MESSAGES:
        page, before = repo.list_messages(ws, conv_id, limit=100, before=before)
        items.extend(page)
        if before is None:
            break
    return list(reversed(items))  # oldest first


def _who(m: MessageItem, customer: str) -> str:
    if m.direction == "in":
        return customer or "Customer"
    if m.direction == "note":
        return "Internal note"
    if m.origin == "greeting":
        return "Auto-greeting"
    return "Operator"


def render(conv: ConversationItem, messages: list[MessageItem], note: str, d: Deps) -> tuple[str, str]:
    """The transcript as (text, html); html.escape() on every piece of user text."""
    customer = conv.contact_name or ""
    lines = [f"Customer: {customer}", f"Channel: {conv.channel_kind}", f"Status: {conv.status}", ""]
    if note:
        lines[:0] = [note, "", "-" * 40]
    rows: list[str] = []
    for m in messages:
        if m.deleted:
            continue
        when = (m.occurred_at or m.created_at or "")[:16].replace("T", " ")
        files = [(a.get("file_name") or a.get("kind") or "file", _link(d, a)) for a in m.attachments or []]
        lines.append(f"[{when}] {_who(m, customer)}: {m.text}")
        lines += [f"    attachment: {name} {url}".rstrip() for name, url in files]
        attached = "".join(f"<li>{html.escape(name)}" + (f" <a href=\"{html.escape(url)}\">download</a>" if url else "")
                           + "</li>" for name, url in files)
        rows.append(f"<tr><td style=\"color:#555;white-space:nowrap;vertical-align:top\">{html.escape(when)}</td>"
                    f"<td style=\"vertical-align:top\"><b>{html.escape(_who(m, customer))}</b></td>"
                    f"<td style=\"white-space:pre-wrap\">{html.escape(m.text)}"
                    + (f"<ul>{attached}</ul>" if attached else "") + "</td></tr>")
    head = (f"<p>{html.escape(note)}</p><hr>" if note else "") + (
        f"<p><b>Customer:</b> {html.escape(customer)}<br><b>Channel:</b> {html.escape(conv.channel_kind)}<br>"
        f"<b>Status:</b> {html.escape(conv.status)}</p>")
    page = f"<!doctype html><meta charset=\"utf-8\">{head}<table cellpadding=\"4\">{''.join(rows)}</table>"
    return "\n".join(lines), page


def _link(d: Deps, attachment: dict[str, Any]) -> str:
    key = attachment.get("storage_key")
    if not key:
        return ""
    return str(d.files.link(key, file_name=attachment.get("file_name") or "file",
                            seconds=int(timedelta(days=LINK_DAYS).total_seconds())))
