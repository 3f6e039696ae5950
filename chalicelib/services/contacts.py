"""The client card (C1): operators correct a customer's name, e-mail and phone, keep notes and the team's own
fields. An edit names the card's `revision` it was made on: a card changed meanwhile answers 409 `stale`, so two
operators never overwrite each other unseen. What follows from the stream: the new name on the customer's
conversations, the consoles' cards, the action log."""

from __future__ import annotations

import re
from typing import Any

from chalicelib.auth.keys import Principal
from chalicelib.domain.model import iso
from chalicelib.errors import Conflict, InvalidInput, NotFound
from chalicelib.services.deps import Deps
from chalicelib.store import repo
from chalicelib.store.models import ContactItem, ConversationItem

MAX_NAME = 100
MAX_NOTES = 5000
MAX_FIELDS = 20
MAX_FIELD_NAME = 40
MAX_FIELD_VALUE = 500
EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[^@\s<>\"']+\.[^@\s<>\"'.]{2,}$")
PHONE_NOISE = re.compile(r"[\s().\-]")


def parse_email(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInput("email must be a string (\"\" clears it)", code="invalid_email")
    email = value.strip()
    if email and (len(email) > 254 or not EMAIL.match(email)):
        raise InvalidInput(f"{email!r} is not an e-mail address", code="invalid_email")
    return email.lower()


def parse_phone(value: Any) -> str:
    """+ and 7..15 digits (E.164); spaces, dashes, dots and brackets are dropped; "" clears it."""
    if not isinstance(value, str):
        raise InvalidInput("phone must be a string (\"\" clears it)", code="invalid_phone")
    phone = PHONE_NOISE.sub("", value.strip())
    if not phone:
        return ""
    digits = phone.removeprefix("+")
    if not digits.isdigit() or not 7 <= len(digits) <= 15:
        raise InvalidInput(f"{value!r} is not a phone number: + and 7 to 15 digits", code="invalid_phone")
    return f"+{digits}"


def _parse_fields(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or len(value) > MAX_FIELDS:
        raise InvalidInput(f"custom_fields must be an object of at most {MAX_FIELDS} fields", code="invalid_fields")
    fields: dict[str, str] = {}
    for name, text in value.items():
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_FIELD_NAME:
            raise InvalidInput(f"a field name is 1..{MAX_FIELD_NAME} characters", code="invalid_fields")
        if not isinstance(text, str) or len(text) > MAX_FIELD_VALUE:
            raise InvalidInput(f"field {name!r}: a text of at most {MAX_FIELD_VALUE} characters",
                               code="invalid_fields")
        if text.strip():
            fields[name.strip()] = text.strip()
    return fields


def _changes(body: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if "display_name" in body:
        name = body["display_name"]
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
            raise InvalidInput(f"display_name is 1..{MAX_NAME} characters", code="invalid_name")
        changes["display_name"] = name.strip()
    if "email" in body:
        changes["email"] = parse_email(body["email"])
    if "phone" in body:
        changes["phone"] = parse_phone(body["phone"])
    if "notes" in body:
        notes = body["notes"]
        if not isinstance(notes, str) or len(notes) > MAX_NOTES:
            raise InvalidInput(f"notes are a text of at most {MAX_NOTES} characters", code="invalid_notes")
        changes["notes"] = notes
    if "custom_fields" in body:
        changes["custom_fields"] = _parse_fields(body["custom_fields"])
    if not changes:
        raise InvalidInput("send display_name, email, phone, notes and/or custom_fields")
    return changes


def live_card(ws: str, contact_id: str) -> ContactItem:
    """The workspace's card, not merged into another: 404 for another workspace's, 409 `already_merged` (C2)."""
    card = repo.get_contact(ws, contact_id)
    if card is None:  # another workspace's card is simply not found
        raise NotFound(f"contact {contact_id} not found")
    if card.merged_into:
        raise Conflict(f"contact {contact_id} was merged into {card.merged_into}: use that card",
                       code="already_merged", details={"merged_into": card.merged_into})
    return card


def update_contact(d: Deps, principal: Principal, contact_id: str, body: dict[str, Any]) -> ContactItem:
    ws = principal.workspace_id
    live_card(ws, contact_id)
    revision = body.get("revision")
    if isinstance(revision, bool) or not isinstance(revision, int) or revision < 0:
        raise InvalidInput("send the card's revision you edited (a whole number)", code="invalid_revision")
    changes = _changes(body)
    updated = repo.edit_contact(ws, contact_id, changes, expected_revision=revision, by=principal.subject,
                                at=iso(d.now()))
    if updated is None:
        current = repo.get_contact(ws, contact_id)
        raise Conflict("the card was changed by someone else meanwhile: reload it and edit again", code="stale",
                       details={"revision": int(current.revision or 0) if current else None})
    return updated


def propagate_name(new: ContactItem, old: ContactItem | None) -> int:
    """Stream: a renamed customer's conversations show the new name (and are found by it). Returns how many."""
    if old is None or new.display_name == old.display_name or not new.display_name:
        return 0
    ws = new.workspace_id or ""
    contact_id = new.pk.rsplit("#", 1)[1]
    _, conversations = repo.contact_history(ws, contact_id)
    renamed = 0
    for conv in conversations:
        if conv.contact_name != new.display_name:
            conv.update(actions=[ConversationItem.contact_name.set(new.display_name),
                                 ConversationItem.revision.add(1)], condition=ConversationItem.pk.exists())
            renamed += 1
    return renamed
