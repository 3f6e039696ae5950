"""API Gateway WebSocket emulation: RFC 6455 over the runner's HTTP server, and the ``@connections`` management API.

``WebSocketHub(connect, message, disconnect, domain_name=...)`` turns a WebSocket client into the same Lambda events
API Gateway sends (``$connect``, ``$default``, ``$disconnect``). The connect handler runs before the handshake, so a
non-2xx answer refuses the connection with HTTP 403. ``hub.handle_management(method, path, body)`` answers what
boto3's ``apigatewaymanagementapi`` client sends (``post_to_connection``, ``get_connection``,
``delete_connection``); unknown or closed connections get 410 ``GoneException``. Message contents are never logged.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import secrets
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from chalicelib.local.http import Request, Response, Route

logger = logging.getLogger(__name__)

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_MESSAGE = 128 * 1024
MAX_SKIPPED_FRAME = 16 * 1024 * 1024
CLOSE_GRACE_SECONDS = 2.0

OP_CONTINUATION, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA

CLOSE_NORMAL, CLOSE_GOING_AWAY, CLOSE_PROTOCOL_ERROR = 1000, 1001, 1002
CLOSE_NO_STATUS, CLOSE_ABNORMAL, CLOSE_INVALID_DATA, CLOSE_TOO_BIG = 1005, 1006, 1007, 1009

Handler = Callable[[dict[str, Any], Any], dict[str, Any] | None]


# --- RFC 6455 frames ------------------------------------------------------------------------------------------------


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class ProtocolError(Exception):
    """The peer broke RFC 6455; ``code`` is the close code to answer with."""

    def __init__(self, code: int, reason: str, *, in_sync: bool = False) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.in_sync = in_sync  # the stream is still at a frame boundary, so the close handshake can finish


@dataclass
class Frame:
    fin: bool
    opcode: int
    payload: bytes


def accept_key(client_key: str) -> str:
    """``Sec-WebSocket-Accept`` for a ``Sec-WebSocket-Key``."""
    digest = hashlib.sha1((client_key.strip() + GUID).encode("ascii")).digest()  # noqa: S324 - required by RFC 6455
    return base64.b64encode(digest).decode("ascii")


def encode_frame(opcode: int, payload: bytes = b"", *, fin: bool = True, mask: bytes | None = None) -> bytes:
    """One frame; servers send unmasked frames, clients pass a 4-byte ``mask``."""
    head = bytes([(0x80 if fin else 0) | opcode])
    mask_bit = 0x80 if mask is not None else 0
    length = len(payload)
    if length < 126:
        head += bytes([mask_bit | length])
    elif length < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", length)
    if mask is None:
        return head + payload
    return head + mask + _unmask(payload, mask)


def close_payload(code: int, reason: str = "") -> bytes:
    return struct.pack("!H", code) + reason.encode("utf-8")[:123]


def read_frame(stream: Readable, *, max_size: int = MAX_MESSAGE, require_mask: bool = True) -> Frame:
    """Read one frame; raises ``EOFError`` when the peer hung up and ``ProtocolError`` on a broken frame."""
    first, second = _read_exact(stream, 2)
    if first & 0x70:
        raise ProtocolError(CLOSE_PROTOCOL_ERROR, "reserved bits set")
    fin, opcode = bool(first & 0x80), first & 0x0F
    masked, length = bool(second & 0x80), second & 0x7F
    if masked != require_mask:
        raise ProtocolError(CLOSE_PROTOCOL_ERROR, "client frames must be masked" if require_mask else "masked frame")
    if length == 126:
        (length,) = struct.unpack("!H", _read_exact(stream, 2))
    elif length == 127:
        (length,) = struct.unpack("!Q", _read_exact(stream, 8))
    if opcode >= OP_CLOSE and (length > 125 or not fin):
        raise ProtocolError(CLOSE_PROTOCOL_ERROR, "bad control frame")
    if opcode not in (OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG):
        raise ProtocolError(CLOSE_PROTOCOL_ERROR, "unknown opcode")
    if length > max_size:
        in_sync = length <= MAX_SKIPPED_FRAME
        if in_sync:
            _skip(stream, length + (4 if masked else 0))
        raise ProtocolError(CLOSE_TOO_BIG, "frame too big", in_sync=in_sync)
    mask = _read_exact(stream, 4) if masked else None
    payload = _read_exact(stream, length)
    return Frame(fin, opcode, _unmask(payload, mask) if mask else payload)


def read_message(
    stream: Readable, on_control: Callable[[Frame], bool], *, max_size: int = MAX_MESSAGE, require_mask: bool = True
) -> tuple[int, bytes] | None:
    """One whole (possibly fragmented) data message as (opcode, payload); control frames go to ``on_control``,
    which returns False to stop (a close frame). Returns None when stopped."""
    opcode: int | None = None
    parts: list[bytes] = []
    size = 0
    while True:
        frame = read_frame(stream, max_size=max_size, require_mask=require_mask)
        if frame.opcode >= OP_CLOSE:
            if not on_control(frame):
                return None
            continue
        if (frame.opcode == OP_CONTINUATION) != (opcode is not None):
            raise ProtocolError(CLOSE_PROTOCOL_ERROR, "unexpected continuation" if opcode is None else "interleaved")
        opcode = frame.opcode if opcode is None else opcode
        size += len(frame.payload)
        if size > max_size:
            raise ProtocolError(CLOSE_TOO_BIG, "message too big", in_sync=True)
        parts.append(frame.payload)
        if frame.fin:
            return opcode, b"".join(parts)


def _read_exact(stream: Readable, count: int) -> bytes:
    data = stream.read(count) if count else b""
    if len(data) < count:
        raise EOFError("connection closed")
    return data


def _skip(stream: Readable, count: int) -> None:
    while count > 0:
        chunk = stream.read(min(count, 65536))
        if not chunk:
            raise EOFError("connection closed")
        count -= len(chunk)


def _unmask(payload: bytes, mask: bytes) -> bytes:
    if not payload:
        return payload
    repeated = (mask * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(len(payload), "big")


# --- connections ----------------------------------------------------------------------------------------------------


def new_connection_id() -> str:
    """Like API Gateway's ids (``L0SM9cOFvHcCIhw=``), but URL-safe: 12 characters and ``=``."""
    return secrets.token_urlsafe(9) + "="


def _now_ms() -> int:
    return int(time.time() * 1000)


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Connection:
    """One open WebSocket; sends are serialised by a lock."""

    connection_id: str
    sock: socket.socket
    source_ip: str
    user_agent: str
    connected_at: int = field(default_factory=_now_ms)
    last_active_at: int = field(default_factory=_now_ms)
    closed: bool = False
    _send_lock: threading.Lock = field(default_factory=threading.Lock)
    _close_timer: threading.Timer | None = None

    def send_text(self, text: str) -> None:
        self._send(OP_TEXT, text.encode("utf-8"))

    def send_bytes(self, data: bytes) -> None:
        self._send(OP_BINARY, data)

    def send_data(self, data: bytes) -> None:
        """What ``post_to_connection`` sends: a text frame when the data is UTF-8, else a binary frame."""
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            self.send_bytes(data)
        else:
            self._send(OP_TEXT, data)

    def pong(self, payload: bytes) -> None:
        if not self.closed:
            self._send(OP_PONG, payload)

    def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Send a close frame; the socket is shut down if the client does not answer within a grace period."""
        with self._send_lock:
            if self.closed:
                return
            self.closed = True
            try:
                self.sock.sendall(encode_frame(OP_CLOSE, close_payload(code, reason)))
            except OSError:
                pass
        self._close_timer = threading.Timer(CLOSE_GRACE_SECONDS, self.abort)
        self._close_timer.daemon = True
        self._close_timer.start()

    def abort(self) -> None:
        """Drop the TCP connection (wakes up the reader)."""
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _send(self, opcode: int, payload: bytes) -> None:
        with self._send_lock:
            if self.closed:
                raise ConnectionError("connection is closed")
            self.sock.sendall(encode_frame(opcode, payload))
            self.last_active_at = _now_ms()

    def finished(self) -> None:
        if self._close_timer is not None:
            self._close_timer.cancel()


# --- the hub --------------------------------------------------------------------------------------------------------


class WebSocketHub:
    """API Gateway's WebSocket API in one process: events into the handlers, ``@connections`` out of them."""

    def __init__(
        self,
        connect_handler: Handler,
        message_handler: Handler,
        disconnect_handler: Handler,
        *,
        domain_name: str,
        stage: str = "api",
        api_id: str = "local",
        context_factory: Callable[[str], Any] | None = None,
    ) -> None:
        self.handlers = {"$connect": connect_handler, "$default": message_handler, "$disconnect": disconnect_handler}
        self.domain_name = domain_name
        self.stage = stage
        self.api_id = api_id
        self._context_factory = context_factory or _default_context
        self._connections: dict[str, Connection] = {}
        self._lock = threading.Lock()

    # the socket side

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        """Run one WebSocket connection on the request handler's thread until it closes."""
        problem = _upgrade_problem(handler)
        if problem:
            _refuse(handler, 400, problem)
            return
        user_agent = handler.headers.get("User-Agent", "")
        connection = Connection(new_connection_id(), handler.connection, str(handler.client_address[0]), user_agent)
        connect = self._connect_event(handler, connection)
        answer = self._invoke("$connect", connect)
        status = _status_of(answer)
        if not 200 <= status < 300:
            _refuse(handler, 403 if status != 500 else 500, "Forbidden" if status != 500 else "Internal server error")
            return
        # Reachable before the client sees the 101, as with API Gateway once $connect answered 200: a client
        # that acts at once on the upgrade (or a push right after $connect) finds its connection.
        with self._lock:
            self._connections[connection.connection_id] = connection
        try:
            with connection._send_lock:  # a push that races the upgrade waits for the 101 to be written
                _handshake(handler, answer)
        except OSError:
            self._forget(connection)
            raise
        handler.connection.settimeout(None)
        code, reason = self._read_loop(handler, connection)
        self._forget(connection)
        self._invoke("$disconnect", self._disconnect_event(connection, code, reason))

    def connection_ids(self) -> list[str]:
        with self._lock:
            return list(self._connections)

    def send(self, connection_id: str, data: bytes) -> bool:
        """Post data to a connection; False when it is gone."""
        connection = self._get(connection_id)
        if connection is None:
            return False
        try:
            connection.send_data(data)
        except OSError:
            connection.abort()
            return False
        return True

    def close_all(self, code: int = CLOSE_GOING_AWAY, reason: str = "server stopping") -> None:
        with self._lock:
            connections = list(self._connections.values())
        for connection in connections:
            connection.close(code, reason)

    def _read_loop(self, handler: BaseHTTPRequestHandler, connection: Connection) -> tuple[int, str]:
        """Deliver messages until the connection ends; return the close code and reason."""
        closing: list[tuple[int, str]] = []

        def on_control(frame: Frame) -> bool:
            connection.last_active_at = _now_ms()
            if frame.opcode == OP_PING:
                connection.pong(frame.payload)
            elif frame.opcode == OP_CLOSE:
                code, reason = _parse_close(frame.payload)
                closing.append((code, reason))
                connection.close(_echo_code(code))
                return False
            return True

        try:
            while True:
                message = read_message(handler.rfile, on_control)
                if message is None:
                    return closing[0]
                connection.last_active_at = _now_ms()
                self._on_message(connection, *message)
        except ProtocolError as exc:
            connection.close(exc.code, exc.reason)
            if exc.in_sync:
                _await_close(handler.rfile, on_control)
            return exc.code, exc.reason
        except (EOFError, OSError):
            return (closing[0] if closing else (CLOSE_ABNORMAL, "Going away"))
        finally:
            connection.finished()

    def _on_message(self, connection: Connection, opcode: int, payload: bytes) -> None:
        if opcode == OP_TEXT:
            try:
                body, encoded = payload.decode("utf-8"), False
            except UnicodeDecodeError as exc:
                raise ProtocolError(CLOSE_INVALID_DATA, "text is not UTF-8", in_sync=True) from exc
        else:
            body, encoded = base64.b64encode(payload).decode("ascii"), True
        event = self._message_event(connection, body, encoded)
        answer = self._invoke("$default", event)
        if answer is _FAILED:
            error = {"message": "Internal server error", "connectionId": connection.connection_id,
                     "requestId": event["requestContext"]["requestId"]}
            try:
                connection.send_text(json.dumps(error))
            except OSError:
                pass

    # events

    def _request_context(self, connection: Connection, route_key: str, event_type: str) -> dict[str, Any]:
        now = _now_ms()
        request_id = str(uuid.uuid4())
        return {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": request_id,
            "requestTime": dt.datetime.fromtimestamp(now / 1000, dt.UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "messageDirection": "IN",
            "stage": self.stage,
            "connectedAt": connection.connected_at,
            "requestTimeEpoch": now,
            "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
            "requestId": request_id,
            "domainName": self.domain_name,
            "connectionId": connection.connection_id,
            "apiId": self.api_id,
        }

    def _connect_event(self, handler: BaseHTTPRequestHandler, connection: Connection) -> dict[str, Any]:
        pairs = list(handler.headers.items())
        multi: dict[str, list[str]] = {}
        for name, value in pairs:
            multi.setdefault(name, []).append(value)
        query = parse_qs(urlsplit(handler.path).query, keep_blank_values=True)
        return {
            "headers": {name: values[-1] for name, values in multi.items()},
            "multiValueHeaders": multi,
            "queryStringParameters": {name: values[-1] for name, values in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "requestContext": self._request_context(connection, "$connect", "CONNECT"),
            "isBase64Encoded": False,
        }

    def _message_event(self, connection: Connection, body: str, encoded: bool) -> dict[str, Any]:
        context = self._request_context(connection, "$default", "MESSAGE")
        context["messageId"] = secrets.token_urlsafe(9) + "="
        return {"requestContext": context, "body": body, "isBase64Encoded": encoded}

    def _disconnect_event(self, connection: Connection, code: int, reason: str) -> dict[str, Any]:
        context = self._request_context(connection, "$disconnect", "DISCONNECT")
        context.update(disconnectStatusCode=code, disconnectReason=reason)
        return {"headers": {"Host": self.domain_name}, "requestContext": context, "isBase64Encoded": False}

    def _invoke(self, route_key: str, event: dict[str, Any]) -> Any:
        function = {"$connect": "ws_connect", "$default": "ws_message", "$disconnect": "ws_disconnect"}[route_key]
        try:
            return self.handlers[route_key](event, self._context_factory(function))
        except Exception:
            logger.exception("%s handler failed for connection %s", route_key, event["requestContext"]["connectionId"])
            return _FAILED

    # the management API

    def handle_management(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Answer an ``apigatewaymanagementapi`` call for ``.../@connections/{connectionId}``."""
        marker = "/@connections/"
        if marker not in path:
            return _error(403, "ForbiddenException", "Forbidden")
        connection_id = unquote(urlsplit(path).path.split(marker, 1)[1].strip("/"))
        connection = self._get(connection_id)
        if connection is None:
            return _error(410, "GoneException", "GoneException")
        if method == "POST":
            if len(body) > MAX_MESSAGE:
                return _error(413, "PayloadTooLargeException", "Request entity too large")
            return (200, {"Content-Type": "application/json"}, b"{}") if self.send(connection_id, body) else _gone()
        if method == "DELETE":
            connection.close(CLOSE_NORMAL, "")
            return 204, {}, b""
        if method == "GET":
            info = {"connectedAt": _iso(connection.connected_at), "lastActiveAt": _iso(connection.last_active_at),
                    "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent}}
            return 200, {"Content-Type": "application/json"}, json.dumps(info).encode()
        return _error(405, "MethodNotAllowedException", "Method Not Allowed")

    def as_route(self) -> Route:
        """A route for ``chalicelib.local.http``: upgrades become WebSockets, the rest is the management API."""

        def route(request: Request) -> Response | None:
            if request.headers.get("Upgrade", "").lower() == "websocket":
                self.serve(request.raw)
                return None
            status, headers, body = self.handle_management(request.method, request.path, request.body)
            return Response(status, dict(headers), body)

        return route

    def _get(self, connection_id: str) -> Connection | None:
        with self._lock:
            connection = self._connections.get(connection_id)
        return None if connection is None or connection.closed else connection

    def _forget(self, connection: Connection) -> None:
        with self._lock:
            self._connections.pop(connection.connection_id, None)
        connection.closed = True


_FAILED = object()


def _default_context(function_name: str) -> Any:
    from chalice.local import LambdaContext

    return LambdaContext(function_name=function_name, memory_size=1024, max_runtime_ms=29_000)


def _status_of(answer: Any) -> int:
    if answer is _FAILED:
        return 500
    if isinstance(answer, dict) and "statusCode" in answer:
        try:
            return int(answer["statusCode"])
        except (TypeError, ValueError):
            return 500
    return 200


def _await_close(stream: Readable, on_control: Callable[[Frame], bool]) -> None:
    """After we sent a close frame: drop data until the client's close frame, its hang-up or the close timer."""
    try:
        while True:
            frame = read_frame(stream)
            if frame.opcode >= OP_CLOSE and not on_control(frame):
                return
    except (ProtocolError, EOFError, OSError):
        return


def _echo_code(code: int) -> int:
    """The code to answer a client's close frame with (never one RFC 6455 forbids on the wire)."""
    return code if 1000 <= code < 5000 and code not in (1004, CLOSE_NO_STATUS, CLOSE_ABNORMAL, 1015) else CLOSE_NORMAL


def _parse_close(payload: bytes) -> tuple[int, str]:
    if len(payload) < 2:
        return CLOSE_NO_STATUS, ""
    (code,) = struct.unpack("!H", payload[:2])
    return code, payload[2:].decode("utf-8", "replace")


def _upgrade_problem(handler: BaseHTTPRequestHandler) -> str:
    headers = handler.headers
    if handler.command != "GET":
        return "WebSocket upgrade must be a GET"
    if headers.get("Upgrade", "").lower() != "websocket":
        return "missing Upgrade: websocket"
    if "upgrade" not in [token.strip() for token in headers.get("Connection", "").lower().split(",")]:
        return "missing Connection: Upgrade"
    if headers.get("Sec-WebSocket-Version", "") != "13":
        return "unsupported Sec-WebSocket-Version"
    if not headers.get("Sec-WebSocket-Key"):
        return "missing Sec-WebSocket-Key"
    return ""


def _handshake(handler: BaseHTTPRequestHandler, answer: Any) -> None:
    lines = [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Accept: {accept_key(handler.headers['Sec-WebSocket-Key'])}",
    ]
    headers = (answer.get("headers") or {}) if isinstance(answer, dict) else {}
    protocol = next((value for name, value in headers.items() if name.lower() == "sec-websocket-protocol"), None)
    if protocol:
        lines.append(f"Sec-WebSocket-Protocol: {protocol}")
    handler.connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


def _refuse(handler: BaseHTTPRequestHandler, status: int, message: str) -> None:
    body = json.dumps({"message": message}).encode()
    reason = {400: "Bad Request", 403: "Forbidden", 500: "Internal Server Error"}.get(status, "Error")
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n")
    try:
        handler.connection.sendall(head.encode("latin-1") + body)
    except OSError:
        pass


def _error(status: int, error_type: str, message: str) -> tuple[int, dict[str, str], bytes]:
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": error_type}
    return status, headers, json.dumps({"message": message}).encode()


def _gone() -> tuple[int, dict[str, str], bytes]:
    return _error(410, "GoneException", "GoneException")
