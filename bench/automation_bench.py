"""Timers and outgoing webhooks (issue 11): DynamoDB requests counted by botocore hooks, lags by the clock.

- `timers.idle_tick_requests`: one tick with nothing due (goal 1: a single Query of the one timer partition).
- `timers.requests_per_fired`: 1,000 timers due in the same minute, one tick: requests / fired (goal <= 3). The
  handler here does nothing, so this is the timer machinery alone (the due Query's pages, the lease, the delete);
  `timers.sla_requests_per_fired` is the same for real SLA timers whose conversation was answered meanwhile (the
  handler's one read added).
- `timers.fire_lag_p99_s`: due time -> handler called, for those 1,000, when the tick starts at the due minute.
  The schedule runs once a minute, so a timer waits up to 60 s more for its tick; that bound is printed beside.
- `webhooks_out.requests_per_delivery`: DynamoDB requests to queue and deliver one event to a local receiver.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench import harness
from bench.ddbcalls import DynamoCallCounter
from bench.stats import percentile

TIMERS = 1000
DELIVERIES = 50


def _requests(counter: DynamoCallCounter) -> int:
    ops, _ = counter.take()
    return sum(ops.values())


def measure(stack: Any) -> dict[str, Any]:
    from chalicelib.domain.model import iso
    from chalicelib.services import timers
    from chalicelib.services.deps import deps
    from chalicelib.store import repo

    d = deps()
    saved_clock = d.clock
    counter = DynamoCallCounter().install()
    try:
        # far ahead of everything the other benchmarks left, and fired clean first
        base = saved_clock().replace(second=0, microsecond=0) + timedelta(days=36500)
        d.clock = lambda: base
        while timers.fire_due(d):
            pass
        counter.take()
        timers.fire_due(d)
        idle = _requests(counter)

        ws = harness.new_channel(stack).workspace_id
        due = base + timedelta(minutes=5)
        fired_at: list[float] = []
        timers.HANDLERS["bench-noop"] = lambda _d, _t: fired_at.append(time.time())
        for n in range(TIMERS):
            repo.put_timer(ws, f"bench-{n}", "bench-noop", iso(due), {}, now=base)
        counter.take()
        d.clock = lambda: due
        started = time.time()
        fired = timers.fire_due(d)
        per_fired = _requests(counter) / max(fired, 1)
        lags = sorted(f - started for f in fired_at)

        sla_per_fired = _sla(stack, d, counter, due + timedelta(days=1))
        hooks = _webhooks(stack, d, counter)
    finally:
        d.clock = saved_clock
        timers.HANDLERS.pop("bench-noop", None)
        counter.uninstall()
    return {
        "timers.idle_tick_requests": idle, "timers.idle_goal": 1,
        "timers.fired": fired, "timers.requests_per_fired": round(per_fired, 2), "timers.requests_goal": 3,
        "timers.sla_requests_per_fired": round(sla_per_fired, 2),
        "timers.fire_lag_p50_s": round(percentile(lags, 50), 3),
        "timers.fire_lag_p99_s": round(percentile(lags, 99), 3),
        "timers.fire_lag_note": "after the tick starts; the one-minute schedule adds up to 60 s before it",
        **hooks,
    }


def _sla(stack: Any, d: Any, counter: DynamoCallCounter, when: Any) -> float:
    """SLA timers of 20 answered conversations (their handler reads the conversation and stops)."""
    from chalicelib.domain.model import iso
    from chalicelib.services import timers
    from chalicelib.store import repo

    ws = harness.new_channel(stack).workspace_id
    for n in range(20):
        repo.put_due_timer(ws, f"sla#bench-{n}", "sla", iso(when), {"conversation_id": f"bench-{n}", "since": "x",
                                                                  "stage": "warning", "breach_at": iso(when)},
                           now=when)
    counter.take()
    d.clock = lambda: when
    fired = timers.fire_due(d)
    return _requests(counter) / max(fired, 1)


class _Receiver:
    def __init__(self) -> None:
        self.count = 0

        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.count += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _webhooks(stack: Any, d: Any, counter: DynamoCallCounter) -> dict[str, Any]:
    from chalicelib.auth.keys import Principal
    from chalicelib.services import webhooks_out
    from chalicelib.store import hooks as store

    receiver = _Receiver()
    try:
        ws = harness.new_channel(stack).workspace_id
        webhooks_out.create(d, Principal(ws, "admin", "key:bench"), {"url": receiver.url, "events": ["ping"]})
        (hook,) = store.list_hooks(ws)
        webhooks_out.subscriptions(ws)  # a warm Lambda: the list is cached
        counter.take()
        for n in range(DELIVERIES):
            store.put_delivery(ws, hook.hook_id, f"dl_bench{n}", event="ping", event_at=f"2026-01-01T00:00:{n:02d}Z",
                               payload='{"type":"ping"}', now=d.now())
        queue = _requests(counter)
        for item in store.list_deliveries(ws, hook.hook_id, limit=DELIVERIES):
            counter.take()
            webhooks_out.send(d, item)
            queue += _requests(counter)
        return {"webhooks_out.requests_per_delivery": round(queue / DELIVERIES, 2),
                "webhooks_out.delivered": receiver.count}
    finally:
        receiver.server.shutdown()
