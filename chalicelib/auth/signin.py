"""Signing in ends the same way whatever the method: a known user (by e-mail) gets a new session. Nobody signs up
here: a user exists once an invite was accepted (or an operator created them, like the demo admin).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.auth import login_links, oidc, sessions
from chalicelib.errors import Forbidden, Unauthenticated
from chalicelib.settings import Settings
from chalicelib.store import repo, team


def with_link(settings: Settings, token: object, *, now: datetime) -> tuple[sessions.Issued, str]:
    user_id, next_path = login_links.use_link(token, now=now)
    if team.get_user(user_id) is None:
        raise Unauthenticated("this sign-in link is not valid", code="link_invalid")
    team.touch_login(user_id, now=now)
    return sessions.start_session(settings, user_id, via="link", now=now), next_path


def with_identity(settings: Settings, identity: oidc.Identity, *, now: datetime) -> sessions.Issued:
    user = team.find_user_by_email(identity.email)
    if user is None:
        raise Forbidden("there is no account for this address here; ask your admin for an invite", code="no_account")
    team.touch_login(user.user_id, now=now, name="" if user.name else identity.name)
    return sessions.start_session(settings, user.user_id, via=f"oidc:{identity.provider}", now=now)


def me(user_id: str) -> dict[str, Any]:
    """The signed-in user and their workspaces with a role each (the console's workspace switcher)."""
    user = team.get_user(user_id)
    if user is None:
        raise Unauthenticated("sign in again")
    workspaces = []
    for member in sorted(team.memberships(user_id), key=lambda m: m.workspace_id or ""):
        workspace = repo.get_workspace(member.workspace_id or "")
        workspaces.append({"id": member.workspace_id, "name": workspace.name if workspace else member.workspace_id,
                           "role": member.role})
    return {"user": {"id": user.user_id, "email": user.email, "name": user.name, "last_login_at": user.last_login_at},
            "workspaces": workspaces}
