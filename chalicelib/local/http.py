"""The embedded runner's HTTP server: prefix routing, static files with an SPA fallback, and a Chalice adapter.

Nothing here imports the app. ``make_handler([(prefix, route), ...])`` builds a request handler class for
``LocalHTTPServer``; a route receives a ``Request`` and returns a ``Response``, or ``None`` once it has taken the
socket over (the WebSocket upgrade). Per-request log lines appear only when ``ZABOTA_HTTP_LOG`` is set.
"""

from __future__ import annotations

import base64
import json
import logging
import mimetypes
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from chalicelib.events.function_url import CREDENTIAL_HEADER, caller_headers

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 10 * 1024 * 1024
LOG_ENV = "ZABOTA_HTTP_LOG"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".wasm": "application/wasm",
    ".txt": "text/plain; charset=utf-8",
}


# --- request and response -------------------------------------------------------------------------------------------


class Headers(Mapping[str, str]):
    """Request headers: case-insensitive look-ups, original spelling when iterated, repeated names kept."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = list(pairs)
        self._first: dict[str, tuple[str, str]] = {}
        for name, value in self._pairs:
            self._first.setdefault(name.lower(), (name, value))

    def __getitem__(self, name: str) -> str:
        return self._first[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._first

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._first.values())

    def __len__(self) -> int:
        return len(self._first)

    def get_all(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self._pairs if key.lower() == wanted]

    def pairs(self) -> list[tuple[str, str]]:
        return list(self._pairs)


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: Headers
    body: bytes
    client_address: tuple[str, int]
    raw: BaseHTTPRequestHandler
    prefix: str = ""

    @property
    def full_path(self) -> str:
        """The path as the client sent it (mount prefix included), without the query string."""
        return self.prefix + self.path if self.prefix else self.path


@dataclass
class Response:
    status: int
    headers: dict[str, str | list[str]] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str | list[str]] | None = None) -> Response:
        return cls(status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(payload).encode())

    @classmethod
    def text(cls, status: int, text: str) -> Response:
        return cls(status, {"Content-Type": "text/plain; charset=utf-8"}, text.encode())


Route = Callable[[Request], "Response | None"]


# --- server and handler ---------------------------------------------------------------------------------------------


class LocalHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server whose threads never keep the process alive."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    request_queue_size = 128  # the default backlog of 5 resets connections in bursts (bench/burst.py)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        logger.debug("connection from %s failed: %r", client_address, error)


def make_handler(routes: list[tuple[str, Route]], *, max_body: int = DEFAULT_MAX_BODY) -> type[BaseHTTPRequestHandler]:
    """A request handler class that sends each request to the first route whose prefix matches its path."""
    mounted = [(prefix.rstrip("/"), route) for prefix, route in routes]

    class Handler(RoutingHandler):
        pass

    Handler.routes = mounted
    Handler.max_body = max_body
    return Handler


def _match(prefix: str, path: str) -> str | None:
    """The rest of ``path`` under ``prefix`` ("" matches everything), or None."""
    if not prefix:
        return path or "/"
    if path == prefix:
        return "/"
    if path.startswith(prefix + "/"):
        return path[len(prefix):]
    return None


class RoutingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "zabota-embedded"
    routes: ClassVar[list[tuple[str, Route]]] = []
    max_body: ClassVar[int] = DEFAULT_MAX_BODY

    def handle_any(self) -> None:
        split = urlsplit(self.path)
        found = self._route(split.path)
        if found is None:
            self._send(Response.json(404, {"message": "Not Found"}))
            return
        prefix, rest, route = found
        body = self._read_body()
        if body is None:
            return
        request = Request(self.command, rest, split.query, Headers(list(self.headers.items())), body,
                          self.client_address, self, prefix)
        try:
            response = route(request)
        except Exception:  # one broken request must not take the server down
            logger.exception("%s %s failed", self.command, split.path)
            response = Response.json(500, {"message": "Internal server error"})
        if response is None:
            self.close_connection = True
            return
        self._send(response)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = handle_any

    def _route(self, path: str) -> tuple[str, str, Route] | None:
        for prefix, route in self.routes:
            rest = _match(prefix, path)
            if rest is not None:
                return prefix, rest, route
        return None

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering an error (the connection is then closed)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            self._send(Response.json(411, {"message": "Length Required"}))
            return None
        try:
            length = int(self.headers.get("Content-Length", "0") or "0")
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._send(Response.json(400, {"message": "Invalid Content-Length"}))
            return None
        if length > self.max_body:
            self.close_connection = True
            self._send(Response.json(413, {"message": f"Request body is larger than {self.max_body} bytes"},
                                     {"Connection": "close"}))
            return None
        return self.rfile.read(length) if length else b""

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        names = {name.lower() for name in response.headers}
        for name, value in response.headers.items():
            for item in value if isinstance(value, list) else [value]:
                self.send_header(name, item)
        if "content-length" not in names:
            self.send_header("Content-Length", str(len(response.body)))
        # Headers and body in one write: two small writes on a keep-alive connection meet Nagle + delayed ACK
        # and stall ~40 ms (measured by bench/latency.py).
        body = response.body if self.command != "HEAD" else b""
        self._headers_buffer.append(b"\r\n")
        self._headers_buffer.append(body)
        self.flush_headers()

    def log_message(self, format: str, *args: Any) -> None:
        if os.environ.get(LOG_ENV):
            logger.info("%s - %s", self.address_string(), format % args)

    def log_error(self, format: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)


# --- static files ---------------------------------------------------------------------------------------------------


def content_type(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def serve_static(root_dir: str | os.PathLike[str]) -> Route:
    """Serve files under ``root_dir``; ``index.html`` for ``/`` and for unknown paths without a dot (SPA routes)."""
    root = Path(root_dir).resolve()

    def route(request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response(405, {"Allow": "GET, HEAD", "Content-Type": "text/plain; charset=utf-8"},
                            b"Method Not Allowed")
        target = _static_target(root, request.path)
        if target is None:
            return Response.text(404, "Not Found")
        return _file_response(target)

    return route


def _static_target(root: Path, url_path: str) -> Path | None:
    parts = [part for part in unquote(url_path).split("/") if part not in ("", ".")]
    if any(part == ".." or "\\" in part or "\x00" in part for part in parts):
        return None
    candidate = _inside(root, root.joinpath(*parts))
    if candidate is not None and candidate.is_dir():
        candidate = _inside(root, candidate / "index.html")
    if candidate is not None and candidate.is_file():
        return candidate
    if parts and "." in parts[-1]:
        return None
    index = root / "index.html"
    return index if index.is_file() else None


def _inside(root: Path, path: Path) -> Path | None:
    """``path`` resolved, or None when it (or a symlink in it) leads outside ``root``."""
    resolved = path.resolve()
    return resolved if resolved == root or resolved.is_relative_to(root) else None


def _file_response(path: Path) -> Response:
    headers: dict[str, str | list[str]] = {
        "Content-Type": content_type(path),
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    return Response(200, headers, path.read_bytes())


# --- Chalice ----------------------------------------------------------------------------------------------------------


class ChaliceGateway:
    """Mount a Chalice app: our ``Request`` -> ``chalice.local.LocalGateway`` -> our ``Response``.

    The path given to Chalice is the one under the mount prefix (``/api`` in AWS is the stage name, not part of
    the routes); the query string is kept. ``app.current_request`` is made thread-local, as ``chalice local`` does.
    """

    def __init__(self, app: Any, *, stage: str = "api", config: Any = None) -> None:
        from chalice.config import Config
        from chalice.local import LocalGateway

        _make_requests_thread_local(app)
        self.app = app
        self.stage = stage
        self._gateway = LocalGateway(app, config or Config(chalice_stage=stage))
        self._gateway.event_converter = _converter(app, stage)

    def __call__(self, request: Request) -> Response:
        from chalice.local import LocalGatewayException

        path = request.path + (f"?{request.query}" if request.query else "")
        headers = {name: value for name, value in request.headers.items()}
        if CREDENTIAL_HEADER in request.headers:  # a client written for AWS (the key beside CloudFront's signature)
            headers = caller_headers({name.lower(): value for name, value in headers.items()})  # as the API function
        try:
            result = self._gateway.handle_request(request.method, path, headers, request.body or None)
        except LocalGatewayException as exc:
            body = exc.body if isinstance(exc.body, bytes) else (exc.body or "").encode()
            return Response(exc.CODE, {"Content-Type": "application/json", **dict(exc.headers or {})}, body)
        return lambda_response(result)


def lambda_response(result: dict[str, Any]) -> Response:
    """An API Gateway proxy result (statusCode, headers, multiValueHeaders, body, isBase64Encoded) as a Response."""
    headers: dict[str, str | list[str]] = {name: str(value) for name, value in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name] = [str(value) for value in values]
    raw = result.get("body")
    if raw is None:
        body = b""
    elif result.get("isBase64Encoded"):
        body = base64.b64decode(raw)
    else:
        body = raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
    if raw is not None and not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/json"
    return Response(int(result.get("statusCode", 200)), headers, body)


def _make_requests_thread_local(app: Any) -> None:
    from chalice.local import LocalChalice

    if not isinstance(app, LocalChalice):
        app.__class__ = type(f"Embedded{type(app).__name__}", (LocalChalice, type(app)), {})


def _converter(app: Any, stage: str) -> Any:
    """Chalice's event converter, plus what API Gateway also does: decoded path parameters and the stage."""
    from chalice.local import LambdaEventConverter, RouteMatcher

    class StageAwareConverter(LambdaEventConverter):
        def create_lambda_event(self, method: str, path: str, headers: dict[str, str],
                                body: bytes | None = None) -> dict[str, Any]:
            event = super().create_lambda_event(method, path, headers, body)
            event["pathParameters"] = {name: unquote(value) for name, value in event["pathParameters"].items()}
            context = event["requestContext"]
            context["stage"] = stage
            context["path"] = f"/{stage}{context['path']}"
            return event

    return StageAwareConverter(RouteMatcher(list(app.routes)), app.api.binary_types)

