"""Every AWS call a function makes is allowed by that function's role, and each role grants no more than needed.

A representative slice of the product runs on the embedded stack (the same handlers Lambda runs) while botocore's
hooks record every call with the function it runs under: an operator connects a channel and opens the console's
WebSocket, a customer writes (through the REST API, then through the webhook function's Function URL handler), the
stream stores and greets and pushes live updates, the operator reads, replies,
uploads and closes, the schedule fires a due timer, the console disconnects. The calls are then checked against
the per-function policies of the packaged template (intrinsics resolved with this stack's table names).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import time
from collections import defaultdict
from typing import Any

import pytest
import requests

from infra.package import KEEP_SERVICES
from tests.infra.awscalls import FUNCTIONS, AwsCallRecorder, PolicyResolver, allowed, handler_codes

pytestmark = pytest.mark.ddblocal

WEBSOCKET_API_ID = "local"  # the runner's WebSocket emulation stands for the stack's WebSocket API
EMAIL_DOMAIN = "brand.example"

# Granted although the slice cannot exercise it here, and why. Anything else a role grants must be observed.
NOT_EXERCISED = {
    ("api_handler", "s3:GetObject"): "presigned attachment links; embedded mode serves files from a folder",
    ("api_handler", "s3:PutObject"): "operator uploads into FILES_BUCKET; embedded mode writes a folder",
    ("handle_stream", "s3:GetObject"): "attachments re-read for sending; embedded mode uses a folder",
    ("handle_stream", "s3:PutObject"): "inbound attachments copied into FILES_BUCKET; embedded mode uses a folder",
    ("api_handler", "ssm:GetParameter"): "the channel secrets' master key (SSM); embedded mode keeps it in a file",
    ("handle_stream", "ssm:GetParameter"): "the channel secrets' master key (SSM); embedded mode keeps it in a file",
    ("every_minute", "ssm:GetParameter"): "outgoing webhook retries open their secret; embedded mode uses a file",
    ("webhook", "ssm:GetParameter"): "the channel secrets' master key (SSM); embedded mode keeps it in a file",
    ("api_handler", "s3:ListBucket"): "the search index's segments (.search/); embedded mode keeps SQLite files",
    ("api_handler", "s3:DeleteObject"): "search segments folded into a base (.search/); embedded mode: SQLite files",
    ("handle_stream", "s3:ListBucket"): "search segments listed to fold them; embedded mode keeps SQLite files",
    ("handle_stream", "s3:DeleteObject"): "search segments folded into a base; embedded mode keeps SQLite files",
    ("handle_stream", "ses:SendEmail"): "e-mail channel outbound (SES v2); only with the EmailDomain parameter",
    ("handle_stream", "ses:SendRawEmail"): "e-mail channel outbound (raw MIME); only with the EmailDomain parameter",
    ("handle_stream", "sqs:SendMessage"): "Lambda's event source mapping sends failed batches with this role",
    ("handle_stream", "dynamodb:DescribeStream"): "Lambda's event source mapping reads the stream with this role",
    ("handle_stream", "dynamodb:GetRecords"): "Lambda's event source mapping reads the stream with this role",
    ("handle_stream", "dynamodb:GetShardIterator"): "Lambda's event source mapping reads the stream with this role",
    ("handle_stream", "dynamodb:ListStreams"): "Lambda's event source mapping reads the stream with this role",
    ("every_minute", "dynamodb:GetItem"): "timer handlers (SLA, reminders) read what they act on",
    ("every_minute", "dynamodb:PutItem"): "timer handlers (SLA, reminders) write messages and new timers",
    ("every_minute", "ses:SendEmail"): "notification digests (SES v2); embedded mode keeps them in an outbox",
    ("every_minute", "s3:GetObject"): "the weekly fold compacts the search index (.search/); embedded: SQLite files",
    ("every_minute", "s3:PutObject"): "the weekly fold writes the search index's base; embedded mode: SQLite files",
    ("every_minute", "s3:DeleteObject"): "the weekly fold removes folded search segments; embedded: SQLite files",
    ("every_minute", "s3:ListBucket"): "the weekly fold lists the search index's segments; embedded: SQLite files",
    ("api_handler", "dynamodb:Scan"): "the admin's workspace export (I2): no index holds a workspace's every item",
    ("api_handler", "dynamodb:BatchWriteItem"): "a deleted task's timeline is removed in batches (F1)",
    ("every_minute", "dynamodb:BatchGetItem"): "the repeat-request check reads a sudden cluster's conversations (H2)",
    ("handle_stream", "dynamodb:BatchGetItem"): "the repeat-request check reads a sudden cluster's conversations (H2)",
    ("api_handler", "dynamodb:DeleteItem"): "removing a team member, signing out, OIDC state: not on this path",
    ("api_handler", "execute-api:ManageConnections"): "a removed member's consoles are closed (DELETE @connections)",
    ("api_handler", "ses:SendEmail"): "sign-in links and invitations (embedded mode keeps them in an outbox)",
    ("api_handler", "ses:GetEmailIdentity"): "the e-mail channel's health check (only with EmailDomain)",
    ("ws_connect", "dynamodb:UpdateItem"): "a widget visitor's one-time ticket is spent",
    ("ws_connect", "dynamodb:DeleteItem"): "a widget visitor's one-time ticket is spent",
    ("ws_connect", "dynamodb:Query"): "presence broadcast to the workspace's consoles (signed-in operators)",
    ("ws_connect", "execute-api:ManageConnections"): "presence broadcast to the workspace's consoles",
    ("ws_message", "dynamodb:GetItem"): "presence messages (heartbeat, viewing, typing) of signed-in operators",
    ("ws_message", "dynamodb:PutItem"): "presence messages of signed-in operators",
    ("ws_message", "dynamodb:Query"): "presence broadcast to the workspace's consoles",
    ("ws_message", "dynamodb:DeleteItem"): "a pong to a connection that is gone (410) forgets it",
    ("ws_disconnect", "dynamodb:PutItem"): "a signed-in operator's last console going away: offline",
    ("ws_disconnect", "dynamodb:Query"): "a signed-in operator's other consoles are looked up",
    ("ws_disconnect", "execute-api:ManageConnections"): "presence broadcast to the workspace's consoles",
    ("handle_stream", "lambda:InvokeFunction"): "the export hand-off; embedded mode runs the worker on a thread",
    ("every_minute", "lambda:InvokeFunction"): "the export watchdog restarts a dead worker; embedded: a thread",
    ("export_worker", "s3:PutObject"): "the export file (multipart upload); embedded mode writes a folder",
    ("export_worker", "s3:AbortMultipartUpload"): "a failed multipart upload of an export is aborted",
}
LOGS = {"logs:CreateLogStream", "logs:PutLogEvents"}  # Lambda's runtime writes logs with the role
DATA_PREFIXES = ("dynamodb:", "s3:", "sqs:", "kms:", "ses:", "sns:", "execute-api:")


class Console:
    """The operator console's WebSocket, on a raw socket (masked frames, as browsers send them)."""

    def __init__(self, port: int, token: str) -> None:
        from chalicelib.local.websocket import read_frame

        self._read_frame = read_frame
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.stream = self.sock.makefile("rb")
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           ).encode())
        self.status = int(self.stream.readline().split()[1])
        while self.stream.readline().strip():
            pass

    def send(self, payload: dict[str, Any]) -> None:
        from chalicelib.local.websocket import OP_TEXT, encode_frame

        self.sock.sendall(encode_frame(OP_TEXT, json.dumps(payload).encode(), mask=os.urandom(4)))

    def receive(self) -> dict[str, Any]:
        frame = self._read_frame(self.stream, require_mask=False)
        return dict(json.loads(frame.payload))

    def close(self) -> None:
        from chalicelib.local.websocket import OP_CLOSE, close_payload, encode_frame

        self.sock.sendall(encode_frame(OP_CLOSE, close_payload(1000), mask=os.urandom(4)))
        self.sock.close()


def run_slice(stack: Any) -> dict[str, Any]:
    """The product's main path, driven the way providers, consoles and the schedule drive it."""
    from chalicelib.auth.keys import create_api_key
    from chalicelib.services.deps import deps
    from chalicelib.store import repo

    d = deps()
    ws = f"iam{secrets.token_hex(4)}"
    repo.put_workspace(ws, f"Shop {ws}", language="ru", now=d.now())
    key = create_api_key(ws, "admin", name="iam", now=d.now())
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {key}"
    base = f"{stack.url}/api"
    token = f"{secrets.randbelow(10**9)}:{secrets.token_hex(8)}"
    stack.fake_telegram.add_bot(token, f"{ws}_bot")
    created = api.post(f"{base}/channels", json={"kind": "telegram", "name": "Support",
                                                  "credentials": {"bot_token": token}}, timeout=30)
    assert created.status_code == 201, created.text
    channel = repo.get_channel(created.json()["id"], cached=False)
    assert channel is not None

    console = Console(stack.config.port, key)
    assert console.status == 101
    console.send({"type": "ping"})
    assert console.receive() == {"type": "pong"}

    chat = 7_000_000 + secrets.randbelow(10**6)
    update = {"update_id": secrets.randbelow(10**9), "message": {
        "message_id": 1, "date": 1_716_200_000, "text": "where is my order?",
        "from": {"id": chat, "is_bot": False, "first_name": "Anna"}, "chat": {"id": chat, "type": "private"}}}
    hook = requests.post(f"{base}/webhooks/telegram/{channel.id}", json=update, timeout=30,
                         headers={"X-Telegram-Bot-Api-Secret-Token": channel.secrets["webhook_secret"]})
    assert hook.status_code == 200, hook.text
    stack.pump.drain(timeout=60)
    pushed = console.receive()
    assert pushed["type"] in ("conversation.updated", "message.new", "batch")
    follow_up = {"update_id": update["update_id"] + 1, "message": {**update["message"], "message_id": 2,
                                                                    "text": "through the webhook function"}}
    import app as app_module
    from chalicelib.store.repo import _channel_cache
    from tests.support import function_url_event, lambda_context

    _channel_cache.pop(channel.id, None)  # the webhook function's own container has not read the channel yet

    answer = app_module.webhook(function_url_event(  # the Function URL's event, as Lambda passes it
        "POST", f"/api/webhooks/telegram/{channel.id}", body=json.dumps(follow_up).encode(),
        headers={"Content-Type": "application/json",
                 "X-Telegram-Bot-Api-Secret-Token": channel.secrets["webhook_secret"]}), lambda_context())
    assert answer["statusCode"] == 200, answer
    stack.pump.drain(timeout=60)

    (conv,) = api.get(f"{base}/conversations", timeout=30).json()["items"]
    api.get(f"{base}/conversations/{conv['id']}/messages", timeout=30).raise_for_status()
    assert api.get(f"{base}/search", params={"q": "order"}, timeout=30).json()["items"]  # BatchGetItem
    upload = api.post(f"{base}/uploads", timeout=30, json={"file_name": "a.txt", "mime_type": "text/plain",
                                                           "data_base64": base64.b64encode(b"hello").decode()})
    assert upload.status_code == 201, upload.text
    reply = api.post(f"{base}/conversations/{conv['id']}/replies", timeout=30,
                     json={"text": "on its way", "attachments": [upload.json()["upload_id"]]})
    assert reply.status_code == 202, reply.text
    stack.pump.drain(timeout=60)
    api.patch(f"{base}/conversations/{conv['id']}", json={"status": "closed"}, timeout=30).raise_for_status()
    stack.pump.drain(timeout=60)

    sla = api.get(f"{base}/team/settings", timeout=30).json()["sla_minutes"]
    saved = api.put(f"{base}/team/settings", json={"sla_minutes": sla + 1},  # TransactWriteItems: settings + audit
                    timeout=30)
    assert saved.status_code == 200, saved.text

    from chalicelib.services import timers

    export = api.post(f"{base}/analytics/exports", json={"format": "xlsx"}, timeout=30)
    assert export.status_code == 202, export.text
    stack.pump.drain(timeout=60)  # the stream hands it to the export worker
    assert stack.workers.join(timeout=60)
    assert api.get(f"{base}/analytics/exports/{export.json()['id']}", timeout=30).json()["state"] == "done"

    timers.HANDLERS["iam-test"] = lambda d, timer: None  # leased (UpdateItem), then deleted (DeleteItem)
    repo.put_timer(ws, f"t{secrets.token_hex(4)}", "iam-test", "2000-01-01T00:00:00Z", {}, now=d.now())
    assert stack.ticker.tick_now()
    console.close()
    deadline = time.monotonic() + 10
    while stack.hub.connection_ids() and time.monotonic() < deadline:
        time.sleep(0.05)
    return {"workspace": ws, "sent": [c for c in stack.fake_telegram.calls if c.get("token") == token]}


@pytest.fixture(scope="module")
def recorded(stack: Any) -> AwsCallRecorder:
    import app as app_module

    recorder = AwsCallRecorder(handler_codes(app_module.app.handler_map, app_module.app), WEBSOCKET_API_ID)
    with recorder:
        outcome = run_slice(stack)
        time.sleep(0.2)  # the disconnect handler runs on the socket's thread
    assert any(c["method"] == "sendDocument" for c in outcome["sent"])
    return recorder


@pytest.fixture(scope="module")
def policies(built: Any, stack: Any) -> dict[str, Any]:
    from chalicelib.services.deps import deps

    settings = deps().settings
    resolver = PolicyResolver(built.cfn, physical={
        "MainTable": settings.main_table, "IdempotencyTable": settings.idempotency_table,
        "ConnectionsTable": settings.connections_table, "WebsocketAPI": WEBSOCKET_API_ID,
        "FilesBucket": "zabota-files", "StreamDLQ": "zabota-stream-dlq", "SecretsKey": "1234abcd-key",
    }, parameters={"EmailDomain": EMAIL_DOMAIN})
    return {label: resolver.statements(logical) for label, logical in FUNCTIONS.items()}


def test_every_function_was_exercised_by_the_slice(recorded):
    assert {c.function for c in recorded.calls} == set(FUNCTIONS)
    assert recorded.outside > 0  # setup and the emulated event source mapping are not attributed


def test_every_aws_call_is_allowed_by_the_policy_of_the_function_that_makes_it(recorded, policies):
    denied = sorted({(c.function, c.action, c.resource, c.operation) for c in recorded.calls
                     if not allowed(policies[c.function], c.action, c.resource)})
    assert denied == [], "\n".join(map(str, denied))


def test_transactions_are_checked_item_by_item(recorded):
    operations = {c.operation for c in recorded.calls}
    assert "TransactWriteItems" in operations
    assert not any(c.action == "dynamodb:TransactWriteItems" for c in recorded.calls)


def test_no_role_grants_a_wildcard_action_or_a_data_action_on_every_resource(policies):
    for function, statements in policies.items():
        for statement in statements:
            for action in statement.actions:
                assert action != "*" and not action.endswith(":*"), (function, statement.sid, action)
                if action.startswith(DATA_PREFIXES):
                    assert "*" not in statement.resources, (function, statement.sid, action)


def test_each_role_grants_only_what_its_function_was_seen_doing_or_a_listed_reason(recorded, policies):
    seen: dict[str, set[str]] = defaultdict(set)
    for call in recorded.calls:
        seen[call.function].add(call.action)
    unexplained = []
    for function, statements in policies.items():
        for action in {a for s in statements for a in s.actions} - LOGS - seen[function]:
            if (function, action) not in NOT_EXERCISED:
                unexplained.append((function, action))
    assert unexplained == [], "\n".join(map(str, sorted(unexplained)))
    stale = [pair for pair in NOT_EXERCISED if pair[1] in seen[pair[0]]]
    assert stale == [], f"now exercised, remove from NOT_EXERCISED: {stale}"


def test_every_service_the_code_calls_is_kept_in_the_trimmed_bundle(recorded):
    assert recorded.services and recorded.services <= KEEP_SERVICES
