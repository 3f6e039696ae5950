"""Every declared route × every role, generated from the route table: allowed roles get past the permission
check, the others get 403. (The team issue adds users; the table and this test stay.)"""

from __future__ import annotations

import re
import secrets

import pytest

import app  # noqa: F401  - registers the routes
from chalicelib.api.routing import ROUTES
from chalicelib.auth.permissions import ROLES, allowed
from tests.support import customer_message, new_workspace

pytestmark = pytest.mark.ddblocal

PROTECTED = [s for s in ROUTES if s.permission]
assert len(PROTECTED) > 10, "the route table is empty: nothing would be tested"


@pytest.fixture(scope="module")
def world(stack):
    from chalicelib.auth.keys import create_api_key
    from chalicelib.services.deps import deps

    ws = new_workspace(stack)
    ws.post_update(customer_message(5_100_000 + secrets.randbelow(10**5), "hi"))
    ws.drain()
    (conv,) = ws.conversations()
    msg = ws.messages(conv["id"])[0]
    keys = {role: create_api_key(ws.id, role, name=role, now=deps().now()) for role in ROLES}
    params = {"conversation_id": conv["id"], "message_id": msg["id"], "channel_id": ws.channel_id}
    return ws, keys, params


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("spec", PROTECTED, ids=lambda s: f"{s.method} {s.path}")
def test_role_may_call_route_only_if_the_matrix_allows(world, spec, role):
    ws, keys, params = world
    path = re.sub(r"{(\w+)}", lambda m: params.get(m.group(1), "no-such-id"), spec.path)
    resp = ws.api(spec.method, path, key=keys[role], data=b"{}", headers={"Content-Type": "application/json"})
    if allowed(role, spec.permission):
        assert resp.status_code not in (401, 403), resp.text
    else:
        assert resp.status_code == 403, resp.text
        assert resp.json()["error"]["code"] == "forbidden"
