"""The export worker function: one report export per invocation (services/exports.py `work`).

Invoked asynchronously by the stream (and by the watchdog timer) with `{"workspace_id", "export_id"}`; in
embedded mode the runner calls the same handler on a thread of its own (chalicelib/local/workers.py). Registered
in `app.py` with `app.lambda_function` (its own memory, timeout, role and log group: .chalice/config.json,
infra/resources.yaml). Lambda's own retries of an asynchronous invoke are off: the watchdog restarts a job.
"""

from __future__ import annotations

from typing import Any

from chalicelib.services import exports
from chalicelib.services.deps import deps


def export_worker(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda finds it as `app.export_worker` (Chalice names the handler after the function)."""
    ws, export_id = str(event.get("workspace_id") or ""), str(event.get("export_id") or "")
    if not ws or not export_id:
        return {"outcome": "invalid"}
    return {"outcome": exports.work(deps(), ws, export_id)}
