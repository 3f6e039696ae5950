"""What `make run` prints (issue 17): nothing before the ready banner, the banner ends the start-up output, and it
holds everything a new user needs (URL, a working sign-in link, the admin key, the simulator, a curl). Later
e-mailed links are printed below it."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.ddblocal

REPO_ROOT = Path(__file__).resolve().parents[2]
LAST_LINE = "  Ctrl-C stops everything"


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str | None]:
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def _until(lines: queue.Queue[str | None], done: str, *, limit: float = 180.0) -> list[str]:
    """Lines up to and including the first that starts with `done` (the limit only stops a hung runner)."""
    seen: list[str] = []
    deadline = time.monotonic() + limit
    while True:
        line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        if line is None:
            raise AssertionError("the runner exited:\n" + "\n".join(seen))
        seen.append(line)
        if line.startswith(done):
            return seen


def test_the_ready_banner_is_all_that_start_up_prints_and_its_link_and_key_work():
    from chalicelib.local.dynamodb import free_port

    port, ddb_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("POWERTOOLS_LOG_LEVEL", "VERBOSE")}
    env.update({"DDB_PORT": str(ddb_port), "PYTHONUNBUFFERED": "1"})
    with tempfile.TemporaryDirectory(prefix="zabota-run-") as data:
        proc = subprocess.Popen([sys.executable, "-m", "chalicelib.local.runner", "--port", str(port),
                                 "--data-dir", data], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        try:
            lines = _lines(proc)
            start = _until(lines, LAST_LINE)
            url = f"http://127.0.0.1:{port}"
            first = next(i for i, line in enumerate(start) if line.strip())
            assert start[first] == f"Zabota is running at {url}/", start  # nothing was printed before it
            text = "\n".join(start)
            (link,) = re.findall(rf"{re.escape(url)}/api/auth/link\?token=\S+", text)
            (key,) = re.findall(r"zb_\w+_\w+", text)
            assert f"{url}/simulator/" in text and "curl -H 'X-Telegram-Bot-Api-Secret-Token:" in text

            page = requests.get(link, timeout=30)
            assert page.status_code == 200 and "admin@demo.example" in page.text and "Demo shop" in page.text
            me = requests.get(f"{url}/api/me", headers={"Authorization": f"Bearer {key}"}, timeout=30)
            assert me.status_code == 200, me.text
            asked = requests.post(f"{url}/api/auth/login-link", json={"email": "admin@demo.example"}, timeout=30)
            assert asked.status_code == 202
            printed = _until(lines, "  [outbox]")
            assert printed[-1].startswith("  [outbox] login for admin@demo.example: " f"{url}/api/auth/link?token=")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        rest = []
        while (line := lines.get(timeout=10)) is not None:
            rest.append(line)
        assert proc.returncode == 0
        assert printed[:-1] == [] and rest == ["stopping…"], (printed, rest)
