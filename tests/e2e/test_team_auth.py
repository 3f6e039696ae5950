"""Accounts and access over real HTTP: e-mailed one-time links (local outbox and SES), session cookies with CSRF,
workspaces chosen per request, invitations, removal, role changes and API keys."""

from __future__ import annotations

import secrets
from datetime import timedelta

import boto3
import pytest
import requests

from chalicelib.local.websocket import OP_CLOSE, read_frame
from tests.e2e.test_team_support import Socket, add_user, outbox_link, sign_in_by_link, token_of
from tests.support import customer_message, fresh, new_workspace

pytestmark = pytest.mark.ddblocal


def chat() -> int:
    return 6_000_000 + secrets.randbelow(10**6)


def member(stack, ws_id: str, role: str) -> str:
    from chalicelib.services import team
    from chalicelib.services.deps import deps

    email = f"{fresh('m')}@team.example"
    team.ensure_member(ws_id, email, role, now=deps().now())
    return email


@pytest.fixture
def clock_ahead():
    """Move the stack's clock (the same process serves the requests) and put it back."""
    from chalicelib.services.deps import deps

    d = deps()
    original = d.clock

    def ahead(delta: timedelta) -> None:
        d.clock = lambda: original() + delta

    yield ahead
    d.clock = original


def test_a_member_signs_in_with_the_emailed_link_from_the_outbox_page_and_works_with_the_cookie(stack):
    ws = new_workspace(stack)
    email = member(stack, ws.id, "operator")
    http = requests.Session()
    assert http.post(f"{stack.url}/api/auth/login-link", json={"email": email.upper()}).status_code == 202

    (mail,) = requests.get(f"{stack.url}/_outbox/messages.json", params={"to": email}, timeout=10).json()
    assert mail["kind"] == "login" and mail["link"].startswith(f"{stack.url}/api/auth/link?token=")
    page = http.get(mail["link"], timeout=10)  # what the e-mail opens: a page whose button signs in
    assert page.status_code == 200 and "<form method=post" in page.text and token_of(mail["link"]) in page.text
    done = http.post(f"{stack.url}/api/auth/link", data={"token": token_of(mail["link"])}, allow_redirects=False)
    assert done.status_code == 303 and done.headers["Location"] == "/"

    cookies = done.raw.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("zb_session="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie and "Path=/" in session_cookie
    assert "Secure" not in session_cookie  # plain http://127.0.0.1 in embedded mode; Secure everywhere else
    assert any(c.startswith("zb_csrf=") and "HttpOnly" not in c for c in cookies)  # the console reads it

    me = http.get(f"{stack.url}/api/auth/session").json()
    assert me["user"]["email"] == email and me["workspaces"] == [{"id": ws.id, "name": f"Shop {ws.id}",
                                                                   "role": "operator"}]
    assert http.get(f"{stack.url}/api/conversations").status_code == 200  # one workspace: no header needed


def test_a_sign_in_link_works_once(stack):
    ws = new_workspace(stack)
    email = member(stack, ws.id, "readonly")
    requests.post(f"{stack.url}/api/auth/login-link", json={"email": email}, timeout=10)
    token = token_of(outbox_link(email))
    assert requests.post(f"{stack.url}/api/auth/link", json={"token": token}).status_code == 200
    again = requests.post(f"{stack.url}/api/auth/link", json={"token": token})
    assert again.status_code == 401 and again.json()["error"]["code"] == "link_invalid"
    assert "zb_session" not in again.cookies


def test_a_sign_in_link_expires_after_15_minutes(stack, clock_ahead):
    ws = new_workspace(stack)
    email = member(stack, ws.id, "readonly")
    requests.post(f"{stack.url}/api/auth/login-link", json={"email": email}, timeout=10)
    token = token_of(outbox_link(email))
    clock_ahead(timedelta(minutes=16))
    late = requests.post(f"{stack.url}/api/auth/link", json={"token": token})
    assert late.status_code == 401 and late.json()["error"]["code"] == "link_invalid"


def test_the_link_request_never_says_whether_an_address_has_an_account_and_mails_nobody_unknown(stack):
    from chalicelib.auth.mail import OUTBOX

    stranger = f"{fresh('x')}@nowhere.example"
    resp = requests.post(f"{stack.url}/api/auth/login-link", json={"email": stranger}, timeout=10)
    assert resp.status_code == 202 and resp.json()["sent"] is True
    assert OUTBOX.to(stranger) == []
    bad = requests.post(f"{stack.url}/api/auth/login-link", json={"email": "not an address"}, timeout=10)
    assert bad.status_code == 400


def test_one_address_gets_at_most_five_links_a_quarter_of_an_hour(stack):
    ws = new_workspace(stack)
    email = member(stack, ws.id, "readonly")
    codes = [requests.post(f"{stack.url}/api/auth/login-link", json={"email": email}, timeout=10).status_code
             for _ in range(6)]
    assert codes == [202] * 5 + [429]


def test_a_sign_in_request_from_another_site_is_refused(stack):
    resp = requests.post(f"{stack.url}/api/auth/link", data={"token": "x" * 43},
                         headers={"Origin": "https://evil.example"}, allow_redirects=False)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "cross_site"


def test_cookie_authenticated_writes_need_the_csrf_token_and_reads_do_not(stack):
    ws = new_workspace(stack)
    ws.post_update(customer_message(chat(), "hello"))
    ws.drain()
    (conv,) = ws.conversations()
    op = add_user(stack, ws.id, "operator")
    path = f"/conversations/{conv['id']}/notes"
    for token in ("", "forged-token"):
        refused = op.api("POST", path, json={"text": "csrf?"}, csrf=token)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    assert op.api("GET", "/conversations", csrf="").status_code == 200
    assert op.api("POST", path, json={"text": "with the token"}).status_code == 201


def test_signing_out_deletes_the_session(stack):
    ws = new_workspace(stack)
    op = add_user(stack, ws.id, "readonly")
    stolen = op.session_cookie
    assert op.api("POST", "/auth/logout", csrf="").status_code == 403  # a cross-site form cannot sign you out
    resp = op.api("POST", "/auth/logout")
    assert resp.status_code == 204
    assert any(c.startswith("zb_session=;") and "Max-Age=0" in c for c in resp.raw.headers.getlist("Set-Cookie"))
    from chalicelib.auth.users import secret_hash
    from chalicelib.store import team

    assert stolen and op.session_cookie == "" and team.get_session(secret_hash(stolen)) is None
    op.http.cookies.set("zb_session", stolen)  # a copy of the cookie is worthless now
    assert op.api("GET", "/conversations").status_code == 401


def test_a_user_in_two_workspaces_chooses_one_per_request_with_its_own_role_and_data(stack):
    from chalicelib.services import team
    from chalicelib.services.deps import deps

    shop_a, shop_b = new_workspace(stack), new_workspace(stack)
    shop_a.post_update(customer_message(chat(), "in shop A"))
    shop_b.post_update(customer_message(chat(), "in shop B"))
    shop_a.drain()
    op = add_user(stack, shop_a.id, "operator")
    team.ensure_member(shop_b.id, op.email, "readonly", now=deps().now())

    (conv_a,) = op.api("GET", "/conversations").json()["items"]
    (conv_b,) = op.api("GET", "/conversations", workspace=shop_b.id).json()["items"]
    assert conv_a["last_message_preview"] == "in shop A" and conv_b["last_message_preview"] == "in shop B"
    assert op.api("POST", f"/conversations/{conv_a['id']}/notes", json={"text": "ok"}).status_code == 201
    readonly = op.api("POST", f"/conversations/{conv_b['id']}/notes", workspace=shop_b.id, json={"text": "no"})
    assert readonly.status_code == 403
    crossed = op.api("GET", f"/conversations/{conv_b['id']}")  # B's id while acting in A
    assert crossed.status_code == 404 and "in shop B" not in crossed.text

    roles = {w["id"]: w["role"] for w in op.api("GET", "/auth/session").json()["workspaces"]}
    assert roles == {shop_a.id: "operator", shop_b.id: "readonly"}
    unchosen = op.http.get(f"{stack.url}/api/conversations")
    assert unchosen.status_code == 400 and unchosen.json()["error"]["code"] == "workspace_required"
    stranger = new_workspace(stack)
    assert op.api("GET", "/conversations", workspace=stranger.id).status_code == 404


def test_an_api_key_cannot_be_pointed_at_another_workspace(stack):
    mine, other = new_workspace(stack), new_workspace(stack)
    resp = mine.api("GET", "/conversations", headers={"X-Workspace": other.id})
    assert resp.status_code == 404


def test_an_invitation_by_email_is_accepted_once_and_grants_exactly_its_role(stack):
    ws = new_workspace(stack)
    ws.post_update(customer_message(chat(), "help"))
    ws.drain()
    (conv,) = ws.conversations()
    email = f"{fresh('inv')}@team.example"
    created = ws.api("POST", "/invites", json={"email": email, "role": "moderator"})
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "pending" and "token" not in created.text

    link = outbox_link(email, kind="invite")
    http = requests.Session()
    page = http.get(link)
    assert page.status_code == 200 and "Accept" in page.text
    joined = http.post(f"{stack.url}/api/auth/invite", json={"token": token_of(link)})
    assert joined.status_code == 200, joined.text
    assert joined.json()["workspaces"] == [{"id": ws.id, "name": f"Shop {ws.id}", "role": "moderator"}]
    headers = {"X-Workspace": ws.id, "X-CSRF-Token": joined.json()["csrf_token"]}

    api = f"{stack.url}/api/conversations/{conv['id']}"
    assert http.patch(api, json={"tags": ["spam"]}, headers=headers).status_code == 200  # moderators tag
    denied = http.post(f"{api}/replies", json={"text": "hi"}, headers=headers)  # ...and never answer
    assert denied.status_code == 403
    again = requests.post(f"{stack.url}/api/auth/invite", json={"token": token_of(link)})
    assert again.status_code == 401 and again.json()["error"]["code"] == "invite_used"
    (invite,) = ws.api("GET", "/invites").json()["items"]
    assert invite["status"] == "accepted" and invite["accepted_by"] == joined.json()["user"]["id"]
    members = {m["email"]: m["role"] for m in ws.api("GET", "/members").json()["items"]}
    assert members[email] == "moderator"


def test_an_expired_or_revoked_invitation_cannot_be_used(stack, clock_ahead):
    ws = new_workspace(stack)
    late, revoked = f"{fresh('late')}@team.example", f"{fresh('rev')}@team.example"
    ws.api("POST", "/invites", json={"email": late, "role": "operator", "valid_days": 1})
    invite = ws.api("POST", "/invites", json={"email": revoked, "role": "operator"}).json()
    assert ws.api("DELETE", f"/invites/{invite['id']}").json()["status"] == "revoked"
    resp = requests.post(f"{stack.url}/api/auth/invite", json={"token": token_of(outbox_link(revoked, "invite"))})
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "invite_used"
    clock_ahead(timedelta(days=2))
    resp = requests.post(f"{stack.url}/api/auth/invite", json={"token": token_of(outbox_link(late, "invite"))})
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "invite_expired"


def test_removing_a_member_ends_their_sessions_at_once(stack):
    ws = new_workspace(stack)
    admin = add_user(stack, ws.id, "admin")
    op = add_user(stack, ws.id, "operator")
    assert op.api("GET", "/conversations").status_code == 200
    console = Socket.of(op)
    assert console.status == 101
    assert admin.api("DELETE", f"/members/{op.user_id}").status_code == 204
    assert op.api("GET", "/conversations").status_code == 401
    console.sock.settimeout(5)
    assert read_frame(console.stream, require_mask=False).opcode == OP_CLOSE  # their open console is closed
    console.drop()
    assert op.user_id not in {m["user_id"] for m in admin.api("GET", "/members").json()["items"]}


def test_a_role_change_applies_to_the_next_request_and_the_last_admin_stays(stack):
    ws = new_workspace(stack)
    admin = add_user(stack, ws.id, "admin")
    op = add_user(stack, ws.id, "operator")
    assert op.api("GET", "/api-keys").status_code == 403
    assert admin.api("PATCH", f"/members/{op.user_id}", json={"role": "admin"}).json()["role"] == "admin"
    assert op.api("GET", "/api-keys").status_code == 200
    assert op.api("PATCH", f"/members/{op.user_id}", json={"role": "analyst"}).status_code == 200
    last = admin.api("PATCH", f"/members/{admin.user_id}", json={"role": "operator"})
    assert last.status_code == 409 and last.json()["error"]["code"] == "last_admin"
    assert admin.api("DELETE", f"/members/{admin.user_id}").status_code == 409


def test_api_keys_are_listed_without_secrets_and_a_revoked_key_is_refused_at_once(stack):
    ws = new_workspace(stack)
    created = ws.api("POST", "/api-keys", json={"name": "CRM", "role": "operator"})
    assert created.status_code == 201
    key = created.json()["key"]
    assert ws.api("GET", "/conversations", key=key).status_code == 200
    listed = ws.api("GET", "/api-keys").json()["items"]
    assert {k["name"] for k in listed} >= {"CRM", "tests"}
    assert key not in str(listed) and all("key" not in k for k in listed)
    assert ws.api("DELETE", f"/api-keys/{created.json()['id']}").json()["revoked"] is True
    assert ws.api("GET", "/conversations", key=key).status_code == 401


def test_notification_settings_belong_to_one_user_in_one_workspace(stack):
    from chalicelib.services import team
    from chalicelib.services.deps import deps

    shop_a, shop_b = new_workspace(stack), new_workspace(stack)
    op = add_user(stack, shop_a.id, "operator")
    team.ensure_member(shop_b.id, op.email, "operator", now=deps().now())
    defaults = op.api("GET", "/me/notifications").json()["events"]
    assert defaults["assigned_to_me"] == ["console", "email"]
    changed = op.api("PUT", "/me/notifications", json={"events": {"assigned_to_me": ["console"],
                                                                   "sla_breach": []}})
    assert changed.status_code == 200 and changed.json()["events"]["sla_breach"] == []
    assert op.api("GET", "/me/notifications").json()["events"]["assigned_to_me"] == ["console"]
    assert op.api("GET", "/me/notifications", workspace=shop_b.id).json()["events"] == defaults
    assert [m.user_id for m in team.recipients(shop_a.id, "sla_breach", "email")] == []
    bad = op.api("PUT", "/me/notifications", json={"events": {"assigned_to_me": ["sms"]}})
    assert bad.status_code == 400


@pytest.fixture
def moto_ses():
    """Amazon SES v2 as moto serves it, on a local port (the embedded stack keeps its own DynamoDB)."""
    from moto.server import ThreadedMotoServer

    from chalicelib.auth import mail
    from chalicelib.local.dynamodb import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    client = boto3.client("sesv2", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_email_identity(EmailIdentity="no-reply@zabota.example")
    mail.override(mail.SesMailer(client, "Zabota <no-reply@zabota.example>"))
    yield
    mail.override(None)
    server.stop()


def test_in_aws_the_sign_in_link_goes_out_through_ses(stack, moto_ses):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    ws = new_workspace(stack)
    email = member(stack, ws.id, "operator")
    assert requests.post(f"{stack.url}/api/auth/login-link", json={"email": email}).status_code == 202
    outbox = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    sent = [m for m in outbox if email in m.destinations["ToAddresses"]]
    assert len(sent) == 1 and sent[0].subject == "Sign in to Zabota"
    link = next(word for word in sent[0].body.split() if word.startswith(f"{stack.url}/api/auth/link?token="))
    http = requests.Session()
    resp = http.post(f"{stack.url}/api/auth/link", json={"token": token_of(link)})
    body = resp.json()
    assert resp.status_code == 200 and body["user"]["email"] == email
    assert http.get(f"{stack.url}/api/conversations").status_code == 200


def test_signing_in_again_gives_a_new_session_and_keeps_the_old_one(stack):
    ws = new_workspace(stack)
    op = add_user(stack, ws.id, "readonly")
    laptop_cookie = op.session_cookie
    phone, _ = sign_in_by_link(stack, op.email)
    assert phone.cookies.get("zb_session") != laptop_cookie
    assert op.api("GET", "/conversations").status_code == 200
    assert phone.get(f"{stack.url}/api/conversations").status_code == 200


def test_outside_embedded_mode_the_session_cookie_is_secure_and_host_only():
    from chalicelib.auth import sessions
    from chalicelib.settings import load

    aws = load({"MAIN_TABLE": "m", "IDEMPOTENCY_TABLE": "i", "CONNECTIONS_TABLE": "c", "ZABOTA_STAGE": "prod",
                "SIGNING_KEY": "k", "PUBLIC_URL": "https://inbox.example"})
    cookie = sessions.set_cookie(aws, sessions.SESSION_COOKIE, "abc", max_age=60, http_only=True)
    assert cookie == "__Host-zb_session=abc; Path=/; Max-Age=60; SameSite=Lax; HttpOnly; Secure"
    csrf = sessions.set_cookie(aws, sessions.CSRF_COOKIE, "t", max_age=60, http_only=False)
    assert csrf == "zb_csrf=t; Path=/; Max-Age=60; SameSite=Lax; Secure"
    assert sessions.session_id_of(aws, {"cookie": "zb_session=planted; __Host-zb_session=real"}) == "real"
