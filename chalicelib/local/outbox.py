"""Embedded mode's outbox: the e-mails the app would send through SES (sign-in links, invitations), shown at
`/_outbox` (newest first) and as JSON at `/_outbox/messages.json?to=<address>`. Nothing leaves the laptop.
"""

from __future__ import annotations

import html
import json
from typing import Any
from urllib.parse import parse_qs

from chalicelib.auth.mail import OUTBOX, Mail
from chalicelib.local.http import Request, Response


def _json(mail: Mail) -> dict[str, Any]:
    return {"to": mail.to, "subject": mail.subject, "text": mail.text, "link": mail.link, "kind": mail.kind,
            "html": mail.html, "reply_to": mail.reply_to, "at": mail.at}


def _row(mail: Mail) -> str:
    link = f"<p><a href='{html.escape(mail.link)}'>{html.escape(mail.link)}</a></p>" if mail.link else ""
    return (f"<article style='border-top:1px solid #ccc;padding:.5rem 0'><b>{html.escape(mail.subject)}</b> "
            f"to {html.escape(mail.to)} <small>{html.escape(mail.at)}</small>{link}"
            f"<pre style='white-space:pre-wrap'>{html.escape(mail.text)}</pre></article>")


def route(request: Request) -> Response:
    if request.method not in ("GET", "HEAD"):
        return Response.text(405, "Method Not Allowed")
    wanted = parse_qs(request.query).get("to", [""])[-1].strip().lower()
    mails = [m for m in reversed(OUTBOX.messages) if not wanted or m.to == wanted]
    if request.path.rstrip("/") == "/messages.json":
        return Response(200, {"Content-Type": "application/json", "Cache-Control": "no-store"},
                        json.dumps([_json(m) for m in mails], ensure_ascii=False).encode())
    rows = "".join(_row(m) for m in mails) or "<p>No e-mail yet. Ask for a sign-in link or invite someone.</p>"
    page = ("<!doctype html><meta charset=utf-8><title>Outbox</title><link rel=icon href='data:,'>"
            "<body style='font-family:sans-serif;max-width:48rem;margin:2rem auto'>"
            f"<h1>Outbox (embedded mode)</h1>{rows}")
    return Response(200, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}, page.encode())


def print_to_terminal(mail: Mail) -> None:
    """The runner prints each sign-in / invitation link (embedded mode only: these are one-time secrets)."""
    print(f"  [outbox] {mail.kind or 'mail'} for {mail.to}: {mail.link or mail.subject}", flush=True)
