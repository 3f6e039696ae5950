"""Users are identified by their e-mail address. No passwords: they sign in by an e-mailed link or OpenID Connect."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

from chalicelib.errors import InvalidInput
from chalicelib.store import team
from chalicelib.store.models import UserItem

_EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")


def normalise_email(value: object) -> str:
    """Lower-cased and trimmed; raises InvalidInput for anything that is not one plain address."""
    if not isinstance(value, str):
        raise InvalidInput("email must be a string")
    address = value.strip().lower()
    if len(address) > 254 or not _EMAIL.match(address):
        raise InvalidInput("email is not a valid address")
    return address


def email_hash(address: str) -> str:
    return hashlib.sha256(address.encode()).hexdigest()


def secret_hash(secret: str) -> str:
    """Sessions, links and invites are stored by the SHA-256 of their random secret (never the secret itself)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def subject_of(user_id: str) -> str:
    return f"user:{user_id}"


def ensure_user(address: str, *, name: str = "", now: datetime) -> UserItem:
    """The user with this address, created on first use (an accepted invite, the demo admin)."""
    found = team.find_user_by_email(address)
    if found is not None:
        return found
    user_id = f"u_{secrets.token_hex(8)}"
    return team.create_user(user_id, address, name or address.split("@", 1)[0], now=now)
