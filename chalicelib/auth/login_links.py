"""One-time sign-in links by e-mail: random, stored hashed, single use, valid for 15 minutes (LOGIN_LINK_MINUTES).

Asking for a link never tells whether the address has an account. At most `LINKS_PER_WINDOW` links go to one
address per quarter of an hour, so nobody can flood a mailbox through us.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from chalicelib.auth import mail
from chalicelib.auth.users import email_hash, normalise_email, secret_hash
from chalicelib.domain.model import iso
from chalicelib.errors import RateLimitedByUs, Unauthenticated
from chalicelib.observability import logger
from chalicelib.settings import Settings
from chalicelib.store import team

LINKS_PER_WINDOW = 5


def safe_next(value: object) -> str:
    """A path on this site to go to after signing in (never another site: no open redirect)."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if len(value) > 500 or any(c in value for c in "\r\n\\"):
        return "/"
    return value


def _window(now: datetime) -> str:
    return now.strftime("%Y%m%d%H") + str(now.minute // 15)


def request_link(settings: Settings, address: object, *, next_path: object = "/", now: datetime) -> None:
    email = normalise_email(address)
    if not team.count_login_link(email_hash(email), _window(now), limit=LINKS_PER_WINDOW,
                                 until=now + timedelta(hours=1)):
        raise RateLimitedByUs("too many sign-in links for this address; try again later", retry_after=900)
    user = team.find_user_by_email(email)
    if user is None:
        logger.info("sign-in link refused: no such user")
        return
    token = secrets.token_urlsafe(32)
    until = now + timedelta(minutes=settings.login_link_minutes)
    team.put_login_token(secret_hash(token), user.user_id, safe_next(next_path), now=now, until=until)
    link = f"{settings.public_url}/api/auth/link?token={quote(token)}"
    text = (f"Hello,\n\nsign in to Zabota with this link (valid for {settings.login_link_minutes} minutes, once):\n"
            f"{link}\n\nIf you did not ask for it, ignore this message.\n")
    mail.send(settings, mail.Mail(to=email, subject="Sign in to Zabota", text=text, link=link, kind="login"))


def use_link(token: object, *, now: datetime) -> tuple[str, str]:
    """The user id and the path to go to; the link cannot be used again."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        raise Unauthenticated("this sign-in link is not valid", code="link_invalid")
    item = team.use_login_token(secret_hash(token), now=now)
    if item is None:
        raise Unauthenticated("this sign-in link was used already or has expired; ask for a new one",
                              code="link_invalid")
    return item.user_id, item.next_path


@dataclass(frozen=True)
class LinkState:
    """What a link would do if used now (its page says so before the click): `ok`, `used`, `expired` or
    `unknown` (never issued, mistyped, or removed a day after it expired)."""

    status: str
    user_id: str = ""
    valid_until: str = ""


def inspect_link(token: object, *, now: datetime) -> LinkState:
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return LinkState("unknown")
    item = team.get_login_token(secret_hash(token))
    if item is None:
        return LinkState("unknown")
    if item.used_at:
        return LinkState("used", item.user_id)
    if item.valid_until <= iso(now):
        return LinkState("expired", item.user_id)
    return LinkState("ok", item.user_id, item.valid_until)
