"""API keys: `zb_<id>_<secret>`, stored as a SHA-256 hash, scoped to one workspace and one role."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from chalicelib.auth.permissions import ROLES
from chalicelib.errors import InvalidInput, Unauthenticated
from chalicelib.store import repo


@dataclass(frozen=True)
class Principal:
    workspace_id: str
    role: str
    subject: str  # "key:<id>" for API keys, "user:<id>" for signed-in users
    name: str = ""
    user_id: str = ""  # empty for API keys
    email: str = ""
    via: str = "key"  # "key" | "session"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(workspace_id: str, role: str, *, name: str, now: datetime) -> str:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
    if repo.get_workspace(workspace_id) is None:
        raise InvalidInput(f"workspace {workspace_id!r} does not exist")
    key_id = secrets.token_hex(4)
    key = f"zb_{key_id}_{secrets.token_urlsafe(24)}"
    repo.put_api_key(workspace_id, key_hash(key), key_id, role, name, now=now)
    return key


def authenticate_key(key: str) -> Principal:
    if not key.startswith("zb_") or len(key) > 200:
        raise Unauthenticated("invalid API key")
    item = repo.get_api_key(key_hash(key))
    if item is None or item.revoked:
        raise Unauthenticated("invalid API key")
    return Principal(workspace_id=item.workspace_id or "", role=item.role, subject=f"key:{item.key_id}",
                     name=item.name)


def bearer(headers: dict[str, str]) -> str:
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send Authorization: Bearer <API key>")
    return token.strip()
