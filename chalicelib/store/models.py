"""pynamodb models. They only declare: keys, attributes, indexes. Logic lives in services/.

One main table (`pk`, `sk`, `type`) holds every entity a conversation needs; three overloaded GSIs serve
the access paths (docs/ARCHITECTURE.md lists them). Two small tables have their own life cycle: the
Powertools idempotency records and the WebSocket connections.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.settings import Settings


def plain(value: Any) -> dict[str, Any]:
    """A MapAttribute's value as a plain dict (pynamodb gives a MapAttribute or a dict, by how it was loaded)."""
    if value is None:
        return {}
    return dict(value.as_dict() if hasattr(value, "as_dict") else value)


class _Gsi(GlobalSecondaryIndex):  # type: ignore[type-arg]
    class Meta:
        projection = AllProjection()


class Gsi1(_Gsi):
    """Lists: inbox by status sorted by last activity; channels of a workspace; API keys; due timers."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class Gsi2(_Gsi):
    """Conversations by assignee (or `-` for unassigned), then status, then last activity."""

    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class Gsi3(_Gsi):
    """A contact's history: its identities and its conversations across channels."""

    class Meta:
        index_name = "gsi3"
        projection = AllProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class _KeysOnlyGsi(GlobalSecondaryIndex):  # type: ignore[type-arg]
    class Meta:
        projection = KeysOnlyProjection()


class Gsi4(_KeysOnlyGsi):
    """Keys only, sparse: an assignee's conversations by status, then creation. Nothing a message changes is in
    its key or its projection, so a message writes nothing here (listings read the items by key)."""

    class Meta:
        index_name = "gsi4"
        projection = KeysOnlyProjection()

    gsi4pk = UnicodeAttribute(hash_key=True)
    gsi4sk = UnicodeAttribute(range_key=True)


class Gsi5(_KeysOnlyGsi):
    """Keys only: a contact's conversations across channels (set at creation; moved only by a merge)."""

    class Meta:
        index_name = "gsi5"
        projection = KeysOnlyProjection()

    gsi5pk = UnicodeAttribute(hash_key=True)
    gsi5sk = UnicodeAttribute(range_key=True)


class MainItem(Model):
    """Base of every main-table entity."""

    class Meta:
        table_name = "zabota-main"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    type = UnicodeAttribute()
    workspace_id = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute(null=True)
    expires_at = NumberAttribute(null=True)  # TTL (epoch seconds)
    restored = UnicodeAttribute(null=True)  # written by a backup import (store/backup.py): the stream skips its INSERT

    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    gsi4pk = UnicodeAttribute(null=True)
    gsi4sk = UnicodeAttribute(null=True)
    gsi5pk = UnicodeAttribute(null=True)
    gsi5sk = UnicodeAttribute(null=True)

    gsi1 = Gsi1()
    gsi2 = Gsi2()
    gsi3 = Gsi3()
    gsi4 = Gsi4()
    gsi5 = Gsi5()


class WorkspaceItem(MainItem):
    name = UnicodeAttribute()
    language = UnicodeAttribute(default="ru")
    greeting_enabled = BooleanAttribute(default=True)
    greetings = MapAttribute[str, Any](default=dict)  # {"ru": "...", "en": "..."}


class ChannelItem(MainItem):
    kind = UnicodeAttribute()
    name = UnicodeAttribute()
    enabled = BooleanAttribute(default=True)
    secrets = MapAttribute[str, Any](null=True)  # legacy plain credentials: read once, sealed on the next write
    secrets_sealed = UnicodeAttribute(null=True)  # credentials, envelope-encrypted (store/secrets.py)
    settings = MapAttribute[str, Any](default=dict)
    health = MapAttribute[str, Any](default=dict)


class ContactItem(MainItem):
    display_name = UnicodeAttribute(default="")
    username = UnicodeAttribute(default="")
    phone = UnicodeAttribute(default="")
    email = UnicodeAttribute(default="")
    avatar_url = UnicodeAttribute(default="")
    language = UnicodeAttribute(default="")
    notes = UnicodeAttribute(default="")
    custom_fields = JSONAttribute(default=dict)  # the team's own fields: {"Order": "4821", "City": "Kazan"}
    revision = NumberAttribute(default=0)  # +1 on each edit of the card: a stale edit is refused (409)
    changed_by = UnicodeAttribute(null=True)  # who edited the card last, and when: the action log reads these
    changed_at = UnicodeAttribute(null=True)
    # C2: merged into another card (its identities and conversations moved there; undo within 24 h). gsi1 / gsi2 /
    # gsi3 hold the normalised name / e-mail / phone (store/merges.py): suggestions of the same person
    merged_into = UnicodeAttribute(null=True)
    merge_id = UnicodeAttribute(null=True)


class IdentityItem(MainItem):
    contact_id = UnicodeAttribute()
    channel_id = UnicodeAttribute()
    channel_kind = UnicodeAttribute()
    external_user_id = UnicodeAttribute()
    display_name = UnicodeAttribute(default="")
    username = UnicodeAttribute(default="")


class ConversationItem(MainItem):
    conversation_id = UnicodeAttribute()
    channel_id = UnicodeAttribute()
    channel_kind = UnicodeAttribute()
    contact_id = UnicodeAttribute()
    contact_name = UnicodeAttribute(default="")
    contact_username = UnicodeAttribute(null=True)  # @handle in the network, for search
    external_conversation_id = UnicodeAttribute()
    external_thread_id = UnicodeAttribute(default="")
    surface = UnicodeAttribute(default="private")
    title = UnicodeAttribute(default="")
    language = UnicodeAttribute(default="")
    status = UnicodeAttribute(default="new")
    assignee_id = UnicodeAttribute(null=True)
    tags = ListAttribute[str](of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    emotion = UnicodeAttribute(null=True)  # positive | neutral | negative (B8), set by an operator
    last_activity_at = UnicodeAttribute()
    last_message_preview = UnicodeAttribute(default="")
    last_message_direction = UnicodeAttribute(default="in")
    last_inbound_at = UnicodeAttribute(null=True)
    first_inbound_at = UnicodeAttribute(null=True)
    first_response_at = UnicodeAttribute(null=True)
    first_response_seconds = NumberAttribute(null=True)
    unread_count = NumberAttribute(default=0)
    message_count = NumberAttribute(default=0)
    closed_at = UnicodeAttribute(null=True)
    automated = BooleanAttribute(default=False)  # opened by a bot / auto-reply: never auto-greeted (no loops)
    revision = NumberAttribute(default=0)  # +1 on every change: consoles keep the newest of racing copies
    # the customer is blocked: their messages are kept but leave the inbox alone, and nothing is sent to them
    blocked = BooleanAttribute(default=False)
    # who made the last operator change (status, tags, assignee) and when: the action log derives from these
    changed_by = UnicodeAttribute(null=True)  # "user:<id>" | "key:<id>" | "system:<what>"
    changed_at = UnicodeAttribute(null=True)
    change_note = UnicodeAttribute(null=True)  # e.g. the hand-over note
    # the customer has waited for an answer since (the first unanswered message; cleared by a reply or closing):
    # the overdue filter compares it with the workspace's SLA
    awaiting_since = UnicodeAttribute(null=True)
    search_text = UnicodeAttribute(null=True)  # domain/search.py: name, @username, title, tags, normalised
    # SLA (E2, services/sla.py): the wait that last breached its target, when, which target; breaches counted
    sla_breach_since = UnicodeAttribute(null=True)
    sla_breached_at = UnicodeAttribute(null=True)
    sla_breach_target = UnicodeAttribute(null=True)  # first_response | next_response
    sla_breaches = NumberAttribute(default=0)
    snoozed_until = UnicodeAttribute(null=True)  # E4: out of the queue until then (or the customer's next message)
    snoozed_from = UnicodeAttribute(null=True)  # the status it comes back to
    priority = UnicodeAttribute(null=True)  # low | normal | high | urgent (set by operators or rules, E3)
    rule_depth = NumberAttribute(null=True)  # how many rule steps led to the last change by a rule (loop guard)
    # the last messages counted into this conversation (their ids' hash tails, newest last): recording a message
    # and bumping the conversation are two conditional writes, and a retry bumps only when its id is not here
    recent_ids = ListAttribute[str](of=UnicodeAttribute, default=list, attr_name="rids")  # type: ignore[arg-type]


class MessageItem(MainItem):
    message_id = UnicodeAttribute()
    conversation_id = UnicodeAttribute()
    channel_id = UnicodeAttribute()
    direction = UnicodeAttribute()  # in | out | note | system
    origin = UnicodeAttribute(default="customer")  # customer | operator | greeting | api
    author_id = UnicodeAttribute(default="")
    text = UnicodeAttribute(default="")
    html = UnicodeAttribute(null=True)  # sanitised HTML of an e-mail, beside the text
    attachments = JSONAttribute(default=list)  # list of Attachment dicts
    reply_to_id = UnicodeAttribute(null=True)  # ours
    reply_to_external_id = UnicodeAttribute(null=True)  # the provider's
    external_message_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="received")  # received | pending | sent | failed
    error_code = UnicodeAttribute(null=True)
    error_message = UnicodeAttribute(null=True)
    attempts = NumberAttribute(default=0)
    generation = NumberAttribute(default=1)  # bumped by "retry": a new send attempt
    edited = BooleanAttribute(default=False)
    edit_count = NumberAttribute(default=0)
    last_edit_event = UnicodeAttribute(null=True)  # the provider's id of the last edit applied (replays, same second)
    deleted = BooleanAttribute(default=False)
    occurred_at = UnicodeAttribute(null=True)
    sent_at = UnicodeAttribute(null=True)
    correlation_id = UnicodeAttribute(default="")
    delivery = UnicodeAttribute(null=True)  # provider-reported: sent | delivered | read | failed
    comment = MapAttribute[str, Any](null=True)  # for comments: post_id, parent_comment_id, permalink, ...
    private = BooleanAttribute(default=False)  # a private reply to a public comment (Instagram, Facebook)
    articles = ListAttribute[str](of=UnicodeAttribute, null=True)  # type: ignore[arg-type]  # H1: counted when sent
    template = MapAttribute[str, Any](null=True)  # WhatsApp template: name, language, parameters
    # an operator's edit, delete or hide of this message, carried out by the stream: kind, text, hidden, state,
    # error, by, at
    action = MapAttribute[str, Any](null=True)
    hidden = BooleanAttribute(default=False)  # a customer's public comment hidden from the public at the provider
    survey = JSONAttribute(null=True)  # G4: a survey's prompt (domain/surveys.Prompt): sent with native buttons


class ExternalMessageItem(MainItem):
    """Pointer from a provider's message id to ours (edits, replies that quote a message)."""

    conversation_id = UnicodeAttribute()
    message_id = UnicodeAttribute()


class QueuedMessageItem(ExternalMessageItem):
    """A customer's message from a provider's webhook, stored under its pointer's key: the webhook's one write is
    the deduplication, the stream's work item (`event`, as an inbound item's) and the pointer at once, so the
    stream writes no pointer for it (issue 14). Read as a pointer like any other."""

    channel_id = UnicodeAttribute()
    event = UnicodeAttribute()  # InboundEvent JSON


class InboundItem(MainItem):
    """One verified, deduplicated inbound event: the webhook's only write. The stream does the rest."""

    channel_id = UnicodeAttribute()
    event = UnicodeAttribute()  # InboundEvent JSON
    raw = UnicodeAttribute(null=True)  # the provider's payload: no longer written (it doubled the write units)


class ApiKeyItem(MainItem):
    key_id = UnicodeAttribute()
    name = UnicodeAttribute(default="")
    role = UnicodeAttribute()
    revoked = BooleanAttribute(default=False)


class TimerItem(MainItem):
    """Time-based work (SLA alerts, reminders, snoozes, digests): gsi1 `TIMERS#<shard>` / `<due>#<id>`."""

    timer_id = UnicodeAttribute(default="")
    kind = UnicodeAttribute()
    due_at = UnicodeAttribute()
    target = MapAttribute[str, Any](default=dict)
    lease = UnicodeAttribute(null=True)  # `<until>#<token>` while a tick fires it


class ParkedItem(MainItem):
    """A stream record that kept failing, kept for an admin to see (and replay)."""

    source = UnicodeAttribute()
    error = UnicodeAttribute()
    record = UnicodeAttribute()  # the Lambda-shaped record, JSON


class ConnectionsByWorkspace(GlobalSecondaryIndex):  # type: ignore[type-arg]
    class Meta:
        index_name = "by_workspace"
        projection = KeysOnlyProjection()

    workspace_id = UnicodeAttribute(hash_key=True)
    connection_id = UnicodeAttribute(range_key=True)


class ConnectionItem(Model):
    """A live WebSocket connection (its own table: short life, no stream)."""

    class Meta:
        table_name = "zabota-connections"

    connection_id = UnicodeAttribute(hash_key=True)
    workspace_id = UnicodeAttribute()
    principal_id = UnicodeAttribute(default="")
    connected_at = UnicodeAttribute()
    expires_at = NumberAttribute()
    by_workspace = ConnectionsByWorkspace()


class SendLeaseItem(Model):
    """A send's lease (issue 14): taken with one conditional put before the provider call, so a replayed or racing
    stream record never sends a message twice; the message's own status (`pending` -> `sent` / `failed`) says when
    it is done. In the idempotency table: small, and not streamed."""

    class Meta:
        table_name = "zabota-idempotency"

    id = UnicodeAttribute(hash_key=True)
    lease_until = NumberAttribute()  # epoch seconds: until then nobody else sends it
    expiration = NumberAttribute()  # the table's TTL: kept past the stream's 24 h retention (a replay's lifetime)


class UserItem(MainItem):
    """A person who signs in: no password, only e-mailed links and OpenID Connect. Found by e-mail via EmailItem."""

    user_id = UnicodeAttribute()
    email = UnicodeAttribute()
    name = UnicodeAttribute(default="")
    last_login_at = UnicodeAttribute(null=True)


class EmailItem(MainItem):
    """A normalised e-mail address -> its user (one user per address)."""

    user_id = UnicodeAttribute()


class MemberItem(MainItem):
    """A user in a workspace: role, capacity, notification settings (gsi1: the workspace's members; gsi2: the
    user's workspaces)."""

    user_id = UnicodeAttribute()
    email = UnicodeAttribute()
    name = UnicodeAttribute(default="")
    role = UnicodeAttribute()
    capacity = NumberAttribute(null=True)  # open conversations round-robin may give them; None: workspace default
    notifications = MapAttribute[str, Any](default=dict)  # event -> ["console", "email"]
    email_mode = UnicodeAttribute(default="instant")  # instant | digest (domain/notifications.py)
    quiet_hours = MapAttribute[str, Any](null=True)  # {start, end, time_zone}: no e-mail meanwhile
    last_assigned_at = UnicodeAttribute(null=True)


class SessionItem(MainItem):
    """A signed-in browser: the cookie holds a random id, the key its SHA-256. Deleting the item signs it out."""

    user_id = UnicodeAttribute()
    csrf_hash = UnicodeAttribute()
    valid_until = UnicodeAttribute()
    via = UnicodeAttribute(default="")  # "link" | "invite" | "oidc:<provider>"


class LoginTokenItem(MainItem):
    """A one-time e-mailed sign-in link, stored hashed; `used_at` makes it single use."""

    user_id = UnicodeAttribute()
    valid_until = UnicodeAttribute()
    next_path = UnicodeAttribute(default="/")
    used_at = UnicodeAttribute(null=True)


class LoginRateItem(MainItem):
    """How many sign-in links one address got in a window (a mailbox is not flooded)."""

    sent = NumberAttribute(default=0)


class InviteItem(MainItem):
    """An invitation by e-mail to a workspace with a role; single use, expires."""

    invite_id = UnicodeAttribute()
    email = UnicodeAttribute()
    role = UnicodeAttribute()
    token_hash = UnicodeAttribute()
    invited_by = UnicodeAttribute(default="")
    valid_until = UnicodeAttribute()
    status = UnicodeAttribute(default="pending")  # pending | accepted | revoked
    accepted_by = UnicodeAttribute(null=True)
    accepted_at = UnicodeAttribute(null=True)


class OidcStateItem(MainItem):
    """One OpenID Connect sign-in under way: state (hashed key), nonce, PKCE verifier, where to go after."""

    provider = UnicodeAttribute()
    nonce = UnicodeAttribute()
    code_verifier = UnicodeAttribute()
    next_path = UnicodeAttribute(default="/")


class AuditItem(MainItem):
    """One entry of the action log: who, when, what, before and after (gsi1 by actor, gsi2 by conversation)."""

    audit_id = UnicodeAttribute()
    at = UnicodeAttribute()
    actor = UnicodeAttribute()  # "user:<id>" | "key:<id>" | "system:<what>"
    action = UnicodeAttribute()
    target_type = UnicodeAttribute()
    target_id = UnicodeAttribute()
    conversation_id = UnicodeAttribute(null=True)
    before = JSONAttribute(null=True)
    after = JSONAttribute(null=True)
    note = UnicodeAttribute(default="")


class PresenceItem(MainItem):
    """An operator's presence from WebSocket heartbeats: online / away, and the conversation they look at."""

    user_id = UnicodeAttribute()
    state = UnicodeAttribute(default="online")  # online | away | offline
    last_seen_at = UnicodeAttribute()
    viewing = UnicodeAttribute(null=True)
    typing_at = UnicodeAttribute(null=True)


class TeamSettingsItem(MainItem):
    """Workspace settings of the team: round-robin distribution and the default capacity."""

    round_robin = BooleanAttribute(default=False)
    default_capacity = NumberAttribute(default=5)
    sla_minutes = NumberAttribute(default=30)  # a customer waiting longer for an answer is overdue (B1)
    statuses = JSONAttribute(default=list)  # the team's own statuses beside the built-in three: [{id, label}]
    sla_policies = JSONAttribute(default=list)  # domain/sla.py: first matching policy wins, else sla_minutes
    working_hours = JSONAttribute(null=True)  # domain/hours.py; None: always open
    off_hours_messages = JSONAttribute(default=dict)  # {"ru": ..., "en": ...}; defaults in domain/hours.py
    stale_hours = NumberAttribute(default=24)  # E4: in progress with no activity this long is stale (0: never)
    surveys = JSONAttribute(null=True)  # G4: CSAT / NPS settings (domain/surveys.py); None: the defaults (off)


class VisitorItem(MainItem):
    """A site-chat (widget) visitor, keyed by the SHA-256 of their token; expires after 90 days idle."""

    visitor_id = UnicodeAttribute()
    channel_id = UnicodeAttribute()
    conversation_id = UnicodeAttribute()
    external_conversation_id = UnicodeAttribute()
    name = UnicodeAttribute(default="")
    email = UnicodeAttribute(default="")
    phone = UnicodeAttribute(default="")
    language = UnicodeAttribute(default="")
    topic = UnicodeAttribute(default="")
    tags = ListAttribute[str](of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    pre_chat = MapAttribute[str, Any](default=dict)  # the form as validated (custom fields included)
    page = MapAttribute[str, Any](default=dict)  # url, lang
    last_seen_at = UnicodeAttribute()
    started = BooleanAttribute(default=False)  # the conversation exists with its routing tags
    revoked = BooleanAttribute(default=False)


class WidgetTicketItem(MainItem):
    """A visitor's one-time WebSocket ticket (browsers cannot set headers on a WebSocket)."""

    visitor_id = UnicodeAttribute()
    channel_id = UnicodeAttribute()
    conversation_id = UnicodeAttribute()
    used_at = UnicodeAttribute(null=True)


class RateWindowItem(MainItem):
    """Requests counted in one fixed window of one of our own rate limits; TTL removes past windows."""

    hits = NumberAttribute(default=0, attr_name="count")  # not `count`: that would hide Model.count()


class WidgetSeqItem(MainItem):
    """The last `seq` pushed to a widget conversation's visitor sockets (the widget detects gaps with it)."""

    seq = NumberAttribute(default=0)


class RequestItem(MainItem):
    """A client's request id seen once (bulk replies): a retried request reuses the first one's time and ids."""


class TemplateItem(MainItem):
    """A reply template of a workspace (B7): `/shortcut` in the reply box inserts its text, variables filled in."""

    template_id = UnicodeAttribute()
    title = UnicodeAttribute()
    text = UnicodeAttribute()
    shortcut = UnicodeAttribute()
    created_by = UnicodeAttribute(default="")
    updated_at = UnicodeAttribute()


class TaskCounterItem(MainItem):
    """The last task number of a workspace: raised by a conditional update in the same transaction as the task."""

    last_number = NumberAttribute(default=0)


class TaskItem(MainItem):
    """An internal ticket (F1): number, title, Markdown description, deadline, assignee, team queue, links.

    gsi1 lists a workspace's tasks, gsi2 one assignee's, gsi3 one team's, each per bucket (current / finished);
    the sort key is the deadline for current work and the number for finished work (domain/tasks.index_sk)."""

    task_id = UnicodeAttribute()
    number = NumberAttribute()
    title = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    status = UnicodeAttribute(default="open")
    priority = UnicodeAttribute(default="normal")
    deadline = UnicodeAttribute(null=True)  # UTC ISO
    timezone = UnicodeAttribute(null=True)  # how it was set: an IANA name or an offset
    remind_minutes = NumberAttribute(default=60)  # lead time of the reminder before the deadline (0: none)
    assignee_id = UnicodeAttribute(null=True)
    watchers = ListAttribute[str](of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    tags = ListAttribute[str](of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    team_id = UnicodeAttribute(null=True)
    links = JSONAttribute(default=list)  # [{conversation_id, message_id?, quote?}]
    escalation = JSONAttribute(null=True)  # the last escalation: from_team, to_team, by, at, note
    escalated_by = UnicodeAttribute(null=True)  # who first handed it to another team: told when it is done
    created_by = UnicodeAttribute(default="")
    updated_at = UnicodeAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)
    done_at = UnicodeAttribute(null=True)
    done_by = UnicodeAttribute(null=True)
    comment_count = NumberAttribute(default=0)
    revision = NumberAttribute(default=1)  # +1 per change: a stale edit is refused, notifications key on it


class TaskEventItem(MainItem):
    """One line of a task's timeline, in the task's partition: a change (who, which fields) or a comment."""

    task_id = UnicodeAttribute()
    kind = UnicodeAttribute()  # created | changed | escalated | comment
    actor = UnicodeAttribute()
    at = UnicodeAttribute()
    changes = JSONAttribute(default=list)  # [{field, before, after}]
    text = UnicodeAttribute(default="")  # a comment, or an escalation's note
    revision = NumberAttribute(default=0)


class TaskLinkItem(MainItem):
    """A task linked to a conversation, in the conversation's partition (`TASK#<number>`): its tasks in one query."""

    task_id = UnicodeAttribute()
    conversation_id = UnicodeAttribute()
    message_id = UnicodeAttribute(null=True)


class TaskTeamItem(MainItem):
    """A team inside a workspace (e.g. Support, Engineering) with its own task queue (F4)."""

    team_id = UnicodeAttribute()
    name = UnicodeAttribute()
    member_ids = ListAttribute[str](of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    updated_at = UnicodeAttribute(null=True)
class ReminderItem(MainItem):
    """A follow-up an operator set for themself on a conversation (E4); its timer tells them when it is due."""

    reminder_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    conversation_id = UnicodeAttribute()
    due_at = UnicodeAttribute()
    note = UnicodeAttribute(default="")


class HookItem(MainItem):
    """An outgoing webhook subscription (E5): where to POST which events, signed with its secret (sealed)."""

    hook_id = UnicodeAttribute()
    url = UnicodeAttribute()
    events = ListAttribute[str](of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    secret_sealed = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    enabled = BooleanAttribute(default=True)
    disabled_reason = UnicodeAttribute(null=True)
    failed_in_a_row = NumberAttribute(default=0)  # deliveries that failed for 24 h, since the last success


class DeliveryItem(MainItem):
    """One event for one subscription and its attempts; keyed by the event, so a replayed record sends nothing
    new. pending -> sending -> delivered, or -> retrying (timer) ... -> failed after 24 h."""

    delivery_id = UnicodeAttribute()
    hook_id = UnicodeAttribute()
    event = UnicodeAttribute()
    payload = UnicodeAttribute()  # the exact JSON body sent (and signed)
    state = UnicodeAttribute(default="pending")
    attempts = NumberAttribute(default=0)
    first_attempt_at = UnicodeAttribute(null=True)
    last_attempt_at = UnicodeAttribute(null=True)
    next_attempt_at = UnicodeAttribute(null=True)
    last_status = NumberAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    delivered_at = UnicodeAttribute(null=True)
    lease = UnicodeAttribute(null=True)


class RuleItem(MainItem):
    """An automation rule of a workspace (E3): domain/rules.py validates it; all rules sit in one partition."""

    rule_id = UnicodeAttribute()
    definition = JSONAttribute()
    position = NumberAttribute(default=0)
    updated_at = UnicodeAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)


class NotificationItem(MainItem):
    """One notification of one user (D3): the bell's entry (gsi1, newest first; gsi2 while unread) and its e-mail.

    Keyed by the event that caused it, so a retried stream record or timer never notifies twice."""

    notification_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    title = UnicodeAttribute()
    body = UnicodeAttribute(default="")
    link = MapAttribute[str, Any](default=dict)
    actor = UnicodeAttribute(null=True)
    console = BooleanAttribute(default=True)
    read_at = UnicodeAttribute(null=True)
    email_state = UnicodeAttribute(null=True)  # pending (at once) | held (digest / quiet hours) | sending | sent
    text_key = UnicodeAttribute(null=True)  # domain/notifications.TITLES: readers see the title in their language
    params = MapAttribute[str, Any](default=dict)


class SurveyItem(MainItem):
    """A CSAT (1-5) or NPS (0-10) survey sent to a customer after a close (G4), and the answer.

    The contract between the surveys (services/surveys.py) and the analytics counters: the counters count an
    answer once, when `score` goes from null to a number (a MODIFY, or an INSERT that already carries it)."""

    survey_id = UnicodeAttribute()
    kind = UnicodeAttribute()  # csat | nps
    conversation_id = UnicodeAttribute(null=True)  # the closed conversation it asks about (NPS: the last one)
    channel_id = UnicodeAttribute(default="")
    channel_kind = UnicodeAttribute(default="")
    contact_id = UnicodeAttribute(default="")
    operator_id = UnicodeAttribute(null=True)  # the conversation's assignee when it closed
    state = UnicodeAttribute(default="pending")  # pending | sent | answered | expired | failed
    score = NumberAttribute(null=True)
    comment = UnicodeAttribute(null=True)
    sent_at = UnicodeAttribute(null=True)
    answered_at = UnicodeAttribute(null=True)
    # added by the surveys (services/surveys.py); the attributes above keep their meaning
    language = UnicodeAttribute(default="")
    answer_until = UnicodeAttribute(null=True)  # answers after this are refused
    message_id = UnicodeAttribute(null=True)  # the prompt's message in the thread
    closed_at = UnicodeAttribute(null=True)  # the close it asks about
    answered_via = UnicodeAttribute(null=True)  # button | text | widget


class SurveyAskedItem(MainItem):
    """When a customer was last asked a survey of one kind: the "not twice within N days" window, claimed by a
    conditional write in the transaction that creates the survey (G4)."""

    contact_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    asked_at = UnicodeAttribute()
    survey_id = UnicodeAttribute()



class CounterItem(MainItem):
    """Analytics counters of one workspace x UTC hour x dimension (domain/analytics.py names the metrics, which
    are top-level numbers written by store/analytics.py)."""


class CounterMarkItem(MainItem):
    """The transactional counting's marker (`ANXMARK#<eventID>`): no longer written; old items expire (TTL 2 days)."""

    e = UnicodeAttribute(default="")


DELTA_SEGMENT = "s"  # a counter delta's attribute carrying its batch's small search segment (zlib, binary)


class CounterDeltaItem(MainItem):
    """The counter deltas of one stream batch's records of one workspace (store/analytics.py): `z` zlib-compressed
    JSON (base64) {counter sort key: {metric: n}}, `e` the last record's sequence; folded into the hour items,
    TTL 14 days. On time, it may also carry its batch's search segment (`DELTA_SEGMENT`, search/engines.py)."""

    z = UnicodeAttribute(null=True)
    e = UnicodeAttribute(default="")


class CounterFoldItem(MainItem):
    """A workspace's fold cursor: every delta whose sort key is below `cur` is in the hour items; `v` moves when
    a late delta lands ahead of it (a fold in flight then starts again)."""

    cur = UnicodeAttribute(default="")
    v = NumberAttribute(default=0)


class ExportItem(MainItem):
    """A report export (G5): written by the API, handed by the stream to the export worker, downloaded by a signed
    link when done."""

    export_id = UnicodeAttribute()
    requested_by = UnicodeAttribute(default="")
    fmt = UnicodeAttribute(default="csv")  # csv | xlsx
    params = MapAttribute[str, Any](default=dict)  # what to export: rows, from, to
    state = UnicodeAttribute(default="pending")  # pending | running | done | failed
    lease_until = UnicodeAttribute(null=True)  # a running worker's: another may take the job over after it
    attempts = NumberAttribute(default=0)  # workers that claimed it (services/exports.py MAX_ATTEMPTS)
    rows = NumberAttribute(default=0)  # written so far: the console's progress bar
    total = NumberAttribute(null=True)  # expected rows, when known
    file_key = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    finished_at = UnicodeAttribute(null=True)


class CounterSnapshotItem(MainItem):
    """The dashboard's sums of the hours no stream record can still change, for one window end hour: computed by
    the first dashboard opened in that hour, read by the others (services/analytics.py). TTL 3 days."""

    data = UnicodeAttribute(default="{}")  # compact JSON: {"cur", "prev", "ch_cur", "ch_prev", "hourly"}

class ArticleItem(MainItem):
    """A knowledge-base article (H1): a category, ru / en versions ({lang: {title, body}}, Markdown), draft or
    published, and how many sent replies used it (counted once per reply, services/knowledge.py)."""

    article_id = UnicodeAttribute()
    category = UnicodeAttribute(default="")
    status = UnicodeAttribute(default="draft")  # draft | published
    versions = JSONAttribute(default=dict)
    url = UnicodeAttribute(null=True)  # where customers can read it (a help-centre page), inserted as a link
    uses = NumberAttribute(default=0)
    revision = NumberAttribute(default=1)  # +1 per edit: an edit made on an older revision is refused (409)
    created_by = UnicodeAttribute(default="")
    updated_at = UnicodeAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)


class ArticleUseItem(MainItem):
    """One sent reply that used an article: written in the transaction that counts the use, so a replay
    counts nothing (TTL 8 days, past the stream's 24 hours)."""

    article_id = UnicodeAttribute()
    message_id = UnicodeAttribute()


class MergeItem(MainItem):
    """Two client cards merged (C2): both cards as they were, what moved, so an undo within 24 h restores them.
    gsi1 lists the merges into one card (newest first)."""

    merge_id = UnicodeAttribute()
    survivor_id = UnicodeAttribute()
    other_id = UnicodeAttribute()
    state = UnicodeAttribute(default="done")  # done | undone
    by = UnicodeAttribute()
    at = UnicodeAttribute()
    undo_until = UnicodeAttribute()
    survivor_before = JSONAttribute(default=dict)  # the card fields as they were
    other_before = JSONAttribute(default=dict)
    identities = JSONAttribute(default=list)  # [[channel_id, external_user_id]] moved to the survivor
    conversations = JSONAttribute(default=list)  # conversation ids moved to the survivor
    undone_by = UnicodeAttribute(null=True)
    undone_at = UnicodeAttribute(null=True)


class RecentInboundItem(MainItem):
    """A customer's message of the last two hours (H2), one item per message: no longer written (the messages ride
    in the stream batches' counter delta items, store/clusters.py); old items are read by nothing, TTL removes them."""

    conversation_id = UnicodeAttribute()
    message_id = UnicodeAttribute()
    contact_id = UnicodeAttribute(default="")
    text = UnicodeAttribute(default="")  # the first 300 characters
    at = UnicodeAttribute()


class ClusterNoteItem(MainItem):
    """A sudden cluster the leads were told about (H2), so the same cluster is not announced twice."""

    cluster_id = UnicodeAttribute()
    conversation_ids = ListAttribute[str](of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    customers = NumberAttribute(default=0)
    at = UnicodeAttribute()


MAIN_MODELS: tuple[type[MainItem], ...] = (
    WorkspaceItem, ChannelItem, ContactItem, IdentityItem, ConversationItem, MessageItem,
    ExternalMessageItem, QueuedMessageItem, InboundItem, ApiKeyItem, TimerItem, ParkedItem,
    UserItem, EmailItem, MemberItem, SessionItem, LoginTokenItem, LoginRateItem, InviteItem, OidcStateItem,
    AuditItem, PresenceItem, TeamSettingsItem,
    VisitorItem, WidgetTicketItem, RateWindowItem, WidgetSeqItem, RequestItem, TemplateItem,
    TaskCounterItem, TaskItem, TaskEventItem, TaskLinkItem, TaskTeamItem,
    NotificationItem, ReminderItem, HookItem, DeliveryItem, RuleItem, SurveyItem,
    CounterItem, CounterMarkItem, CounterDeltaItem, CounterFoldItem, ExportItem,
    SurveyAskedItem,
    ArticleItem, ArticleUseItem,
    MergeItem, RecentInboundItem, ClusterNoteItem,
    CounterSnapshotItem,
)
TYPE_OF: dict[type[MainItem], str] = {
    WorkspaceItem: "workspace", ChannelItem: "channel", ContactItem: "contact", IdentityItem: "identity",
    ConversationItem: "conversation", MessageItem: "message", ExternalMessageItem: "extmsg",
    QueuedMessageItem: "inmsg", InboundItem: "inbound", ApiKeyItem: "apikey", TimerItem: "timer", ParkedItem: "parked",
    UserItem: "user", EmailItem: "email", MemberItem: "member", SessionItem: "session", LoginTokenItem: "login",
    LoginRateItem: "loginrate", InviteItem: "invite", OidcStateItem: "oidcstate", AuditItem: "audit",
    PresenceItem: "presence", TeamSettingsItem: "teamsettings",
    VisitorItem: "visitor", WidgetTicketItem: "wsticket", RateWindowItem: "ratewindow", WidgetSeqItem: "widgetseq",
    RequestItem: "request", TemplateItem: "template", NotificationItem: "notification",
    TaskCounterItem: "taskcounter", TaskItem: "task", TaskEventItem: "taskevent", TaskLinkItem: "tasklink",
    TaskTeamItem: "taskteam",
    ReminderItem: "reminder", HookItem: "hook", DeliveryItem: "delivery",
    RuleItem: "rule", SurveyItem: "survey",
    CounterItem: "anx", CounterMarkItem: "anxmark", CounterDeltaItem: "anxd", CounterFoldItem: "anxfold",
    ExportItem: "export",
    SurveyAskedItem: "surveyasked",
    ArticleItem: "article", ArticleUseItem: "articleuse",
    MergeItem: "merge", RecentInboundItem: "recentin", ClusterNoteItem: "clusternote",
    CounterSnapshotItem: "anxsnap",
}
MODEL_OF: dict[str, type[MainItem]] = {name: cls for cls, name in TYPE_OF.items()}


def configure(settings: Settings) -> None:
    """Point the models at this stage's tables. pynamodb caches one connection per class and does not notice a
    new endpoint, so the cached connections are dropped (a second embedded stack in one process, benchmarks)."""
    models: tuple[type[Model], ...] = (*MAIN_MODELS, MainItem, ConnectionItem, SendLeaseItem)
    for cls in models:
        cls._connection = None
    for cls in MAIN_MODELS:
        cls.Meta.table_name = settings.main_table
    MainItem.Meta.table_name = settings.main_table
    ConnectionItem.Meta.table_name = settings.connections_table
    SendLeaseItem.Meta.table_name = settings.idempotency_table
