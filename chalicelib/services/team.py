"""The team of a workspace: members and roles, invites, API keys, team settings and each member's notification
settings. Every admin change writes its action-log entry in the same transaction (services/audit.py).
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from chalicelib.auth import mail, sessions
from chalicelib.auth.keys import Principal, create_api_key, key_hash
from chalicelib.auth.permissions import ROLES
from chalicelib.auth.users import ensure_user, normalise_email, secret_hash, subject_of
from chalicelib.domain import hours as hours_rules
from chalicelib.domain import notifications as notification_rules
from chalicelib.domain import sla as sla_rules
from chalicelib.domain.model import STATUSES, iso, new_id
from chalicelib.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from chalicelib.services import assignment, audit, notifications, presence
from chalicelib.services.deps import Deps
from chalicelib.store import repo, team
from chalicelib.store.models import ApiKeyItem, InviteItem, MemberItem, TeamSettingsItem

INVITE_DAYS_DEFAULT = 7
INVITE_DAYS_MAX = 30
MAX_CAPACITY = 500
NOTIFICATION_EVENTS = tuple(notification_rules.KINDS)
NOTIFICATION_CHANNELS = notification_rules.CHANNELS


def _role(value: Any) -> str:
    if value not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
    return str(value)


def _user_of(principal: Principal) -> str:
    if not principal.user_id:
        raise InvalidInput("this is a setting of a signed-in user, not of an API key", code="user_required")
    return principal.user_id


# --- members -----------------------------------------------------------------------------------------------


def member_json(m: MemberItem, seen: presence.Seen | None = None) -> dict[str, Any]:
    return {"user_id": m.user_id, "email": m.email, "name": m.name, "role": m.role,
            "capacity": None if m.capacity is None else int(m.capacity), "joined_at": m.created_at,
            "presence": seen.json() if seen else {"user_id": m.user_id, "state": "offline", "viewing": None,
                                                  "last_seen_at": None}}


def list_members(d: Deps, principal: Principal) -> list[dict[str, Any]]:
    ws = principal.workspace_id
    seen = {s.user_id: s for s in presence.workspace_presence(ws, d.now())}
    return [member_json(m, seen.get(m.user_id)) for m in team.list_members(ws)]


def ensure_member(ws: str, address: str, role: str, *, now: datetime, name: str = "") -> MemberItem:
    """Operators' tooling (the demo admin, a first admin): the user with this address in the workspace, idempotent."""
    user = ensure_user(normalise_email(address), name=name, now=now)
    found = team.get_member(ws, user.user_id)
    if found is not None:
        return found
    member = team.new_member(ws, user, _role(role), now=now)
    team.add_member(member, None)
    return team.get_member(ws, user.user_id) or member


def _require_member(ws: str, user_id: str) -> MemberItem:
    member = team.get_member(ws, user_id) if user_id and len(user_id) <= 100 else None
    if member is None:
        raise NotFound(f"member {user_id} not found")
    return member


def _other_admins(ws: str, user_id: str) -> int:
    return sum(1 for m in team.list_members(ws) if m.role == "admin" and m.user_id != user_id)


def update_member(d: Deps, principal: Principal, user_id: str, body: dict[str, Any]) -> dict[str, Any]:
    ws = principal.workspace_id
    member = _require_member(ws, user_id)
    now = d.now()
    if "role" in body:
        role = _role(body["role"])
        if role != member.role:
            if member.role == "admin" and not _other_admins(ws, user_id):
                raise Conflict("a workspace keeps at least one admin", code="last_admin")
            entry = audit.admin_entry(principal, "member.role", "member", user_id, now=now,
                                      before={"role": member.role}, after={"role": role})
            team.update_member(member, [MemberItem.role.set(role)], entry, condition=MemberItem.role == member.role)
    if "capacity" in body:
        capacity = body["capacity"]
        if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, int)
                                     or not 0 <= capacity <= MAX_CAPACITY):
            raise InvalidInput(f"capacity must be 0..{MAX_CAPACITY} or null (the workspace default)")
        before = None if member.capacity is None else int(member.capacity)
        if capacity != before:
            action = MemberItem.capacity.set(capacity) if capacity is not None else MemberItem.capacity.remove()
            entry = audit.admin_entry(principal, "member.capacity", "member", user_id, now=now,
                                      before={"capacity": before}, after={"capacity": capacity})
            team.update_member(member, [action], entry)
    return member_json(_require_member(ws, user_id))


def remove_member(d: Deps, principal: Principal, user_id: str) -> None:
    """Remove from the workspace and sign the user out at once (every session; open sockets here are closed)."""
    ws = principal.workspace_id
    member = _require_member(ws, user_id)
    if member.role == "admin" and not _other_admins(ws, user_id):
        raise Conflict("a workspace keeps at least one admin", code="last_admin")
    entry = audit.admin_entry(principal, "member.remove", "member", user_id, now=d.now(),
                              before={"email": member.email, "role": member.role})
    team.remove_member(member, entry)
    sessions.revoke_all(user_id)
    presence.close_user_connections(d, ws, user_id)


# --- invites -----------------------------------------------------------------------------------------------


def invite_json(i: InviteItem) -> dict[str, Any]:
    return {"id": i.invite_id, "email": i.email, "role": i.role, "status": i.status, "invited_by": i.invited_by,
            "valid_until": i.valid_until, "created_at": i.created_at, "accepted_by": i.accepted_by,
            "accepted_at": i.accepted_at}


def invite_token(ws: str, invite_id: str, secret: str) -> str:
    return f"{ws}.{invite_id}.{secret}"


def parse_invite_token(token: Any) -> tuple[str, str, str]:
    if not isinstance(token, str) or len(token) > 300 or token.count(".") < 2:
        raise InvalidInput("this invitation link is not valid", code="invite_invalid")
    ws, invite_id, secret = token.rsplit(".", 2)
    if not ws or not invite_id or len(secret) < 20:
        raise InvalidInput("this invitation link is not valid", code="invite_invalid")
    return ws, invite_id, secret


def create_invite(d: Deps, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    ws = principal.workspace_id
    email, role = normalise_email(body.get("email")), _role(body.get("role"))
    days = body.get("valid_days", INVITE_DAYS_DEFAULT)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= INVITE_DAYS_MAX:
        raise InvalidInput(f"valid_days must be 1..{INVITE_DAYS_MAX}")
    now = d.now()
    invite_id, secret = new_id("i", now), secrets.token_urlsafe(32)
    item = team.new_invite(ws, invite_id, email, role, secret_hash(secret), invited_by=principal.subject, now=now,
                           until=now + timedelta(days=days))
    team.put_invite(item, audit.admin_entry(principal, "invite.create", "invite", invite_id, now=now,
                                            after={"email": email, "role": role, "valid_until": item.valid_until}))
    workspace = repo.get_workspace(ws)
    link = f"{d.settings.public_url}/api/auth/invite?token={quote(invite_token(ws, invite_id, secret))}"
    brand = workspace.name if workspace else ws
    text = (f"Hello,\n\n{principal.name or 'an admin'} invites you to the support team of {brand} in Zabota "
            f"as {role}.\nAccept (once, within {days} days): {link}\n")
    mail.send(d.settings, mail.Mail(to=email, subject=f"Join {brand} in Zabota", text=text, link=link,
                                    kind="invite"))
    return invite_json(item)


@dataclass(frozen=True)
class InviteState:
    """What an invitation link would do if accepted now (its page says so before the click)."""

    status: str  # pending | accepted | revoked | expired | invalid
    email: str = ""
    workspace_name: str = ""
    role: str = ""


def inspect_invite(d: Deps, token: Any) -> InviteState:
    """Read-only: the invite is not used up by looking (mail scanners open links too)."""
    try:
        ws, invite_id, secret = parse_invite_token(token)
    except InvalidInput:
        return InviteState("invalid")
    invite = team.get_invite(ws, invite_id) if len(invite_id) <= 100 else None
    if invite is None or not hmac.compare_digest(secret_hash(secret), invite.token_hash):
        return InviteState("invalid")
    workspace = repo.get_workspace(ws)
    status = "expired" if invite.status == "pending" and invite.valid_until <= iso(d.now()) else invite.status
    return InviteState(status, invite.email, workspace.name if workspace else ws, invite.role)


def accept_invite(d: Deps, token: Any) -> tuple[sessions.Issued, str]:
    """The invitee's click: use the invite once, join (a member keeps their role), sign in. Returns the workspace."""
    ws, invite_id, secret = parse_invite_token(token)
    invite = team.get_invite(ws, invite_id) if len(invite_id) <= 100 else None
    now = d.now()
    if invite is None or not hmac.compare_digest(secret_hash(secret), invite.token_hash):
        raise Unauthenticated("this invitation link is not valid", code="invite_invalid")
    if invite.status != "pending":
        raise Unauthenticated(f"this invitation was {invite.status} already", code="invite_used")
    if invite.valid_until <= iso(now):
        raise Unauthenticated("this invitation has expired; ask for a new one", code="invite_expired")
    user = ensure_user(invite.email, now=now)
    joining = team.get_member(ws, user.user_id) is None
    member = team.new_member(ws, user, invite.role, now=now) if joining else None
    invitee = Principal(workspace_id=ws, role=invite.role, subject=subject_of(user.user_id), name=user.name,
                        user_id=user.user_id, email=user.email, via="session")
    entry = audit.admin_entry(invitee, "member.add", "member", user.user_id, now=now,
                              after={"email": user.email, "role": invite.role}, note=f"invite {invite_id}")
    if not team.accept_invite(invite, secret_hash(secret), member, entry if joining else None,
                              user_id=user.user_id, now=now):
        raise Unauthenticated("this invitation was used already", code="invite_used")
    team.touch_login(user.user_id, now=now)
    return sessions.start_session(d.settings, user.user_id, via="invite", now=now), ws


def list_invites(principal: Principal) -> list[dict[str, Any]]:
    return [invite_json(i) for i in team.list_invites(principal.workspace_id)]


def revoke_invite(d: Deps, principal: Principal, invite_id: str) -> dict[str, Any]:
    item = team.get_invite(principal.workspace_id, invite_id) if len(invite_id) <= 100 else None
    if item is None:
        raise NotFound(f"invite {invite_id} not found")
    team.revoke_invite(item, audit.admin_entry(principal, "invite.revoke", "invite", invite_id, now=d.now(),
                                               before={"email": item.email, "status": item.status}))
    item.status = "revoked"
    return invite_json(item)


# --- API keys ----------------------------------------------------------------------------------------------


def api_key_json(k: ApiKeyItem) -> dict[str, Any]:
    return {"id": k.key_id, "name": k.name, "role": k.role, "revoked": bool(k.revoked), "created_at": k.created_at}


def list_api_keys(principal: Principal) -> list[dict[str, Any]]:
    return [api_key_json(k) for k in team.list_api_keys(principal.workspace_id)]


def create_key(d: Deps, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    role, name = _role(body.get("role")), body.get("name", "")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise InvalidInput("name must be text of 1..100 characters (what the key is for)")
    now = d.now()
    key = create_api_key(principal.workspace_id, role, name=name.strip(), now=now)
    item = repo.get_api_key(key_hash(key))
    assert item is not None
    team.put_audit(audit.admin_entry(principal, "apikey.create", "apikey", item.key_id, now=now,
                                     after={"name": item.name, "role": role}))
    return {**api_key_json(item), "key": key}


def revoke_key(d: Deps, principal: Principal, key_id: str) -> dict[str, Any]:
    item = team.find_api_key(principal.workspace_id, key_id)
    if item is None:
        raise NotFound(f"API key {key_id} not found")
    team.revoke_api_key(item, audit.admin_entry(principal, "apikey.revoke", "apikey", key_id, now=d.now(),
                                                before={"name": item.name, "role": item.role}))
    item.revoked = True
    return api_key_json(item)


# --- team settings -----------------------------------------------------------------------------------------

DEFAULT_SLA_MINUTES = 30
DEFAULT_STALE_HOURS = 24
MAX_SLA_MINUTES = 7 * 24 * 60


MAX_STATUSES = 10
STATUS_ID = re.compile(r"^[a-z][a-z0-9_]{1,29}$")


def sla_minutes(ws: str) -> int:
    return int(team.get_team_settings(ws).sla_minutes or DEFAULT_SLA_MINUTES)


def stale_hours(ws: str) -> int:
    item = team.get_team_settings(ws)
    return int(item.stale_hours if item.stale_hours is not None else DEFAULT_STALE_HOURS)


def statuses_of(ws: str) -> tuple[str, ...]:
    """Every status a conversation of this workspace may have: the built-in three, then the team's own."""
    return (*STATUSES, *(s["id"] for s in team.get_team_settings(ws).statuses or []))


def _parse_statuses(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list) or len(value) > MAX_STATUSES:
        raise InvalidInput(f"statuses must be a list of at most {MAX_STATUSES} {{id, label}} objects")
    parsed: list[dict[str, str]] = []
    for entry in value:
        sid = entry.get("id") if isinstance(entry, dict) else None
        label = entry.get("label") if isinstance(entry, dict) else None
        if not isinstance(sid, str) or not STATUS_ID.match(sid) or sid in STATUSES:
            raise InvalidInput("a status id is 2..30 of a-z, 0-9 and _, starting with a letter, and not "
                               f"{', '.join(STATUSES)}", code="invalid_status")
        if not isinstance(label, str) or not label.strip() or len(label) > 40:
            raise InvalidInput(f"status {sid} needs a label of 1..40 characters", code="invalid_status")
        if any(p["id"] == sid for p in parsed):
            raise InvalidInput(f"status {sid} is listed twice", code="invalid_status")
        parsed.append({"id": sid, "label": label.strip()})
    return parsed



def settings_json(s: TeamSettingsItem) -> dict[str, Any]:
    return {"round_robin": bool(s.round_robin), "default_capacity": int(s.default_capacity or 0),
            "sla_minutes": int(s.sla_minutes or DEFAULT_SLA_MINUTES), "statuses": list(s.statuses or []),
            "sla_policies": list(s.sla_policies or []), "working_hours": s.working_hours or None,
            "off_hours_messages": dict(s.off_hours_messages or {}),
            "stale_hours": int(s.stale_hours if s.stale_hours is not None else DEFAULT_STALE_HOURS)}


def get_settings(principal: Principal) -> dict[str, Any]:
    return settings_json(team.get_team_settings(principal.workspace_id))


def put_settings(d: Deps, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    item = team.get_team_settings(principal.workspace_id)
    before = settings_json(item)
    if "round_robin" in body:
        if not isinstance(body["round_robin"], bool):
            raise InvalidInput("round_robin must be true or false")
        item.round_robin = body["round_robin"]
    if "default_capacity" in body:
        value = body["default_capacity"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_CAPACITY:
            raise InvalidInput(f"default_capacity must be 0..{MAX_CAPACITY}")
        item.default_capacity = value
    if "sla_minutes" in body:
        value = body["sla_minutes"]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SLA_MINUTES:
            raise InvalidInput(f"sla_minutes must be 1..{MAX_SLA_MINUTES} (minutes to answer a waiting customer)")
        item.sla_minutes = value
    _automation_settings(item, body)
    if "statuses" in body:
        statuses = _parse_statuses(body["statuses"])
        kept = {s["id"] for s in statuses}
        for gone in [s["id"] for s in item.statuses or [] if s["id"] not in kept]:
            if repo.any_in_status(principal.workspace_id, gone):
                raise Conflict(f"conversations are still in status {gone}: move them first", code="status_in_use")
        item.statuses = statuses
    after = settings_json(item)
    if after != before:
        team.put_team_settings(item, audit.admin_entry(principal, "team.settings", "workspace",
                                                       principal.workspace_id, now=d.now(), before=before,
                                                       after=after))
        assignment.forget_settings(principal.workspace_id)
    return after


def _automation_settings(item: TeamSettingsItem, body: dict[str, Any]) -> None:
    """SLA policies (E2), working hours and the off-hours message (E1): validated whole, or nothing changes."""
    try:
        if "sla_policies" in body:
            item.sla_policies = [p.as_json() for p in sla_rules.parse_policies(body["sla_policies"])]
        if "working_hours" in body:
            hours = hours_rules.parse_hours(body["working_hours"])
            item.working_hours = hours.as_json() if hours else None
    except notification_rules.InvalidSettings as err:
        raise InvalidInput(str(err), code="invalid_settings") from err
    if "stale_hours" in body:
        value = body["stale_hours"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 24 * 30:
            raise InvalidInput("stale_hours must be 0..720 (0: never flag in-progress conversations as stale)")
        item.stale_hours = value
    if "off_hours_messages" in body:
        texts = body["off_hours_messages"]
        if not isinstance(texts, dict) or set(texts) - {"ru", "en"} or not all(
                isinstance(v, str) and len(v) <= 1000 for v in texts.values()):
            raise InvalidInput("off_hours_messages is {ru, en}: texts of up to 1000 characters")
        item.off_hours_messages = {k: v.strip() for k, v in texts.items() if v.strip()}


# --- notification settings (per user, per workspace) --------------------------------------------------------


def notifications_of(member: MemberItem) -> dict[str, list[str]]:
    return dict(notifications.preferences(member)["events"])


def get_notifications(principal: Principal) -> dict[str, Any]:
    return notifications.preferences(_require_member(principal.workspace_id, _user_of(principal)))


def put_notifications(principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    member = _require_member(principal.workspace_id, _user_of(principal))
    chosen = notifications.parse_preferences(notifications.preferences(member), body)
    quiet = MemberItem.quiet_hours.set(chosen["quiet_hours"]) if chosen["quiet_hours"] \
        else MemberItem.quiet_hours.remove()
    team.set_member_fields(member, [MemberItem.notifications.set(chosen["events"]),
                                    MemberItem.email_mode.set(chosen["email_mode"]), quiet])
    return notifications.preferences(member)


def recipients(ws: str, event: str, channel: str) -> list[MemberItem]:
    """Who wants `event` through `channel` (for the SLA, task and assignment notifiers)."""
    if event not in NOTIFICATION_EVENTS or channel not in NOTIFICATION_CHANNELS:
        raise ValueError(f"unknown notification {event}/{channel}")
    return [m for m in team.list_members(ws) if channel in notifications_of(m)[event]]
