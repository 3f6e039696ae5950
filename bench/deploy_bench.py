"""The deployment's figures: Lambda bundle size, cold import of each handler from the bundle, dollars per million.

1. Bundle: `infra.package` builds the arm64 bundle Lambda gets (size reported) and, for timing on this machine,
   the same bundle with this machine's wheels (only compiled extensions differ).
2. Cold import: each function's handler (the template's `Handler`, e.g. `app.app`,
   `chalicelib.events.stream.handle_stream`) imported in a fresh `python -S` from the unpacked bundle, with its
   unchecked-hash bytecode and PYTHONDONTWRITEBYTECODE=1 (Lambda's /var/task is read-only), against importing
   boto3 + chalice + pynamodb from the same bundle. Runs alternate; CPU time (user + system of the child: least
   disturbed by a busy machine) and wall time, medians and minimums; goal <= 1.3x (worst_ratio: CPU medians).
3. Cost: the embedded stack runs the real handlers on DynamoDB Local with one console connected. botocore hooks
   count DynamoDB capacity units (ReturnConsumedCapacity=TOTAL added to every request) and the other AWS calls;
   the stream pump counts records; wall clock gives durations (upper bounds: they include DynamoDB Local and the
   local HTTP hop). Units x PRICES (list prices, see PRICES_AS_OF) -> dollars per million inbound messages and per
   operator reply; fixed monthly costs when idle are listed apart.

`run() -> dict` is what `bench/run.py` calls; `python -m bench.deploy_bench` prints the dict as JSON.
"""

from __future__ import annotations

import base64
import gc
import json
import os
import platform
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT = REPO_ROOT / "out" / "bench"
GOAL_IMPORT_RATIO = 1.2
GOAL_USD_PER_MILLION = 5.0
BASELINE = "import boto3, chalice, pynamodb.models"

PRICES_AS_OF = "2026-11-24, us-east-1 list prices (public pricing pages; DynamoDB on-demand after the Nov 2024 cut)"
PRICES = {  # USD
    "rest_api_request": 3.50 / 1e6,  # first 333 M requests a month; no longer in the stack (the API is a Function URL)
    "lambda_request": 0.20 / 1e6,
    "lambda_arm_gb_second": 0.0000133334,  # first 7.5 B GB-s a month
    "dynamodb_write_unit": 0.625 / 1e6,  # on-demand WRU
    "dynamodb_read_unit": 0.125 / 1e6,  # on-demand RRU
    "websocket_message": 1.00 / 1e6,  # per 32 KB message, first 1 B
    "websocket_connection_minute": 0.25 / 1e6,
    "logs_ingested_gb": 0.50,
    "alarm_metric_month": 0.10,  # standard resolution, per metric in the alarm
    "kms_key_month": 1.00,  # no longer in the stack (channel secrets: an SSM SecureString, docs/DEPLOY.md)
    "ssm_standard_parameter_month": 0.0,  # standard tier, standard throughput; aws/ssm has no monthly fee
    "dynamodb_storage_gb_month": 0.25,
    "dynamodb_pitr_gb_month": 0.20,
    "s3_storage_gb_month": 0.023,
    "s3_put_request": 0.005 / 1e3,  # S3 Standard PUT: the search index's segment per stream batch (search/engines.py)
    "cloudfront_https_request": 0.0100 / 1e4,  # console and API calls: CloudFront -> the API function's URL
}
ASSUMED = {
    "api_memory_gb": 0.5, "stream_memory_gb": 0.5, "schedule_memory_gb": 0.25,  # .chalice/config.json
    "provider_round_trip_s": 0.15,  # a real provider API call from AWS (the fake answers in ~1 ms)
    "platform_log_bytes_per_invocation": 0,  # SystemLogLevel WARN (infra/resources.yaml LoggingConfig): START / END /
    # REPORT are INFO system events, not sent for a successful invocation (docs.aws.amazon.com/lambda/latest/dg/
    # monitoring-cloudwatchlogs-log-level.html, "Log-level filtering"; 350 bytes with the default INFO)
    "app_log_bytes_per_line": 300,  # one Powertools JSON line
    "alarm_metrics": 4,  # infra/resources.yaml: 3 alarms, metric-math ones count each metric
    "minutes_per_month": 43_200,
}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


# ------------------------------------------------------------------------------------------- 1-2 bundle, imports

def host_platform() -> str:
    return "manylinux2014_aarch64" if platform.machine() in ("aarch64", "arm64") else "manylinux2014_x86_64"


def build_bundles() -> dict[str, Any]:
    from infra import package

    lambda_summary = package.package(OUT / "lambda")
    host = host_platform()
    host_dir = OUT / ("lambda" if host == package.PLATFORM else "host")
    if host != package.PLATFORM:
        package.package(host_dir, platform=host)
    return {"lambda": lambda_summary, "host_dir": host_dir, "host_platform": host,
            "handlers": handlers_of(package.load_template(host_dir / "sam.json"))}


def handlers_of(sam: dict[str, Any]) -> dict[str, str]:
    return {name: res["Properties"]["Handler"] for name, res in sorted(sam["Resources"].items())
            if res["Type"] == "AWS::Serverless::Function"}


def unpack(zip_path: Path, dest: Path, *, keep_bytecode: bool = True) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            if not keep_bytecode and "__pycache__/" in info.filename:
                continue
            archive.extract(info, dest)
    return dest


def import_code(handler: str) -> str:
    module, _, name = handler.rpartition(".")
    return f"import importlib; getattr(importlib.import_module({module!r}), {name!r})"


def time_import(task: Path, code: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of a fresh interpreter importing `code` from `task` (CPU time is what a busy
    machine disturbs least)."""
    import resource

    env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_EC2_METADATA_DISABLED": "true", "LANG": "C.UTF-8"}
    command = [sys.executable, "-S", "-c", f"import sys; sys.path.insert(0, {str(task)!r}); {code}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, cwd=task, env=env, check=True, capture_output=True, timeout=120)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure_imports(bundles: dict[str, Any], runs: int = 9) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="zabota-import-"))
    try:
        task = unpack(bundles["host_dir"] / "deployment.zip", work / "task")
        bare = unpack(bundles["host_dir"] / "deployment.zip", work / "bare", keep_bytecode=False)
        cases = {"baseline": BASELINE, **{name: import_code(h) for name, h in bundles["handlers"].items()}}
        wall: dict[str, list[float]] = {name: [] for name in cases}
        cpu: dict[str, list[float]] = {name: [] for name in cases}
        for code in cases.values():
            time_import(task, code)  # warm the page cache
        for i in range(runs):
            order = list(cases.items()) if i % 2 == 0 else list(reversed(cases.items()))
            for name, code in order:
                seconds, cpu_seconds = time_import(task, code)
                wall[name].append(seconds)
                cpu[name].append(cpu_seconds)
        api = import_code(bundles["handlers"]["APIHandler"])
        no_pyc = [time_import(bare, api)[1] for _ in range(3)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "goal_ratio": GOAL_IMPORT_RATIO, "runs": runs, "baseline": BASELINE,
        "cpu": _figures(cpu, statistics.median), "wall": _figures(wall, statistics.median),
        "wall_minimum": _figures(wall, min),
        "api_handler_without_bytecode_cpu_ms": round(statistics.median(no_pyc) * 1000),
        "worst_ratio": max(_figures(cpu, statistics.median)["ratios"].values()),
    }


def _figures(samples: dict[str, list[float]], pick: Any) -> dict[str, Any]:
    """Milliseconds of each case by `pick` (median, min) and each handler's ratio to the baseline."""
    ms = {name: pick(values) * 1000 for name, values in samples.items()}
    base = ms.pop("baseline")
    return {"baseline_ms": round(base, 1), "handlers_ms": {n: round(v, 1) for n, v in ms.items()},
            "ratios": {n: round(v / base, 2) for n, v in ms.items()}}


# ------------------------------------------------------------------------------------------- 3 units and dollars

class UnitMeter:
    """DynamoDB capacity units (total, and by table and index) and AWS calls of the app's clients (the stream pump's
    own reads left out)."""

    def __init__(self, exclude: list[Any]) -> None:
        self._exclude = {id(c) for c in exclude if c is not None}
        self._hooked: dict[int, Any] = {}
        self._lock = threading.Lock()
        self._original: Any = None
        self.units: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()

    def __enter__(self) -> UnitMeter:
        import botocore.client
        import botocore.session

        self._original = botocore.session.Session.create_client
        original, meter = self._original, self

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            meter.hook(client)
            return client

        botocore.session.Session.create_client = create_client
        for obj in gc.get_objects():
            if isinstance(obj, botocore.client.BaseClient):
                self.hook(obj)
        return self

    def __exit__(self, *exc: object) -> None:
        import botocore.session

        botocore.session.Session.create_client = self._original
        for key, client in self._hooked.items():
            client.meta.events.unregister("provide-client-params", unique_id=f"units-in-{id(self)}-{key}")
            client.meta.events.unregister("after-call", unique_id=f"units-out-{id(self)}-{key}")

    def hook(self, client: Any) -> None:
        key = id(client)
        service = client.meta.service_model.service_name
        if key in self._exclude or key in self._hooked or service == "dynamodbstreams":
            return
        client.meta.events.register("provide-client-params", self._ask_for_units,
                                    unique_id=f"units-in-{id(self)}-{key}")
        client.meta.events.register("after-call", self._count, unique_id=f"units-out-{id(self)}-{key}")
        self._hooked[key] = client

    _pending = threading.local()

    @classmethod
    def _ask_for_units(cls, params: dict[str, Any], model: Any, **_: Any) -> None:
        if "ReturnConsumedCapacity" in model.input_shape.members:
            params["ReturnConsumedCapacity"] = "INDEXES"
        if model.name == "TransactWriteItems":  # DynamoDB Local reports less than AWS bills for these (below)
            tables: Counter[str] = Counter()
            for entry in params.get("TransactItems", []):
                for action in entry.values():
                    tables[action.get("TableName", "?")] += 1
            cls._pending.transact_items = tables

    def _count(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        service = model.service_model.service_name
        consumed = parsed.get("ConsumedCapacity") or []
        consumed = [consumed] if isinstance(consumed, dict) else consumed
        kind = "write_units" if model.name in WRITES else "read_units"
        with self._lock:
            self.calls[f"{service}:{model.name}"] += 1
            transact_items: Counter[str] = getattr(self._pending, "transact_items", None) or Counter()
            if model.name == "TransactWriteItems":
                self._pending.transact_items = None
            for item in consumed:
                total = float(item.get("CapacityUnits", 0))
                table = item.get("TableName", "?")
                indexes = item.get("GlobalSecondaryIndexes") or {}
                on_table = float(item.get("Table", {}).get("CapacityUnits", total))
                # AWS bills a transaction 2 write units per item and KB; DynamoDB Local reports less for several items
                billed = max(on_table, 2.0 * transact_items.get(table, 0))
                total += billed - on_table
                self.units[kind] += total
                self.units[f"{kind}:{table}"] += billed
                for index, used in indexes.items():
                    self.units[f"{kind}:{table}/{index}"] += float(used.get("CapacityUnits", 0))

    def take(self) -> tuple[Counter[str], Counter[str]]:
        with self._lock:
            units, calls = self.units, self.calls
            self.units, self.calls = Counter(), Counter()
        return units, calls


class LogMeter:
    """App log lines at INFO (the level the stack runs with in AWS), counted, not printed."""

    def __init__(self) -> None:
        import logging

        self.lines = 0
        meter = self

        class Count(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                meter.lines += 1

        self._handler = Count()
        self._quiet = logging.WARNING

    def _std(self) -> Any:
        import logging

        from chalicelib.observability import logger

        return getattr(logger, "_logger", logging.getLogger(logger.name))

    def __enter__(self) -> LogMeter:
        std = self._std()
        self._level = std.level
        self._printing = [(h, h.level) for h in std.handlers]
        for handler, level in self._printing:
            handler.setLevel(max(level, self._quiet))
        std.addHandler(self._handler)
        std.setLevel("INFO")
        return self

    def __exit__(self, *exc: object) -> None:
        std = self._std()
        std.removeHandler(self._handler)
        std.setLevel(self._level)
        for handler, level in self._printing:
            handler.setLevel(level)

    def take(self) -> int:
        lines, self.lines = self.lines, 0
        return lines


def open_console(port: int, token: str) -> socket.socket:
    """An operator console's WebSocket (pushes are counted, never read: a few KB stay in the socket buffer)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    answer = sock.recv(4096)
    if b" 101 " not in answer.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"the console's WebSocket was refused: {answer[:80]!r}")
    return sock


def count_units(messages: int = 20, replies: int = 10) -> dict[str, Any]:
    """Units of: a customer's first message (new conversation: greeting), a follow-up, an operator reply, a tick.

    One event at a time, each followed by the stream to the end, as a quiet production stream sees them: the
    stream batches counted are the Lambda invocations (records a write makes together arrive together)."""
    from bench import harness

    stack = harness.start_stack()
    try:
        channel = harness.new_channel(stack)
        console = open_console(stack.config.port, channel.api_key)
        stack.pump.drain(timeout=60)
        customers = [20_000_000 + secrets.randbelow(10**6) * 100 + i for i in range(messages)]
        with UnitMeter([getattr(stack.pump, "_ddb", None)]) as meter, LogMeter() as logs:
            figures = {
                "new_conversation_message": phase(stack, meter, logs, customers_write(channel, customers)),
                "follow_up_message": phase(stack, meter, logs, customers_write(channel, customers)),
                "operator_reply": phase(stack, meter, logs, operator_replies(stack.url, channel, replies)),
                "tick": phase(stack, meter, logs, [stack.ticker.tick_now] * 5),  # the mean of 5 idle ticks
            }
        console.close()
    finally:
        harness.stop_stack(stack)
    return figures


def customers_write(channel: Any, customers: list[int]) -> list[Any]:
    """One Telegram webhook per customer, as Telegram delivers them."""
    import requests

    from bench import harness

    session = requests.Session()
    return [lambda chat=chat: harness.post(session, channel, harness.encode(harness.telegram_update(chat, "hello")))
            for chat in customers]


def operator_replies(url: str, channel: Any, replies: int) -> list[Any]:
    """An operator answers the newest conversations through the API (behind CloudFront on AWS)."""
    import requests

    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {channel.api_key}"
    conversations = api.get(f"{url}/api/conversations", params={"limit": replies}, timeout=30).json()["items"]

    def reply(conversation_id: str) -> None:
        api.post(f"{url}/api/conversations/{conversation_id}/replies", json={"text": "we are on it"},
                 timeout=30).raise_for_status()

    return [lambda c=c: reply(c["id"]) for c in conversations]


def phase(stack: Any, meter: UnitMeter, logs: LogMeter, events: list[Any]) -> dict[str, Any]:
    """Per-event figures of one phase: each event's request, then everything the stream does because of it."""
    meter.take()
    logs.take()
    sent_before = len(stack.fake_telegram.calls)
    request_units: Counter[str] = Counter()
    request_calls: Counter[str] = Counter()
    stream_units: Counter[str] = Counter()
    stream_calls: Counter[str] = Counter()
    seconds = 0.0
    records = 0
    batches_before = stack.pump.stats.batches
    filtered_before = stack.pump.stats.filtered  # records the stream filter dropped (services/stream_filter.py)
    handler_seconds: list[float] = []
    handler = stack.pump.handler

    # In AWS the search index is S3Engine: one segment per workspace with index changes per stream batch, carried
    # by the batch's on-time counter delta item when small (embedded mode writes the same delta items: their size is
    # in the measured units), else an item of the main table up to SMALL_SEGMENT bytes (its write units), else an
    # S3 PUT (embedded mode's LocalEngine writes SQLite instead); counted here from what each batch hands the engine.
    from chalicelib.search import engines

    touched: dict[str, list[Any]] = {}
    handed: set[str] = set()
    segments = {"puts": 0, "item_write_units": 0, "carried": 0}
    real_add, real_flush = engines.LocalEngine.add, engines.LocalEngine.flush

    def counting_add(engine: Any, ws: str, ops: Any) -> None:
        batch = list(ops)
        if batch:
            touched.setdefault(ws, []).extend(batch)
        real_add(engine, ws, batch)

    def counting_flush(engine: Any, carried: Any = ()) -> dict[str, bytes]:
        bodies = real_flush(engine, carried)
        handed.update(bodies)
        return bodies

    def timed_handler(event: Any, context: Any) -> Any:  # Lambda bills the handler's time, not the polling
        touched.clear()
        handed.clear()
        started = time.perf_counter()
        try:
            return handler(event, context)
        finally:
            handler_seconds.append(time.perf_counter() - started)
            for ws, ops in touched.items():
                size = len(engines.segment_body(ops)) + 60  # + the item's keys and type
                if ws in handed:
                    segments["carried"] += 1  # in the delta item: its units are counted with it
                elif size <= engines.SMALL_SEGMENT:
                    segments["item_write_units"] += -(-size // 1024)
                else:
                    segments["puts"] += 1

    stack.pump.handler = timed_handler
    engines.LocalEngine.add = counting_add  # type: ignore[method-assign]
    engines.LocalEngine.flush = counting_flush  # type: ignore[method-assign]
    try:
        for event in events:
            started = time.perf_counter()
            event()
            seconds += time.perf_counter() - started
            units, calls = meter.take()
            request_units += units
            request_calls += calls
            records += int(stack.pump.drain(timeout=120))
            units, calls = meter.take()
            stream_units += units
            stream_calls += calls
    finally:
        stack.pump.handler = handler
        engines.LocalEngine.add = real_add  # type: ignore[method-assign]
        engines.LocalEngine.flush = real_flush  # type: ignore[method-assign]
    stream_seconds = sum(handler_seconds)
    batches = stack.pump.stats.batches - batches_before
    provider_calls = len(stack.fake_telegram.calls) - sent_before
    pushes = (request_calls + stream_calls)["apigatewaymanagementapi:PostToConnection"]
    per = 1 / len(events)

    def scaled(counter: Counter[str]) -> dict[str, float]:
        return {k: round(v * per, 3) for k, v in sorted(counter.items())}

    return {
        "n": len(events),
        "request_seconds": round(seconds * per, 4),
        "request_units": scaled(request_units), "request_calls": scaled(request_calls),
        "stream_records": round(records * per, 2), "stream_invocations": round(batches * per, 2),
        "stream_records_filtered": round((stack.pump.stats.filtered - filtered_before) * per, 2),
        "stream_seconds": round(stream_seconds * per, 4),
        "stream_units": scaled(stream_units), "stream_calls": scaled(stream_calls),
        "provider_calls": round(provider_calls * per, 2),
        "search_segment_puts": round(segments["puts"] * per, 2),
        "search_segment_write_units": round(segments["item_write_units"] * per, 2),
        "search_segments_carried": round(segments["carried"] * per, 2),
        "pushes_per_console": round(pushes * per, 2),
        "app_log_lines": round(logs.take() * per, 2),
    }


def dollars(figures: dict[str, Any], *, api_request: bool, consoles: int = 1,
            function_url: bool = False) -> dict[str, float]:
    """USD per million of one kind of event, by line item (`api_request`: it arrives through CloudFront at the API
    function's URL, billed as CloudFront + Lambda, no API Gateway; `function_url`: a provider's webhook, straight to
    the webhook function's URL, billed as Lambda)."""
    p, a = PRICES, ASSUMED
    invocations = (1 if api_request or function_url else 0) + figures["stream_invocations"]
    gb_seconds = (figures["request_seconds"] * a["api_memory_gb"]
                  + (figures["stream_seconds"] + figures["provider_calls"] * a["provider_round_trip_s"])
                  * a["stream_memory_gb"])
    units = Counter(figures["request_units"]) + Counter(figures["stream_units"])
    log_bytes = invocations * a["platform_log_bytes_per_invocation"] + figures["app_log_lines"] * a[
        "app_log_bytes_per_line"]
    lines = {
        "cloudfront": p["cloudfront_https_request"] if api_request else 0.0,  # PUBLIC_URL is the console's origin
        "api_gateway": 0.0,  # no REST API: the API function's URL is CloudFront's origin (infra/resources.yaml)
        "lambda_requests": invocations * p["lambda_request"],
        "lambda_duration": gb_seconds * p["lambda_arm_gb_second"],
        "dynamodb_writes": units["write_units"] * p["dynamodb_write_unit"],
        "dynamodb_reads": units["read_units"] * p["dynamodb_read_unit"],
        "logs": log_bytes / 1e9 * p["logs_ingested_gb"],
        "live_updates": figures["pushes_per_console"] * consoles * p["websocket_message"],
        # AWS's search index: a segment per batch and workspace, an item (write units) or an S3 PUT when big; its
        # compaction (1 flush in 20: a base upload and the deletes) is not counted
        "search_segments": figures.get("search_segment_puts", 0.0) * p["s3_put_request"]
        + figures.get("search_segment_write_units", 0.0) * p["dynamodb_write_unit"],
    }
    per_million = {k: round(v * 1e6, 3) for k, v in lines.items()}
    per_million["total"] = round(sum(lines.values()) * 1e6, 2)
    return per_million


def idle_month(tick: dict[str, Any]) -> dict[str, float]:
    """What a month costs with no traffic at all (storage of existing data not included: per GB, see PRICES)."""
    p, a = PRICES, ASSUMED
    ticks = a["minutes_per_month"]
    units = Counter(tick["request_units"]) + Counter(tick["stream_units"])
    per_tick = (p["lambda_request"] + tick["request_seconds"] * a["schedule_memory_gb"] * p["lambda_arm_gb_second"]
                + units["read_units"] * p["dynamodb_read_unit"] + units["write_units"] * p["dynamodb_write_unit"]
                + a["platform_log_bytes_per_invocation"] / 1e9 * p["logs_ingested_gb"])
    schedule = ticks * per_tick
    lines = {"channel_secrets_key": p["ssm_standard_parameter_month"],
             "alarms": a["alarm_metrics"] * p["alarm_metric_month"],
             "one_minute_schedule": round(schedule, 3)}
    return {**lines, "total": round(sum(lines.values()), 2)}


def cost_model(units: dict[str, Any]) -> dict[str, Any]:
    inbound_new = dollars(units["new_conversation_message"], api_request=False, function_url=True)
    inbound_follow = dollars(units["follow_up_message"], api_request=False, function_url=True)
    reply = dollars(units["operator_reply"], api_request=True)
    without_live = round(inbound_follow["total"] - inbound_follow["live_updates"], 2)
    return {
        "prices_as_of": PRICES_AS_OF, "prices": PRICES, "assumed": ASSUMED, "counted": units,
        "usd_per_million_inbound": {"new_conversation": inbound_new, "follow_up": inbound_follow,
                                    "follow_up_without_live_updates": without_live},
        "usd_per_million_operator_replies": reply,
        "usd_per_operator_month_at_2000_replies": round(reply["total"] * 2000 / 1e6, 4),
        "idle_usd_per_month": idle_month(units["tick"]),
        "goal_usd_per_million": GOAL_USD_PER_MILLION,
        "verdict": "OK" if inbound_follow["total"] <= GOAL_USD_PER_MILLION else "MISSED",
    }


# ------------------------------------------------------------------------------------------- all of it

def run() -> dict[str, Any]:
    """Every figure; a failing part becomes {"error": ...} and the rest still runs."""
    result: dict[str, Any] = {}
    bundles: dict[str, Any] | None = None
    try:
        bundles = build_bundles()
        bundle = bundles["lambda"]["bundle"]
        result["bundle"] = {"zip_mb": round(bundle["zip_bytes"] / 1e6, 2),
                            "unzipped_mb": round(bundle["unzipped_bytes"] / 1e6, 2), "files": bundle["files"],
                            "pyc_files": bundle["pyc_files"], "platform": bundle["platform"],
                            "largest_mb": {k: round(v / 1e6, 2) for k, v in list(bundle["top_level"].items())[:6]}}
    except Exception as err:  # noqa: BLE001 - reported, the other figures still run
        result["bundle"] = {"error": f"{type(err).__name__}: {err}"}
    try:
        if bundles is None:
            raise RuntimeError("no bundle to import from")
        result["cold_import"] = {**measure_imports(bundles), "timed_platform": bundles["host_platform"]}
    except Exception as err:  # noqa: BLE001
        result["cold_import"] = {"error": f"{type(err).__name__}: {err}"}
    try:
        result["cost"] = cost_model(count_units())
    except Exception as err:  # noqa: BLE001
        result["cost"] = {"error": f"{type(err).__name__}: {err}"}
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, default=str))
