"""Outgoing webhooks (E5): the events a subscription may choose, the signature, the retry schedule and which
addresses a delivery may go to. Standard library only.

Signature (docs/WEBHOOKS.md): header `Zabota-Signature: t=<unix seconds>,v1=<hex>` where
`hex = HMAC-SHA256(secret, "<t>.<raw body>")`. A receiver recomputes it, compares in constant time and refuses
a `t` older than five minutes (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import random
import socket
from datetime import datetime, timedelta
from urllib.parse import urlsplit

EVENTS = {
    "conversation.created": "a customer's first message opened a conversation",
    "conversation.closed": "an operator (or a rule) closed a conversation",
    "conversation.assigned": "a conversation got a new assignee",
    "message.received": "a customer wrote (any channel)",
    "message.sent": "our reply reached the channel",
    "message.failed": "our reply could not be delivered",
    "sla.breached": "a waiting customer passed the SLA target",
    "rule.triggered": "a rule's webhook action (chosen in the rule, not here)",
    "ping": "a test delivery from the console",
}
GIVE_UP_AFTER = timedelta(hours=24)
BASE_DELAY = 30.0  # seconds before the second attempt
MAX_DELAY = 3600.0
DISABLE_AFTER_FAILED = 5  # deliveries in a row that failed for 24 h: the subscription is switched off


class RefusedUrl(ValueError):
    """A receiver URL we will not call; the message says why."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, now: int, tolerance: int = 300) -> bool:
    """The receiver's side (also what docs/WEBHOOKS.md shows): True for a fresh, untampered delivery."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def next_attempt(attempt: int, first_at: datetime, now: datetime, rng: random.Random | None = None) -> datetime | None:
    """When to try again after failed attempt number `attempt` (1-based): exponential backoff with full jitter,
    never later than 24 h after the first attempt; None: give up."""
    ceiling = min(MAX_DELAY, BASE_DELAY * 2 ** (attempt - 1))
    delay = (rng or random).uniform(ceiling / 2, ceiling)
    at = now + timedelta(seconds=delay)
    deadline = first_at + GIVE_UP_AFTER
    if now >= deadline:
        return None
    return min(at, deadline)


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
                or ip.is_unspecified or (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED))


_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: not reachable as a public receiver


def check_url(url: object, *, allow_http: bool, allow_loopback: bool,
              resolve: object = socket.getaddrinfo) -> str:
    """The URL as given, if a delivery may go there: https (http only in embedded mode), a host that resolves to
    public addresses only (no private, loopback, link-local or metadata address: SSRF), no credentials."""
    if not isinstance(url, str) or not url or len(url) > 2000:
        raise RefusedUrl("url is an https:// address of up to 2000 characters")
    parts = urlsplit(url)
    if parts.scheme not in (("https", "http") if allow_http else ("https",)):
        raise RefusedUrl("the receiver must be an https:// URL")
    if not parts.hostname or parts.username or parts.password:
        raise RefusedUrl("the URL needs a host and no user name or password")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as err:
        raise RefusedUrl("the URL's port is not a number") from err
    try:
        infos = resolve(parts.hostname, port, proto=socket.IPPROTO_TCP)  # type: ignore[operator]
    except (OSError, UnicodeError) as err:
        raise RefusedUrl(f"{parts.hostname} does not resolve") from err
    addresses = {info[4][0] for info in infos}
    if not addresses:
        raise RefusedUrl(f"{parts.hostname} does not resolve")
    for address in addresses:
        if _public(address):
            continue
        if allow_loopback and ipaddress.ip_address(address).is_loopback:
            continue
        raise RefusedUrl(f"{parts.hostname} resolves to {address}, a private or internal address")
    return url
