"""Backups (I2) from the console: the admin's export goes into the file store, and a short-lived link to it comes
back. The format and the import are in store/backup.py (the CLI runs both)."""

from __future__ import annotations

import tempfile
from typing import Any

from chalicelib.services.deps import Deps
from chalicelib.store import backup


def export_to_storage(d: Deps, ws: str) -> dict[str, Any]:
    """Export into a spooled temporary file (memory up to 8 MB, then disk), store it, link it. In AWS the request
    has API Gateway's 29 s: large workspaces export with the CLI, which has no limit."""
    now = d.now()
    stamp = now.strftime("%Y%m%d-%H%M%S")
    name = f"zabota-{ws}-{stamp}.jsonl"
    key = f"{ws}/{backup.EXPORTS_PREFIX}{name}"
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024, mode="w+", encoding="utf-8") as out:
        summary = backup.export_workspace(ws, out, files=d.files, now=now)  # type: ignore[arg-type]
        out.seek(0)
        d.files.put(key, out.read().encode(), "application/x-ndjson")
    return {"url": d.files.link(key, file_name=name), "file_name": name, "items": summary.items,
            "users": summary.users, "files": summary.files, "bytes": summary.bytes}
