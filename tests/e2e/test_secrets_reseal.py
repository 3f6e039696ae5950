"""Moving off a former key: values sealed under it open while it is configured, and `reseal-secrets` seals every
channel and webhook secret again under the current key, after which the former key is not needed."""

from __future__ import annotations

import json
import secrets

import pytest

from chalicelib.store.secrets import LocalKeyWrapper, SecretBox
from tests.support import new_workspace

pytestmark = pytest.mark.ddblocal


class FormerKey(LocalKeyWrapper):
    """Stands in for the stack's former KMS key (same name in the blobs, a local key instead of KMS)."""

    name = "kms"


def test_reseal_moves_every_secret_to_the_current_key_and_changes_nothing_else(stack, monkeypatch):
    from chalicelib import cli
    from chalicelib.services import webhooks_out
    from chalicelib.services.deps import deps
    from chalicelib.store import repo
    from chalicelib.store import secrets as secrets_module
    from chalicelib.store.models import ChannelItem

    d = deps()
    former = FormerKey(secrets.token_bytes(32))
    monkeypatch.setattr(secrets_module, "_box", SecretBox(former))  # the old deployment seals
    ws = new_workspace(stack)
    principal = type("P", (), {"workspace_id": ws.id, "subject": "u_admin", "role": "admin"})()
    hook = webhooks_out.create(d, principal, {"url": "http://127.0.0.1:9/hook", "events": ["message.received"]})
    channel_blob = ChannelItem.get(f"CH#{ws.channel_id}", "CHANNEL").secrets_sealed
    assert json.loads(channel_blob)["w"] == "kms"

    current = LocalKeyWrapper(secrets.token_bytes(32))
    monkeypatch.setattr(secrets_module, "_box", SecretBox(current, former=(former,)))  # the upgrade: both
    assert repo.get_channel(ws.channel_id, cached=False).secrets["bot_token"] == ws.bot_token
    first = cli.reseal_secrets(d.settings)
    assert first["resealed"] >= 2  # this workspace's channel and hook (others' too: the scan sees every item)
    assert cli.reseal_secrets(d.settings)["resealed"] == 0  # idempotent

    monkeypatch.setattr(secrets_module, "_box", SecretBox(current))  # the former key is gone
    channel = repo.get_channel(ws.channel_id, cached=False)
    assert channel.secrets["bot_token"] == ws.bot_token and channel.secrets["webhook_secret"] == ws.webhook_secret
    assert json.loads(ChannelItem.get(f"CH#{ws.channel_id}", "CHANNEL").secrets_sealed)["w"] == "local"
    item = webhooks_out.require(ws.id, hook["id"])
    assert SecretBox(current).open(item.secret_sealed, context=hook["id"])["secret"]
