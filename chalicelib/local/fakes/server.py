"""One small HTTP server for any fake provider: `with FakeServer(fake) as s:` serves `fake.handle` at `s.url`.

Tests use it to reach a fake over real HTTP on a free port; the embedded runner mounts the same `handle` under
`/_fake/<name>` instead.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

F = TypeVar("F")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 10  # idle keep-alive connections end instead of holding a thread forever

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:  # quiet: provider URLs carry tokens
        return

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.server.fake.handle(self.command, self.path, dict(self.headers.items()), body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if not any(name.lower() == "content-length" for name in headers):
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: Any) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class FakeServer(Generic[F]):
    """Serves one fake on 127.0.0.1 and a free port; a fake with `base_url` / `public_url` learns where it is."""

    def __init__(self, fake: F, *, name: str = "fake") -> None:
        self.fake = fake
        self.name = name
        self.url = ""
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        self._server = _Server(self.fake)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        for attribute in ("base_url", "public_url"):  # fakes that hand out their own URLs (uploads, media)
            if hasattr(self.fake, attribute):
                setattr(self.fake, attribute, self.url)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
