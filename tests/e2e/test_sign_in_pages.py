"""The pages the API renders for signing in (issue 17) and the session probe, over HTTP: reading a link's page
uses nothing up, the form for a new link tells nobody whether an address has an account, the language follows
the browser or the switch, and a logged-out browser is not an error."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
import requests

from tests.support import fresh

pytestmark = pytest.mark.ddblocal


def member(workspace: str) -> str:
    from chalicelib.services import team
    from chalicelib.services.deps import deps

    address = f"{fresh('page')}@team.example"
    team.ensure_member(workspace, address, "operator", now=deps().now())
    return address


def link_for(stack, address: str) -> str:
    assert requests.post(f"{stack.url}/api/auth/login-link", json={"email": address}, timeout=10).status_code == 202
    mails = requests.get(f"{stack.url}/_outbox/messages.json", params={"to": address}, timeout=10).json()
    return mails[0]["link"]


@pytest.fixture(scope="module")
def quiet_workspace(stack):
    """A workspace of this module's own, where no customer writes (members of a busy one get notifications)."""
    from chalicelib.services.deps import deps
    from chalicelib.store import repo

    workspace = fresh("pages")
    repo.put_workspace(workspace, "Quiet shop", language="ru", now=deps().now())
    return workspace


def test_reading_the_link_page_any_number_of_times_does_not_use_the_link(stack, quiet_workspace):
    address = member(quiet_workspace)
    link = link_for(stack, address)
    for _ in range(3):  # a mail scanner, a preview, the person
        page = requests.get(link, timeout=10)
        assert page.status_code == 200 and address in page.text and "<button type=submit>Sign in</button>" in page.text
    token = link.split("token=")[1]
    assert requests.post(f"{stack.url}/api/auth/link", json={"token": token}, timeout=10).status_code == 200


def test_the_page_style_is_allowed_by_its_hash_and_nothing_else_is(stack, quiet_workspace):
    page = requests.get(link_for(stack, member(quiet_workspace)), timeout=10)
    (css,) = re.findall(r"<style>(.*?)</style>", page.text, re.S)
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    policy = page.headers["Content-Security-Policy"]
    assert f"style-src 'sha256-{digest}'" in policy and "default-src 'none'" in policy
    assert "form-action 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "<script" not in page.text and page.headers["Referrer-Policy"] == "strict-origin"


def test_the_language_follows_the_browser_and_the_switch(stack, quiet_workspace):
    link = link_for(stack, member(quiet_workspace))
    ru = requests.get(link, headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.8"}, timeout=10)
    assert "<html lang=ru>" in ru.text and "Вход в Zabota" in ru.text
    de = requests.get(link, headers={"Accept-Language": "de-DE,de;q=0.9"}, timeout=10)
    assert "<html lang=en>" in de.text
    switched = requests.get(f"{link}&lang=en", headers={"Accept-Language": "ru"}, timeout=10)
    assert "Sign in to Zabota" in switched.text


def test_the_new_link_form_answers_alike_for_a_member_and_a_stranger(stack, quiet_workspace):
    from chalicelib.auth.mail import OUTBOX

    known, stranger = member(quiet_workspace), f"{fresh('nobody')}@nowhere.example"
    answers = [requests.post(f"{stack.url}/api/auth/login-link", data={"email": who, "lang": "en"}, timeout=10)
               for who in (known, stranger)]
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].text == answers[1].text and "Check your inbox" in answers[0].text
    assert len(OUTBOX.to(known)) == 1 and OUTBOX.to(stranger) == []


def test_the_new_link_form_says_when_an_address_had_too_many_links(stack, quiet_workspace):
    address = member(quiet_workspace)
    codes = [requests.post(f"{stack.url}/api/auth/login-link", data={"email": address}, timeout=10).status_code
             for _ in range(5)]
    late = requests.post(f"{stack.url}/api/auth/login-link", data={"email": address}, timeout=10)
    assert codes == [202] * 5 and late.status_code == 429 and "Too many links" in late.text
    bad = requests.post(f"{stack.url}/api/auth/login-link", data={"email": "<b>not an address"}, timeout=10)
    assert bad.status_code == 400 and "&lt;b&gt;not an address" in bad.text and "<b>not" not in bad.text


def test_a_logged_out_browser_is_not_an_error_but_a_wrong_key_is(stack):
    nobody = requests.get(f"{stack.url}/api/auth/session", timeout=10)
    assert nobody.status_code == 200 and nobody.json() == {"signed_in": False, "user": None, "workspaces": []}
    stale = requests.get(f"{stack.url}/api/auth/session", cookies={"zb_session": "x" * 43}, timeout=10)
    assert stale.status_code == 200 and stale.json()["signed_in"] is False
    wrong = requests.get(f"{stack.url}/api/auth/session", headers={"Authorization": "Bearer zb_nope_nope"}, timeout=10)
    assert wrong.status_code == 401


def invitation(stack, ws, role: str = "operator") -> tuple[str, str, str]:
    address = f"{fresh('inv')}@team.example"
    created = ws.api("POST", "/invites", json={"email": address, "role": role})
    assert created.status_code == 201, created.text
    mails = requests.get(f"{stack.url}/_outbox/messages.json", params={"to": address}, timeout=10).json()
    return address, mails[0]["link"], created.json()["id"]


def test_the_invitation_page_says_who_joins_where_with_which_role_and_reading_it_uses_nothing(stack):
    from tests.support import new_workspace

    ws = new_workspace(stack)
    address, link, _ = invitation(stack, ws, "moderator")
    for _ in range(2):
        page = requests.get(link, headers={"Accept-Language": "ru"}, timeout=10)
        assert page.status_code == 200
        assert f"добавляет <b>{address}</b> в пространство <b>Shop {ws.id}</b> с ролью «модератор»" in page.text
    joined = requests.post(f"{stack.url}/api/auth/invite", json={"token": link.split("token=")[1]}, timeout=10)
    assert joined.status_code == 200
    again = requests.get(link, timeout=10)
    assert "It was accepted already" in again.text and "<button" not in again.text


def test_a_withdrawn_invitation_says_so(stack):
    from tests.support import new_workspace

    ws = new_workspace(stack)
    _, link, invite_id = invitation(stack, ws)
    assert ws.api("DELETE", f"/invites/{invite_id}").status_code in (200, 204)
    page = requests.get(link, timeout=10)
    assert "The admin withdrew it" in page.text and "<button" not in page.text
    forged = requests.get(link[:-4] + "AAAA", timeout=10)
    assert "It is not a valid invitation link" in forged.text
