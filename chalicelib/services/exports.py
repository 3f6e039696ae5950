"""Report exports (G5): CSV or XLSX, streamed with constant memory and no row cap, as a background job.

One mechanism in both modes: the API writes an export item; the stream only hands it off (`hand_off`): a watchdog
timer, then the export worker, a Lambda of its own invoked asynchronously in AWS (`EXPORT_FUNCTION`), a thread of
the runner in embedded mode. The worker (`work`) claims the job (pending -> running with a lease, a conditional
update: a redelivered record or a second invoke finds it taken or done and returns), writes a temporary file
(csv module; openpyxl's write-only workbook) row by row and stores it through the file store: S3 with a multipart
upload and a presigned link in AWS, the local file folder and a signed link in embedded mode. Every write of a
worker is conditional on its lease, so one that lost the job changes nothing. The console polls the item for its
progress (`rows_written` of `rows_expected`, the latter from the counters).

A worker that dies leaves the job `running`; the watchdog (the one-minute schedule, due when the lease runs out)
starts it once more (MAX_ATTEMPTS), then marks it `failed` with an error the console shows.
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.auth.keys import Principal
from chalicelib.domain import analytics as rules
from chalicelib.domain.model import iso, new_id
from chalicelib.errors import InvalidInput, NotFound
from chalicelib.observability import logger
from chalicelib.services import analytics, timers
from chalicelib.services.deps import Deps
from chalicelib.store import keys, repo
from chalicelib.store.base import put_new, typed, update_if
from chalicelib.store.models import ConversationItem, ExportItem, TimerItem, plain

FORMATS = ("csv", "xlsx")
ROWS = ("conversations", "hours")
PROGRESS_EVERY = 5000  # rows between two progress writes
LEASE = timedelta(minutes=16)  # the worker's Lambda timeout (15 min, .chalice/config.json) and a minute
MAX_ATTEMPTS = 2  # workers that may claim one job: the first and one restart by the watchdog
WATCH = "export-watch"  # the watchdog timer's kind
FINAL = ("done", "failed")
local_invoker: Callable[[dict[str, Any]], None] | None = None  # embedded mode: the runner's background threads
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
CONVERSATION_TEXT = (2, 3, 5, 6)  # channel, contact, assignee, tags: people's text
HOUR_TEXT = (2, 3)  # the key (a tag) and its name
CONVERSATION_COLUMNS = ("conversation_id", "created", "channel", "contact", "status", "assignee", "tags",
                        "first_response_s", "closed", "resolution_s", "messages", "sla_breaches", "priority")
HOUR_COLUMNS = ("hour", "dimension", "key", "name", "new", "messages_in", "messages_out", "first_responses",
                "first_response_avg_s", "resolved", "reopened", "sla_breaches", "csat_answers", "csat_avg",
                "nps_answers", "nps")


# --- the streamed writers (pure: rows in, a file out) -------------------------------------------------------------


def write_rows(path: str, fmt: str, header: Sequence[str], rows: Iterable[Sequence[Any]],
               progress: Callable[[int], None] | None = None, every: int = PROGRESS_EVERY,
               text_columns: Sequence[int] | None = None) -> int:
    """Write rows to `path` one at a time (constant memory). Returns how many rows were written.

    `text_columns`: the columns that hold people's text (names, tags), guarded against formulas and control
    characters; None guards every text cell. Our own values (ids, times, numbers) are written as they are."""
    if fmt not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}")
    safe = _xlsx_safe if fmt == "xlsx" else _csv_safe
    guard = tuple(text_columns) if text_columns is not None else None
    count = 0

    def cleaned() -> Iterator[list[Any]]:
        nonlocal count
        for row in rows:
            out = list(row)
            for i in range(len(out)) if guard is None else guard:
                if out[i].__class__ is str:
                    out[i] = safe(out[i])
            yield out
            count += 1
            if progress is not None and count % every == 0:
                progress(count)

    if fmt == "csv":
        with open(path, "w", newline="", encoding="utf-8-sig") as fh:  # the BOM: Excel reads it as UTF-8
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(cleaned())
    else:
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("report")
        sheet.append(list(header))
        for row in cleaned():
            sheet.append(row)
        book.save(path)
    return count


_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _csv_safe(value: str) -> str:
    """A text that a spreadsheet would run as a formula (=, +, -, @) gets a leading apostrophe."""
    return "'" + value if value.startswith(_FORMULA) else value


def _xlsx_safe(value: str) -> str:
    if _CONTROL.search(value):
        value = _CONTROL.sub("", value)  # control characters are not allowed in XLSX cells
    return _csv_safe(value)


# --- the job ------------------------------------------------------------------------------------------------------


def request_export(d: Deps, principal: Principal, body: dict[str, Any]) -> ExportItem:
    fmt = body.get("format", "csv")
    kind = body.get("rows", "conversations")
    if fmt not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}")
    if kind not in ROWS:
        raise InvalidInput(f"rows must be one of {', '.join(ROWS)}")
    for name in ("from", "to", "tz"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise InvalidInput(f"{name} must be a string")
    ws, now = principal.workspace_id, d.now()
    low, high = analytics.period(body.get("from"), body.get("to"), now, default_days=30)
    zone = analytics.zone_of(ws, body.get("tz"))
    expected = None
    if kind == "conversations":
        expected = sum(m.get("new", 0) for _, _, m in analytics.rows(ws, "a", low, high))
    export_id = new_id("x", now)
    pk, sk = keys.export(ws, export_id)
    item = typed(ExportItem, pk, sk, workspace_id=ws, export_id=export_id, requested_by=principal.subject, fmt=fmt,
                 params={"rows": kind, "from": iso(low), "to": iso(high), "tz": zone}, total=expected,
                 created_at=iso(now), expires_at=int(now.timestamp()) + 7 * 86400)
    put_new(item)
    return item


def require_export(ws: str, export_id: str) -> ExportItem:
    item = _get(ws, export_id)
    if item is None:
        raise NotFound("export not found")
    return item


def file_name(item: ExportItem) -> str:
    params = plain(item.params)
    return f"zabota-{params.get('rows', 'report')}-{str(params.get('from', ''))[:10]}.{item.fmt}"


def export_json(d: Deps, item: ExportItem) -> dict[str, Any]:
    params = plain(item.params)
    url = d.files.link(item.file_key, file_name=file_name(item)) if item.state == "done" and item.file_key else None
    return {"id": item.export_id, "format": item.fmt, "rows": params.get("rows", "conversations"),
            "state": item.state, "rows_written": int(item.rows or 0),
            "rows_expected": int(item.total) if item.total is not None else None,
            "from": params.get("from", ""), "to": params.get("to", ""), "url": url, "file_name": file_name(item),
            "error": item.error, "created_at": item.created_at or ""}


def hand_off(d: Deps, item: ExportItem) -> None:
    """Stream, on the export's INSERT: book the watchdog and start the worker. A redelivered record finds the
    watchdog booked and starts nothing (were the first delivery lost after booking, the watchdog starts it)."""
    if item.state in FINAL:
        return
    ws, now = item.workspace_id or "", d.now()
    if repo.put_timer(ws, _watch_id(item.export_id), WATCH, iso(now + LEASE + timedelta(minutes=1)),
                      {"export_id": item.export_id}, now=now, only_new=True):
        start_worker(d, ws, item.export_id)


def start_worker(d: Deps, ws: str, export_id: str) -> None:
    """The export worker, asynchronously: a Lambda `Event` invoke in AWS, a runner's thread in embedded mode."""
    payload = {"workspace_id": ws, "export_id": export_id}
    if d.settings.export_function:
        if "lambda" not in d.cache:
            import boto3

            d.cache["lambda"] = boto3.client("lambda", region_name=d.settings.region)
        d.cache["lambda"].invoke(FunctionName=d.settings.export_function, InvocationType="Event",
                                 Payload=json.dumps(payload).encode())
    elif local_invoker is not None:
        local_invoker(payload)
    else:
        work(d, ws, export_id)  # no runner around (a script): here and now


def _watch_id(export_id: str) -> str:
    return f"export-{export_id}"


def _get(ws: str, export_id: str) -> ExportItem | None:
    pk, sk = keys.export(ws, export_id)
    try:
        return ExportItem.get(pk, sk, consistent_read=True)
    except ExportItem.DoesNotExist:
        return None


def work(d: Deps, ws: str, export_id: str) -> str:
    """The worker: claim the job, write the file, store it. Returns what happened (done, failed, taken, ...)."""
    item = _get(ws, export_id)
    if item is None:
        return "missing"
    if item.state in FINAL:
        return "finished"  # a second invoke, or a watchdog that raced the end
    now = iso(d.now())
    if item.state == "pending":
        claim = ExportItem.state == "pending"
    elif item.state == "running" and item.lease_until and item.lease_until < now:
        claim = (ExportItem.state == "running") & (ExportItem.lease_until == item.lease_until)
    else:
        return "taken"  # another worker holds the lease
    lease = iso(d.now() + LEASE)
    if not update_if(item, [ExportItem.state.set("running"), ExportItem.lease_until.set(lease), ExportItem.rows.set(0),
                            ExportItem.attempts.set(int(item.attempts or 0) + 1)], claim):
        return "taken"
    mine = ExportItem.lease_until == lease  # every later write: only while this worker holds the job
    try:
        return _write(d, item, mine)
    except Exception:
        update_if(item, [ExportItem.lease_until.set(iso(d.now()))], mine)  # the watchdog need not wait the lease
        raise


def _write(d: Deps, item: ExportItem, mine: Any) -> str:
    ws = item.workspace_id or ""
    params = plain(item.params)
    low = datetime.fromisoformat(str(params["from"]).replace("Z", "+00:00"))
    high = datetime.fromisoformat(str(params["to"]).replace("Z", "+00:00"))
    zone = str(params.get("tz") or "UTC")
    header, text, rows = (CONVERSATION_COLUMNS, CONVERSATION_TEXT, conversation_rows(ws, low, high, zone)) \
        if params.get("rows") == "conversations" else (HOUR_COLUMNS, HOUR_TEXT, hour_rows(ws, low, high, zone))

    def progress(n: int) -> None:
        update_if(item, [ExportItem.rows.set(n)], mine)

    fd, path = tempfile.mkstemp(suffix=f".{item.fmt}")
    os.close(fd)
    try:
        count = write_rows(path, item.fmt, header, rows, progress, text_columns=text)
        key = f"exports/{ws}/{item.export_id}/{file_name(item)}"
        d.files.put_file(key, path, CONTENT_TYPES[item.fmt])
        if not update_if(item, [ExportItem.rows.set(count), ExportItem.file_key.set(key),
                                ExportItem.state.set("done"), ExportItem.finished_at.set(iso(d.now()))], mine):
            return "taken"  # the lease ran out and another worker has the job: it writes the same file
        logger.info("export done", extra={"export": item.export_id, "rows": count})
        return "done"
    except InvalidInput as err:
        update_if(item, [ExportItem.state.set("failed"), ExportItem.error.set(err.message)], mine)
        return "failed"
    finally:
        os.unlink(path)


@timers.register(WATCH)
def watch(d: Deps, timer: TimerItem) -> None:
    """Due when a worker's lease runs out: a job still not finished is started again, or failed after
    MAX_ATTEMPTS workers."""
    ws, export_id = timer.workspace_id or "", str(plain(timer.target).get("export_id", ""))
    item = _get(ws, export_id)
    if item is None or item.state in FINAL:
        return
    now = d.now()
    if item.state == "running" and item.lease_until and item.lease_until > iso(now):
        repo.put_timer(ws, timer.timer_id, WATCH, _plus_minute(item.lease_until), dict(plain(timer.target)), now=now)
        return
    if int(item.attempts or 0) >= MAX_ATTEMPTS:
        update_if(item, [ExportItem.state.set("failed"), ExportItem.lease_until.remove(),
                         ExportItem.error.set(f"the export stopped before it finished ({MAX_ATTEMPTS} attempts)")],
                  ExportItem.state == item.state)
        logger.warning("export failed: its workers stopped", extra={"export": export_id})
        return
    repo.put_timer(ws, timer.timer_id, WATCH, iso(now + LEASE + timedelta(minutes=1)), dict(plain(timer.target)),
                   now=now)
    start_worker(d, ws, export_id)


def _plus_minute(when: str) -> str:
    return iso(datetime.fromisoformat(when.replace("Z", "+00:00")) + timedelta(minutes=1))


def _set(item: ExportItem, *actions: Any) -> None:
    update_if(item, list(actions), ExportItem.pk.exists())


def conversation_rows(ws: str, low: datetime, high: datetime, zone: str) -> Iterator[list[Any]]:
    """Conversations created in [low, high), from the inbox index of each status (active since `low`: a
    conversation's last activity is never before its creation), a page at a time."""
    from chalicelib.services import team as team_service
    from chalicelib.store import repo
    from chalicelib.store import team as team_store

    tz = ZoneInfo(zone)
    channels = {c.pk.split("#", 1)[1]: c.name for c in repo.list_channels(ws)}
    people = {m.user_id: m.name or m.email for m in team_store.list_members(ws)}
    start, end = iso(low), iso(high)
    for status in team_service.statuses_of(ws):
        found = ConversationItem.gsi1.query(
            keys.inbox(ws, status), ConversationItem.gsi1sk >= start, page_size=500,
            filter_condition=(ConversationItem.created_at >= start) & (ConversationItem.created_at < end))
        for c in found:
            resolution = rules.seconds_between(c.first_inbound_at or c.created_at, c.closed_at) if c.closed_at else None
            yield [c.conversation_id, _local(c.created_at, tz), channels.get(c.channel_id, c.channel_id),
                   c.contact_name, c.status, people.get(c.assignee_id or "", c.assignee_id or ""),
                   ", ".join(c.tags or []), _int(c.first_response_seconds), _local(c.closed_at, tz), resolution,
                   _int(c.message_count), _int(c.sla_breaches), c.priority or ""]


def hour_rows(ws: str, low: datetime, high: datetime, zone: str) -> Iterator[list[Any]]:
    names = {**analytics.names_of(ws, "channel"), **analytics.names_of(ws, "operator")}
    dims = {"a": "total", "c": "channel", "o": "operator", "t": "tag"}
    found = analytics.rows_by_kind(ws, tuple(dims), low, high)
    for kind, dimension in dims.items():
        for hour, value, metrics in found[kind]:
            s = rules.summary(metrics)
            yield [rules.local_period(hour, zone, "hour"), dimension, value, names.get(value, value), s["new"],
                   s["messages_in"], s["messages_out"], s["first_responses"], s["first_response_avg_s"],
                   s["resolved"], s["reopened"], s["sla_breaches"], s["csat_answers"], s["csat_avg"],
                   s["nps_answers"], s["nps"]]


def _local(when: str | None, tz: ZoneInfo) -> str:
    if not when:
        return ""
    return datetime.fromisoformat(when.replace("Z", "+00:00")).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def _int(value: Any) -> int | None:
    return None if value is None else int(value)

