"""Browser sessions: a random id in an HttpOnly, Secure, SameSite=Lax cookie; its SHA-256 keys a session item that
can be deleted at any time (sign-out, member removed). A second, readable cookie carries the CSRF token that
cookie-authenticated writes echo in `X-CSRF-Token` (only its hash is stored, on the session).

The session cookie takes the `__Host-` prefix when Secure (no Domain, Path=/: no sub-domain can set or read it).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.auth.users import secret_hash
from chalicelib.domain.model import iso
from chalicelib.errors import Forbidden
from chalicelib.settings import Settings
from chalicelib.store import team
from chalicelib.store.models import SessionItem

SESSION_COOKIE = "zb_session"
CSRF_COOKIE = "zb_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def cookie_name(settings: Settings, base: str) -> str:
    """The session cookie is `__Host-zb_session` when Secure; the CSRF cookie keeps one name for the console to read
    (a planted one is useless: the token must match the hash stored on the session)."""
    return f"__Host-{base}" if settings.cookie_secure and base == SESSION_COOKIE else base


def parse_cookies(header: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in found:
            found[name] = value.strip().strip('"')
    return found


def set_cookie(settings: Settings, base: str, value: str, *, max_age: int, http_only: bool,
               path: str = "/") -> str:
    parts = [f"{cookie_name(settings, base) if path == '/' else base}={value}", f"Path={path}", f"Max-Age={max_age}",
             "SameSite=Lax"]
    if http_only:
        parts.append("HttpOnly")
    if settings.cookie_secure:
        parts.append("Secure")
    return "; ".join(parts)


@dataclass(frozen=True)
class Issued:
    """A new session: the cookies to set and the CSRF token (also in its readable cookie)."""

    cookies: list[str]
    csrf_token: str
    user_id: str


def start_session(settings: Settings, user_id: str, *, via: str, now: datetime) -> Issued:
    session_id = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(24)
    until = now + timedelta(hours=settings.session_hours)
    team.put_session(secret_hash(session_id), user_id, secret_hash(csrf_token), via=via, now=now, until=until)
    age = settings.session_hours * 3600
    return Issued([set_cookie(settings, SESSION_COOKIE, session_id, max_age=age, http_only=True),
                   set_cookie(settings, CSRF_COOKIE, csrf_token, max_age=age, http_only=False)], csrf_token, user_id)


def cleared_cookies(settings: Settings) -> list[str]:
    return [set_cookie(settings, SESSION_COOKIE, "", max_age=0, http_only=True),
            set_cookie(settings, CSRF_COOKIE, "", max_age=0, http_only=False)]


def session_id_of(settings: Settings, headers: dict[str, str]) -> str:
    return parse_cookies(headers.get("cookie", "")).get(cookie_name(settings, SESSION_COOKIE), "")


def current_session(settings: Settings, headers: dict[str, str], *, now: datetime) -> SessionItem | None:
    """The live session named by the cookie, or None (no cookie, unknown, revoked or expired)."""
    session_id = session_id_of(settings, headers)
    if not session_id or len(session_id) > 200:
        return None
    item = team.get_session(secret_hash(session_id))
    if item is None or item.valid_until <= iso(now):
        return None
    return item


def check_csrf(headers: dict[str, str], session: SessionItem, method: str) -> None:
    """Cookie-authenticated writes must echo the session's CSRF token in X-CSRF-Token."""
    if method.upper() in SAFE_METHODS:
        return
    token = headers.get(CSRF_HEADER, "")
    if not token or not hmac.compare_digest(secret_hash(token), session.csrf_hash):
        raise Forbidden("send the CSRF token of this session in X-CSRF-Token", code="csrf_failed")


def end_session(settings: Settings, headers: dict[str, str]) -> None:
    session_id = session_id_of(settings, headers)
    if session_id:
        team.delete_session(secret_hash(session_id))


def revoke_all(user_id: str) -> int:
    """Sign the user out everywhere (removed from a workspace, or at their request)."""
    return team.delete_sessions_of(user_id)
