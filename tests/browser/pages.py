"""Helpers for browser tests, named like what people do: a customer writes, an operator signs in and opens a
conversation. Customers write through the simulator's backend (`/_sim`), which posts the provider's own signed
webhook through the real webhook path."""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    """Debian's Chromium (the `chromium` package); CHROMIUM_PATH overrides it."""
    return os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def fresh_customer(first_name: str = "Anna") -> tuple[str, str]:
    """A customer nobody has seen: a Telegram-style numeric id and a unique display name."""
    return str(6_000_000 + secrets.randbelow(3_000_000)), f"{first_name} {secrets.token_hex(3)}"


@dataclass
class Demo:
    stack: Any
    key: str
    telegram: str

    @property
    def url(self) -> str:
        return self.stack.url

    def customer_writes(self, user_id: str, name: str, text: str, *, channel: str | None = None,
                        reply_to: str | None = None) -> dict[str, Any]:
        resp = requests.post(f"{self.url}/_sim/{channel or self.telegram}/messages", timeout=30,
                             json={"user_id": user_id, "name": name, "text": text, "reply_to": reply_to})
        assert resp.status_code == 201, resp.text
        return resp.json()

    def customer_sees(self, conversation: str, *, channel: str | None = None) -> list[dict[str, Any]]:
        resp = requests.get(f"{self.url}/_sim/{channel or self.telegram}/conversations/{conversation}", timeout=30)
        assert resp.status_code == 200, resp.text
        return resp.json()["items"]

    def customer_comments(self, name: str, text: str, *, channel: str = "ch_demo_messenger") -> str:
        """A customer comments under a post of the demo Facebook Page (or Instagram account): the signed webhook
        Meta would post goes through the real webhook path. Returns the comment's id at the fake Graph API."""
        import json

        from chalicelib.store import repo

        found = repo.get_channel(channel)
        assert found is not None, channel
        account = found.secrets["page_id"] if found.kind == "messenger" else found.secrets["ig_user_id"]
        media = str(10**16 + secrets.randbelow(10**16))
        post = f"{account}_{secrets.randbelow(10**9)}" if found.kind == "messenger" else media
        request = self.stack.fakes["graph"].customer_comment(found, post_id=post, name=name, text=text,
                                                             user_id=str(10**15 + secrets.randbelow(10**15)))
        resp = requests.post(f"{self.url}/api/webhooks/{found.kind}/{channel}", data=request.body,
                             headers=request.headers, timeout=30)
        assert resp.status_code == 200, resp.text
        value = json.loads(request.body)["entry"][0]["changes"][0]["value"]
        return str(value.get("comment_id") or value.get("id"))

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, f"{self.url}/api{path}", headers={"Authorization": f"Bearer {self.key}"},
                                timeout=30, **kwargs)

    def conversation_named(self, name: str, status: str = "new") -> dict[str, Any]:
        """The conversation of the customer called `name` (waits for the stream to create it)."""
        found: dict[str, Any] = {}

        def look() -> bool:
            items = self.api("GET", "/conversations", params={"status": status, "limit": 100}).json()["items"]
            found.update(next((c for c in items if c["contact_name"] == name), {}))
            return bool(found)

        wait_until(look, what=f"a conversation of {name}")
        return found


def wait_until(check: Callable[[], bool], *, timeout: float = 30.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def new_team(name: str | None = None) -> tuple[str, str]:
    """A workspace of its own (id, name) where no customer writes: nothing reaches its members but what a test does
    (the demo workspace's members are notified of every customer of every test)."""
    from chalicelib.services.deps import deps
    from chalicelib.store import repo

    workspace = f"team-{secrets.token_hex(4)}"
    name = name or f"Team {workspace}"
    repo.put_workspace(workspace, name, language="en", now=deps().now())
    return workspace, name


def new_member(workspace: str | None = None, role: str = "admin") -> str:
    """A new member (an e-mail address) of the workspace, by default of a new quiet one (`new_team`)."""
    from chalicelib.services import team
    from chalicelib.services.deps import deps

    address = f"first-{secrets.token_hex(4)}@team.example"
    team.ensure_member(workspace or new_team()[0], address, role, now=deps().now())
    return address


def links_for(demo: Demo, address: str) -> list[str]:
    """The sign-in links mailed to the address (the local outbox), newest first."""
    mails = requests.get(f"{demo.url}/_outbox/messages.json", params={"to": address}, timeout=10).json()
    return [m["link"] for m in mails if m.get("kind") == "login"]  # newest first


def emailed_link(demo: Demo, address: str) -> str:
    """Ask for a sign-in link as the console's form does, and read it from the outbox."""
    before = len(links_for(demo, address))
    asked = requests.post(f"{demo.url}/api/auth/login-link", json={"email": address}, timeout=10)
    assert asked.status_code == 202, asked.text
    wait_until(lambda: len(links_for(demo, address)) > before, what=f"a sign-in link for {address}")
    return links_for(demo, address)[0]


def sign_in(page: Any, demo: Demo, path: str = "/") -> None:
    """Open the console and sign in with the API key (the login screen of a first visit)."""
    page.goto(f"{demo.url}{path}")
    page.get_by_label("API key").fill(demo.key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("tab", name="New").wait_for()


def open_conversation(page: Any, name: str) -> None:
    """Click the customer's row in the inbox and wait for the thread."""
    page.get_by_role("navigation", name="Conversations").get_by_role("link", name=re.compile(re.escape(name))).click()
    page.get_by_role("region", name="Conversation").get_by_role("heading", name=name).wait_for()


def watch_console(page: Any) -> list[str]:
    """Every error or warning any page of this context logs to the browser console (failed requests included:
    Chromium logs a 4xx/5xx answer as an error), and every uncaught error. Nothing is filtered."""
    seen: list[str] = []
    page.context.on("console", lambda msg: seen.append(f"{msg.type}: {msg.text} ({msg.location.get('url')})")
                    if msg.type in ("error", "warning") else None)
    page.context.on("weberror", lambda err: seen.append(f"uncaught: {err.error}"))
    return seen


def thread(page: Any) -> Any:
    return page.get_by_role("log", name="Messages")


def reply_box(page: Any) -> Any:
    return page.get_by_role("textbox", name="Reply to the customer")


@contextmanager
def served_page(html: str) -> Iterator[str]:
    """A page on its own origin (another port of 127.0.0.1), as a brand's site that embeds the widget."""
    body = html.encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            self.send_response(200 if self.path in ("/", "/index.html") else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def member_browser(browser: Any, demo: Demo, name: str, role: str = "operator",
                   prepare: Callable[[Any], None] | None = None) -> tuple[Any, Any]:
    """A new member of the demo workspace signed in by the e-mailed link, in a browser of their own, on the inbox
    with the live socket open. `prepare` runs on the page before it loads (routes, listeners). (page, user)"""
    from playwright.sync_api import expect

    from chalicelib.local import demo as demo_seed
    from tests.e2e.test_team_support import add_user

    user = add_user(demo.stack, demo_seed.WORKSPACE, role, name=name)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    context.add_cookies([{"name": c.name, "value": c.value or "", "url": demo.url} for c in user.http.cookies])
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.set_default_timeout(10_000)
    if prepare is not None:
        prepare(page)
    page.goto(f"{demo.url}/?workspace={demo_seed.WORKSPACE}")
    page.get_by_role("tab", name="New").wait_for()
    expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()
    return page, user
