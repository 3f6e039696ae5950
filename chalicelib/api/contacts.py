"""The client card (C1, C2): one customer across channels, and an operator's corrections of it."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api import schemas
from chalicelib.api.http import json_object
from chalicelib.api.routing import Ctx, route
from chalicelib.api.serialize import contact_json, conversation_json
from chalicelib.errors import NotFound
from chalicelib.services import contacts, merges
from chalicelib.store import repo

bp = Blueprint(__name__)

MERGE = {"type": "object", "properties": {
    "id": {"type": "string"}, "survivor_id": {"type": "string"}, "other_id": {"type": "string"},
    "state": {"type": "string", "enum": ["done", "undone"]}, "by": {"type": "string"}, "at": {"type": "string"},
    "undo_until": {"type": "string"}, "identities": {"type": "integer"}, "conversations": {"type": "integer"},
    "other_name": {"type": "string"}, "undone_at": {"type": ["string", "null"]}}}
CARD = {"type": "object", "properties": {
    "contact": schemas.CONTACT, "history": {"type": "array", "items": schemas.CONVERSATION},
    "merged_into": {"type": ["string", "null"], "description": "this card was merged into that one (C2)"},
    "merges": {"type": "array", "items": MERGE, "description": "cards merged into this one, newest first"}}}
MERGE_BODY = {
    "type": "object", "required": ["other_id"],
    "properties": {
        "other_id": {"type": "string", "description": "the card merged into this one (it is marked merged_into)"},
        "choices": {"type": "object", "additionalProperties": {"type": "string",
                                                               "enum": ["survivor", "other", "both"]},
                    "description": "per field (display_name, email, phone, notes, custom_fields) which side wins; "
                                   "both joins notes and unites custom fields; unset: the preview's default"},
        "revisions": {"type": "object", "properties": {"survivor": {"type": "integer"},
                                                       "other": {"type": "integer"}},
                      "description": "the cards' revisions the preview showed: 409 stale when one changed"},
    },
}
PREVIEW = {"type": "object", "properties": {
    "survivor_id": {"type": "string"}, "other_id": {"type": "string"}, "revisions": {"type": "object"},
    "fields": {"type": "array", "items": {"type": "object"}}, "tags": {"type": "object"},
    "moves": {"type": "object"}, "result": {"type": "object"}}}
SUGGESTIONS = {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {
    "contact_id": {"type": "string"}, "display_name": {"type": "string"}, "email": {"type": "string"},
    "phone": {"type": "string"}, "reasons": {"type": "array", "items": {"type": "string",
                                                                        "enum": ["email", "phone", "name"]}}}}}}}
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
    return {"contact": contact_json(contact, identities), "history": [conversation_json(c) for c in history],
            "merged_into": contact.merged_into, "merges": merges.merges_of(ws, contact_id)}


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


@route(bp, "/contacts/{contact_id}/duplicates", "GET", permission="conversations:read", tag="contacts",
       summary="Cards that look like the same person: same e-mail, phone (normalised) or name", response=SUGGESTIONS)
def get_duplicates(ctx: Ctx, contact_id: str) -> dict[str, Any]:
    return merges.suggestions(ctx.workspace_id, contact_id)


@route(bp, "/contacts/{contact_id}/merge/preview", "POST", permission="conversations:manage", tag="contacts",
       summary="What merging another card into this one would do, per field (changes nothing)",
       request=MERGE_BODY, response=PREVIEW)
def post_merge_preview(ctx: Ctx, contact_id: str) -> dict[str, Any]:
    return merges.preview(ctx.workspace_id, contact_id, json_object(ctx.request.raw_body))  # type: ignore[arg-type]


@route(bp, "/contacts/{contact_id}/merge", "POST", permission="conversations:manage", tag="contacts",
       summary="Merge another card of the same person into this one (undo within 24 h)", request=MERGE_BODY,
       response={"type": "object", "properties": {"merge": MERGE, "card": CARD}}, status=201)
def post_merge(ctx: Ctx, contact_id: str) -> dict[str, Any]:
    done = merges.merge(ctx.deps, ctx.principal, contact_id, json_object(ctx.request.raw_body))  # type: ignore[arg-type]
    return {"merge": done, "card": card(ctx.workspace_id, contact_id)}


@route(bp, "/merges/{merge_id}/undo", "POST", permission="conversations:manage", tag="contacts",
       summary="Undo a merge within 24 h: both cards as they were, identities and conversations back",
       response={"type": "object", "properties": {"merge": MERGE, "card": CARD}})
def post_merge_undo(ctx: Ctx, merge_id: str) -> dict[str, Any]:
    done = merges.undo(ctx.deps, ctx.principal, merge_id)  # type: ignore[arg-type]
    return {"merge": done, "card": card(ctx.workspace_id, done["survivor_id"])}
