"""The command line against the running embedded stack."""

from __future__ import annotations

import pytest

from chalicelib import cli
from tests.support import fresh

pytestmark = pytest.mark.ddblocal


def test_cli_creates_a_workspace_a_key_that_works_and_a_channel(stack, capsys):
    import requests

    ws = fresh("cli")
    assert cli.main(["migrate"]) == 0
    assert cli.main(["create-workspace", "--workspace", ws, "--name", "CLI shop"]) == 0
    capsys.readouterr()
    assert cli.main(["create-api-key", "--workspace", ws, "--role", "operator"]) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("zb_") and "\n" not in key
    resp = requests.get(f"{stack.url}/api/me", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert resp.json()["role"] == "operator" and resp.json()["workspace_id"] == ws
    stack.fake_telegram.add_bot("123:cli-token", "cli_bot")
    assert cli.main(["create-channel", "--workspace", ws, "--kind", "telegram", "--name", "Bot",
                     "--credential", "bot_token=123:cli-token"]) == 0
    channel_id = capsys.readouterr().out.strip()
    hook = stack.fake_telegram.webhook("123:cli-token")
    assert hook["url"].endswith(f"/api/webhooks/telegram/{channel_id}") and hook["secret_token"]


def test_cli_refuses_an_unknown_workspace_with_a_clear_message(stack, capsys):
    assert cli.main(["create-api-key", "--workspace", "no-such-ws", "--role", "admin"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_adds_the_first_admin_of_a_workspace_by_email(stack, capsys):
    ws = fresh("cli")
    assert cli.main(["create-workspace", "--workspace", ws]) == 0
    capsys.readouterr()
    assert cli.main(["add-member", "--workspace", ws, "--email", "Lead@Example.org", "--role", "admin"]) == 0
    assert f"is admin of {ws}" in capsys.readouterr().out
    from chalicelib.store import team

    (member,) = team.list_members(ws)
    assert member.email == "lead@example.org" and member.role == "admin"
