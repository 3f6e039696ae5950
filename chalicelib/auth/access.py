"""Who is calling, and as what: an API key (`Authorization: Bearer`, one workspace, one role) or a signed-in user
(session cookie; the workspace is chosen per request by `X-Workspace`, the role is the membership's).

`api/routing.authorize` calls `authenticate` for every protected route, then checks the role × action table:
the one place. A user's membership is read on every request, so a changed role or a removed member takes
effect at once. Cookie-authenticated writes must carry the CSRF token.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from chalicelib.auth import keys, sessions
from chalicelib.auth.keys import Principal
from chalicelib.auth.users import subject_of
from chalicelib.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from chalicelib.settings import Settings
from chalicelib.store import team
from chalicelib.store.models import MemberItem, SessionItem

WORKSPACE_HEADER = "x-workspace"


def authenticate(settings: Settings, headers: dict[str, str], *, method: str, now: datetime) -> Principal:
    """The caller of a protected route, scoped to one workspace (headers have lower-case names)."""
    wanted = headers.get(WORKSPACE_HEADER, "").strip()
    if headers.get("authorization"):
        principal = keys.authenticate_key(keys.bearer(headers))
        if wanted and wanted != principal.workspace_id:
            raise NotFound("workspace not found", code="workspace_not_found")
        return principal
    session = signed_in(settings, headers, method=method, now=now)
    return principal_of(member_for(session.user_id, wanted))


def signed_in(settings: Settings, headers: dict[str, str], *, method: str, now: datetime) -> SessionItem:
    """The caller's live session (routes that need a user but no workspace: sign-out, the workspace list)."""
    session = sessions.current_session(settings, headers, now=now)
    if session is None:
        raise Unauthenticated("sign in, or send Authorization: Bearer <API key>")
    sessions.check_csrf(headers, session, method)
    return session


def member_for(user_id: str, wanted: str) -> MemberItem:
    """The membership the request acts under: the one named, or the user's only one."""
    if not wanted:
        mine = team.memberships(user_id)
        if not mine:
            raise Forbidden("you are not a member of any workspace; ask an admin for an invite", code="no_workspace")
        if len(mine) > 1:
            raise InvalidInput("choose a workspace: send its id in the X-Workspace header", code="workspace_required")
        wanted = mine[0].workspace_id or ""
    member = team.get_member(wanted, user_id) if len(wanted) <= 100 else None
    if member is None:
        raise NotFound("workspace not found", code="workspace_not_found")
    return member


def principal_of(member: MemberItem) -> Principal:
    return Principal(workspace_id=member.workspace_id or "", role=member.role, subject=subject_of(member.user_id),
                     name=member.name, user_id=member.user_id, email=member.email, via="session")


def same_origin(settings: Settings, origin: str) -> bool:
    mine = urlsplit(settings.public_url)
    theirs = urlsplit(origin)
    return (theirs.scheme, theirs.netloc) == (mine.scheme, mine.netloc)


def authenticate_socket(settings: Settings, headers: dict[str, str], query: dict[str, str], *,
                        now: datetime) -> Principal:
    """WebSocket `$connect`: `?token=<API key>`, or the session cookie plus `?workspace=<id>`.

    Browsers send cookies with cross-site WebSocket handshakes that are not stopped by SameSite in every case,
    so a cookie-authenticated socket must come from our own origin.
    """
    token = query.get("token", "")
    if token:
        return keys.authenticate_key(token)
    if not same_origin(settings, headers.get("origin", "")):
        raise Forbidden("a signed-in socket must come from this site")
    session = signed_in(settings, headers, method="GET", now=now)
    return principal_of(member_for(session.user_id, query.get("workspace", "")))
