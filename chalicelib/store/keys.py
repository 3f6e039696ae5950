"""Key builders for the main table. Every key of workspace data starts with `WS#<workspace>#` (I3)."""

from __future__ import annotations


def workspace(ws: str) -> tuple[str, str]:
    return f"WS#{ws}", "WORKSPACE"


def channel(channel_id: str) -> tuple[str, str]:
    # Webhook URLs carry only the channel id, so the channel is found without its workspace.
    return f"CH#{channel_id}", "CHANNEL"


def channels_of(ws: str) -> str:
    return f"WS#{ws}#CHANNELS"


def contact(ws: str, contact_id: str) -> tuple[str, str]:
    return f"WS#{ws}#CONTACT#{contact_id}", "CONTACT"


def contact_history(ws: str, contact_id: str) -> str:
    return f"WS#{ws}#CONTACT#{contact_id}"


def identity(ws: str, channel_id: str, external_user_id: str) -> tuple[str, str]:
    return f"WS#{ws}#IDENT#{channel_id}#{external_user_id}", "IDENT"


def conversation(ws: str, conv_id: str) -> tuple[str, str]:
    return f"WS#{ws}#CONV#{conv_id}", "CONV"


def message(ws: str, conv_id: str, msg_id: str) -> tuple[str, str]:
    return f"WS#{ws}#CONV#{conv_id}", f"MSG#{msg_id}"


MESSAGE_PREFIX = "MSG#"


def external_message(ws: str, channel_id: str, ext_conv: str, ext_msg: str) -> tuple[str, str]:
    return f"WS#{ws}#EXTMSG#{channel_id}#{ext_conv}#{ext_msg}", "EXTMSG"


def inbox(ws: str, status: str) -> str:
    return f"WS#{ws}#STATUS#{status}"


def assignee(ws: str, user_id: str | None) -> str:
    return f"WS#{ws}#ASSIGNEE#{user_id or '-'}"


def inbound(dedupe_key: str) -> tuple[str, str]:
    return f"IN#{dedupe_key}", "IN"


def api_key(key_hash: str) -> tuple[str, str]:
    return f"APIKEY#{key_hash}", "APIKEY"


def api_keys_of(ws: str) -> str:
    return f"WS#{ws}#APIKEYS"


def parked(ws: str) -> str:
    return f"WS#{ws}#PARKED"


TIMER_SHARDS = 1  # one partition: an idle tick is one Query (timer writes are ~2 per waiting customer)


def timer(ws: str, timer_id: str) -> tuple[str, str]:
    return f"WS#{ws}#TIMER#{timer_id}", "TIMER"


def timers_due(shard: int) -> str:
    return f"TIMERS#{shard}"


def due_timer(shard: int, due_at: str, ws: str, timer_id: str) -> tuple[str, str]:
    """A timer kept in its due order on the table itself (no index entry: half the writes), for timers whose due
    time the code that removes them can work out (SLA waits): `DUE#<shard>` / `<due>#<ws>#<id>`."""
    return due_timers(shard), f"{due_at}#{ws}#{timer_id}"


def due_timers(shard: int) -> str:
    return f"DUE#{shard}"


def workspace_of_pk(pk: str) -> str | None:
    if pk.startswith("WS#"):
        return pk.split("#", 2)[1]
    return None


# --- team and access (users are not workspace data; what they do inside a workspace is) -------------------


def user(user_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", "USER"


def email(address: str) -> tuple[str, str]:
    return f"EMAIL#{address}", "EMAIL"


def member(ws: str, user_id: str) -> tuple[str, str]:
    return f"WS#{ws}#MEMBER#{user_id}", "MEMBER"


def members_of(ws: str) -> str:
    return f"WS#{ws}#MEMBERS"


def workspaces_of(user_id: str) -> str:
    return f"USER#{user_id}#WORKSPACES"


def session(session_hash: str) -> tuple[str, str]:
    return f"SESSION#{session_hash}", "SESSION"


def sessions_of(user_id: str) -> str:
    return f"USER#{user_id}#SESSIONS"


def login_token(token_hash: str) -> tuple[str, str]:
    return f"LOGIN#{token_hash}", "LOGIN"


def login_rate(address_hash: str, window: str) -> tuple[str, str]:
    return f"LOGINRATE#{address_hash}#{window}", "LOGINRATE"


def invite(ws: str, invite_id: str) -> tuple[str, str]:
    return f"WS#{ws}#INVITE#{invite_id}", "INVITE"


def invites_of(ws: str) -> str:
    return f"WS#{ws}#INVITES"


def oidc_state(state_hash: str) -> tuple[str, str]:
    return f"OIDC#{state_hash}", "OIDC"


def audit(ws: str) -> str:
    return f"WS#{ws}#AUDIT"


def audit_by_actor(ws: str, actor: str) -> str:
    return f"WS#{ws}#AUDIT#ACTOR#{actor}"


def audit_by_conversation(ws: str, conv_id: str) -> str:
    return f"WS#{ws}#AUDIT#CONV#{conv_id}"


def presence(ws: str) -> str:
    return f"WS#{ws}#PRESENCE"


def team_settings(ws: str) -> tuple[str, str]:
    return f"WS#{ws}", "TEAM"


# --- site-chat widget: visitors hold their own tokens, never API keys ----------------------------------


def visitor(ws: str, token_hash: str) -> tuple[str, str]:
    return f"WS#{ws}#VISITOR#{token_hash}", "VISITOR"


def widget_ticket(ws: str, ticket_hash: str) -> tuple[str, str]:
    return f"WS#{ws}#WSTICKET#{ticket_hash}", "WSTICKET"


def rate_window(ws: str, scope: str, subject: str, window: int) -> tuple[str, str]:
    return f"WS#{ws}#RATE#{scope}#{subject}#{window}", "RATE"


def widget_seq(ws: str, conv_id: str) -> tuple[str, str]:
    return f"WS#{ws}#WIDGETSEQ#{conv_id}", "WIDGETSEQ"


def client_request(ws: str, kind: str, request_id: str) -> tuple[str, str]:
    return f"WS#{ws}#REQUEST#{kind}#{request_id}", "REQUEST"


# --- reply templates (B7): one partition per workspace, so one query lists them ------------------------------


def template(ws: str, template_id: str) -> tuple[str, str]:
    return templates(ws), f"TEMPLATE#{template_id}"


def templates(ws: str) -> str:
    return f"WS#{ws}#TEMPLATES"


# --- tasks (F1-F4): a task's partition holds it and its timeline; lists are gsi1 (all), gsi2 (assignee), gsi3 (team)


def task_counter(ws: str) -> tuple[str, str]:
    return f"WS#{ws}#TASKCOUNTER", "COUNTER"


def task(ws: str, task_id: str) -> tuple[str, str]:
    return f"WS#{ws}#TASK#{task_id}", "TASK"


def tasks_all(ws: str, bucket: str) -> str:
    return f"WS#{ws}#TASKS#{bucket}"


def tasks_of_assignee(ws: str, user_id: str | None, bucket: str) -> str:
    return f"WS#{ws}#TASKS#ASSIGNEE#{user_id or '-'}#{bucket}"


def tasks_of_team(ws: str, team_id: str | None, bucket: str) -> str:
    return f"WS#{ws}#TASKS#TEAM#{team_id or '-'}#{bucket}"


def task_link(ws: str, conv_id: str, task_id: str) -> tuple[str, str]:
    return conversation(ws, conv_id)[0], f"{TASK_LINK_PREFIX}{task_id}"


TASK_LINK_PREFIX = "TASK#"


def task_teams(ws: str) -> str:
    return f"WS#{ws}#TASKTEAMS"
def notification(ws: str, user_id: str, notification_id: str) -> tuple[str, str]:
    return f"WS#{ws}#NOTIF#{user_id}", f"N#{notification_id}"


def notifications_of(ws: str, user_id: str) -> str:
    """gsi1: a user's notifications, newest first."""
    return f"WS#{ws}#NOTIFS#{user_id}"


def unread_of(ws: str, user_id: str) -> str:
    """gsi2 (sparse): a user's unread notifications."""
    return f"WS#{ws}#UNREAD#{user_id}"


def reminder(ws: str, user_id: str, due_at: str, reminder_id: str) -> tuple[str, str]:
    """A user's reminders in one partition, soonest first."""
    return f"WS#{ws}#REMINDERS#{user_id}", f"{due_at}#{reminder_id}"


def hooks(ws: str) -> str:
    """Outgoing webhook subscriptions of a workspace: one partition, one Query."""
    return f"WS#{ws}#HOOKS"


def hook(ws: str, hook_id: str) -> tuple[str, str]:
    return hooks(ws), f"HOOK#{hook_id}"


def delivery(ws: str, hook_id: str, event_at: str, delivery_id: str) -> tuple[str, str]:
    """A subscription's deliveries, in the order of their events."""
    return f"WS#{ws}#HOOK#{hook_id}#DELIVERIES", f"D#{event_at}#{delivery_id}"


def rules(ws: str) -> str:
    """A workspace's automation rules: one partition, one Query."""
    return f"WS#{ws}#RULES"


# --- analytics (G1-G5) --------------------------------------------------------------------------------------


def counters(ws: str) -> str:
    """A workspace's analytics counters: one partition; sort keys `<kind>#<UTC hour>[#<value>]`, `s#<hour>`
    (dashboard snapshots) and `fold` (the deltas' fold cursor)."""
    return f"WS#{ws}#ANX"


def counter_deltas(ws: str) -> str:
    """A workspace's counter deltas, one item per stream batch: sort keys `<change time, ms, 13 digits>#<eventID>`."""
    return f"WS#{ws}#ANXD"


COUNTER_FOLD = "fold"  # the fold cursor's sort key in the counters partition


def export(ws: str, export_id: str) -> tuple[str, str]:
    return f"WS#{ws}#EXPORT#{export_id}", "EXPORT"


def exports_of(ws: str) -> str:
    return f"WS#{ws}#EXPORTS"
def survey(ws: str, conv_id: str, close_key: str) -> tuple[str, str]:
    """A survey sits in its conversation's partition (G4), keyed by the close it asks about (one per close): an
    answer from the customer's own chat finds it there, so a survey id from another chat finds nothing."""
    return conversation(ws, conv_id)[0], f"{SURVEY_PREFIX}{close_key}"


SURVEY_PREFIX = "SURVEY#"


def surveys_of(ws: str) -> str:
    """gsi1: a workspace's surveys, newest first (`<created>#<survey id>`)."""
    return f"WS#{ws}#SURVEYS"


def survey_asked(ws: str, contact_id: str, kind: str) -> tuple[str, str]:
    """When a customer was last asked any survey (`any`: the quiet window) and an NPS (`nps`: its interval)."""
    return f"WS#{ws}#SURVEYASKED#{contact_id}", kind


def articles(ws: str) -> str:
    """A workspace's knowledge base (H1): its articles and their uses in one partition."""
    return f"WS#{ws}#ARTICLES"


def article(ws: str, article_id: str) -> tuple[str, str]:
    return articles(ws), f"ARTICLE#{article_id}"


def article_use(ws: str, article_id: str, message_id: str) -> tuple[str, str]:
    return articles(ws), f"USE#{article_id}#{message_id}"


def contact_match(ws: str, kind: str, value: str) -> str:
    """The cards with one normalised name / e-mail / phone (C2 suggestions): gsi1 / gsi2 / gsi3 of a contact."""
    return f"WS#{ws}#CMATCH#{kind}#{value}"


def merge(ws: str, merge_id: str) -> tuple[str, str]:
    return f"WS#{ws}#MERGE#{merge_id}", "MERGE"


def merges_into(ws: str, contact_id: str) -> str:
    """gsi1: the merges into one card, newest first."""
    return f"WS#{ws}#MERGES#{contact_id}"


def cluster_notes(ws: str) -> str:
    """H2: the sudden clusters announced to the leads, sorted by time."""
    return f"WS#{ws}#CLUSTERNOTES"


def search_segments(ws: str) -> str:
    """B1 in AWS: the search index's small segments, sorted by name (search/engines.py `ItemSegments`). Not under
    `WS#<ws>`, and without a workspace id: backups leave them out (`reindex-search` rebuilds an index)."""
    return f"SEARCH#{ws}"
