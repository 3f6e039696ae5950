"""Tenant isolation (I3) and the role matrix for signed-in users, generated from the route table.

- Every protected route with path ids, called by another workspace's admin with this workspace's ids: 404 and
  none of this workspace's data in the answer. Every list: none of it either.
- A signed-in user naming a workspace they do not belong to (`X-Workspace`): 404 on every route.
- Every route × every role for session users (cookie + CSRF), and for API keys on the routes whose ids the
  generic matrix (test_role_matrix.py) has no value for.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest

import app  # noqa: F401  - registers the routes
from chalicelib.api.routing import ROUTES, RouteSpec
from chalicelib.auth.permissions import ROLES, allowed
from tests.e2e.test_team_support import User, add_user
from tests.support import customer_message, fresh, new_workspace

pytestmark = pytest.mark.ddblocal

PROTECTED = [s for s in ROUTES if s.permission]
UNKNOWN = "zz_unknown_id"
BODIES: dict[tuple[str, str], dict[str, Any]] = {  # enough for the route to look the id up
    ("PATCH", "/conversations/{conversation_id}"): {"status": "closed", "tags": ["x"]},
    ("POST", "/conversations/{conversation_id}/replies"): {"text": "x"},
    ("POST", "/conversations/{conversation_id}/assign"): {"assignee_id": None},
    ("PATCH", "/members/{user_id}"): {"role": "readonly"},
    ("PATCH", "/channels/{channel_id}"): {"name": "x"},
}


def sample(schema: dict[str, Any] | None) -> Any:
    """The smallest value a JSON schema accepts (required properties only)."""
    if not schema:
        return {}
    if "enum" in schema:
        return schema["enum"][0]
    kinds = schema.get("type", "object")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "object" in kinds:
        props = schema.get("properties", {})
        return {name: sample(props.get(name, {"type": "string"})) for name in schema.get("required", [])}
    if "null" in kinds:
        return None
    return {"string": "x", "integer": 1, "number": 1, "boolean": False, "array": []}.get(kinds[0], "x")


def body_of(spec: RouteSpec) -> dict[str, Any] | None:
    if spec.method in ("GET", "DELETE"):
        return None
    return BODIES.get((spec.method, spec.path), sample(spec.request))


def fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"{(\w+)}", lambda m: ids.get(m.group(1), UNKNOWN), path)


@pytest.fixture(scope="module")
def victim(stack):
    """Workspace A, full of recognisable data: a conversation, a member, an invitation, an API key."""
    ws = new_workspace(stack)
    marker = f"SECRET{secrets.token_hex(4)}"
    ws.post_update(customer_message(5_300_000 + secrets.randbelow(10**5), f"{marker} text",
                                    first_name=f"{marker}name"))
    ws.drain()
    (conv,) = ws.conversations()
    message = ws.messages(conv["id"])[0]
    insider = add_user(stack, ws.id, "operator", name=f"{marker}member")
    invite = ws.api("POST", "/invites", json={"email": f"{marker.lower()}@victim.example", "role": "operator"}).json()
    key = ws.api("POST", "/api-keys", json={"name": f"{marker}key", "role": "readonly"}).json()
    ws.api("POST", f"/conversations/{conv['id']}/notes", json={"text": f"{marker} note"})
    team = ws.api("POST", "/teams", json={"name": f"{marker}team", "member_ids": [insider.user_id]}).json()
    task = ws.api("POST", "/tasks", json={"title": f"{marker} task", "team_id": team["id"],
                                          "links": [{"conversation_id": conv["id"], "message_id": message["id"]}]})
    ws.drain()
    ids = {"conversation_id": conv["id"], "message_id": message["id"], "channel_id": ws.channel_id,
           "user_id": insider.user_id, "invite_id": invite["id"], "key_id": key["id"],
           "task_id": task.json()["id"], "team_id": team["id"]}
    secrets_seen = [marker, marker.lower(), insider.email, ws.id, ws.webhook_secret]
    return ws, ids, secrets_seen


@pytest.fixture(scope="module")
def attacker(stack):
    ws = new_workspace(stack)
    return ws, add_user(stack, ws.id, "admin")


def leaks(text: str, secrets_seen: list[str]) -> list[str]:
    return [s for s in secrets_seen if s and s in text]


WITH_IDS = [s for s in PROTECTED if "{" in s.path]
LISTS = [s for s in PROTECTED if "{" not in s.path and s.method == "GET"]


@pytest.mark.parametrize("spec", WITH_IDS, ids=lambda s: f"{s.method} {s.path}")
def test_another_workspaces_ids_are_not_found_and_reveal_nothing(victim, attacker, spec):
    _, ids, secrets_seen = victim
    thief, _ = attacker
    resp = thief.api(spec.method, fill(spec.path, ids), json=body_of(spec))
    assert resp.status_code == 404, f"{spec.method} {spec.path}: {resp.status_code} {resp.text[:300]}"
    assert leaks(resp.text.replace(ids.get("conversation_id", "-"), ""), secrets_seen) == []


@pytest.mark.parametrize("spec", LISTS, ids=lambda s: f"{s.method} {s.path}")
def test_lists_show_nothing_of_another_workspace(victim, attacker, spec):
    _, ids, secrets_seen = victim
    thief, _ = attacker
    params = {"user_id": ids["user_id"], "actor": ids["user_id"], "conversation_id": ids["conversation_id"]}
    resp = thief.api("GET", spec.path, params=params)
    assert resp.status_code in (200, 400), resp.text
    assert leaks(resp.text, secrets_seen) == [] and ids["conversation_id"] not in resp.text


@pytest.mark.parametrize("spec", PROTECTED, ids=lambda s: f"{s.method} {s.path}")
def test_a_signed_in_user_cannot_act_in_a_workspace_they_do_not_belong_to(victim, attacker, spec):
    victim_ws, ids, secrets_seen = victim
    _, outsider = attacker
    resp = outsider.api(spec.method, fill(spec.path, ids), workspace=victim_ws.id, json=body_of(spec))
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "workspace_not_found", resp.text
    assert leaks(resp.text, secrets_seen[:3]) == []


def test_a_hand_over_to_someone_of_another_workspace_is_refused(victim, attacker, stack):
    _, ids, _ = victim
    thief, _ = attacker
    thief.post_update(customer_message(5_400_000 + secrets.randbelow(10**5), "mine"))
    thief.drain()
    (conv,) = thief.conversations()
    resp = thief.api("POST", f"/conversations/{conv['id']}/assign", json={"assignee_id": ids["user_id"]})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "not_an_operator"


# --- the role matrix for signed-in users --------------------------------------------------------------------


@pytest.fixture(scope="module")
def crew(stack):
    """One user per role in one workspace, signed in by e-mailed link; and an API key per role."""
    from chalicelib.auth.keys import create_api_key
    from chalicelib.services.deps import deps

    ws = new_workspace(stack)
    ws.post_update(customer_message(5_500_000 + secrets.randbelow(10**5), "hi"))
    ws.drain()
    (conv,) = ws.conversations()
    msg = ws.messages(conv["id"])[0]
    users = {role: add_user(stack, ws.id, role) for role in ROLES}
    keys = {role: create_api_key(ws.id, role, name=role, now=deps().now()) for role in ROLES}
    ids = {"conversation_id": conv["id"], "message_id": msg["id"], "channel_id": ws.channel_id,
           "user_id": fresh("u_nobody"), "invite_id": fresh("i_nobody"), "key_id": fresh("nobody")}
    return ws, users, keys, ids


def check(resp: Any, role: str, spec: RouteSpec) -> None:
    if allowed(role, spec.permission):
        assert resp.status_code not in (401, 403), f"{role} {spec.method} {spec.path}: {resp.text[:300]}"
    else:
        assert resp.status_code == 403, f"{role} {spec.method} {spec.path}: {resp.text[:300]}"
        assert resp.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("spec", PROTECTED, ids=lambda s: f"{s.method} {s.path}")
def test_a_signed_in_user_may_call_a_route_only_if_their_role_allows(crew, spec, role):
    _, users, _, ids = crew
    user: User = users[role]
    check(user.api(spec.method, fill(spec.path, ids), data=b"{}", headers={"Content-Type": "application/json"}),
          role, spec)


NEW_IDS = [s for s in PROTECTED if set(re.findall(r"{(\w+)}", s.path)) - {"conversation_id", "message_id",
                                                                            "channel_id"}]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("spec", NEW_IDS, ids=lambda s: f"{s.method} {s.path}")
def test_an_api_key_may_call_a_team_route_only_if_its_role_allows(crew, spec, role):
    ws, _, keys, ids = crew
    check(ws.api(spec.method, fill(spec.path, ids), key=keys[role], data=b"{}",
                 headers={"Content-Type": "application/json"}), role, spec)
