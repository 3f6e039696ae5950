"""The role × action table and the route declarations."""

from __future__ import annotations

import app as app_module
from chalicelib.api.routing import ROUTES
from chalicelib.auth.permissions import ACTIONS, MATRIX, ROLES, allowed


def test_every_chalice_route_is_declared_with_a_permission_or_as_public():
    declared = {(s.path, s.method) for s in ROUTES}
    for path, methods in app_module.app.routes.items():
        for method in methods:
            assert (path, method) in declared, f"{method} {path} bypasses route()"
    for spec in ROUTES:
        assert spec.permission is None or spec.permission in ACTIONS


def test_admin_may_do_everything_and_readonly_only_read():
    assert all(allowed("admin", a) for a in ACTIONS)
    assert [a for a in ACTIONS if allowed("readonly", a)] == ["conversations:read", "tasks:read", "articles:read"]


def test_moderator_cannot_answer_but_can_tag_and_moderate():
    assert not allowed("moderator", "conversations:reply")
    assert allowed("moderator", "conversations:manage") and allowed("moderator", "messages:moderate")


def test_analyst_reads_and_analyses_but_changes_nothing():
    assert {a for a in ACTIONS if allowed("analyst", a)} == {"conversations:read", "analytics:read", "tasks:read",
                                                             "articles:read"}


def test_operators_create_and_work_tasks_only_admins_manage_teams():
    assert [r for r in ROLES if allowed(r, "tasks:write")] == ["operator", "admin"]
    assert [r for r in ROLES if allowed(r, "teams:manage")] == ["admin"]
    assert all(allowed(r, "tasks:read") for r in ROLES)


def test_every_role_is_in_the_matrix():
    assert set(MATRIX) == set(ROLES)


def test_the_permissions_page_matches_the_table():
    from pathlib import Path

    from chalicelib.auth.permissions import matrix_markdown

    page = Path(__file__).resolve().parents[2] / "docs" / "PERMISSIONS.md"
    assert page.read_text(encoding="utf-8") == matrix_markdown(), "regenerate docs/PERMISSIONS.md"


def test_everyone_reads_the_knowledge_base_and_admins_and_moderators_write_it():
    assert all(allowed(r, "articles:read") for r in ROLES)
    assert [r for r in ROLES if allowed(r, "articles:write")] == ["moderator", "admin"]
