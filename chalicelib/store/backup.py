"""A whole workspace as JSON lines (I2): export and import, streamed, so memory stays flat at any size.

The file: a header line `{"format": "zabota-export", "schema": N, "workspace_id": ..., "exported_at": ...}`,
then one line per main-table item (`{"item": <DynamoDB attribute-value map>}`, exactly as stored, so types and
ids survive), the users behind the workspace's members (`{"user": ...}`: they sign in by e-mail), one line per
stored file (`{"file": key, "content_type": ..., "data": <base64>}`), and an end line with the counts and the
SHA-256 of every line before it. A file cut short has no end line, or the wrong hash: it is refused.

Secrets stay sealed: a channel's credentials are exported as the sealed blob (`secrets_sealed`), never plain; a
legacy plain `secrets` map is sealed on the way out. Sessions, sign-in links and one-time tickets are left out.

An import checks the whole file first (format, schema, workspace, hash) and the target (the workspace, its
channels and keys must not exist there), and only then writes. Imported items carry `restored`: the stream
handler skips their INSERTs (`is_restored_insert`), so a restore sends no greeting, mail or webhook again.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from chalicelib.errors import Conflict, InvalidInput
from chalicelib.store.files import FileStore
from chalicelib.store.models import DELTA_SEGMENT, TYPE_OF, CounterDeltaItem, MainItem

FORMAT = "zabota-export"
SCHEMA_VERSION = 1
RESTORED = "restored"  # the attribute imported items carry (the stream leaves their INSERT alone)
SKIPPED_TYPES = frozenset({"session", "login", "loginrate", "oidcstate", "wsticket", "ratewindow"})
EXPORTS_PREFIX = "exports/"  # under `<ws>/`: earlier exports are not exported again

Progress = Callable[[int, int | None], None]  # (done, total or None when unknown)


@dataclass
class Summary:
    workspace_id: str
    items: int = 0
    users: int = 0
    files: int = 0
    bytes: int = 0


def _client() -> Any:
    return MainItem._get_connection().connection.client


def _table() -> str:
    return str(MainItem.Meta.table_name)


def _scan_workspace(ws: str, *, page_size: int = 1000) -> Iterator[dict[str, Any]]:
    """Every stored item of the workspace: keys under `WS#<ws>`, and its channels and API keys (global keys that
    name it). One Scan, page by page: an export is rare, and no index holds a workspace's every item."""
    start: dict[str, Any] | None = None
    while True:
        kwargs: dict[str, Any] = {
            "TableName": _table(), "Limit": page_size,
            "FilterExpression": "begins_with(pk, :prefix) OR pk = :ws OR workspace_id = :id",
            "ExpressionAttributeValues": {":prefix": {"S": f"WS#{ws}#"}, ":ws": {"S": f"WS#{ws}"},
                                          ":id": {"S": ws}},
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = _client().scan(**kwargs)
        yield from page.get("Items", [])
        start = page.get("LastEvaluatedKey")
        if not start:
            return


def _exportable(raw: dict[str, Any], ws: str) -> bool:
    pk = raw["pk"]["S"]
    if raw.get("type", {}).get("S", "") in SKIPPED_TYPES:
        return False
    return pk == f"WS#{ws}" or pk.startswith(f"WS#{ws}#") or raw.get("workspace_id", {}).get("S") == ws


def _sealed(raw: dict[str, Any]) -> dict[str, Any]:
    """A channel with legacy plain credentials goes out with them sealed, like every other channel."""
    if raw.get("type", {}).get("S") != "channel" or "secrets" not in raw:
        return raw
    from chalicelib.store import repo
    from chalicelib.store.secrets import box

    item = repo.decode(raw)
    plain = {k: str(v) for k, v in dict(getattr(item, "secrets", None) or {}).items()}
    out = {k: v for k, v in raw.items() if k != "secrets"}
    if plain and "secrets_sealed" not in raw:
        out["secrets_sealed"] = {"S": box().seal(plain, context=raw["pk"]["S"])}
    return out


DERIVED = {TYPE_OF[CounterDeltaItem]: DELTA_SEGMENT}  # a delta's search segment: the index is rebuilt, not restored


def _clean(raw: dict[str, Any]) -> dict[str, Any]:
    """As exported: without the import's mark, nor what a restore rebuilds (`reindex-search`)."""
    derived = DERIVED.get(raw.get("type", {}).get("S", ""))
    return {k: v for k, v in raw.items() if k != RESTORED and k != derived}


class _Writer:
    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.hash = hashlib.sha256()
        self.bytes = 0

    def line(self, value: dict[str, Any]) -> None:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n"
        self.hash.update(text.encode())
        self.bytes += len(text)
        self.out.write(text)


def export_workspace(ws: str, out: IO[str], *, files: FileStore | None, now: datetime,
                     progress: Progress | None = None) -> Summary:
    """Write the workspace to `out` as JSON lines (module docstring), reading page by page."""
    from chalicelib.store import repo

    if repo.get_workspace(ws) is None:
        raise InvalidInput(f"workspace {ws!r} does not exist", code="unknown_workspace")
    w = _Writer(out)
    summary = Summary(ws)
    w.line({"format": FORMAT, "schema": SCHEMA_VERSION, "workspace_id": ws, "exported_at": now.isoformat()})
    user_ids: set[str] = set()
    for raw in _scan_workspace(ws):
        if not _exportable(raw, ws):
            continue
        if raw.get("type", {}).get("S") == "member" and "user_id" in raw:
            user_ids.add(raw["user_id"]["S"])
        w.line({"item": _sealed(_clean(raw))})
        summary.items += 1
        if progress and summary.items % 500 == 0:
            progress(summary.items, None)
    for user_id in sorted(user_ids):
        for raw in _user_items(user_id):
            w.line({"user": _clean(raw)})
            summary.users += 1
    for key in (files.keys(f"{ws}/") if files is not None else []):
        if key.startswith(f"{ws}/{EXPORTS_PREFIX}"):
            continue
        data, ctype = files.get(key)  # type: ignore[union-attr]
        w.line({"file": key, "content_type": ctype, "data": base64.b64encode(data).decode()})
        summary.files += 1
    end = {"items": summary.items, "users": summary.users, "files": summary.files, "sha256": w.hash.hexdigest()}
    w.out.write(json.dumps({"end": end}, separators=(",", ":"), sort_keys=True) + "\n")
    summary.bytes = w.bytes
    if progress:
        progress(summary.items, summary.items)
    return summary


def _user_items(user_id: str) -> list[dict[str, Any]]:
    """The user (`USER#<id>`) and the address that finds them (`EMAIL#<address>`)."""
    found = _client().get_item(TableName=_table(), Key={"pk": {"S": f"USER#{user_id}"}, "sk": {"S": "USER"}})
    user = found.get("Item")
    if not user:
        return []
    items = [user]
    email = user.get("email", {}).get("S")
    if email:
        pointer = _client().get_item(TableName=_table(), Key={"pk": {"S": f"EMAIL#{email}"}, "sk": {"S": "EMAIL"}})
        if pointer.get("Item"):
            items.append(pointer["Item"])
    return items


# --- import ----------------------------------------------------------------------------------------------


def _lines(source: Callable[[], IO[str]]) -> Iterator[tuple[int, str]]:
    with source() as fh:
        yield from enumerate(fh, start=1)


def check_file(source: Callable[[], IO[str]]) -> tuple[str, Summary]:
    """Read the whole file once without writing: its workspace and counts, or InvalidInput saying what is wrong."""
    digest = hashlib.sha256()
    ws = ""
    summary = Summary("")
    end: dict[str, Any] | None = None
    for number, text in _lines(source):
        if end is not None:
            raise InvalidInput(f"line {number}: data after the end line", code="invalid_export")
        if not text.endswith("\n"):
            raise InvalidInput(f"line {number} is cut short: the file is truncated", code="truncated_export")
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            raise InvalidInput(f"line {number} is not JSON ({err.msg}): the file is damaged or truncated",
                               code="invalid_export") from err
        if not isinstance(value, dict):
            raise InvalidInput(f"line {number} is not an object", code="invalid_export")
        if number == 1:
            ws = _check_header(value)
            summary.workspace_id = ws
        elif "end" in value:
            end = value["end"]
            continue
        elif "item" in value:
            _check_item(value["item"], ws, number)
            summary.items += 1
        elif "user" in value:
            summary.users += 1
        elif "file" in value:
            key = value.get("file")
            if not isinstance(key, str) or not key.startswith(f"{ws}/") or ".." in key:
                raise InvalidInput(f"line {number}: a file outside workspace {ws!r}", code="foreign_export")
            summary.files += 1
        else:
            raise InvalidInput(f"line {number}: neither item, user, file nor end", code="invalid_export")
        digest.update(text.encode())
    if not ws:
        raise InvalidInput("the file is empty", code="invalid_export")
    if end is None:
        raise InvalidInput("the file has no end line: it is truncated (export it again)", code="truncated_export")
    if not isinstance(end, dict) or end.get("sha256") != digest.hexdigest() or [
            end.get("items"), end.get("users"), end.get("files")] != [summary.items, summary.users, summary.files]:
        raise InvalidInput("the file's end line does not match its content: it is damaged or truncated",
                           code="truncated_export")
    return ws, summary


def _check_header(value: dict[str, Any]) -> str:
    if value.get("format") != FORMAT:
        raise InvalidInput("not a Zabota workspace export (its first line names no zabota-export format)",
                           code="invalid_export")
    schema = value.get("schema")
    if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
        raise InvalidInput("the header has no schema version", code="invalid_export")
    if schema > SCHEMA_VERSION:
        raise InvalidInput(f"this file is from a newer Zabota (export schema {schema}); this version reads schema "
                           f"{SCHEMA_VERSION} and older: upgrade Zabota first, then import", code="newer_schema")
    ws = value.get("workspace_id")
    if not isinstance(ws, str) or not ws or "#" in ws:
        raise InvalidInput("the header names no workspace", code="invalid_export")
    return ws


def _check_item(raw: Any, ws: str, number: int) -> None:
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), dict) and isinstance(raw[k].get("S"), str)
                                            for k in ("pk", "sk", "type")):
        raise InvalidInput(f"line {number}: an item needs pk, sk and type", code="invalid_export")
    if not _exportable(raw, ws):
        raise InvalidInput(f"line {number}: an item of another workspace than {ws!r}", code="foreign_export")


def _exists(pk: str, sk: str) -> bool:
    return "Item" in _client().get_item(TableName=_table(), Key={"pk": {"S": pk}, "sk": {"S": sk}},
                                        ProjectionExpression="pk")


def check_target(source: Callable[[], IO[str]], ws: str) -> None:
    """The stack must not hold this workspace, nor any of its global keys (channels, API keys), nor another user
    under one of its members' addresses: Conflict (409) with the first clash, before anything is written."""
    if _exists(f"WS#{ws}", "WORKSPACE") or _any_under(f"WS#{ws}"):
        raise Conflict(f"workspace {ws!r} already exists in this stack: an import goes into a stack without it "
                       f"(remove it first, or import into a fresh stack)", code="workspace_exists")
    for _, text in _lines(source):
        value = json.loads(text)
        raw = value.get("item")
        if raw is not None and not raw["pk"]["S"].startswith(f"WS#{ws}"):
            if _exists(raw["pk"]["S"], raw["sk"]["S"]):
                raise Conflict(f"a {raw['type']['S']} of this file already exists in this stack under the same key",
                               code="key_exists")
        user = value.get("user")
        if user is not None and user["pk"]["S"].startswith("EMAIL#"):
            found = _client().get_item(TableName=_table(), Key={"pk": user["pk"], "sk": user["sk"]}).get("Item")
            if found and found.get("user_id") != user.get("user_id"):
                raise Conflict("a member's e-mail address belongs to another user in this stack",
                               code="user_exists")


def _any_under(pk: str) -> bool:
    return bool(_client().query(TableName=_table(), KeyConditionExpression="pk = :pk",
                                ExpressionAttributeValues={":pk": {"S": pk}}, Limit=1).get("Items"))


def import_workspace(source: Callable[[], IO[str]], *, files: FileStore | None, restore_id: str,
                     progress: Progress | None = None) -> Summary:
    """Check the file and the target, then write: items in batches of 25, users only where absent, files; the
    workspace item itself last, so an interrupted import never looks like a whole workspace."""
    ws, expected = check_file(source)
    check_target(source, ws)
    total = expected.items + expected.users + expected.files
    summary = Summary(ws)
    batch: list[dict[str, Any]] = []
    workspace_item: dict[str, Any] | None = None
    done = 0

    def flush() -> None:
        _batch_put(batch)
        batch.clear()

    for number, text in _lines(source):
        if number == 1:
            continue
        value = json.loads(text)
        if "item" in value:
            raw = {**value["item"], RESTORED: {"S": restore_id}}
            if raw["pk"]["S"] == f"WS#{ws}" and raw["sk"]["S"] == "WORKSPACE":
                workspace_item = raw
            else:
                batch.append(raw)
            summary.items += 1
        elif "user" in value:
            _put_absent(value["user"])
            summary.users += 1
        elif "file" in value and files is not None:
            files.put(value["file"], base64.b64decode(value["data"]), value.get("content_type")
                      or "application/octet-stream")
            summary.files += 1
        else:
            continue
        done += 1
        if len(batch) == 25:
            flush()
        if progress and done % 500 == 0:
            progress(done, total)
    flush()
    if workspace_item is not None:
        _batch_put([workspace_item])
    if progress:
        progress(total, total)
    return summary


def _batch_put(items: list[dict[str, Any]]) -> None:
    pending = [{"PutRequest": {"Item": item}} for item in items]
    delay = 0.05
    while pending:
        answer = _client().batch_write_item(RequestItems={_table(): pending})
        pending = answer.get("UnprocessedItems", {}).get(_table(), [])
        if pending:
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def _put_absent(raw: dict[str, Any]) -> None:
    client = _client()
    try:
        client.put_item(TableName=_table(), Item=raw, ConditionExpression="attribute_not_exists(pk)")
    except client.exceptions.ConditionalCheckFailedException:
        pass  # the same user is here already (a member of another workspace of this stack)


def is_restored_insert(event_name: str, new: MainItem | None) -> bool:
    """The stream's first question: an item an import wrote (its side effects happened before the export)."""
    return event_name == "INSERT" and new is not None and bool(getattr(new, RESTORED, None))
