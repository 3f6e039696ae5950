"""The local runner of embedded mode: `python -m chalicelib.local.runner` (what `make run` starts).

One process runs the same handlers as AWS would: the Chalice app under `/api`, the stream handler fed by
the stream pump, the schedule handler every `TICK_SECONDS`, the WebSocket handlers behind an emulated API
Gateway, and the built-in fake providers under `/_fake/<kind>`. DynamoDB Local runs as a child process
with its data in `.data/`. Ctrl-C stops everything; the next start keeps all data.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.local import env as local_env
from chalicelib.local.dynamodb import DynamoDBLocal, port_in_use

REPO_ROOT = Path(__file__).resolve().parents[2]
logger = logging.getLogger("zabota.runner")


def content_disposition(name: str) -> str:
    """`inline` with an ASCII fallback and the real (UTF-8) name, RFC 6266: headers must stay latin-1."""
    from urllib.parse import quote

    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


@dataclass
class StackConfig:
    port: int = 8000
    host: str = "127.0.0.1"
    data_dir: str = str(REPO_ROOT / ".data")
    in_memory: bool = False
    ddb_port: int | None = None
    tick_seconds: float = 60.0
    start_pump: bool = True
    pump_backoff_base: float = 0.5
    pump_max_attempts: int = 5
    seed_demo: bool = True


class EmbeddedStack:
    """Everything `make run` starts, as one object (tests start it too, in memory and on free ports)."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.ddb: DynamoDBLocal | None = None
        self.pump: Any = None
        self.ticker: Any = None
        self.workers: Any = None
        self.hub: Any = None
        self.fakes: dict[str, Any] = {}
        self.demo: Any = None
        self._server: Any = None
        self._server_thread: threading.Thread | None = None

    @property
    def fake_telegram(self) -> Any:
        return self.fakes["telegram"]

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.config.port}"

    def start(self) -> EmbeddedStack:
        cfg = self.config
        if port_in_use(cfg.port, cfg.host):
            raise RuntimeError(f"port {cfg.port} is in use: stop what runs there or start with PORT=<other port>")
        os.makedirs(cfg.data_dir, exist_ok=True)
        ddb_port = cfg.ddb_port or (cfg.port + 1 if not cfg.in_memory else None)
        if ddb_port is not None and port_in_use(ddb_port, cfg.host):
            raise RuntimeError(f"port {ddb_port} (DynamoDB Local) is in use: stop what runs there or set DDB_PORT")
        self.ddb = DynamoDBLocal(port=ddb_port, in_memory=cfg.in_memory,
                                 data_dir=None if cfg.in_memory else os.path.join(cfg.data_dir, "dynamodb"))
        self.ddb.start()
        local_env.apply(local_env.embedded_environ(port=cfg.port, ddb_port=self.ddb.port, data_dir=cfg.data_dir,
                                                   host=cfg.host))
        self._wire()
        return self

    def _wire(self) -> None:
        from chalicelib.local import fakes, outbox
        from chalicelib.local.http import ChaliceGateway, LocalHTTPServer, Response, make_handler, serve_static
        from chalicelib.local.simulator import Simulator
        from chalicelib.local.stream_pump import StreamPump
        from chalicelib.local.ticker import Ticker
        from chalicelib.local.websocket import WebSocketHub
        from chalicelib.services.deps import deps, override
        from chalicelib.store import schema

        override(None)
        d = deps()
        schema.migrate(d.settings)
        import app as app_module

        app = app_module.app
        handlers = app.handler_map
        self.fakes = {name: fakes.build(name) for name in fakes.FAKES}
        cfg = self.config
        self.hub = WebSocketHub(handlers["ws_connect"], handlers["ws_message"], handlers["ws_disconnect"],
                                domain_name=f"{cfg.host}:{cfg.port}", stage="api", api_id="local")
        files = d.files

        def file_route(request: Any) -> Any:
            from chalicelib.errors import AppError

            try:
                data, ctype, name = files.open_link(request.path.lstrip("/"))  # type: ignore[attr-defined]
            except AppError as err:
                return Response.json(403 if err.code != "not_found" else 404, {"error": {"code": err.code,
                                                                                         "message": err.message}})
            return Response(200, {"Content-Type": ctype, "Cache-Control": "private, max-age=300",
                                  "Content-Disposition": content_disposition(name)}, data)

        def ws_route(request: Any) -> Any:
            self.hub.serve(request.raw)
            return None

        def mgmt_route(request: Any) -> Any:
            status, headers, body = self.hub.handle_management(request.method, request.path, request.body)
            return Response(status, headers, body)

        def fake_route(fake: Any) -> Any:
            def route(request: Any) -> Any:
                path = request.path + (f"?{request.query}" if request.query else "")
                status, headers, body = fake.handle(request.method, path, dict(request.headers.items()), request.body)
                return Response(status, headers, body)

            return route

        frontend = REPO_ROOT / "frontend" / "dist"
        if not (frontend / "index.html").exists():
            frontend = REPO_ROOT / "frontend" / "public"
        routes = [
            ("/api", ChaliceGateway(app, stage="api")),
            ("/_files", file_route),
            ("/_ws", mgmt_route),
            ("/ws", ws_route),
            *((f"/_fake/{name}", fake_route(fake)) for name, fake in self.fakes.items()),
            ("/_outbox", outbox.route),  # e-mails of embedded mode (sign-in links, invitations)
            ("/_sim", Simulator(self.url, self.fakes)),  # the customer simulator's backend (/simulator/ page)
            ("/", serve_static(frontend)),
        ]
        self._server = LocalHTTPServer((cfg.host, cfg.port), make_handler(routes, max_body=16 * 1024 * 1024))
        self._server_thread = threading.Thread(target=self._server.serve_forever, name="http", daemon=True)
        self._server_thread.start()
        if cfg.seed_demo:
            from chalicelib.local import demo

            self.demo = demo.seed(d, self.fakes)
        assert self.ddb is not None
        from chalicelib.services import stream_filter

        self.pump = StreamPump(
            handlers["handle_stream"], table_names=[d.settings.main_table], endpoint=self.ddb.endpoint,
            checkpoint_path=os.path.join(cfg.data_dir, "stream-checkpoints.json"), park=self._park,
            backoff_base=cfg.pump_backoff_base, max_attempts=cfg.pump_max_attempts,
            filters=stream_filter.patterns(),  # as the template's event source mapping filters (infra/package.py)
        )
        if cfg.start_pump:
            self.pump.start()
        self.ticker = Ticker(handlers["every_minute"], cfg.tick_seconds)
        self.ticker.start()
        from chalicelib.local.workers import Workers
        from chalicelib.services import exports

        self.workers = Workers(handlers["export_worker"])  # the export worker's asynchronous invokes
        exports.local_invoker = self.workers.start

    @staticmethod
    def _park(record: dict[str, Any], error: str) -> None:
        """A record that kept failing: keep it where the workspace's admin sees it (GET /api/admin/parked)."""
        from chalicelib.domain.model import utcnow
        from chalicelib.store import keys, repo

        pk = record.get("dynamodb", {}).get("Keys", {}).get("pk", {}).get("S", "")
        ws = keys.workspace_of_pk(pk) or record.get("dynamodb", {}).get("NewImage", {}).get(
            "workspace_id", {}).get("S", "_system")
        repo.park_record(ws, "main-table-stream", record, error, now=utcnow())

    def stop(self) -> None:
        for part in (self.ticker, self.pump):
            if part is not None:
                part.stop()
        if self.workers is not None:
            self.workers.join(timeout=30)  # an export being written finishes (its tables are about to go)
        if self.hub is not None:
            self.hub.close_all()  # consoles see close code 1001 and $disconnect runs
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self.ddb is not None:
            self.ddb.stop()

    def __enter__(self) -> EmbeddedStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.local.runner")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--data-dir", default=os.environ.get("DATA_DIR", str(REPO_ROOT / ".data")))
    parser.add_argument("--verbose", action="store_true", default=os.environ.get("VERBOSE", "") not in ("", "0"),
                        help="log what starts (DynamoDB Local, settings) instead of warnings only (VERBOSE=1)")
    args = parser.parse_args(argv)
    # Start-up is quiet: the ready banner below is the last thing printed; warnings and errors still show.
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    ddb_port = int(os.environ["DDB_PORT"]) if os.environ.get("DDB_PORT") else None
    stack = EmbeddedStack(StackConfig(port=args.port, data_dir=args.data_dir, ddb_port=ddb_port,
                                      tick_seconds=float(os.environ.get("TICK_SECONDS", "60"))))
    try:
        stack.start()
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        stack.stop()
        return 1
    print(banner(stack), flush=True)
    from chalicelib.auth import mail
    from chalicelib.local import outbox

    mail.OUTBOX.listeners.append(outbox.print_to_terminal)  # from now on every e-mailed link is printed here too
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    print("stopping…", file=sys.stderr)
    stack.stop()
    return 0


def banner(stack: EmbeddedStack) -> str:
    """What to open, with what: the console and a fresh sign-in link, the admin key, the simulator, a curl."""
    from chalicelib.local import demo
    from chalicelib.services.deps import deps

    url = stack.url
    key = demo.admin_key(deps())
    secret = stack.demo.telegram.secrets["webhook_secret"]
    lines = [
        "",
        f"Zabota is running at {url}/",
        "",
        f"  Sign in as {demo.DEMO_ADMIN} (once, within 15 minutes; new links arrive in {url}/_outbox):",
        f"    {_sign_in_link() or '(no new link now: too many were asked for; use the key below)'}",
        f"  Or paste the admin API key of workspace 'demo': {key}",
        f"  Write as a customer of any demo channel: {url}/simulator/",
        "  Or as a Telegram customer of the demo bot, from a shell:",
        f"    curl -H 'X-Telegram-Bot-Api-Secret-Token: {secret}' -H 'Content-Type: application/json' \\",
        f"      -d '{demo.sample_update_json()}' \\",
        f"      {url}/api/webhooks/telegram/{demo.TELEGRAM_CHANNEL}",
        f"  What the bot sent: {url}/_fake/telegram/_sent   API: {url}/api/ (OpenAPI: {url}/api/openapi.json)",
        "",
        "  Ctrl-C stops everything; data stays in .data/ (make reset wipes it). E-mailed links are printed here.",
    ]
    return "\n".join(lines)


def _sign_in_link() -> str | None:
    """A fresh sign-in link for the demo admin, through the same path as the console's form (to the outbox)."""
    from chalicelib.auth import login_links, mail
    from chalicelib.errors import AppError
    from chalicelib.local import demo
    from chalicelib.services.deps import deps

    d = deps()
    try:
        login_links.request_link(d.settings, demo.DEMO_ADMIN, now=d.now())
    except AppError:
        return None
    sent = mail.OUTBOX.to(demo.DEMO_ADMIN)
    return sent[-1].link if sent else None


if __name__ == "__main__":
    sys.exit(main())
