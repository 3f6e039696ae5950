"""The WebSocket emulation through the runner's HTTP server: a raw-socket client, the hub and boto3's management API."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from chalicelib.local.http import LocalHTTPServer, make_handler
from chalicelib.local.websocket import (
    CLOSE_NORMAL,
    CLOSE_TOO_BIG,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    Frame,
    WebSocketHub,
    accept_key,
    close_payload,
    encode_frame,
    read_frame,
)

# --- a tiny client --------------------------------------------------------------------------------------------------


class Client:
    """A WebSocket client on a raw socket, using the same frame helpers (masked, as RFC 6455 wants)."""

    def __init__(self, port: int, path: str = "/_ws?token=good") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.stream = self.sock.makefile("rb")
        self.key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {self.key}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: test-client\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        status_line = self.stream.readline().decode()
        self.status = int(status_line.split()[1])
        self.headers: dict[str, str] = {}
        while (line := self.stream.readline().decode().strip()) != "":
            name, value = line.split(":", 1)
            self.headers[name.strip().lower()] = value.strip()

    def send(self, opcode: int, payload: bytes, *, fin: bool = True) -> None:
        self.sock.sendall(encode_frame(opcode, payload, fin=fin, mask=os.urandom(4)))

    def send_text(self, text: str) -> None:
        self.send(OP_TEXT, text.encode())

    def receive(self) -> Frame:
        return read_frame(self.stream, require_mask=False)

    def close(self) -> Frame:
        self.send(OP_CLOSE, close_payload(CLOSE_NORMAL, "bye"))
        reply = self.receive()
        self.drop()
        return reply

    def drop(self) -> None:
        """Hang up without a close frame (the makefile stream holds the socket open, so close both)."""
        self.stream.close()
        self.sock.close()


class Events:
    """What the three handlers saw; the connect handler refuses clients without ``token=good``."""

    def __init__(self) -> None:
        self.connect: list[dict[str, Any]] = []
        self.message: list[dict[str, Any]] = []
        self.disconnect: list[dict[str, Any]] = []
        self.fail_messages = False

    def on_connect(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.connect.append(event)
        allowed = (event["queryStringParameters"] or {}).get("token") == "good"
        return {"statusCode": 200 if allowed else 401}

    def on_message(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        if self.fail_messages:
            raise RuntimeError("handler bug")
        self.message.append(event)
        return {"statusCode": 200}

    def on_disconnect(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.disconnect.append(event)
        return {"statusCode": 200}


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.01)


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def hub(events: Events) -> WebSocketHub:
    return WebSocketHub(events.on_connect, events.on_message, events.on_disconnect, domain_name="127.0.0.1")


@pytest.fixture
def port(hub: WebSocketHub) -> Iterator[int]:
    server = LocalHTTPServer(("127.0.0.1", 0), make_handler([("/_ws", hub.as_route())]))
    port = int(server.server_address[1])
    hub.domain_name = f"127.0.0.1:{port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield port
    hub.close_all()
    server.shutdown()
    server.server_close()


@pytest.fixture
def management(port: int) -> Any:
    return boto3.client("apigatewaymanagementapi", endpoint_url=f"http://127.0.0.1:{port}/_ws",
                        region_name="us-east-1")


@pytest.fixture
def client(port: int) -> Iterator[Client]:
    client = Client(port)
    yield client
    client.drop()


# --- tests ----------------------------------------------------------------------------------------------------------


def test_the_connect_handler_gets_an_api_gateway_event_with_the_query_parameters(
    client: Client, events: Events, port: int
) -> None:
    assert client.status == 101
    assert client.headers["sec-websocket-accept"] == accept_key(client.key)
    (event,) = events.connect
    context = event["requestContext"]
    assert context["routeKey"] == "$connect" and context["eventType"] == "CONNECT"
    assert re.fullmatch(r"[A-Za-z0-9_-]{12}=", context["connectionId"])
    assert context["domainName"] == f"127.0.0.1:{port}"
    assert (context["stage"], context["apiId"]) == ("api", "local")
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert isinstance(context["connectedAt"], int) and context["requestId"]
    assert event["queryStringParameters"] == {"token": "good"}
    assert event["headers"]["Host"] == f"127.0.0.1:{port}"
    assert event["multiValueHeaders"]["User-Agent"] == ["test-client"]
    assert event["isBase64Encoded"] is False


def test_a_refused_connect_gets_403_without_an_upgrade(port: int, events: Events, hub: WebSocketHub) -> None:
    refused = Client(port, "/_ws?token=bad")

    assert refused.status == 403
    assert "sec-websocket-accept" not in refused.headers
    assert len(events.connect) == 1 and hub.connection_ids() == []
    assert events.disconnect == []
    refused.drop()


def test_text_messages_reach_the_default_handler_including_fragmented_ones(client: Client, events: Events) -> None:
    client.send_text('{"action": "subscribe"}')
    client.send(OP_TEXT, "при".encode(), fin=False)
    client.send(OP_PING, b"are you there")
    client.send(OP_CONTINUATION, "вет".encode())

    pong = client.receive()
    wait_until(lambda: len(events.message) == 2)

    assert (pong.opcode, pong.payload) == (OP_PONG, b"are you there")
    assert [event["body"] for event in events.message] == ['{"action": "subscribe"}', "привет"]
    context = events.message[0]["requestContext"]
    assert context["routeKey"] == "$default" and context["eventType"] == "MESSAGE"
    assert context["connectionId"] == events.connect[0]["requestContext"]["connectionId"]


def test_a_failing_message_handler_answers_internal_server_error_and_keeps_the_connection(
    client: Client, events: Events
) -> None:
    events.fail_messages = True
    client.send_text("boom")
    frame = client.receive()
    assert frame.opcode == OP_TEXT
    assert json.loads(frame.payload)["message"] == "Internal server error"
    events.fail_messages = False
    client.send_text("still here")
    wait_until(lambda: [e["body"] for e in events.message] == ["still here"])


def test_post_to_connection_reaches_the_client_and_is_gone_after_the_client_leaves(
    client: Client, events: Events, management: Any
) -> None:
    connection_id = events.connect[0]["requestContext"]["connectionId"]

    management.post_to_connection(ConnectionId=connection_id, Data=json.dumps({"type": "message.new"}).encode())
    frame = client.receive()
    info = management.get_connection(ConnectionId=connection_id)

    assert (frame.opcode, json.loads(frame.payload)) == (OP_TEXT, {"type": "message.new"})
    assert info["Identity"]["SourceIp"] == "127.0.0.1"
    assert info["ConnectedAt"] <= info["LastActiveAt"]

    reply = client.close()
    wait_until(lambda: len(events.disconnect) == 1)

    assert reply.opcode == OP_CLOSE
    context = events.disconnect[0]["requestContext"]
    assert (context["routeKey"], context["eventType"], context["connectionId"]) == (
        "$disconnect", "DISCONNECT", connection_id)
    assert context["disconnectStatusCode"] == CLOSE_NORMAL
    with pytest.raises(management.exceptions.GoneException):
        management.post_to_connection(ConnectionId=connection_id, Data=b"anyone?")
    with pytest.raises(management.exceptions.GoneException):
        management.get_connection(ConnectionId=connection_id)


def test_a_client_that_drops_the_tcp_connection_is_disconnected(port: int, events: Events, management: Any) -> None:
    dropped = Client(port)
    connection_id = events.connect[0]["requestContext"]["connectionId"]
    dropped.drop()
    wait_until(lambda: len(events.disconnect) == 1)
    assert events.disconnect[0]["requestContext"]["connectionId"] == connection_id
    with pytest.raises(management.exceptions.GoneException):
        management.post_to_connection(ConnectionId=connection_id, Data=b"x")


def test_delete_connection_closes_the_socket_and_fires_disconnect(
    client: Client, events: Events, management: Any
) -> None:
    connection_id = events.connect[0]["requestContext"]["connectionId"]

    management.delete_connection(ConnectionId=connection_id)
    frame = client.receive()
    client.send(OP_CLOSE, frame.payload)
    wait_until(lambda: len(events.disconnect) == 1)

    assert frame.opcode == OP_CLOSE
    with pytest.raises(management.exceptions.GoneException):
        management.delete_connection(ConnectionId=connection_id)


def test_an_unknown_connection_is_gone(management: Any) -> None:
    with pytest.raises(management.exceptions.GoneException):
        management.post_to_connection(ConnectionId="nobody123456=", Data=b"x")


def test_a_frame_over_128_kb_closes_the_connection_with_message_too_big(client: Client, events: Events) -> None:
    client.send_text("x" * (128 * 1024 + 1))
    frame = client.receive()
    client.send(OP_CLOSE, frame.payload)
    wait_until(lambda: len(events.disconnect) == 1, timeout=1.5)

    assert frame.opcode == OP_CLOSE
    assert int.from_bytes(frame.payload[:2], "big") == CLOSE_TOO_BIG
    assert events.disconnect[0]["requestContext"]["disconnectStatusCode"] == CLOSE_TOO_BIG
    assert events.message == []


def test_a_message_exactly_128_kb_is_delivered(client: Client, events: Events) -> None:
    client.send_text("y" * (128 * 1024))
    wait_until(lambda: len(events.message) == 1)
    assert len(events.message[0]["body"]) == 128 * 1024


def test_invalid_utf8_text_closes_the_connection_with_1007(client: Client, events: Events) -> None:
    client.send(OP_TEXT, b"\xff\xfe")
    frame = client.receive()
    assert (frame.opcode, int.from_bytes(frame.payload[:2], "big")) == (OP_CLOSE, 1007)
    assert events.message == []
