"""Reply templates (B7) over the real HTTP API: the administrator manages them, operators list them."""

from __future__ import annotations

import pytest

from tests.support import fresh, new_workspace

pytestmark = pytest.mark.ddblocal


def body(shortcut: str, **extra: str) -> dict[str, str]:
    return {"title": "Delivery", "text": "Hello {customer_name}, your order is on its way. {operator_name}",
            "shortcut": shortcut, **extra}


@pytest.fixture
def ws(stack):
    return new_workspace(stack)


def test_an_admin_creates_lists_changes_and_deletes_a_template(ws):
    created = ws.api("POST", "/templates", json=body("delivery"))
    assert created.status_code == 201, created.text
    template = created.json()
    assert template["shortcut"] == "delivery" and template["text"].startswith("Hello {customer_name}")
    assert template["created_by"].startswith("key:")

    listed = ws.api("GET", "/templates").json()
    assert [t["id"] for t in listed["items"]] == [template["id"]]
    assert listed["workspace_name"] == f"Shop {ws.id}"

    changed = ws.api("PUT", f"/templates/{template['id']}", json=body("shipping", title="Shipping"))
    assert changed.status_code == 200, changed.text
    assert (changed.json()["shortcut"], changed.json()["title"]) == ("shipping", "Shipping")
    assert ws.api("GET", "/templates").json()["items"][0]["shortcut"] == "shipping"

    assert ws.api("DELETE", f"/templates/{template['id']}").status_code == 200
    assert ws.api("GET", "/templates").json()["items"] == []
    assert ws.api("DELETE", f"/templates/{template['id']}").status_code == 404


@pytest.mark.parametrize(("change", "field"), [
    ({"title": ""}, "title"),
    ({"title": "t" * 81}, "title"),
    ({"text": "   "}, "text"),
    ({"text": "x" * 4001}, "text"),
    ({"shortcut": "Delivery"}, "shortcut"),
    ({"shortcut": "a b"}, "shortcut"),
    ({"shortcut": "s" * 31}, "shortcut"),
])
def test_a_wrong_field_is_refused_with_400_naming_it(ws, change, field):
    resp = ws.api("POST", "/templates", json={**body(fresh("ok")), **change})
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["details"]["field"] == field and field in error["message"]


def test_the_longest_allowed_values_are_accepted(ws):
    resp = ws.api("POST", "/templates", json={"title": "t" * 80, "text": "x" * 4000, "shortcut": "s_-9" + "s" * 26})
    assert resp.status_code == 201, resp.text


def test_a_shortcut_is_unique_in_a_workspace_but_not_across_workspaces(ws, stack):
    first = ws.api("POST", "/templates", json=body("refund")).json()
    taken = ws.api("POST", "/templates", json=body("refund", title="Another"))
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "shortcut_taken"

    other = ws.api("POST", "/templates", json=body("other")).json()
    renamed = ws.api("PUT", f"/templates/{other['id']}", json=body("refund"))
    assert renamed.status_code == 409
    assert ws.api("PUT", f"/templates/{first['id']}", json=body("refund", title="Same shortcut")).status_code == 200

    elsewhere = new_workspace(stack)
    assert elsewhere.api("POST", "/templates", json=body("refund")).status_code == 201


def test_another_workspaces_template_is_not_found_and_stays_unchanged(ws, stack):
    mine = ws.api("POST", "/templates", json=body("secret", text="SECRET text")).json()
    thief = new_workspace(stack)
    assert thief.api("PUT", f"/templates/{mine['id']}", json=body("stolen")).status_code == 404
    assert thief.api("DELETE", f"/templates/{mine['id']}").status_code == 404
    assert "SECRET" not in thief.api("GET", "/templates").text
    assert ws.api("GET", "/templates").json()["items"][0]["shortcut"] == "secret"


def test_an_operator_lists_templates_but_may_not_create_change_or_delete_them(ws):
    from chalicelib.auth.keys import create_api_key
    from chalicelib.services.deps import deps

    template = ws.api("POST", "/templates", json=body("hello")).json()
    operator = create_api_key(ws.id, "operator", name="operator", now=deps().now())

    listed = ws.api("GET", "/templates", key=operator)
    assert listed.status_code == 200 and listed.json()["items"][0]["id"] == template["id"]
    refused = [ws.api("POST", "/templates", key=operator, json=body("mine")),
               ws.api("PUT", f"/templates/{template['id']}", key=operator, json=body("mine")),
               ws.api("DELETE", f"/templates/{template['id']}", key=operator)]
    assert [r.status_code for r in refused] == [403, 403, 403]
    assert ws.api("GET", "/templates").json()["items"][0]["shortcut"] == "hello"


def test_the_demo_seed_adds_its_templates_once(stack):
    from chalicelib.local import demo
    from chalicelib.services import templates
    from chalicelib.services.deps import deps

    demo.seed(deps(), stack.fakes)
    demo.seed(deps(), stack.fakes)
    shortcuts = [t.shortcut for t in templates.list_templates(demo.WORKSPACE)]
    assert sorted(shortcuts) == sorted(t["shortcut"] for t in demo.DEMO_TEMPLATES)
