"""The runner's HTTP pieces without sockets: routing, static files (types, SPA fallback, traversal), 413, Chalice."""

from __future__ import annotations

import io
import json
from http.client import HTTPResponse
from pathlib import Path
from typing import Any

import pytest
from chalice import Chalice

from chalicelib.local.http import ChaliceGateway, Request, Response, make_handler, serve_static

# --- a socket-free harness for the request handler ------------------------------------------------------------------


class RecordingInput(io.BytesIO):
    """The request stream; remembers how far the handler read before closing it."""

    consumed = -1

    def close(self) -> None:
        if not self.closed:
            self.consumed = self.tell()
        super().close()


class FakeSocket:
    def __init__(self, raw: bytes) -> None:
        self.input = RecordingInput(raw)
        self.output = bytearray()

    def makefile(self, mode: str, *args: Any, **kwargs: Any) -> Any:
        return self.input if "r" in mode else io.BytesIO(bytes(self.output))

    def sendall(self, data: bytes) -> None:
        self.output += data


class Reply:
    def __init__(self, raw: bytes, method: str) -> None:
        response = HTTPResponse(FakeSocket(raw), method=method)  # type: ignore[arg-type]
        response.begin()
        self.status = response.status
        self.headers = response.headers
        self.body = response.read()


def exchange(routes: list[tuple[str, Any]], raw: bytes, **options: Any) -> tuple[Reply, FakeSocket]:
    sock = FakeSocket(raw)
    make_handler(routes, **options)(sock, ("127.0.0.1", 50000), None)
    return Reply(bytes(sock.output), raw.split(b" ", 1)[0].decode()), sock


def get(routes: list[tuple[str, Any]], path: str) -> Reply:
    reply, _ = exchange(routes, f"GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".encode())
    return reply


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>console</title>")
    (root / "assets" / "app.js").write_text("export const x = 1;")
    (root / "assets" / "app.css").write_text("body{}")
    (root / "logo.svg").write_text("<svg/>")
    (root / "manifest.webmanifest").write_text("{}")
    (root / "data.json").write_text("{}")
    (tmp_path / "secret.txt").write_text("do not serve")
    return root


# --- static files ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "content_type"), [
    ("/assets/app.js", "text/javascript; charset=utf-8"),
    ("/assets/app.css", "text/css; charset=utf-8"),
    ("/logo.svg", "image/svg+xml"),
    ("/manifest.webmanifest", "application/manifest+json"),
    ("/data.json", "application/json"),
    ("/", "text/html; charset=utf-8"),
])
def test_static_files_are_served_with_their_content_type(site: Path, path: str, content_type: str) -> None:
    reply = get([("/", serve_static(site))], path)
    assert reply.status == 200
    assert reply.headers["Content-Type"] == content_type
    assert reply.headers["X-Content-Type-Options"] == "nosniff"


def test_the_root_and_unknown_paths_without_a_dot_get_index_html(site: Path) -> None:
    routes = [("/", serve_static(site))]
    index = (site / "index.html").read_bytes()
    assert get(routes, "/").body == index
    assert get(routes, "/inbox/conversations/42").body == index
    assert get(routes, "/simulator?channel=demo").body == index


def test_missing_files_with_a_dot_are_404_not_the_spa(site: Path) -> None:
    reply = get([("/", serve_static(site))], "/assets/missing.js")
    assert reply.status == 404
    assert b"console" not in reply.body


@pytest.mark.parametrize("path", [
    "/../secret.txt",
    "/assets/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/assets/%2E%2E/%2e%2e/secret.txt",
    "/..%2fsecret.txt",
    "/..\\secret.txt",
])
def test_paths_that_climb_out_of_the_root_are_refused(site: Path, path: str) -> None:
    reply = get([("/", serve_static(site))], path)
    assert reply.status == 404
    assert b"do not serve" not in reply.body


def test_symlinks_out_of_the_root_are_refused(site: Path) -> None:
    (site / "leak.txt").symlink_to(site.parent / "secret.txt")
    reply = get([("/", serve_static(site))], "/leak.txt")
    assert reply.status == 404
    assert b"do not serve" not in reply.body


def test_static_files_refuse_writes(site: Path) -> None:
    reply, _ = exchange([("/", serve_static(site))],
                        b"POST /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    assert reply.status == 405


# --- routing and bodies ---------------------------------------------------------------------------------------------


def echo(request: Request) -> Response:
    payload = {"method": request.method, "path": request.path, "query": request.query, "prefix": request.prefix,
               "body": request.body.decode(), "content_type": request.headers.get("content-TYPE")}
    return Response.json(200, payload)


def test_routes_match_by_prefix_in_order_and_get_the_path_without_it() -> None:
    routes = [("/api", echo), ("/", lambda request: Response.text(200, "static"))]
    raw = b"POST /api/items/7?x=1&y=2 HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
    reply, _ = exchange(routes, raw)
    assert json.loads(reply.body) == {"method": "POST", "path": "/items/7", "query": "x=1&y=2", "prefix": "/api",
                                      "body": "hello", "content_type": "text/plain"}
    assert get(routes, "/apiary").body == b"static"
    assert json.loads(get(routes, "/api").body)["path"] == "/"


def test_a_body_over_the_limit_gets_413_without_being_read() -> None:
    raw = b"POST /api/upload HTTP/1.1\r\nHost: t\r\nContent-Length: 2048\r\n\r\n" + b"x" * 2048
    reply, sock = exchange([("/api", echo)], raw, max_body=1024)
    assert reply.status == 413
    assert reply.headers["Connection"] == "close"
    assert sock.input.consumed == len(raw) - 2048


def test_the_default_limit_is_ten_megabytes() -> None:
    raw = b"POST /api/upload HTTP/1.1\r\nHost: t\r\nContent-Length: 10485761\r\n\r\n"
    reply, _ = exchange([("/api", echo)], raw)
    assert reply.status == 413


def test_a_route_that_raises_answers_500_and_unknown_prefixes_404() -> None:
    def broken(request: Request) -> Response:
        raise RuntimeError("bug")

    assert get([("/api", broken)], "/api/x").status == 500
    assert get([("/api", broken)], "/other").status == 404


def test_head_requests_get_headers_without_a_body(site: Path) -> None:
    raw = b"HEAD /logo.svg HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    reply, sock = exchange([("/", serve_static(site))], raw)
    assert reply.status == 200
    assert reply.headers["Content-Length"] == str(len("<svg/>"))
    assert bytes(sock.output).endswith(b"\r\n\r\n")


# --- Chalice --------------------------------------------------------------------------------------------------------


@pytest.fixture
def gateway() -> ChaliceGateway:
    app = Chalice(app_name="gateway-test")

    @app.route("/items/{item_id}", methods=["GET", "POST"])
    def item(item_id: str) -> dict[str, Any]:
        request = app.current_request
        return {"id": item_id, "q": request.query_params, "method": request.method, "body": request.raw_body.decode(),
                "stage": request.context["stage"], "path": request.context["path"]}

    @app.route("/cookies")
    def cookies() -> Any:
        from chalice import Response as ChaliceResponse

        return ChaliceResponse(body="ok", status_code=201,
                               headers={"Set-Cookie": ["a=1", "b=2"], "Content-Type": "text/plain"})

    return ChaliceGateway(app, stage="api")


def test_the_chalice_app_gets_the_path_without_the_stage_and_keeps_the_query(gateway: ChaliceGateway) -> None:
    raw = (b"POST /api/items/a%3Db?x=1 HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
           b"Content-Length: 2\r\n\r\n{}")
    reply, _ = exchange([("/api", gateway)], raw)
    assert reply.status == 200
    assert json.loads(reply.body) == {"id": "a=b", "q": {"x": "1"}, "method": "POST", "body": "{}", "stage": "api",
                                      "path": "/api/items/a%3Db"}


def test_chalice_multi_value_headers_and_status_pass_through(gateway: ChaliceGateway) -> None:
    reply = get([("/api", gateway)], "/api/cookies")
    assert reply.status == 201
    assert reply.headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    assert reply.body == b"ok"


def test_an_unknown_api_route_answers_like_api_gateway(gateway: ChaliceGateway) -> None:
    reply = get([("/api", gateway)], "/api/nope")
    assert reply.status == 403
    assert json.loads(reply.body) == {"message": "Missing Authentication Token"}
