"""Full-text search (B1): `search.query_ms_p95_100k` and `search.index_lag_p99_s`.

1. Query time at 100,000 documents, as a ratio measured in one run: the p95 of our search interface (parse the
   query into stems, the FTS5 query with bm25 and the filters, the snippets with their marks:
   `chalicelib/search`) over the p95 of the bare engine on the same index (the same FTS5 MATCH of the same
   stems, ranked, row ids only). The corpus is generated: Russian and English support messages from a fixed
   vocabulary in several word forms (seeded, so every run indexes the same text). Also the API's own time for the
   same queries (`GET /api/search`, with the page's conversations read in one BatchGetItem) at 500 messages
   of real conversations on the embedded stack.
2. Index lag: a customer's message posted to the webhook until `GET /api/search` finds it, with the stream pump
   running in the background as in `make run`, 100 messages one after another; p50 / p99 in seconds.
"""

from __future__ import annotations

import random
import secrets
import tempfile
import time
from typing import Any

import requests

from bench import harness
from bench.stats import percentile

DOCS = 100_000
QUERIES = 300
LAG_MESSAGES = 100
API_DOCS = 500
RU = ["заказ", "заказы", "заказа", "доставка", "доставки", "доставку", "курьер", "курьера", "возврат", "возврата",
      "деньги", "оплата", "оплаты", "карта", "карты", "ёлка", "ёлку", "посылка", "посылку", "товар", "товары",
      "сломан", "сломанная", "неделю", "жду", "ждём", "адрес", "адреса", "скидка", "скидку", "промокод", "магазин",
      "размер", "размера", "цвет", "кроссовки", "куртка", "куртку", "телефон", "номер", "почта", "письмо"]
EN = ["order", "orders", "ordered", "shipping", "shipped", "ships", "refund", "refunds", "refunded", "payment",
      "card", "delivery", "delivered", "courier", "parcel", "broken", "size", "color", "return", "returned",
      "discount", "code", "store", "shoes", "jacket", "phone", "number", "mail", "waiting", "week", "address"]
FILLER = ["и", "в", "на", "где", "мой", "уже", "когда", "почему", "the", "my", "is", "where", "when", "please", "a"]


def _sentence(rng: random.Random) -> str:
    words = rng.choice([RU, EN])
    picked = [rng.choice(words) for _ in range(rng.randint(4, 14))] + rng.sample(FILLER, 3)
    rng.shuffle(picked)
    return " ".join(picked) + rng.choice([".", "?", "!"]) + f" #{rng.randint(1000, 99999)}"


def build_index(docs: int, root: str, *, seed: int = 15) -> Any:
    from chalicelib.search import documents
    from chalicelib.search.engines import LocalEngine

    rng = random.Random(seed)
    engine = LocalEngine(root)
    batch = []
    for i in range(docs):
        message = _Message(f"c{i % 5000:05d}", f"m{i:07d}", _sentence(rng))
        batch.extend(documents.message_ops(message, None))
        if len(batch) >= 2000:
            engine.add("bench", batch)
            batch = []
    engine.add("bench", batch)
    engine.index_of("bench").optimize()
    return engine


class _Message:
    def __init__(self, conv: str, mid: str, text: str) -> None:
        self.conversation_id, self.message_id, self.text = conv, mid, text
        self.direction, self.deleted, self.hidden, self.occurred_at, self.created_at = "in", False, False, "", ""


def _queries(rng: random.Random) -> list[str]:
    return [" ".join(rng.sample(rng.choice([RU, EN]), rng.choice([1, 1, 2]))) + " " for _ in range(QUERIES)]


def measure_query(docs: int = DOCS) -> dict[str, Any]:
    from chalicelib.search import analyze
    from chalicelib.search.index import Filter

    root = tempfile.mkdtemp(prefix="zabota-search-bench-")
    started = time.perf_counter()
    engine = build_index(docs, root)
    build_s = time.perf_counter() - started
    index = engine.index_of("bench")
    queries = _queries(random.Random(7))
    parsed = [analyze.parse_query(q) for q in queries]
    for q in parsed[:20]:  # warm both paths (page cache, statements)
        index.bare(q.fts(), 21)
        engine.search("bench", q, Filter(), limit=21, offset=0)
    ours, bare, hits = [], [], []
    for text, q in zip(queries, parsed, strict=True):  # alternate, so load changes hit both alike
        t0 = time.perf_counter()
        index.bare(q.fts(), 21)
        bare.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        query = analyze.parse_query(text)
        found = engine.search("bench", query, Filter(), limit=21, offset=0)
        for hit in found[:20]:
            analyze.snippet(hit.doc.body, query)
        ours.append((time.perf_counter() - t0) * 1000)
        hits.append(len(found))
    p95_ours, p95_bare = percentile(ours, 95), percentile(bare, 95)
    return {"docs": index.count(), "queries": len(queries), "build_s": round(build_s, 1),
            "query_ms_p95": round(p95_ours, 2), "bare_ms_p95": round(p95_bare, 2),
            "query_ms_p50": round(percentile(ours, 50), 2), "bare_ms_p50": round(percentile(bare, 50), 2),
            "query_ms_p95_100k_over_bare": round(p95_ours / p95_bare, 2) if p95_bare else None,
            "median_hits_per_query": sorted(hits)[len(hits) // 2]}


def measure_api(stack: Any) -> dict[str, Any]:
    """GET /api/search on real conversations (index fed by the stream): p50 / p95 ms of the whole request."""
    channel = harness.new_channel(stack)
    rng = random.Random(3)
    session = requests.Session()
    for i in range(API_DOCS):
        update = harness.telegram_update(8_000_000 + i % 200, _sentence(rng))
        assert harness.post(session, channel, harness.encode(update)).status == 200
    stack.pump.drain(timeout=600)
    times = []
    for text in _queries(random.Random(11))[:100]:
        t0 = time.perf_counter()
        resp = session.get(f"{channel.url}/api/search", params={"q": text},
                           headers={"Authorization": f"Bearer {channel.api_key}"}, timeout=30)
        times.append((time.perf_counter() - t0) * 1000)
        assert resp.status_code == 200, resp.text
    return {"messages": API_DOCS, "api_ms_p50": round(percentile(times, 50), 1),
            "api_ms_p95": round(percentile(times, 95), 1)}


def measure_lag(stack: Any) -> dict[str, Any]:
    channel = harness.new_channel(stack)
    session = requests.Session()
    headers = {"Authorization": f"Bearer {channel.api_key}"}
    lags = []
    stack.pump.start()
    try:
        for i in range(LAG_MESSAGES):
            word = f"lag{secrets.token_hex(5)}"
            update = harness.telegram_update(9_000_000 + i, f"где мой заказ {word}")
            started = time.perf_counter()
            assert harness.post(session, channel, harness.encode(update)).status == 200
            while True:
                found = session.get(f"{channel.url}/api/search", params={"q": word + " "}, headers=headers,
                                    timeout=30).json()["items"]
                if found:
                    break
                if time.perf_counter() - started > 60:
                    raise TimeoutError(f"message {i} not findable after 60 s")
                time.sleep(0.02)
            lags.append(time.perf_counter() - started)
    finally:
        stack.pump.stop()
    return {"messages": len(lags), "index_lag_p50_s": round(percentile(lags, 50), 2),
            "index_lag_p99_s": round(percentile(lags, 99), 2)}


def measure(stack: Any) -> dict[str, Any]:
    query = measure_query()
    return {"query": query, "query_ms_p95_100k_over_bare": query["query_ms_p95_100k_over_bare"],
            "api": measure_api(stack), "lag": (lag := measure_lag(stack)), "index_lag_p99_s": lag["index_lag_p99_s"]}


if __name__ == "__main__":
    import json

    stack = harness.start_stack()
    try:
        print(json.dumps(measure(stack), indent=2))
    finally:
        harness.stop_stack(stack)
