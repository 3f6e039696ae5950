"""Repository functions of the team: users, members, sessions, sign-in links, invites, OpenID states, the action
log, presence, team settings and API keys (docs/TEAM.md lists the keys).

An admin change and its action-log entry are written in one transaction, so each is recorded exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.domain.model import iso
from chalicelib.errors import Conflict, NotFound
from chalicelib.store import keys
from chalicelib.store.base import cancel_codes, condition_failed, connection, epoch, page_items, start_key, typed
from chalicelib.store.models import (
    TYPE_OF,
    ApiKeyItem,
    AuditItem,
    EmailItem,
    InviteItem,
    LoginRateItem,
    LoginTokenItem,
    MemberItem,
    MessageItem,
    OidcStateItem,
    PresenceItem,
    SessionItem,
    TeamSettingsItem,
    UserItem,
)

# --- users -------------------------------------------------------------------------------------------------


def get_user(user_id: str) -> UserItem | None:
    pk, sk = keys.user(user_id)
    try:
        return UserItem.get(pk, sk)
    except DoesNotExist:
        return None


def find_user_by_email(address: str) -> UserItem | None:
    pk, sk = keys.email(address)
    try:
        pointer = EmailItem.get(pk, sk, consistent_read=True)
    except DoesNotExist:
        return None
    return get_user(pointer.user_id)


def create_user(user_id: str, address: str, name: str, *, now: datetime) -> UserItem:
    """Create the user and claim the address in one transaction; returns the existing user if the address is taken."""
    upk, usk = keys.user(user_id)
    epk, esk = keys.email(address)
    user = typed(UserItem, upk, usk, user_id=user_id, email=address, name=name, created_at=iso(now))
    pointer = typed(EmailItem, epk, esk, user_id=user_id, created_at=iso(now))
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(pointer, condition=EmailItem.pk.does_not_exist())
            tx.save(user, condition=UserItem.pk.does_not_exist())
    except TransactWriteError as err:
        if "ConditionalCheckFailed" not in cancel_codes(err):
            raise
        found = find_user_by_email(address)
        if found is None:
            raise Conflict("the user could not be created; try again") from err
        return found
    return user


def touch_login(user_id: str, *, now: datetime, name: str = "") -> None:
    pk, sk = keys.user(user_id)
    actions: list[Any] = [UserItem.last_login_at.set(iso(now))]
    if name:
        actions.append(UserItem.name.set(name))
    try:
        UserItem(pk, sk).update(actions=actions, condition=UserItem.pk.exists())
    except UpdateError as err:
        if not condition_failed(err):
            raise


# --- members -----------------------------------------------------------------------------------------------


def get_member(ws: str, user_id: str) -> MemberItem | None:
    pk, sk = keys.member(ws, user_id)
    try:
        return MemberItem.get(pk, sk, consistent_read=True)
    except DoesNotExist:
        return None


def list_members(ws: str) -> list[MemberItem]:
    return list(MemberItem.gsi1.query(keys.members_of(ws)))


def memberships(user_id: str) -> list[MemberItem]:
    return list(MemberItem.gsi2.query(keys.workspaces_of(user_id)))


def new_member(ws: str, user: UserItem, role: str, *, now: datetime) -> MemberItem:
    pk, sk = keys.member(ws, user.user_id)
    return typed(MemberItem, pk, sk, workspace_id=ws, user_id=user.user_id, email=user.email, name=user.name,
                  role=role, notifications={}, created_at=iso(now),
                  gsi1pk=keys.members_of(ws), gsi1sk=f"{user.email}#{user.user_id}",
                  gsi2pk=keys.workspaces_of(user.user_id), gsi2sk=ws)


def add_member(member: MemberItem, audit: AuditItem | None) -> bool:
    """Returns False when the user already is a member (nothing changes)."""
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(member, condition=MemberItem.pk.does_not_exist())
            if audit is not None:
                tx.save(audit, condition=AuditItem.pk.does_not_exist())
    except TransactWriteError as err:
        if cancel_codes(err)[:1] == ["ConditionalCheckFailed"]:
            return False
        raise
    return True


def update_member(member: MemberItem, actions: list[Any], audit: AuditItem | None, *, condition: Any = None) -> None:
    guard = MemberItem.pk.exists() if condition is None else MemberItem.pk.exists() & condition
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(member, actions=actions, condition=guard)
            if audit is not None:
                tx.save(audit, condition=AuditItem.pk.does_not_exist())
    except TransactWriteError as err:
        if "ConditionalCheckFailed" in cancel_codes(err):
            raise Conflict("the member changed meanwhile; reload and try again") from err
        raise


def remove_member(member: MemberItem, audit: AuditItem | None) -> None:
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.delete(member, condition=MemberItem.pk.exists())
            if audit is not None:
                tx.save(audit, condition=AuditItem.pk.does_not_exist())
    except TransactWriteError as err:
        if "ConditionalCheckFailed" in cancel_codes(err):
            raise NotFound("member not found") from err
        raise


def set_member_fields(member: MemberItem, actions: list[Any]) -> None:
    """Changes that are not admin changes (the member's own settings, round-robin bookkeeping)."""
    try:
        member.update(actions=actions, condition=MemberItem.pk.exists())
    except UpdateError as err:
        if condition_failed(err):
            raise NotFound("member not found") from err
        raise


# --- sessions ----------------------------------------------------------------------------------------------


def put_session(session_hash: str, user_id: str, csrf_hash: str, *, via: str, now: datetime,
                until: datetime) -> None:
    pk, sk = keys.session(session_hash)
    typed(SessionItem, pk, sk, user_id=user_id, csrf_hash=csrf_hash, via=via, valid_until=iso(until),
           created_at=iso(now), expires_at=epoch(until), gsi1pk=keys.sessions_of(user_id),
           gsi1sk=f"{iso(now)}#{session_hash[:16]}").save(condition=SessionItem.pk.does_not_exist())


def get_session(session_hash: str) -> SessionItem | None:
    pk, sk = keys.session(session_hash)
    try:
        return SessionItem.get(pk, sk, consistent_read=True)  # a revoked session is gone at once
    except DoesNotExist:
        return None


def delete_session(session_hash: str) -> None:
    pk, sk = keys.session(session_hash)
    try:
        SessionItem(pk, sk).delete()
    except DeleteError:
        pass


def delete_sessions_of(user_id: str) -> int:
    found = list(SessionItem.gsi1.query(keys.sessions_of(user_id)))
    for item in found:
        item.delete()
    return len(found)


# --- sign-in links -----------------------------------------------------------------------------------------


def put_login_token(token_hash: str, user_id: str, next_path: str, *, now: datetime, until: datetime) -> None:
    pk, sk = keys.login_token(token_hash)
    typed(LoginTokenItem, pk, sk, user_id=user_id, next_path=next_path, valid_until=iso(until), created_at=iso(now),
           expires_at=epoch(until) + 86_400).save(condition=LoginTokenItem.pk.does_not_exist())


def get_login_token(token_hash: str) -> LoginTokenItem | None:
    """The link as stored (used or not), to tell its page what it would do; it is not used up by reading."""
    pk, sk = keys.login_token(token_hash)
    try:
        return LoginTokenItem.get(pk, sk, consistent_read=True)
    except DoesNotExist:
        return None


def use_login_token(token_hash: str, *, now: datetime) -> LoginTokenItem | None:
    """Mark the link used unless it was used or has expired: of two clicks, one signs in."""
    pk, sk = keys.login_token(token_hash)
    item = LoginTokenItem(pk, sk)
    condition = (LoginTokenItem.pk.exists() & LoginTokenItem.used_at.does_not_exist()
                 & (LoginTokenItem.valid_until > iso(now)))
    try:
        item.update(actions=[LoginTokenItem.used_at.set(iso(now))], condition=condition)
    except UpdateError as err:
        if condition_failed(err):
            return None
        raise
    return item


def count_login_link(address_hash: str, window: str, *, limit: int, until: datetime) -> bool:
    """Count one link for the address in this window; False once `limit` were sent."""
    pk, sk = keys.login_rate(address_hash, window)
    item = LoginRateItem(pk, sk)
    try:
        item.update(actions=[LoginRateItem.sent.add(1), LoginRateItem.type.set(TYPE_OF[LoginRateItem]),
                             LoginRateItem.expires_at.set(epoch(until))],
                    condition=LoginRateItem.sent.does_not_exist() | (LoginRateItem.sent < limit))
    except UpdateError as err:
        if condition_failed(err):
            return False
        raise
    return True


# --- invites -----------------------------------------------------------------------------------------------


def new_invite(ws: str, invite_id: str, address: str, role: str, token_hash: str, *, invited_by: str,
               now: datetime, until: datetime) -> InviteItem:
    pk, sk = keys.invite(ws, invite_id)
    return typed(InviteItem, pk, sk, workspace_id=ws, invite_id=invite_id, email=address, role=role,
                  token_hash=token_hash, invited_by=invited_by, valid_until=iso(until), status="pending",
                  created_at=iso(now), expires_at=epoch(until) + 30 * 86_400,
                  gsi1pk=keys.invites_of(ws), gsi1sk=f"{iso(now)}#{invite_id}")


def put_invite(invite: InviteItem, audit: AuditItem | None) -> None:
    with TransactWrite(connection=connection()) as tx:
        tx.save(invite, condition=InviteItem.pk.does_not_exist())
        if audit is not None:
            tx.save(audit, condition=AuditItem.pk.does_not_exist())


def get_invite(ws: str, invite_id: str) -> InviteItem | None:
    pk, sk = keys.invite(ws, invite_id)
    try:
        return InviteItem.get(pk, sk, consistent_read=True)
    except DoesNotExist:
        return None


def list_invites(ws: str) -> list[InviteItem]:
    return list(InviteItem.gsi1.query(keys.invites_of(ws), scan_index_forward=False))


def revoke_invite(invite: InviteItem, audit: AuditItem | None) -> None:
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(invite, actions=[InviteItem.status.set("revoked")], condition=InviteItem.status == "pending")
            if audit is not None:
                tx.save(audit, condition=AuditItem.pk.does_not_exist())
    except TransactWriteError as err:
        if "ConditionalCheckFailed" in cancel_codes(err):
            raise Conflict("only a pending invite can be revoked") from err
        raise


def accept_invite(invite: InviteItem, token_hash: str, member: MemberItem | None, audit: AuditItem | None, *,
                  user_id: str, now: datetime) -> bool:
    """Use the invite (pending, not expired, this token) and add the member, in one transaction."""
    condition = ((InviteItem.status == "pending") & (InviteItem.token_hash == token_hash)
                 & (InviteItem.valid_until > iso(now)))
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(invite, actions=[InviteItem.status.set("accepted"), InviteItem.accepted_by.set(user_id),
                                       InviteItem.accepted_at.set(iso(now))], condition=condition)
            if member is not None:
                tx.save(member, condition=MemberItem.pk.does_not_exist())
            if audit is not None:
                tx.save(audit, condition=AuditItem.pk.does_not_exist())
    except TransactWriteError as err:
        if "ConditionalCheckFailed" in cancel_codes(err):
            return False
        raise
    return True


# --- OpenID Connect sign-ins under way -----------------------------------------------------------------------


def put_oidc_state(state_hash: str, provider: str, nonce: str, code_verifier: str, next_path: str, *,
                   now: datetime, until: datetime) -> None:
    pk, sk = keys.oidc_state(state_hash)
    typed(OidcStateItem, pk, sk, provider=provider, nonce=nonce, code_verifier=code_verifier, next_path=next_path,
           created_at=iso(now), expires_at=epoch(until)).save(condition=OidcStateItem.pk.does_not_exist())


def take_oidc_state(state_hash: str, *, now: datetime) -> OidcStateItem | None:
    """The state, deleted as it is read: a callback replayed finds nothing."""
    pk, sk = keys.oidc_state(state_hash)
    try:
        item = OidcStateItem.get(pk, sk, consistent_read=True)
        item.delete(condition=OidcStateItem.pk.exists())
    except (DoesNotExist, DeleteError):
        return None
    if item.expires_at is not None and item.expires_at < epoch(now):
        return None
    return item


# --- the action log ----------------------------------------------------------------------------------------


THREAD_ACTIONS = ("reply", "note")  # a staff message's own entry: by conversation, found from the thread itself


def thread_action(message: MessageItem) -> str | None:
    """The action of a staff message's own entry ("reply" or "note"), None for any other message."""
    if message.origin != "operator" or message.direction not in ("out", "note"):
        return None
    return "reply" if message.direction == "out" else "note"


def thread_audit_id(action: str, message_id: str) -> str:
    return f"{action}#{message_id}"


def _audit_sk(at: str, audit_id: str) -> str:
    return f"{at}#{audit_id}"


def new_audit(ws: str, audit_id: str, *, at: str, actor: str, action: str, target_type: str, target_id: str,
              conversation_id: str | None = None, before: Any = None, after: Any = None,
              note: str = "") -> AuditItem:
    """An entry of the log (table: the workspace's; gsi1: by actor; gsi2: by conversation). A reply's or note's has no
    gsi2 entry (1 write unit less for every staff message): `query_audit` finds it from its message."""
    attrs: dict[str, Any] = {}
    if conversation_id and action not in THREAD_ACTIONS:
        attrs = {"gsi2pk": keys.audit_by_conversation(ws, conversation_id), "gsi2sk": _audit_sk(at, audit_id)}
    return typed(AuditItem, keys.audit(ws), _audit_sk(at, audit_id), workspace_id=ws, audit_id=audit_id, at=at,
                  actor=actor, action=action, target_type=target_type, target_id=target_id,
                  conversation_id=conversation_id, before=before, after=after, note=note[:1000], created_at=at,
                  gsi1pk=keys.audit_by_actor(ws, actor), gsi1sk=_audit_sk(at, audit_id), **attrs)


AUDIT_MARKER_SECONDS = 86_400  # a stream keeps records for 24 hours: replays come within that


def put_audit(item: AuditItem, *, once: bool = False) -> bool:
    """Write an entry once: its key derives from the change, so a replayed stream record writes nothing.

    With `once`, the entry's time is not derived from the change, so a marker keyed by its id alone is written in
    the same transaction and is what a replay collides with.
    """
    if not once:
        try:
            item.save(condition=AuditItem.pk.does_not_exist())
            return True
        except PutError as err:
            if condition_failed(err):
                return False
            raise
    ws = item.workspace_id or ""
    marker = typed(AuditItem, f"{keys.audit(ws)}#ONCE", item.audit_id, workspace_id=ws, audit_id=item.audit_id,
                    at=item.at, actor=item.actor, action=item.action, target_type=item.target_type,
                    target_id=item.target_id, expires_at=int(datetime.fromisoformat(item.at.replace("Z", "+00:00"))
                                                              .timestamp()) + AUDIT_MARKER_SECONDS)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(marker, condition=AuditItem.pk.does_not_exist())
            tx.save(item, condition=AuditItem.pk.does_not_exist())
    except TransactWriteError as err:
        if "ConditionalCheckFailed" in cancel_codes(err):
            return False
        raise
    return True


@dataclass(frozen=True)
class AuditPage:
    items: list[AuditItem]
    cursor: str | None


def query_audit(ws: str, *, actor: str | None, conversation_id: str | None, actions: Iterable[str] | None,
                since: str | None, until: str | None, limit: int, cursor: str | None) -> AuditPage:
    """Newest first. One of three partitions (all, by actor, by conversation); the action filter is a query filter."""
    if conversation_id and not actor:
        return _conversation_audit(ws, conversation_id, actions=list(actions or []), since=since, until=until,
                                   limit=limit, cursor=cursor)
    index: Any
    sk_attr: Any
    cond: Any = None
    if actor:
        index, pk, sk_attr = AuditItem.gsi1, keys.audit_by_actor(ws, actor), AuditItem.gsi1sk
    elif conversation_id:
        index, pk, sk_attr = AuditItem.gsi2, keys.audit_by_conversation(ws, conversation_id), AuditItem.gsi2sk
    else:
        index, pk, sk_attr = None, keys.audit(ws), AuditItem.sk
    if since and until and since > f"{until}~":
        return AuditPage([], None)  # an empty range
    if since and until:
        cond = sk_attr.between(since, f"{until}~")
    elif since:
        cond = sk_attr >= since
    elif until:
        cond = sk_attr <= f"{until}~"
    wanted = list(actions or [])
    flt: Any = AuditItem.action.is_in(*wanted) if wanted else None
    if actor and conversation_id:
        same = AuditItem.conversation_id == conversation_id
        flt = same if flt is None else flt & same
    start = start_key(cursor)
    common: dict[str, Any] = {"filter_condition": flt, "scan_index_forward": False, "limit": limit,
                              "last_evaluated_key": start, "page_size": max(limit, 50)}
    result = index.query(pk, cond, **common) if index is not None else AuditItem.query(pk, cond, **common)
    items = page_items(result, start)
    last = result.last_evaluated_key
    return AuditPage(items, json.dumps(last, separators=(",", ":")) if last and len(items) >= limit else None)


# --- presence ----------------------------------------------------------------------------------------------


UNCHANGED: Any = object()  # update_presence: leave `viewing` as it is


def update_presence(ws: str, user_id: str, state: str, *, now: datetime, viewing: Any = UNCHANGED) -> PresenceItem:
    """Set state and last seen (and `viewing` only when given) in one UpdateItem; the item as it is afterwards.

    Field by field, never a whole-item put: a heartbeat racing a `viewing` message of the same operator (two
    Lambda invocations at once, or two tabs) must not write back the conversation it read before the other one.
    """
    item = typed(PresenceItem, keys.presence(ws), user_id)
    actions: list[Any] = [PresenceItem.workspace_id.set(ws), PresenceItem.user_id.set(user_id),
                          PresenceItem.type.set(TYPE_OF[PresenceItem]), PresenceItem.state.set(state),
                          PresenceItem.last_seen_at.set(iso(now)), PresenceItem.expires_at.set(epoch(now) + 86_400)]
    if viewing is not UNCHANGED:
        actions.append(PresenceItem.viewing.set(viewing) if viewing else PresenceItem.viewing.remove())
    item.update(actions=actions)
    return item


def get_presence(ws: str, user_id: str) -> PresenceItem | None:
    try:
        return PresenceItem.get(keys.presence(ws), user_id)
    except DoesNotExist:
        return None


def list_presence(ws: str) -> list[PresenceItem]:
    return list(PresenceItem.query(keys.presence(ws)))


# --- team settings -----------------------------------------------------------------------------------------


def get_team_settings(ws: str) -> TeamSettingsItem:
    pk, sk = keys.team_settings(ws)
    try:
        return TeamSettingsItem.get(pk, sk, consistent_read=True)
    except DoesNotExist:
        return typed(TeamSettingsItem, pk, sk, workspace_id=ws, round_robin=False, default_capacity=5)


def put_team_settings(item: TeamSettingsItem, audit: AuditItem | None) -> None:
    with TransactWrite(connection=connection()) as tx:
        tx.save(item)
        if audit is not None:
            tx.save(audit, condition=AuditItem.pk.does_not_exist())


# --- API keys ----------------------------------------------------------------------------------------------


def list_api_keys(ws: str) -> list[ApiKeyItem]:
    return list(ApiKeyItem.gsi1.query(keys.api_keys_of(ws), scan_index_forward=False))


def find_api_key(ws: str, key_id: str) -> ApiKeyItem | None:
    return next((k for k in list_api_keys(ws) if k.key_id == key_id), None)


def revoke_api_key(item: ApiKeyItem, audit: AuditItem | None) -> None:
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(item, actions=[ApiKeyItem.revoked.set(True)],
                      condition=ApiKeyItem.pk.exists() & (ApiKeyItem.revoked == False))  # noqa: E712
            if audit is not None:
                tx.save(audit, condition=AuditItem.pk.does_not_exist())
    except TransactWriteError as err:
        if "ConditionalCheckFailed" in cancel_codes(err):
            raise Conflict("the key is already revoked") from err
        raise


def _conversation_audit(ws: str, conv_id: str, *, actions: list[str], since: str | None, until: str | None,
                        limit: int, cursor: str | None) -> AuditPage:
    """One conversation's log: its entries on gsi2 (a conversation has few) and the entries of its staff replies and
    notes, whose keys derive from the thread's operator messages (`thread_action`, as services/audit.py writes
    them), read by key for the page only; older replies that also have a gsi2 entry are counted once. The cursor is
    the sort key of the last entry considered (`{"before": ...}`)."""
    from chalicelib.store import repo

    before = _before(cursor)
    low, high = since or "", min(f"{until}~" if until else "\uffff", before or "\uffff")

    def wanted(sk: str, action: str) -> bool:
        return low <= sk < high and (not actions or action in actions)

    found: dict[str, AuditItem | None] = {}
    within = AuditItem.gsi2sk <= high if not low else AuditItem.gsi2sk.between(low, high)  # `wanted` ends it at <
    for item in AuditItem.gsi2.query(keys.audit_by_conversation(ws, conv_id), within):
        if wanted(item.sk, item.action):
            found[item.sk] = item
    pk, _ = keys.conversation(ws, conv_id)
    for message in MessageItem.query(pk, MessageItem.sk.startswith(keys.MESSAGE_PREFIX)):
        action = thread_action(message)
        if action is None or not message.created_at:
            continue
        sk = _audit_sk(message.created_at, thread_audit_id(action, message.message_id))
        if wanted(sk, action) and sk not in found:
            found[sk] = None  # read below if on this page
    page = sorted(found, reverse=True)[:limit]
    missing = [(keys.audit(ws), sk) for sk in page if found[sk] is None]
    for item in repo.read_by_keys(AuditItem, missing):
        found[item.sk] = item
    items = [i for sk in page if (i := found[sk]) is not None]
    more = len(found) > limit
    return AuditPage(items, json.dumps({"before": page[-1]}, separators=(",", ":")) if more and page else None)


def _before(cursor: str | None) -> str | None:
    """A conversation log's cursor back to its sort key; ValueError for one we did not make."""
    if not cursor:
        return None
    from chalicelib import safejson

    value = safejson.loads(cursor)
    if not isinstance(value, dict) or set(value) != {"before"} or not isinstance(value["before"], str):
        raise ValueError("not a cursor of ours")
    return str(value["before"])
