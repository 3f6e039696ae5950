"""The export file's checks (I2), without a table: a good file passes; newer, cut, edited or foreign ones are
refused before anything is written, each with its reason."""

from __future__ import annotations

import hashlib
import io
import json

import pytest

from chalicelib.errors import InvalidInput
from chalicelib.store import backup


def export_text(ws: str = "shop", items: list[dict] | None = None, schema: int = backup.SCHEMA_VERSION) -> str:
    lines = [{"format": backup.FORMAT, "schema": schema, "workspace_id": ws, "exported_at": "2026-12-03T10:00:00"}]
    for item in items if items is not None else [
            {"pk": {"S": f"WS#{ws}"}, "sk": {"S": "WORKSPACE"}, "type": {"S": "workspace"}},
            {"pk": {"S": f"WS#{ws}#CONV#c1"}, "sk": {"S": "MSG#m1"}, "type": {"S": "message"}}]:
        lines.append({"item": item})
    text = "".join(json.dumps(v, separators=(",", ":"), sort_keys=True) + "\n" for v in lines)
    end = {"items": len(lines) - 1, "users": 0, "files": 0, "sha256": hashlib.sha256(text.encode()).hexdigest()}
    return text + json.dumps({"end": end}) + "\n"


def check(text: str) -> tuple[str, backup.Summary]:
    return backup.check_file(lambda: io.StringIO(text))


def test_a_whole_file_passes_with_its_workspace_and_counts():
    ws, summary = check(export_text())
    assert ws == "shop" and summary.items == 2


@pytest.mark.parametrize("damage, code", [
    (lambda t: t.replace(f'"schema":{backup.SCHEMA_VERSION}', f'"schema":{backup.SCHEMA_VERSION + 1}'), "newer_schema"),
    (lambda t: "".join(t.splitlines(keepends=True)[:-1]), "truncated_export"),
    (lambda t: t[:-30], "truncated_export"),  # cut mid-line
    (lambda t: t.replace("MSG#m1", "MSG#m2"), "truncated_export"),
    (lambda t: t.replace("zabota-export", "other-export"), "invalid_export"),
    (lambda t: "", "invalid_export"),
    (lambda t: t + '{"item": {}}\n', "invalid_export"),
])
def test_a_damaged_file_is_refused_with_the_reason(damage, code):
    with pytest.raises(InvalidInput) as refused:
        check(damage(export_text()))
    assert refused.value.code == code


def test_an_item_of_another_workspace_in_the_file_is_refused():
    foreign = {"pk": {"S": "WS#other#CONV#c1"}, "sk": {"S": "CONV"}, "type": {"S": "conversation"}}
    with pytest.raises(InvalidInput) as refused:
        check(export_text(items=[foreign]))
    assert refused.value.code == "foreign_export"
