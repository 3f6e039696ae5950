"""DynamoDB Local killed in the middle of a 1,000-webhook burst, then restarted: run by test_fault_burst.py.

Its own embedded stack in its own process (DynamoDB Local keeps its tables on disk in a temporary folder, so they
survive the restart; the session's stack of the other tests is in memory and never touched). 1,000 Telegram
updates are posted from 8 threads; after the 300th answer DynamoDB Local is killed (SIGKILL) and started again
on the same port and folder while the burst goes on. Then Telegram's retries are played: every update that did
not get 200 is posted again until it does, and 100 that did get 200 are posted again as well (a retry whose
answer was lost). The stream is drained, and the figures go to the JSON file named on the command line.

    python -m tests.integration.fault_burst out.json
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

TOTAL = 1000
THREADS = 8
KILL_AFTER = 300
CUSTOMERS = 50
RESENT_DELIVERED = 100
RETRY_ROUNDS = 30


def main(out_path: str) -> int:
    for name, value in {"SEND_BACKOFF_SECONDS": "0.01", "SEND_MAX_ATTEMPTS": "4", "SEND_MAX_WAIT_SECONDS": "5",
                        "POWERTOOLS_LOG_LEVEL": "ERROR"}.items():
        os.environ.setdefault(name, value)
    from bench import harness
    from chalicelib.local.dynamodb import DynamoDBLocal, free_port
    from chalicelib.local.runner import EmbeddedStack, StackConfig

    data_dir = tempfile.mkdtemp(prefix="zabota-fault-")
    config = StackConfig(port=free_port(), data_dir=data_dir, in_memory=False, ddb_port=free_port(),
                         start_pump=False, tick_seconds=3600, pump_backoff_base=0.05, pump_max_attempts=10,
                         seed_demo=False)
    stack = EmbeddedStack(config).start()
    try:
        figures = _burst(stack, harness, DynamoDBLocal)
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump(figures, handle, indent=2)
    return 0


def _burst(stack: Any, harness: Any, ddb_class: Any) -> dict[str, Any]:
    channel = harness.new_channel(stack)
    stack.pump.drain(timeout=60)
    tag = secrets.token_hex(3)
    base = 40_000_000 + secrets.randbelow(10**6) * 100
    texts = [f"fault {tag} #{k}" for k in range(TOTAL)]
    bodies = [harness.encode(harness.telegram_update(base + k % CUSTOMERS, text)) for k, text in enumerate(texts)]
    first: list[int] = [0] * TOTAL
    answered = 0
    lock = threading.Lock()
    killed = threading.Event()
    restarted = threading.Event()
    sessions = threading.local()

    def restart() -> None:
        old = stack.ddb
        process = old._process
        process.kill()  # SIGKILL: no shutdown, in the middle of whatever it was writing
        process.wait(timeout=30)
        old.stop()  # closes its log; the process is gone already
        stack.ddb = ddb_class(port=old.port, data_dir=old.data_dir)
        stack.ddb.start()
        restarted.set()

    def send(index: int) -> None:
        nonlocal answered
        if not hasattr(sessions, "session"):
            sessions.session = requests.Session()
        first[index] = harness.post(sessions.session, channel, bodies[index]).status
        with lock:
            answered += 1
            if answered == KILL_AFTER and not killed.is_set():
                killed.set()
                threading.Thread(target=restart, daemon=True).start()

    started = time.monotonic()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(send, range(TOTAL)))
    burst_seconds = time.monotonic() - started
    if not restarted.wait(timeout=120):
        raise RuntimeError("DynamoDB Local did not come back")

    # Telegram's retries: every update without a 200 again, until it gets one; and some that got one
    final = list(first)
    attempts = Counter[int]()
    retry_statuses: Counter[int] = Counter()
    session = requests.Session()

    def retry(index: int) -> None:
        if not hasattr(sessions, "session"):
            sessions.session = requests.Session()
        final[index] = harness.post(sessions.session, channel, bodies[index]).status

    retried_at = time.monotonic()
    with ThreadPoolExecutor(THREADS) as pool:
        for _ in range(RETRY_ROUNDS):
            pending = [i for i, status in enumerate(final) if status != 200]
            if not pending:
                break
            list(pool.map(retry, pending))
            for index in pending:
                attempts[index] += 1
                retry_statuses[final[index]] += 1
            time.sleep(0.5)
    retry_seconds = time.monotonic() - retried_at
    delivered_first = [i for i, status in enumerate(first) if status == 200]
    resent = random.Random(11).sample(delivered_first, min(RESENT_DELIVERED, len(delivered_first)))
    resent_statuses = Counter(harness.post(session, channel, bodies[i]).status for i in resent)

    drained, drain_started = 0, time.monotonic()
    for _ in range(10):
        count = int(stack.pump.drain(timeout=120))
        drained += count
        if count == 0:
            break
    stored = _stored_texts(stack, channel)
    counts = Counter(stored)
    return {
        "total": TOTAL, "threads": THREADS, "killed_after_answers": KILL_AFTER,
        "burst_seconds": round(burst_seconds, 2),
        "first_statuses": dict(Counter(first)), "retry_statuses": dict(retry_statuses),
        "resent_delivered": len(resent), "resent_statuses": dict(resent_statuses),
        "max_attempts": max(attempts.values(), default=0), "never_delivered": sum(1 for s in final if s != 200),
        "delivered_first_missing": sum(1 for i in delivered_first if counts[texts[i]] == 0),
        "missing": sum(1 for t in texts if counts[t] == 0), "doubled": sum(1 for t in texts if counts[t] > 1),
        "stored_messages": len(stored), "stream_records_drained": drained,
        "retry_seconds": round(retry_seconds, 2), "drain_seconds": round(time.monotonic() - drain_started, 2),
    }


def _stored_texts(stack: Any, channel: Any) -> list[str]:
    """The customers' messages of the burst's workspace, read through the operator's API."""
    session = requests.Session()
    headers = {"Authorization": f"Bearer {channel.api_key}"}
    texts: list[str] = []
    conversations: list[dict[str, Any]] = []
    for status in ("new", "in_progress", "closed"):
        cursor = None
        while True:
            params: dict[str, Any] = {"status": status, "limit": 100, **({"cursor": cursor} if cursor else {})}
            page = session.get(f"{stack.url}/api/conversations", params=params, headers=headers, timeout=60).json()
            conversations.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
    for conv in conversations:
        cursor = None
        while True:
            params = {"limit": 200, **({"before": cursor} if cursor else {})}
            page = session.get(f"{stack.url}/api/conversations/{conv['id']}/messages", params=params,
                               headers=headers, timeout=60).json()
            texts.extend(m["text"] for m in page["items"] if m["direction"] == "in")
            cursor = page.get("next_cursor")
            if not cursor:
                break
    return texts


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
