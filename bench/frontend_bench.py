"""Frontend figures (issue 5): `run() -> dict`.

1. Initial JavaScript of the operator console, gzip -9: the module script and module preloads that index.html
   loads before the first paint (goal <= 150 KB), plus its CSS for information.
2. widget.js, gzip -9 (goal <= 30 KB).
3. Webhook -> shown in an open console, measured in the browser: an embedded stack (DynamoDB Local in memory, the
   stream pump running as in `make run`), Debian's Chromium signed in with the conversation open; for each of 100
   messages the page POSTs the provider's signed webhook itself and waits until the text is in the thread, both
   timed with `performance.now()` (goal p99 <= 1.5 s).

`python -m bench.frontend_bench` prints the result as JSON. The frontend is built first when `frontend/dist` is
missing.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.stats import percentile

REPO_ROOT = Path(__file__).resolve().parents[1]
DIST = REPO_ROOT / "frontend" / "dist"
MESSAGES = 100
GOALS = {"console_initial_js_gzip_kb": 150, "widget_js_gzip_kb": 30, "webhook_to_console_p99_ms": 1500}
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
log = logging.getLogger("bench.frontend")

# Runs in the page: post one webhook, resolve with the milliseconds until its text shows in the open thread.
TIME_ONE = """async ({url, headers, body, marker}) => {
  const log = document.querySelector('[role="log"]');
  const shown = () => log && log.textContent.includes(marker);
  const started = performance.now();
  const seen = new Promise((resolve, reject) => {
    const observer = new MutationObserver(() => {
      if (shown()) { observer.disconnect(); resolve(performance.now() - started); }
    });
    observer.observe(log, {childList: true, subtree: true, characterData: true});
    setTimeout(() => { observer.disconnect(); reject(new Error('not shown within 15 s')); }, 15000);
  });
  const answer = await fetch(url, {method: 'POST', headers, body});
  if (!answer.ok) throw new Error('webhook answered ' + answer.status);
  return await seen;
}"""


def gzip_size(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9))


def ensure_built() -> None:
    if not (DIST / "index.html").is_file() or not (DIST / "widget.js").is_file():
        subprocess.run(["npm", "run", "--silent", "build"], cwd=REPO_ROOT, check=True)


def initial_assets(index_html: str) -> tuple[list[str], list[str]]:
    """The scripts (module entry and module preloads) and style sheets index.html loads up front."""
    scripts = re.findall(r'<script[^>]*type="module"[^>]*src="([^"]+)"', index_html)
    scripts += re.findall(r'<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"', index_html)
    styles = re.findall(r'<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"', index_html)
    return scripts, styles


def sizes() -> dict[str, Any]:
    ensure_built()
    scripts, styles = initial_assets((DIST / "index.html").read_text())
    js = sum(gzip_size(DIST / src.lstrip("/")) for src in scripts)
    css = sum(gzip_size(DIST / href.lstrip("/")) for href in styles)
    widget = gzip_size(DIST / "widget.js")
    return {
        "console_initial_js_gzip_kb": round(js / 1024, 1), "console_initial_js_files": len(scripts),
        "console_css_gzip_kb": round(css / 1024, 1), "widget_js_gzip_kb": round(widget / 1024, 1),
    }


def _start_stack() -> Any:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # before the app's logger is built
    from chalicelib.local.dynamodb import free_port
    from chalicelib.local.runner import EmbeddedStack, StackConfig

    config = StackConfig(port=free_port(), data_dir=tempfile.mkdtemp(prefix="zabota-bench-fe-"), in_memory=True,
                         tick_seconds=3600)
    stack = EmbeddedStack(config)
    try:
        return stack.start()
    except BaseException:
        stack.stop()
        raise


def _signed_update(channel: Any, user_id: str, text: str) -> tuple[dict[str, str], str]:
    from chalicelib.local.fakes import telegram

    simulated = telegram.simulate_customer(channel, user_id=user_id, name="Bench", text=text)
    return dict(simulated.headers), simulated.body.decode()


def latency(messages: int = MESSAGES) -> dict[str, Any]:
    """Webhook -> shown in the open console, over `messages` sequential customer messages."""
    from playwright.sync_api import sync_playwright

    ensure_built()
    stack = _start_stack()
    try:
        from chalicelib.auth.keys import create_api_key
        from chalicelib.local import demo
        from chalicelib.services.deps import deps

        key = create_api_key(demo.WORKSPACE, "admin", name="bench", now=deps().now())
        channel = stack.demo.telegram
        url = f"{stack.url}/api/webhooks/telegram/{channel.id}"
        user_id = "7999001"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
                                                 args=CHROMIUM_FLAGS)
            page = browser.new_page(locale="en-US")
            page.goto(stack.url)
            page.evaluate("key => localStorage.setItem('zabota.apiKey', key)", key)
            headers, body = _signed_update(channel, user_id, "bench: first message")
            page.evaluate("async ({url, headers, body}) => { await fetch(url, {method: 'POST', headers, body}); }",
                          {"url": url, "headers": headers, "body": body})
            page.goto(stack.url)
            page.get_by_role("link", name="Bench").click(timeout=30_000)
            page.locator(".live[data-state='open']").wait_for(timeout=15_000)
            page.get_by_role("log").get_by_text("bench: first message").wait_for(timeout=15_000)
            samples = []
            for n in range(messages):
                marker = f"bench message {n} {time.time_ns()}"
                headers, body = _signed_update(channel, user_id, marker)
                samples.append(page.evaluate(TIME_ONE, {"url": url, "headers": headers, "body": body,
                                                        "marker": marker}))
            browser.close()
    finally:
        stack.stop()
        shutil.rmtree(stack.config.data_dir, ignore_errors=True)
    return {
        "n": len(samples), "p50_ms": round(percentile(samples, 50), 1), "p99_ms": round(percentile(samples, 99), 1),
        "max_ms": round(max(samples), 1), "mean_ms": round(sum(samples) / len(samples), 1),
    }


def run() -> dict[str, Any]:
    """The three figures of issue 5, with the goals beside them."""
    result: dict[str, Any] = {**sizes(), "goals": GOALS}
    try:
        result["webhook_to_console"] = latency()
    except Exception as err:  # noqa: BLE001 - the sizes still count when the browser part fails
        log.exception("webhook -> console latency failed")
        result["webhook_to_console"] = {"error": f"{type(err).__name__}: {err}"}
    return result


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(run(), indent=2))
    sys.exit(0)
