"""The client card (C1, C2): one customer across channels, and an operator's corrections of it."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api import schemas
from chalicelib.api.http import json_object
from chalicelib.api.routing import Ctx, route
from chalicelib.api.serialize import contact_json, conversation_json
from chalicelib.errors import NotFound
from chalicelib.services import contacts
from chalicelib.store import repo

bp = Blueprint(__name__)

CARD = {"type": "object", "properties": {
    "contact": schemas.CONTACT, "history": {"type": "array", "items": schemas.CONVERSATION}}}
CONTACT_PATCH = {
    "type": "object", "required": ["revision"],
    "properties": {
        "revision": {"type": "integer", "minimum": 0, "description": "the card's revision the edit was made on: "
                     "409 stale when it changed meanwhile"},
        "display_name": {"type": "string", "minLength": 1, "maxLength": contacts.MAX_NAME},
        "email": {"type": "string", "description": "\"\" clears it"},
        "phone": {"type": "string", "description": "+ and 7..15 digits; spaces, dashes, brackets dropped; \"\" clears"},
        "notes": {"type": "string", "maxLength": contacts.MAX_NOTES},
        "custom_fields": {"type": "object", "maxProperties": contacts.MAX_FIELDS,
                          "additionalProperties": {"type": "string", "maxLength": contacts.MAX_FIELD_VALUE},
                          "description": "the whole set: a field left out is removed"},
    },
}


def card(ws: str, contact_id: str) -> dict[str, Any]:
    contact = repo.get_contact(ws, contact_id)
    if contact is None:
        raise NotFound(f"contact {contact_id} not found")
    identities, history = repo.contact_history(ws, contact_id)
    return {"contact": contact_json(contact, identities), "history": [conversation_json(c) for c in history]}


@route(bp, "/contacts/{contact_id}", "GET", permission="conversations:read", tag="contacts",
       summary="A client card: identities in every channel, fields, notes, conversations across channels",
       response=CARD)
def get_contact(ctx: Ctx, contact_id: str) -> dict[str, Any]:
    return card(ctx.workspace_id, contact_id)


@route(bp, "/contacts/{contact_id}", "PATCH", permission="conversations:manage", tag="contacts",
       summary="Correct the card: name, e-mail, phone, notes, custom fields (with the revision edited)",
       request=CONTACT_PATCH, response=CARD)
def patch_contact(ctx: Ctx, contact_id: str) -> dict[str, Any]:
    contacts.update_contact(ctx.deps, ctx.principal, contact_id, json_object(ctx.request.raw_body))  # type: ignore[arg-type]
    return card(ctx.workspace_id, contact_id)
