"""Analytics counters (G1-G5): which counters a change of the main table moves, and how counters are read.

Pure functions. The stream (services/analytics.py) turns each change into deltas and sums the deltas of a whole
batch in memory into one delta item per workspace, which store/analytics.py folds into the counter items.

A counter item is one workspace x one UTC hour x one dimension: `a` (the whole workspace), `c` (a channel),
`o` (an operator) or `t` (a tag). Its metrics are small integers under short names:

    new  conversations created              in / out  customer messages / replies sent
    fr   first responses   frs their seconds   f<i>  first responses in latency bucket i
    res  resolutions (status -> closed)      rs  their seconds since created    r<i>  resolutions in bucket i
    reo  reopenings (closed -> open)         sla  SLA breaches
    cn / cs / c1..c5   CSAT answers, sum of scores, answers per score
    nn / np / npa / nd  NPS answers, promoters (9-10), passives (7-8), detractors (0-6)

There is no gauge: how many customers wait now is counted by the dashboard from the inbox index it reads for
the oldest wait anyway (a gauge item cost 2 write units in every batch where a wait started or ended).

The per-message counts (`in`, `out`) of a channel or an operator are folded into the workspace-hour item as
`<metric>@<kind>:<value>` (e.g. `in@c:ch1`), so an ordinary message adds to ONE counter item; `rows`
(services/analytics.py) gives them back as that dimension's. Hours written before the fold hold them in the
channel's and operator's own items: both are read and summed, so nothing needs migrating.
Latency buckets are log-spaced (x1.5 from 10 s): a percentile read from them is within one bucket of the exact
value, and an item stays far under 1 KB (only non-empty buckets are stored).
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

KINDS = ("a", "c", "o", "t")  # all, channel, operator, tag
FOLDED = ("in", "out")  # counted per message: a channel's and an operator's go into the workspace-hour item
FOLDED_KINDS = ("c", "o")
# upper bounds (seconds) of the latency buckets: 10, 15, 22, 34, ... about 33 days; the last bucket is open
BOUNDS: tuple[int, ...] = tuple(round(10 * 1.5 ** i) for i in range(32))
CLOSED = "closed"


def bucket(seconds: float) -> int:
    """The latency bucket of a duration: the first whose upper bound holds it (the last bucket is open)."""
    return bisect.bisect_left(BOUNDS, max(0.0, seconds))


def bucket_range(index: int) -> tuple[float, float]:
    low = 0.0 if index == 0 else float(BOUNDS[index - 1])
    high = float(BOUNDS[index]) if index < len(BOUNDS) else float(BOUNDS[-1]) * 1.5
    return low, high


def percentile(histogram: Mapping[int, int], q: float) -> float | None:
    """The q-quantile (0..1) of a histogram {bucket: count}, as the geometric middle of its bucket."""
    total = sum(histogram.values())
    if total <= 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            low, high = bucket_range(index)
            return round(math.sqrt(max(low, 1.0) * high), 1)
    return None  # pragma: no cover - the loop always reaches the rank


def hour_of(when: str | None) -> str:
    """The UTC hour bucket of an ISO time: `2026-12-03T12`."""
    return (when or "")[:13]


def hours_between(start: datetime, end: datetime) -> list[str]:
    """Every UTC hour bucket from start's hour to end's hour, both included."""
    at = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    out = []
    while at <= end:
        out.append(at.strftime("%Y-%m-%dT%H"))
        at += timedelta(hours=1)
    return out


@dataclass(frozen=True)
class Delta:
    """Metrics to add at one hour, in the workspace total and in each of `dims` (`c:<id>`, `o:<id>`, `t:<tag>`)."""

    workspace_id: str
    hour: str
    dims: tuple[str, ...]
    metrics: Mapping[str, int]


@dataclass
class Batch:
    """The deltas of a batch summed per counter item: {(workspace, sort key): {metric: n}}."""

    items: dict[tuple[str, str], dict[str, int]] = field(default_factory=lambda: defaultdict(dict))

    def add(self, delta: Delta) -> None:
        if not delta.workspace_id or len(delta.hour) != 13:
            return
        total = self.items[(delta.workspace_id, sort_key("a", delta.hour))]
        for dim in ("a", *delta.dims):
            kind, _, value = dim.partition(":")
            for name, n in delta.metrics.items():
                if not n:
                    continue
                if kind == "t" and name[0] in "fr" and name[1:].isdigit():
                    continue  # tags carry counts only: histograms per tag would grow items past 1 KB
                if kind in FOLDED_KINDS and name in FOLDED:
                    target, name = total, folded_name(name, kind, value)  # one item per message
                else:
                    target = self.items[(delta.workspace_id, sort_key(kind, delta.hour, value))]
                target[name] = target.get(name, 0) + n

    def nonzero(self) -> dict[tuple[str, str], dict[str, int]]:
        out = {}
        for key, metrics in self.items.items():
            kept = {k: v for k, v in metrics.items() if v}
            if kept:
                out[key] = kept
        return out


def sort_key(kind: str, hour: str, value: str = "") -> str:
    return f"{kind}#{hour}" if kind == "a" else f"{kind}#{hour}#{value}"


def folded_name(name: str, kind: str, value: str) -> str:
    return f"{name}@{kind}:{value}"


def own(metrics: Mapping[str, int]) -> dict[str, int]:
    """A workspace-hour item's own metrics, without the dimensions folded into it."""
    return {k: v for k, v in metrics.items() if "@" not in k}


def folded(metrics: Mapping[str, int]) -> Iterable[tuple[str, str, str, int]]:
    """The dimensions folded into a workspace-hour item: (kind, value, metric, n)."""
    for key, n in metrics.items():
        name, at, dim = key.partition("@")
        if at:
            kind, _, value = dim.partition(":")
            yield kind, value, name, int(n)


def parse_sort_key(sk: str) -> tuple[str, str, str]:
    kind, _, rest = sk.partition("#")
    hour, _, value = rest.partition("#")
    return kind, hour, value


def _dims(channel_id: str | None, operator_id: str | None, tags: Iterable[str] = ()) -> tuple[str, ...]:
    dims = []
    if channel_id:
        dims.append(f"c:{channel_id}")
    if operator_id:
        dims.append(f"o:{operator_id}")
    dims.extend(f"t:{tag}" for tag in dict.fromkeys(tags) if tag)
    return tuple(dims)


def seconds_between(start: str | None, end: str | None) -> int | None:
    if not start or not end:
        return None
    try:
        a = datetime.fromisoformat(start.replace("Z", "+00:00"))
        b = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError:
        return None
    return max(0, int((b - a).total_seconds()))


def _operator(conv: Any) -> str | None:
    """Whose work a conversation's event is: its assignee, else the user who made the change."""
    if getattr(conv, "assignee_id", None):
        return str(conv.assignee_id)
    by = getattr(conv, "changed_by", None) or ""
    return by.split(":", 1)[1] if by.startswith("user:") else None


def conversation_deltas(event_name: str, new: Any, old: Any | None) -> list[Delta]:
    ws = new.workspace_id or ""
    tags = list(new.tags or [])
    out: list[Delta] = []
    if event_name == "INSERT" or old is None:
        out.append(Delta(ws, hour_of(new.created_at), _dims(new.channel_id, new.assignee_id, tags), {"new": 1}))
        prev_status, prev_first, prev_breaches = None, None, 0
    else:
        prev_status, prev_first, prev_breaches = old.status, old.first_response_at, int(old.sla_breaches or 0)
    dims = _dims(new.channel_id, _operator(new), tags)
    if new.first_response_at and not prev_first:
        seconds = int(new.first_response_seconds if new.first_response_seconds is not None
                      else seconds_between(new.first_inbound_at, new.first_response_at) or 0)
        out.append(Delta(ws, hour_of(new.first_response_at), dims,
                         {"fr": 1, "frs": seconds, f"f{bucket(seconds)}": 1}))
    if new.status == CLOSED and prev_status != CLOSED:
        at = new.closed_at or new.changed_at or new.last_activity_at
        seconds = seconds_between(new.first_inbound_at or new.created_at, at) or 0
        out.append(Delta(ws, hour_of(at), dims, {"res": 1, "rs": seconds, f"r{bucket(seconds)}": 1}))
    elif prev_status == CLOSED and new.status != CLOSED:
        out.append(Delta(ws, hour_of(new.changed_at or new.last_activity_at), dims, {"reo": 1}))
    breaches = int(new.sla_breaches or 0) - prev_breaches
    if breaches > 0:
        out.append(Delta(ws, hour_of(new.sla_breached_at or new.last_activity_at), dims, {"sla": breaches}))
    return out


def message_deltas(event_name: str, new: Any) -> list[Delta]:
    if event_name != "INSERT":
        return []
    ws, at = new.workspace_id or "", new.created_at or new.occurred_at
    if new.direction == "in":
        return [Delta(ws, hour_of(at), _dims(new.channel_id, None), {"in": 1})]
    if new.direction == "out":
        by = new.author_id or ""
        author = by.split(":", 1)[1] if new.origin == "operator" and by.startswith("user:") else None
        return [Delta(ws, hour_of(at), _dims(new.channel_id, author), {"out": 1})]
    return []


def survey_deltas(event_name: str, new: Any, old: Any | None) -> list[Delta]:
    """An answer counts once: when `score` goes from null to a number."""
    if new.score is None or (old is not None and event_name != "INSERT" and old.score is not None):
        return []
    score = int(new.score)
    at = new.answered_at or new.created_at
    dims = _dims(new.channel_id, new.operator_id)
    if new.kind == "csat" and 1 <= score <= 5:
        return [Delta(new.workspace_id or "", hour_of(at), dims, {"cn": 1, "cs": score, f"c{score}": 1})]
    if new.kind == "nps" and 0 <= score <= 10:
        group = "np" if score >= 9 else "npa" if score >= 7 else "nd"
        return [Delta(new.workspace_id or "", hour_of(at), dims, {"nn": 1, group: 1})]
    return []


def change_time(new: Any) -> str:
    """When the change a stream record carries was made (the app's clock, ISO): the latest of the item's own
    times. Deterministic per record, so a replayed record files its counts under the same key."""
    names = ("created_at", "changed_at", "last_activity_at", "first_response_at", "closed_at", "sla_breached_at",
             "answered_at")  # all set by our clock: never a provider's (a message's `occurred_at` may be anything)
    times = [t for t in (getattr(new, name, None) for name in names) if isinstance(t, str) and t]
    return max(times) if times else ""


# --- reading ----------------------------------------------------------------------------------------------------


def merge(into: dict[str, int], metrics: Mapping[str, int]) -> dict[str, int]:
    for name, n in metrics.items():
        into[name] = into.get(name, 0) + int(n)
    return into


def histogram(metrics: Mapping[str, int], prefix: str) -> dict[int, int]:
    return {int(k[1:]): int(v) for k, v in metrics.items() if k[0] == prefix and k[1:].isdigit() and v}


def summary(metrics: Mapping[str, int]) -> dict[str, Any]:
    """The figures people read, from summed counters."""
    m = {k: int(v) for k, v in metrics.items()}
    fr_hist, res_hist = histogram(m, "f"), histogram(m, "r")
    cn, nn = m.get("cn", 0), m.get("nn", 0)
    return {
        "new": m.get("new", 0), "messages_in": m.get("in", 0), "messages_out": m.get("out", 0),
        "first_responses": m.get("fr", 0), "resolved": m.get("res", 0), "reopened": m.get("reo", 0),
        "sla_breaches": m.get("sla", 0),
        "first_response_avg_s": round(m.get("frs", 0) / m["fr"], 1) if m.get("fr") else None,
        "first_response_median_s": percentile(fr_hist, 0.5), "first_response_p90_s": percentile(fr_hist, 0.9),
        "resolution_avg_s": round(m.get("rs", 0) / m["res"], 1) if m.get("res") else None,
        "resolution_median_s": percentile(res_hist, 0.5), "resolution_p90_s": percentile(res_hist, 0.9),
        "csat_answers": cn, "csat_avg": round(m.get("cs", 0) / cn, 2) if cn else None,
        "csat_scores": {str(s): m.get(f"c{s}", 0) for s in range(1, 6)},
        "nps_answers": nn, "nps": round(100 * (m.get("np", 0) - m.get("nd", 0)) / nn, 1) if nn else None,
        "nps_promoters": m.get("np", 0), "nps_passives": m.get("npa", 0), "nps_detractors": m.get("nd", 0),
    }


def heatmap(rows: Iterable[tuple[str, Mapping[str, int]]], zone: str, metric: str = "in") -> list[list[int]]:
    """7 x 24 cells (Monday first) in the workspace's time zone, from (UTC hour, metrics) rows."""
    tz = ZoneInfo(zone)
    cells = [[0] * 24 for _ in range(7)]
    for hour, metrics in rows:
        n = int(metrics.get(metric, 0))
        if not n:
            continue
        local = datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC).astimezone(tz)
        cells[local.weekday()][local.hour] += n
    return cells


def local_period(hour: str, zone: str, interval: str) -> str:
    """The local day (`2026-12-03`) or hour (`2026-12-03T15`) a UTC hour bucket falls in."""
    local = datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC).astimezone(ZoneInfo(zone))
    return local.strftime("%Y-%m-%dT%H" if interval == "hour" else "%Y-%m-%d")
