"""Figure 2: latency of one webhook through the runner versus a bare PutItem (and versus health GET + PutItem).

The kinds of sample are interleaved, cycling through all their orders, so they share the machine's noise.
Webhooks carry unique updates from a pool of existing customers, with the channel cache warm, over a keep-alive
connection. The health GET of the fair baseline uses a new connection per request: on a keep-alive connection a
response with a body stalls ~40 ms in the runner's HTTP server (headers and body go out in two writes: Nagle's
algorithm waits for the client's delayed ACK), which webhook replies (no body) never hit. Both are reported.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable
from typing import Any

import requests

from bench import bare, harness
from bench.stats import ratio, summary_ms

GOAL_RATIO = 3.0


def measure(stack: Any, channel: harness.Channel, *, samples: int = 240, warmup: int = 20,
            customers: int = 20) -> dict[str, Any]:
    from chalicelib.services.deps import deps

    main_table = deps().settings.main_table
    ddb = bare.client(stack.ddb.endpoint)
    bare.create_table_like(ddb, main_table)
    session = requests.Session()
    chats = itertools.cycle([20_000_000 + secrets.randbelow(10**6) * 1000 + i for i in range(customers)])
    health_url = f"{stack.url}/api/health"
    failures: list[str] = []

    def ingest() -> float:
        update = harness.telegram_update(next(chats), "latency sample")
        posted = harness.post(session, channel, harness.encode(update))
        if posted.status != 200:
            failures.append(f"webhook {posted.status} {posted.error}".rstrip())
        return posted.seconds

    def health_on(client: requests.Session | None) -> Callable[[], float]:
        def health() -> float:
            started = time.perf_counter()
            getter = client.get if client is not None else requests.get
            status = getter(health_url, timeout=30).status_code
            if status != 200:
                failures.append(f"health {status}")
            return time.perf_counter() - started

        return health

    health = health_on(None)

    for _ in range(warmup):
        ingest()
        health()
    template = bare.sample_inbound_item(ddb, main_table)

    def put() -> float:
        return bare.put(ddb, template)

    for _ in range(warmup):
        put()
    times = _interleaved({"ingest": ingest, "put": put, "health": health, "keepalive": health_on(session)}, samples)
    drained = int(stack.pump.drain(timeout=120))  # untimed: leave the stream empty for the next figure
    combined = [h + p for h, p in zip(times["health"], times["put"], strict=True)]
    ingest_s, put_s, both_s = summary_ms(times["ingest"]), summary_ms(times["put"]), summary_ms(combined)
    return {
        "goal_ratio": GOAL_RATIO, "samples": samples, "failures": failures[:10], "failure_count": len(failures),
        "item_bytes": bare.item_size(template), "ingest": ingest_s, "bare_put": put_s,
        "health_get": summary_ms(times["health"]), "health_keepalive": summary_ms(times["keepalive"]),
        "health_plus_put": both_s,
        "ratio": ratio(ingest_s["median_ms"], put_s["median_ms"]),
        "ratio_p90": ratio(ingest_s["p90_ms"], put_s["p90_ms"]),
        "fair_ratio": ratio(ingest_s["median_ms"], both_s["median_ms"]),
        "stream_records_drained_after": drained,
    }


def _interleaved(kinds: dict[str, Callable[[], float]], samples: int) -> dict[str, list[float]]:
    orders = list(itertools.permutations(kinds))
    times: dict[str, list[float]] = {name: [] for name in kinds}
    for i in range(samples):
        for name in orders[i % len(orders)]:
            times[name].append(kinds[name]())
    return times
