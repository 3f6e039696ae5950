"""Backups (I2) on DynamoDB Local with the stream: export -> wipe -> import gives back every item, equal item by
item (ids and history), with its files; the restored items send nothing again; bad files change nothing."""

from __future__ import annotations

import base64
import io
import json

import pytest

from chalicelib import cli
from chalicelib.store import backup
from tests.support import customer_message, new_workspace

pytestmark = pytest.mark.ddblocal

PDF = b"%PDF-1.4 the invoice"


def busy_workspace(stack):
    ws = new_workspace(stack)
    for chat, name in ((71_000_001, "Olga"), (71_000_002, "Ivan")):
        assert ws.post_update(customer_message(chat, f"hello from {name}", first_name=name)).status_code == 200
    ws.drain()
    conv = ws.conversations()[0]
    up = ws.api("POST", "/uploads", json={"file_name": "invoice.pdf", "mime_type": "application/pdf",
                                          "data_base64": base64.b64encode(PDF).decode()})
    assert ws.reply(conv["id"], "here it is", attachments=[up.json()["upload_id"]]).status_code == 202
    assert ws.api("POST", f"/conversations/{conv['id']}/notes", json={"text": "VIP"}).status_code == 201
    ws.drain()
    return ws, conv


def unsigned(messages: list[dict]) -> list[dict]:
    """Messages without their files' links (signed anew on every read)."""
    return [{**m, "attachments": [{k: v for k, v in a.items() if k != "url"} for a in m["attachments"]]}
            for m in messages]


def export_text(ws_id: str) -> str:
    from chalicelib.services.deps import deps

    out = io.StringIO()
    backup.export_workspace(ws_id, out, files=deps().files, now=deps().now())
    return out.getvalue()


def item_lines(text: str) -> list[str]:
    return sorted(line for line in text.splitlines() if '"item"' in line[:9] or '"file"' in line[:9])


def wipe(ws_id: str) -> int:
    """What a lost stack looks like: every item and file of the workspace gone."""
    from chalicelib.services.deps import deps
    from chalicelib.store import repo

    client = backup._client()
    gone = 0
    for raw in list(backup._scan_workspace(ws_id)):
        client.delete_item(TableName=backup._table(), Key={"pk": raw["pk"], "sk": raw["sk"]})
        gone += 1
    files = deps().files
    for key in list(files.keys(f"{ws_id}/")):
        import os

        os.remove(files._path(key))  # type: ignore[attr-defined]
    repo.forget_cached_channels()
    return gone


def test_export_wipe_import_gives_back_every_item_and_file_and_sends_nothing_again(stack, tmp_path, capsys):
    ws, conv = busy_workspace(stack)
    history = unsigned(ws.messages(conv["id"]))
    path = tmp_path / "ws.jsonl"
    assert cli.main(["export", "--workspace", ws.id, "--output", str(path)]) == 0
    before = path.read_text()
    header = json.loads(before.splitlines()[0])
    assert header["schema"] == backup.SCHEMA_VERSION and header["workspace_id"] == ws.id
    assert ws.bot_token not in before  # the channel's credentials stay sealed
    assert any(json.loads(line).get("file") for line in before.splitlines())

    assert wipe(ws.id) > 10
    ws.drain()
    assert ws.api("GET", f"/conversations/{conv['id']}").status_code == 401  # the key is gone with the workspace
    sent = len(ws.bot_sent)

    capsys.readouterr()
    assert cli.main(["import", "--input", str(path)]) == 0
    out, err = capsys.readouterr()
    assert f"imported workspace {ws.id}" in out and "[" + "#" * 30 + "]" in err  # the progress bar ends full
    ws.drain()
    assert len(ws.bot_sent) == sent  # no greeting or reply went out again

    assert item_lines(export_text(ws.id)) == item_lines(before)  # equal item by item, files too
    assert unsigned(ws.messages(conv["id"])) == history  # the same ids and history through the API
    card = ws.api("GET", f"/contacts/{conv['contact_id']}").json()
    assert [c["id"] for c in card["history"]] == [conv["id"]]
    import requests

    doc = next(m for m in ws.messages(conv["id"]) if m["attachments"])
    assert requests.get(doc["attachments"][0]["url"], timeout=10).content == PDF  # the file came back too
    # and it keeps working: the customer's next message lands in the restored conversation
    olga = next(c for c in ws.conversations() if c["contact_name"] == "Olga")
    assert ws.post_update(customer_message(71_000_001, "still there?", first_name="Olga")).status_code == 200
    ws.drain()
    assert ws.messages(olga["id"])[-1]["text"] == "still there?"

def test_a_truncated_file_a_newer_schema_and_an_existing_workspace_are_refused_and_change_nothing(stack, tmp_path,
                                                                                              capsys):
    ws, _ = busy_workspace(stack)
    text = export_text(ws.id)
    lines = text.splitlines(keepends=True)
    cases = {
        "truncated": "".join(lines[:-3]),
        "cut mid-line": text[: len(text) - 40],
        "newer": text.replace(f'"schema":{backup.SCHEMA_VERSION}', f'"schema":{backup.SCHEMA_VERSION + 1}', 1),
        "edited": text.replace("hello from Olga", "hello from Eve"),
    }
    wipe(ws.id)
    for name, content in cases.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_text(content)
        capsys.readouterr()
        assert cli.main(["import", "--input", str(path)]) == 2, name
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "Traceback" not in err, err
        if name == "newer":
            assert "newer Zabota" in err
        else:
            assert "truncated" in err or "damaged" in err, (name, err)
        assert list(backup._scan_workspace(ws.id)) == [], name  # nothing half-imported

    good = tmp_path / "good.jsonl"
    good.write_text(text)
    assert cli.main(["import", "--input", str(good)]) == 0
    capsys.readouterr()
    assert cli.main(["import", "--input", str(good)]) == 2  # the workspace exists now (differently or not)
    assert "already exists" in capsys.readouterr().err


def test_a_file_of_one_workspace_cannot_carry_another_workspaces_items(stack, tmp_path, capsys):
    ws, other = new_workspace(stack), new_workspace(stack)
    text = export_text(ws.id)
    foreign = export_text(other.id).splitlines()[1]  # an item line of the other workspace
    lines = text.splitlines()
    lines.insert(2, foreign)
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    wipe(ws.id)
    assert cli.main(["import", "--input", str(path)]) == 2
    assert "another workspace" in capsys.readouterr().err
    assert list(backup._scan_workspace(ws.id)) == []


def test_the_admin_exports_from_the_console_and_others_may_not(stack):
    ws, _ = busy_workspace(stack)
    resp = ws.api("POST", "/admin/export")
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["items"] > 10 and body["files"] == 1
    import requests

    got = requests.get(body["url"], timeout=10)
    assert got.status_code == 200
    assert json.loads(got.text.splitlines()[0])["workspace_id"] == ws.id
    from chalicelib.auth.keys import create_api_key
    from chalicelib.services.deps import deps

    operator = create_api_key(ws.id, "operator", name="op", now=deps().now())
    assert ws.api("POST", "/admin/export", key=operator).status_code == 403
