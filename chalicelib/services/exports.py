"""Report exports (G5): CSV or XLSX, streamed with constant memory and no row cap, as a background job.

One mechanism in both modes: the API writes an export item; the stream runs it (`run`) into a temporary file
(csv module; openpyxl's write-only workbook), row by row, and stores the file through the file store: S3 with a
multipart upload and a presigned link in AWS, the local file folder and a signed link in embedded mode. The
console polls the item for its progress (`rows_written` of `rows_expected`, the latter from the counters).
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.auth.keys import Principal
from chalicelib.domain import analytics as rules
from chalicelib.domain.model import iso, new_id
from chalicelib.errors import InvalidInput, NotFound
from chalicelib.observability import logger
from chalicelib.services import analytics
from chalicelib.services.deps import Deps
from chalicelib.store import keys
from chalicelib.store.base import put_new, typed, update_if
from chalicelib.store.models import ConversationItem, ExportItem, plain

FORMATS = ("csv", "xlsx")
ROWS = ("conversations", "hours")
PROGRESS_EVERY = 5000  # rows between two progress writes
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
CONVERSATION_COLUMNS = ("conversation_id", "created", "channel", "contact", "status", "assignee", "tags",
                        "first_response_s", "closed", "resolution_s", "messages", "sla_breaches", "priority")
HOUR_COLUMNS = ("hour", "dimension", "key", "name", "new", "messages_in", "messages_out", "first_responses",
                "first_response_avg_s", "resolved", "reopened", "sla_breaches", "csat_answers", "csat_avg",
                "nps_answers", "nps")


# --- the streamed writers (pure: rows in, a file out) -------------------------------------------------------------


def write_rows(path: str, fmt: str, header: Sequence[str], rows: Iterable[Sequence[Any]],
               progress: Callable[[int], None] | None = None, every: int = PROGRESS_EVERY) -> int:
    """Write rows to `path` one at a time (constant memory). Returns how many rows were written."""
    count = 0

    def counted() -> Iterator[Sequence[Any]]:
        nonlocal count
        for row in rows:
            yield row
            count += 1
            if progress is not None and count % every == 0:
                progress(count)

    if fmt == "csv":
        with open(path, "w", newline="", encoding="utf-8-sig") as fh:  # the BOM: Excel reads it as UTF-8
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows([_csv_safe(v) for v in row] for row in counted())
    elif fmt == "xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("report")
        sheet.append(list(header))
        for row in counted():
            sheet.append([_xlsx_safe(v) for v in row])
        book.save(path)
    else:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}")
    return count


def _csv_safe(value: Any) -> Any:
    """A text that a spreadsheet would run as a formula (=, +, -, @) is quoted with a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


_ILLEGAL = {c: None for c in range(32) if c not in (9, 10, 13)}


def _xlsx_safe(value: Any) -> Any:
    if isinstance(value, str):
        return _csv_safe(value.translate(_ILLEGAL))  # control characters are not allowed in XLSX cells
    return value


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
    from pynamodb.exceptions import DoesNotExist

    pk, sk = keys.export(ws, export_id)
    try:
        return ExportItem.get(pk, sk)
    except DoesNotExist as err:
        raise NotFound("export not found") from err


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


def run(d: Deps, item: ExportItem) -> None:
    """Stream: write the file and store it. A redelivered record runs it again (same key, same content)."""
    if item.state in ("done", "failed"):
        return
    ws = item.workspace_id or ""
    params = plain(item.params)
    low = datetime.fromisoformat(str(params["from"]).replace("Z", "+00:00"))
    high = datetime.fromisoformat(str(params["to"]).replace("Z", "+00:00"))
    zone = str(params.get("tz") or "UTC")
    header, rows = (CONVERSATION_COLUMNS, conversation_rows(ws, low, high, zone)) \
        if params.get("rows") == "conversations" else (HOUR_COLUMNS, hour_rows(ws, low, high, zone))
    _set(item, ExportItem.state.set("running"))

    def progress(n: int) -> None:
        _set(item, ExportItem.rows.set(n))

    fd, path = tempfile.mkstemp(suffix=f".{item.fmt}")
    os.close(fd)
    try:
        count = write_rows(path, item.fmt, header, rows, progress)
        key = f"exports/{ws}/{item.export_id}/{file_name(item)}"
        d.files.put_file(key, path, CONTENT_TYPES[item.fmt])
        _set(item, ExportItem.rows.set(count), ExportItem.file_key.set(key), ExportItem.state.set("done"),
             ExportItem.finished_at.set(iso(d.now())))
        logger.info("export done", extra={"export": item.export_id, "rows": count})
    except InvalidInput as err:
        _set(item, ExportItem.state.set("failed"), ExportItem.error.set(err.message))
    finally:
        os.unlink(path)


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
    for kind, dimension in dims.items():
        for hour, value, metrics in analytics.rows(ws, kind, low, high):
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

