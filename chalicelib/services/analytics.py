"""Analytics (G1-G3, G5): counters from the stream, and the dashboard, heat map, KPIs and reports read from them.

Counting: after a stream batch is processed, the deltas of every record that will not come back (those before
the first failed record) are summed in memory into one delta item per workspace (store/analytics.py, folded into
the hour items later), and each workspace whose counters moved gets one small `analytics.updated` push. Reading
never touches raw messages: the hour items plus the deltas not folded yet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.domain import analytics as rules
from chalicelib.domain.model import iso, parse_iso
from chalicelib.errors import InvalidInput
from chalicelib.observability import logger
from chalicelib.services import assignment, clusters, timers
from chalicelib.services.deps import Deps
from chalicelib.store import analytics as store
from chalicelib.store import backup, repo
from chalicelib.store import clusters as cluster_store
from chalicelib.store.models import TYPE_OF, ConversationItem, MessageItem, SurveyItem

COUNTED = {TYPE_OF[ConversationItem], TYPE_OF[MessageItem], TYPE_OF[SurveyItem]}
MAX_DAYS = 92  # a report or heat map reads hourly items: at most a quarter at a time
HIGH = "\uffff"


def deltas_of(event_name: str, new: Any, old: Any) -> rules.Batch:
    """The counter deltas one change implies."""
    batch = rules.Batch()
    if isinstance(new, ConversationItem):
        for delta in rules.conversation_deltas(event_name, new, old if isinstance(old, ConversationItem) else None):
            batch.add(delta)
    elif isinstance(new, MessageItem):
        for delta in rules.message_deltas(event_name, new):
            batch.add(delta)
    elif isinstance(new, SurveyItem):
        for delta in rules.survey_deltas(event_name, new, old if isinstance(old, SurveyItem) else None):
            batch.add(delta)
    return batch


def count_batch(d: Deps, records: Sequence[Mapping[str, Any]], response: Mapping[str, Any] | None) -> int:
    """Count the records of a processed batch that will not be delivered again, and flush the batch's search
    segments (a workspace's small one rides in its on-time delta item). Returns delta items written."""
    failed = {f.get("itemIdentifier") for f in (response or {}).get("batchItemFailures") or []}
    counted: list[store.Record] = []
    recent: dict[str, list[list[str]]] = {}  # H2: the batch's customer messages, carried by its counter items
    now: datetime | None = None
    for record in records:
        data = record.get("dynamodb") or {}
        sequence = str(data.get("SequenceNumber", ""))
        if sequence in failed:
            break  # this record and every later one come back in the next batch
        new_raw = data.get("NewImage") or {}
        if (new_raw.get("type") or {}).get("S") not in COUNTED:
            continue
        new = repo.decode(new_raw)
        old = repo.decode(data["OldImage"]) if data.get("OldImage") else None
        if backup.is_restored_insert(str(record.get("eventName", "")), new):
            continue  # a backup import's item: counted before the export (the counters are imported too)
        event_name = str(record.get("eventName", ""))
        deltas = deltas_of(event_name, new, old).nonzero()
        if isinstance(new, MessageItem) and clusters.wanted(event_name, new):
            now = now or d.now()
            recent.setdefault(new.workspace_id or "", []).append(cluster_store.entry(new, now=now))
        if deltas:
            now = now or d.now()
            counted.append((str(record.get("eventID") or sequence), sequence, _ms(rules.change_time(new), now),
                            deltas))
    carried = store.on_time(counted, now=now) if counted and now is not None else set()
    engine = vars(d).get("search")  # built only by a batch that changed something searchable
    segments = engine.flush(carried) if engine is not None else {}  # the others written here, before the deltas
    if not counted or now is None:
        return 0
    workspaces = {ws for *_, deltas in counted for ws, _ in deltas}
    for ws in sorted(workspaces):
        _book_fold(ws, now)
        _fold_when_busy(ws, now)
    _push_updated(d, workspaces)
    if recent:
        clusters.after_batch(d, recent)  # the sudden-cluster check sees this batch's messages in memory
    return store.apply(counted, now=now, recent=recent, segments=segments)  # the batch's last write


def _ms(when: str, now: datetime) -> int:
    """A change time in epoch ms (now when the item carries none)."""
    try:
        return int(parse_iso(when).timestamp() * 1000)
    except ValueError:
        return int(now.timestamp() * 1000)


FOLD_TIMER = "anx-fold"
FOLD_KIND = "analytics-fold"
_fold_booked: dict[str, str] = {}  # workspace -> when the fold this process knows is booked is due (warm Lambda)


FOLD_EVERY = timedelta(days=7)  # half a delta's life (store.DELTA_DAYS): every delta is folded before it expires


def _fold_due(now: datetime) -> datetime:
    return now + FOLD_EVERY


def _book_fold(ws: str, now: datetime) -> None:
    """Make sure a fold is booked for a workspace that got deltas: a workspace nobody reads analytics in still has
    its deltas folded before they expire. One conditional put per workspace per week per warm process."""
    if _fold_booked.get(ws, "") > iso(now):
        return
    due = _fold_due(now)
    repo.put_timer(ws, FOLD_TIMER, FOLD_KIND, iso(due), {}, now=now, only_new=True)
    _fold_booked[ws] = iso(due)


_batches_since_fold: dict[str, int] = {}  # workspace -> its batches this warm process counted since it folded


def _fold_when_busy(ws: str, now: datetime) -> None:
    """A busy workspace is folded by the stream every STREAM_FOLD of its batches (a quiet one by its readers and the
    weekly timer), so no reader ever has much to fold. Best effort and before the batch's own write: a failure
    here leaves the deltas for the next fold."""
    _batches_since_fold[ws] = _batches_since_fold.get(ws, 0) + 1
    if _batches_since_fold[ws] < store.STREAM_FOLD:
        return
    _batches_since_fold[ws] = 0
    try:
        store.fold(ws, now=now, max_deltas=store.READER_FOLD)
    except Exception:  # noqa: BLE001 - folding is an optimisation here; the counts are in the deltas meanwhile
        logger.exception("fold from the stream failed", extra={"workspace_id": ws})


@timers.register(FOLD_KIND)
def _weekly_fold(d: Deps, timer: Any) -> None:
    ws = timer.workspace_id
    now = d.now()
    compact = getattr(d.search, "compact", None)  # AWS mode: the search segments the deltas carry, into a base
    if compact is not None:  # before they expire with them
        compact(ws)
    store.fold(ws, now=now)
    if store.tail(ws, now=now, fold_at=10**9).deltas:  # deltas still to come due: book the next fold
        repo.put_timer(ws, FOLD_TIMER, FOLD_KIND, iso(_fold_due(now)), {}, now=now)


def _push_updated(d: Deps, workspaces: set[str]) -> None:
    from chalicelib.services.changes import push

    for ws in sorted(workspaces):
        push(d, ws, {"type": "analytics.updated"})  # a hint for open dashboards: they read the counters again


# --- reading --------------------------------------------------------------------------------------------------


def zone_of(ws: str, requested: str | None) -> str:
    """The time zone to show: the one asked for, else the workspace's working hours' zone, else UTC."""
    hours = assignment.team_settings(ws).working_hours
    zone = requested or (hours.get("time_zone") if isinstance(hours, dict) else None) or "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise InvalidInput(f"unknown time zone {zone!r}") from err
    return zone


def period(start: str | None, end: str | None, now: datetime, *, default_days: int = 7) -> tuple[datetime, datetime]:
    """A [from, to) period from ISO dates or times (UTC unless they carry an offset); at most MAX_DAYS long.
    `to` defaults to the end of the current hour (the counters' last bucket)."""
    def parse(text: str, name: str) -> datetime:
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as err:
            raise InvalidInput(f"{name} must be an ISO date or date-time") from err
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    high = parse(end, "to") if end else now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    low = parse(start, "from") if start else high - timedelta(days=default_days)
    if low >= high:
        raise InvalidInput("from must be before to")
    if high - low > timedelta(days=MAX_DAYS):
        raise InvalidInput(f"a period is at most {MAX_DAYS} days")
    return low.astimezone(UTC), high.astimezone(UTC)


def _hours(low: datetime, high: datetime) -> tuple[str, str]:
    last = high - timedelta(microseconds=1)
    return low.strftime("%Y-%m-%dT%H"), last.strftime("%Y-%m-%dT%H")


Row = tuple[str, str, dict[str, int]]  # (UTC hour, dimension value, metrics)


def rows(ws: str, kind: str, low: datetime, high: datetime, now: datetime | None = None) -> list[Row]:
    """(UTC hour, dimension value, metrics) of one kind of counter over a period."""
    return rows_by_kind(ws, (kind,), low, high, now=now)[kind]


def rows_by_kind(ws: str, kinds: Sequence[str], low: datetime, high: datetime, *, now: datetime | None = None,
                 tail: store.Tail | None = None) -> dict[str, list[Row]]:
    """The rows of several kinds, one Query per kind: a channel's and an operator's per-message counts come from
    the workspace-hour items they are folded into (domain/analytics.py), summed with their own items' metrics.
    The deltas not folded yet (`store.tail`, read once) are added to the items they belong to."""
    if tail is None:
        from chalicelib.services.deps import deps

        tail = store.tail(ws, now=now or deps().now())
    first, last = _hours(low, high)
    found: dict[str, dict[tuple[str, str], dict[str, int]]] = {kind: {} for kind in kinds}
    wanted = ("a", *kinds) if set(kinds) & set(rules.FOLDED_KINDS) and "a" not in kinds else tuple(kinds)
    for kind in wanted:
        for sk, metrics in store.query(ws, rules.sort_key(kind, first, ""), rules.sort_key(kind, last, HIGH), tail):
            k, hour, value = rules.parse_sort_key(sk)
            if k != kind:
                continue
            if kind == "a":
                for folded_kind, folded_value, name, n in rules.folded(metrics):
                    if folded_kind in found:
                        rules.merge(found[folded_kind].setdefault((hour, folded_value), {}), {name: n})
                metrics = rules.own(metrics)
            if kind in found:
                rules.merge(found[kind].setdefault((hour, value), {}), metrics)
    return {kind: [(hour, value, metrics) for (hour, value), metrics in sorted(by.items())]
            for kind, by in found.items()}


def _sum(rows_: Sequence[tuple[str, str, dict[str, int]]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for _, _, metrics in rows_:
        rules.merge(total, metrics)
    return total


def _by_value(rows_: Sequence[tuple[str, str, dict[str, int]]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for _, value, metrics in rows_:
        rules.merge(out.setdefault(value, {}), metrics)
    return out


LIVE_HOURS = 7  # the stream delivers a record for up to 6 hours (MaximumRecordAgeInSeconds): older hours are final


def dashboard(d: Deps, ws: str) -> dict[str, Any]:
    """The last 24 h against the 24 h before. Hours older than LIVE_HOURS are final: their sums (the window's
    previous day, most of the current one, per channel, and the hourly chart) are one snapshot item per window
    end hour, made by the first dashboard opened in that hour; every open reads it and the live hours' items."""
    now = d.now().astimezone(UTC)
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    middle, start = end - timedelta(hours=24), end - timedelta(hours=48)
    settled = end - timedelta(hours=LIVE_HOURS)
    end_hour = end.strftime("%Y-%m-%dT%H")
    tail = store.tail(ws, now=now)
    snap = store.snapshot(ws, end_hour)
    if snap is None:
        snap = _settled_sums(ws, start, middle, settled, tail)
        store.put_snapshot(ws, end_hour, snap, now=now)
    current, previous = dict(snap["cur"]), dict(snap["prev"])
    per_current = {k: dict(v) for k, v in snap["ch_cur"].items()}
    hourly = {hour: list(v) for hour, v in snap["hourly"].items()}
    live = rows_by_kind(ws, ("a", "c"), settled, end, tail=tail)
    for hour, _, metrics in live["a"]:  # live hours: all in the current day
        rules.merge(current, metrics)
        hourly[hour] = [hourly.get(hour, [0, 0])[0] + metrics.get("new", 0),
                        hourly.get(hour, [0, 0])[1] + metrics.get("in", 0)]
    for _, channel_id, metrics in live["c"]:
        rules.merge(per_current.setdefault(channel_id, {}), metrics)
    names = names_of(ws, "channel")
    per_channel = [{"channel_id": channel_id, "name": names.get(channel_id, channel_id),
                    "current": rules.summary(metrics), "previous": rules.summary(snap["ch_prev"].get(channel_id, {}))}
                   for channel_id, metrics in sorted(per_current.items())]
    return {
        "generated_at": iso(now), "from": iso(start), "split": iso(middle), "to": iso(end),
        "current": rules.summary(current), "previous": rules.summary(previous),
        **_waiting(ws, now),
        "channels": per_channel,
        "hourly": [{"hour": hour, "new": hourly.get(hour, [0, 0])[0], "messages_in": hourly.get(hour, [0, 0])[1]}
                   for hour in rules.hours_between(middle, end - timedelta(hours=1))],
    }


def _settled_sums(ws: str, start: datetime, middle: datetime, settled: datetime, tail: store.Tail) -> dict[str, Any]:
    """The sums of the final hours of a dashboard window: [start, middle) and [middle, settled)."""
    split = middle.strftime("%Y-%m-%dT%H")
    found = rows_by_kind(ws, ("a", "c"), start, settled, tail=tail)
    totals, channels = found["a"], found["c"]
    return {"prev": _sum([r for r in totals if r[0] < split]), "cur": _sum([r for r in totals if r[0] >= split]),
            "ch_prev": _by_value([r for r in channels if r[0] < split]),
            "ch_cur": _by_value([r for r in channels if r[0] >= split]),
            "hourly": {hour: [m.get("new", 0), m.get("in", 0)] for hour, _, m in totals if hour >= split}}


def _waiting(ws: str, now: datetime) -> dict[str, Any]:
    """How many customers wait for an answer now (not blocked), and the longest wait: one read of the open
    conversations on the inbox index (no counter item to keep up in every batch)."""
    from chalicelib.services import team as team_service

    statuses = [s for s in team_service.statuses_of(ws) if s != rules.CLOSED]
    found = repo.query_overdue(ws, statuses, waiting_before=iso(now + timedelta(seconds=1)), limit=None)
    if not found:
        return {"waiting_now": 0, "oldest_waiting": None}
    conv = found[0]
    return {"waiting_now": sum(1 for c in found if not c.blocked),
            "oldest_waiting": {
                "conversation_id": conv.conversation_id, "contact_name": conv.contact_name,
                "channel_id": conv.channel_id, "waiting_since": conv.awaiting_since,
                "waiting_s": max(0, int((now - datetime.fromisoformat(
                    (conv.awaiting_since or iso(now)).replace("Z", "+00:00"))).total_seconds()))}}


METRICS = ("in", "new", "out", "res", "fr")


def heatmap(ws: str, low: datetime, high: datetime, zone: str, metric: str) -> dict[str, Any]:
    if metric not in METRICS:
        raise InvalidInput(f"metric must be one of {', '.join(METRICS)}")
    found = rows(ws, "a", low, high)
    cells = rules.heatmap(((hour, metrics) for hour, _, metrics in found), zone, metric)
    return {"time_zone": zone, "metric": metric, "from": iso(low), "to": iso(high), "cells": cells,
            "max": max(max(row) for row in cells)}


def kpis(ws: str, low: datetime, high: datetime) -> dict[str, Any]:
    """Per operator (the conversation's assignee, or the author of a reply) and per task team (its members'
    counters summed), and the whole workspace."""
    from chalicelib.store import tasks as task_store
    from chalicelib.store import team as team_store

    found = rows_by_kind(ws, ("a", "o"), low, high)
    per_op = _by_value(found["o"])
    members = {m.user_id: m for m in team_store.list_members(ws)}
    operators = []
    for user_id in sorted(set(per_op) | set(members)):
        member = members.get(user_id)
        operators.append({"user_id": user_id, "name": (member.name or member.email) if member else user_id,
                          "role": member.role if member else "",
                          **_kpi(per_op.get(user_id, {}))})
    teams = []
    for team in task_store.list_teams(ws):
        summed: dict[str, int] = {}
        for user_id in team.member_ids or []:
            rules.merge(summed, per_op.get(user_id, {}))
        teams.append({"team_id": team.team_id, "name": team.name, "member_ids": list(team.member_ids or []),
                      **_kpi(summed)})
    return {"from": iso(low), "to": iso(high), "workspace": _kpi(_sum(found["a"])),
            "operators": operators, "teams": teams}


def _kpi(metrics: Mapping[str, int]) -> dict[str, Any]:
    s = rules.summary(metrics)
    return {"handled": s["resolved"], "replies": s["messages_out"], "first_responses": s["first_responses"],
            "first_response_median_s": s["first_response_median_s"], "first_response_p90_s": s["first_response_p90_s"],
            "resolution_median_s": s["resolution_median_s"], "resolution_avg_s": s["resolution_avg_s"],
            "csat_avg": s["csat_avg"], "csat_answers": s["csat_answers"], "nps": s["nps"],
            "sla_breaches": s["sla_breaches"], "reopened": s["reopened"]}


GROUPS = {"total": "a", "channel": "c", "operator": "o", "tag": "t"}
INTERVALS = ("hour", "day")


def report(ws: str, group: str, low: datetime, high: datetime, zone: str, interval: str) -> dict[str, Any]:
    """Totals per channel / tag / operator (or the whole workspace) and a series per local day or hour."""
    if group not in GROUPS:
        raise InvalidInput(f"group must be one of {', '.join(GROUPS)}")
    if interval not in INTERVALS:
        raise InvalidInput("interval must be hour or day")
    found = rows(ws, GROUPS[group], low, high)
    names = names_of(ws, group)
    series: dict[str, dict[str, dict[str, int]]] = {}
    for hour, value, metrics in found:
        bucket = rules.local_period(hour, zone, interval)
        rules.merge(series.setdefault(value, {}).setdefault(bucket, {}), metrics)
    totals = _by_value(found)
    order = sorted(totals, key=lambda v: (-(totals[v].get("in", 0) + totals[v].get("new", 0)), v))
    groups = [{"key": value, "name": names.get(value, value) if value else "", "totals": rules.summary(totals[value]),
               "series": [{"period": p, **_point(m)} for p, m in sorted(series.get(value, {}).items())]}
              for value in order]
    return {"group": group, "interval": interval, "time_zone": zone, "from": iso(low), "to": iso(high),
            "groups": groups}


def _point(metrics: Mapping[str, int]) -> dict[str, Any]:
    s = rules.summary(metrics)
    return {k: s[k] for k in ("new", "messages_in", "messages_out", "resolved", "first_response_median_s",
                              "csat_avg", "sla_breaches")}


def names_of(ws: str, group: str) -> dict[str, str]:
    if group == "channel":
        return {c.pk.split("#", 1)[1]: c.name for c in repo.list_channels(ws)}
    if group == "operator":
        from chalicelib.store import team as team_store

        return {m.user_id: m.name or m.email for m in team_store.list_members(ws)}
    return {}
