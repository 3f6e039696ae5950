"""Render the results as a readable table (each figure next to its goal) and write them as JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
WIDTH = 100


def write_json(results: dict[str, Any], name: str = "latest.json") -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / name
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return path


def verdict(value: float | None, goal: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return "OK" if value <= goal else "MISSED"


def ops(by_operation: dict[str, float]) -> str:
    return ", ".join(f"{name} {_num(n)}" for name, n in by_operation.items()) or "-"


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if not value.is_integer() else str(int(value))
    return str(value)


def _row(label: str, value: str, goal: str = "", mark: str = "") -> str:
    return f"   {label:<34} {value:<40} {goal:<12} {mark}".rstrip()


def render(results: dict[str, Any]) -> str:
    meta = results.get("meta", {})
    lines = [
        "=" * WIDTH,
        f"Zabota ingest benchmark  {meta.get('date', '?')}  commit {meta.get('commit', '?')}  "
        f"{meta.get('cpus', '?')} CPUs  Python {meta.get('python', '?')}  load {meta.get('load', '?')}  "
        f"({meta.get('seconds', '?')} s)",
        "=" * WIDTH,
        _row("figure", "value", "goal", "verdict"),
    ]
    sections: list[tuple[str, str, Callable[[dict[str, Any]], list[str]]]] = [
        ("ddb_calls", "1. DynamoDB requests per inbound webhook", _calls),
        ("ingest_latency", "2. Ingest latency vs bare PutItem (same run, interleaved)", _latency),
        ("burst", "3. Burst: 2,000 webhooks, 16 threads, 10% duplicates", _burst),
        ("cold_import", "4. Cold import: `import app` vs `import boto3, chalice, pynamodb.models`", _imports),
        ("frontend", "5. Console and widget: JavaScript shipped (gzip), webhook -> shown in an open console", _flat),
        ("deploy", "6. Lambda bundle, cold import from the packaged bundle, dollars per million messages", _flat),
        ("automation", "7. Timers (idle tick, per fired, lag of 1,000) and outgoing webhook deliveries", _flat),
        ("tasks", "8. Tasks: read units of 'my overdue' at 10,000 vs 100 tasks; DynamoDB requests per create", _tasks),
        ("analytics", "9. Analytics: dashboard reads at 100k vs 1k messages, counter writes per message, export",
         _analytics),
        ("surveys", "10. Surveys: DynamoDB requests per close (on minus off) and per answer", _surveys),
        ("search", "11. Full-text search: query p95 at 100,000 documents vs the bare engine; index lag", _search),
        ("backup", "12. Backups: export of a 100,000-item workspace (seconds, memory), import", _backup),
    ]
    for key, title, body in sections:
        lines.append("-" * WIDTH)
        lines.append(title)
        data = results.get(key)
        if not isinstance(data, dict):
            lines.append("   not run")
        elif "error" in data:
            lines.append(f"   FAILED: {data['error']}")
        else:
            lines.extend(body(data))
    lines.append("-" * WIDTH)
    lines.append("Cost (issue 14): counted units x list prices, this run")
    try:
        lines.extend(_cost_summary(results))
    except (KeyError, TypeError) as err:
        lines.append(f"   not available: {type(err).__name__}: {err}")
    lines.append("=" * WIDTH)
    return "\n".join(lines)


COST_GOALS = {"per_million_followups_usd": 5.0, "per_million_new_conversations_usd": 8.0,
              "per_million_replies_usd": 5.0, "idle_month_usd": 0.50}


def _cost_summary(results: dict[str, Any]) -> list[str]:
    """The issue's named figures, each with its goal: dollars per million, idle month, units, cold import."""
    cost = results["deploy"]["cost"]
    inbound = cost["usd_per_million_inbound"]
    figures = {
        "per_million_followups_usd": inbound["follow_up"]["total"],
        "per_million_new_conversations_usd": inbound["new_conversation"]["total"],
        "per_million_replies_usd": cost["usd_per_million_operator_replies"]["total"],
        "idle_month_usd": cost["idle_usd_per_month"]["total"],
    }
    rows = [_row(f"cost.{name}", f"{value:.2f}", f"<= {COST_GOALS[name]:.2f}", verdict(value, COST_GOALS[name]))
            for name, value in figures.items()]
    follow = cost["counted"]["follow_up_message"]
    units = follow["stream_units"].get("write_units", 0.0)
    rows.append(_row("ddb.stream_write_units_per_followup", _num(units), "", ""))
    rows.append(_row("  the webhook's own write units", _num(follow["request_units"].get("write_units", 0.0))))
    rows.append(_row("  stream invocations / records per follow-up",
                     f"{_num(follow['stream_invocations'])} / {_num(follow['stream_records'])}"))
    for event in ("new_conversation_message", "follow_up_message", "operator_reply"):  # the stream filter's effect
        counted = cost["counted"][event]
        rows.append(_row(f"  {event}: stream invocations, records filtered out",
                         f"{_num(counted['stream_invocations'])}, {_num(counted.get('stream_records_filtered', 0))}"))
    reply = cost["counted"]["operator_reply"]  # the outbound path: the API's writes, then the stream's (the send)
    rows.append(_row("ddb.write_units_per_reply", f"{_num(reply['request_units'].get('write_units', 0.0))} API + "
                     f"{_num(reply['stream_units'].get('write_units', 0.0))} stream"))
    calls = results.get("ddb_calls", {})
    if isinstance(calls, dict) and "warm" in calls:
        goal = calls["goal_per_webhook"]
        rows.append(_row("ddb.webhook_requests_per_message", _num(calls["warm"]["per_webhook"]), f"<= {goal}",
                         verdict(calls["warm"]["per_webhook"], goal)))
    imports = results["deploy"].get("cold_import", {})
    if isinstance(imports, dict) and "cpu" in imports:
        goal = imports["goal_ratio"]
        for handler, ratio in sorted(imports["cpu"]["ratios"].items()):
            rows.append(_row(f"cold_import.{handler}", f"{ratio:.2f}x", f"<= {goal}", verdict(ratio, goal)))
    return rows


def _flat(d: dict[str, Any], indent: str = "   ", depth: int = 0) -> list[str]:
    """Sections measured by other modules: their figures as nested `name: value` lines."""
    lines: list[str] = []
    for key, value in d.items():
        if isinstance(value, dict) and depth < 2:
            lines.append(f"{indent}{key}:")
            lines.extend(_flat(value, indent + "  ", depth + 1))
        else:
            text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else value
            lines.append(f"{indent}{key}: {text[:160]}")
    return lines


def _tasks(d: dict[str, Any]) -> list[str]:
    small, big, creates = d["my_overdue_at_100"], d["my_overdue_at_10k"], d["creates"]
    return [
        _row("tasks.list_read_units_10k_over_100", f"{_num(d['list_read_units_10k_over_100'])}  "
             f"({_num(big['list_read_units'])} / {_num(small['list_read_units'])} RCU)", f"<= {d['goal_ratio']}",
             verdict(d["list_read_units_10k_over_100"], d["goal_ratio"])),
        _row("  badge count, 10k / 100", f"{_num(big['badge_read_units'])} / {_num(small['badge_read_units'])} RCU"),
        _row("  contrast: mine current by status", f"{_num(big['contrast_mine_current_by_status_read_units'])} / "
             f"{_num(small['contrast_mine_current_by_status_read_units'])} RCU (sorted in memory)"),
        _row("tasks.create_requests", f"{_num(d['create_requests'])}  ({ops(creates['standalone_by_operation'])})",
             "no goal"),
        _row("  with an assignee", f"{_num(creates['with_assignee_per_create'])}  "
             f"({ops(creates['with_assignee_by_operation'])})"),
        _row("  first create of a cold process", str(creates["cold_process_first_create"])),
    ]


def _analytics(d: dict[str, Any]) -> list[str]:
    goals = d["goals"]
    return [
        _row("analytics.dashboard_read_units_100k_over_1k", f"{_num(d['dashboard_read_units_100k_over_1k'])}  "
             f"({_num(d['read_units_100k'])} / {_num(d['read_units_1k'])} RCU)",
             f"<= {goals['dashboard_read_units_100k_over_1k']}",
             verdict(d["dashboard_read_units_100k_over_1k"], goals["dashboard_read_units_100k_over_1k"])),
        _row("  first open in an hour (folds the deltas, sums the final hours)",
             f"{_num(d.get('first_open_of_the_hour_read_units_100k'))} / "
             f"{_num(d.get('first_open_of_the_hour_read_units_1k'))} RCU"),
        _row("analytics.stream_writes_per_message", f"{_num(d['stream_writes_per_message'])} WCU  "
             f"(burst of {d['burst_messages']}, {d['burst_delta_items']} delta items)",
             f"<= {goals['stream_writes_per_message']}",
             verdict(d["stream_writes_per_message"], goals["stream_writes_per_message"])),
        _row("  one message per batch (a trickle)", f"{_num(d['one_message_per_batch_write_units'])} WCU"),
        _row("analytics.export_100k_s_over_library", f"{_num(d['export_100k_s_over_library'])}  "
             f"(XLSX {_num(d['xlsx_100k_s'])} s / {_num(d['xlsx_library_100k_s'])} s)",
             f"<= {goals['export_100k_s_over_library']}",
             verdict(d["export_100k_s_over_library"], goals["export_100k_s_over_library"])),
        _row("  CSV vs the csv module", f"{_num(d['csv_100k_s_over_library'])}  "
             f"({_num(d['csv_100k_s'])} s / {_num(d['csv_library_100k_s'])} s)"),
        _row("  export peak memory 10k / 100k rows", f"XLSX {d['xlsx_peak_kb_10k']} / {d['xlsx_peak_kb_100k']} KB, "
             f"CSV {d['csv_peak_kb_10k']} / {d['csv_peak_kb_100k']} KB"),
    ]


def _surveys(d: dict[str, Any]) -> list[str]:
    return [
        _row("surveys.extra_requests_per_close", f"{_num(d['extra_requests_per_close'])}  "
             f"({ops(d['extra_per_close_by_operation'])})", "no goal"),
        _row("surveys.requests_per_button_answer", f"{_num(d['requests_per_button_answer'])}  "
             f"({ops(d['button_answer_by_operation'])})", "no goal"),
        _row("surveys.requests_per_text_answer", f"{_num(d['requests_per_text_answer'])}  "
             f"({ops(d['text_answer_by_operation'])})", "no goal"),
        _row("surveys.extra_requests_per_ordinary_message", _num(d["extra_requests_per_ordinary_message"]), "0"),
    ]


def _search(d: dict[str, Any]) -> list[str]:
    q, api, lag = d["query"], d["api"], d["lag"]
    return [
        _row("search.query_ms_p95_100k", f"{_num(q['query_ms_p95_100k_over_bare'])}x the bare engine  "
             f"({_num(q['query_ms_p95'])} / {_num(q['bare_ms_p95'])} ms, {q['docs']} docs)", "no goal"),
        _row("  p50, ours / bare", f"{_num(q['query_ms_p50'])} / {_num(q['bare_ms_p50'])} ms"),
        _row("  GET /api/search p50 / p95", f"{_num(api['api_ms_p50'])} / {_num(api['api_ms_p95'])} ms "
             f"({api['messages']} messages)"),
        _row("search.index_lag_p99_s", f"{_num(lag['index_lag_p99_s'])} s  (p50 {_num(lag['index_lag_p50_s'])} s, "
             f"{lag['messages']} messages)", "no goal"),
    ]


def _backup(d: dict[str, Any]) -> list[str]:
    growth = d["process_rss_growth_mib_during_100k_export"]
    return [
        _row("backup.export_100k_s", f"{_num(d['export_100k_s'])} s  ({d['items_exported']:,} items)", "no goal"),
        _row("backup.process_rss_growth_mib_during_100k_export", f"{_num(growth)} MiB",
             f"<= {d['goal_rss_growth_mib']}", verdict(growth, d["goal_rss_growth_mib"])),
        _row("backup.peak_100k_over_10k", f"{_num(d['peak_100k_over_10k'])}  ({_num(d['export_peak_mib_100k'])} / "
             f"{_num(d['export_peak_mib_10k'])} MiB, tracemalloc)", f"<= {d['goal_peak_ratio']}",
             verdict(d["peak_100k_over_10k"], d["goal_peak_ratio"])),
        _row("  export / bare Scan, 10,000 items", f"{_num(d['export_over_bare_scan_10k'])}"),
        _row("backup.import_10k_s", f"{_num(d['import_10k_s'])} s  ({d['items_imported']:,} items)", "no goal"),
    ]


def _calls(d: dict[str, Any]) -> list[str]:
    goal = d["goal_per_webhook"]
    cold, warm, stream = d["cold"], d["warm"], d["stream"]
    new, follow = stream["new_conversation"], stream["follow_up"]
    return [
        _row("webhook, cold (cache cleared)", f"{cold['total']}  ({ops(cold['by_operation'])})", f"<= {goal}",
             verdict(cold["total"], goal)),
        _row(f"webhook, warm (mean of {warm['webhooks']})", f"{_num(warm['per_webhook'])}  "
             f"({ops(warm['by_operation'])})", f"<= {goal}", verdict(warm["per_webhook"], goal)),
        _row("  statuses", json.dumps(d["statuses"])),
        _row("stream handler per inbound message", f"{_num(stream['per_message'])}  (mix of "
             f"{new['messages']} new + {follow['messages']} follow-ups)", "no goal"),
        _row("  new conversation (+greeting)", f"{_num(new['per_message'])}  ({ops(new['by_operation'])})"),
        _row("", f"by table: {ops(new['by_table'])}"),
        _row("", f"stream records per message: {_num(round(new['stream_records'] / max(new['messages'], 1), 1))}"),
        _row("  follow-up message", f"{_num(follow['per_message'])}  ({ops(follow['by_operation'])})"),
        _row("", f"by table: {ops(follow['by_table'])}"),
        _row("", f"stream records per message: "
                 f"{_num(round(follow['stream_records'] / max(follow['messages'], 1), 1))}"),
    ]


def _latency(d: dict[str, Any]) -> list[str]:
    goal = d["goal_ratio"]

    def ms(s: dict[str, Any]) -> str:
        return f"median {s['median_ms']:.2f} ms, p90 {s['p90_ms']:.2f} ms"

    lines = [
        _row(f"webhook POST over HTTP (n={d['ingest']['n']})", ms(d["ingest"])),
        _row(f"bare PutItem, {d['item_bytes']} B item", ms(d["bare_put"])),
        _row("GET /api/health, new connection", ms(d["health_get"])),
        _row("GET /api/health, keep-alive", ms(d["health_keepalive"])),
        _row("health GET (new conn.) + PutItem", ms(d["health_plus_put"])),
        _row("ratio ingest / bare put (median)", f"{d['ratio']:.2f}x  (p90: {d['ratio_p90']:.2f}x)", f"<= {goal}x",
             verdict(d["ratio"], goal)),
        _row("fairer: ingest / (health + put)", f"{d['fair_ratio']:.2f}x", f"<= {goal}x",
             verdict(d["fair_ratio"], goal)),
    ]
    if d["health_keepalive"]["median_ms"] > 5 * d["health_get"]["median_ms"]:
        lines.append("   note: keep-alive GETs stall ~40 ms (Nagle + delayed ACK: the runner's HTTP server sends")
        lines.append("         headers and body in two writes); webhook replies have no body, so they do not stall.")
    if d["failure_count"]:
        lines.append(_row("  failed requests", f"{d['failure_count']}: {', '.join(d['failures'])}"))
    return lines


def _burst(d: dict[str, Any]) -> list[str]:
    return [
        _row("posts / unique updates / customers", f"{d['posts']} / {d['unique_updates']} / {d['customers']}"),
        _row("5xx responses", str(d["status_5xx"]), "0", verdict(d["status_5xx"], 0)),
        _row("non-200 responses", f"{d['non_200']}  {json.dumps(d['statuses'])}", "0", verdict(d["non_200"], 0)),
        *([_row("  client errors", "; ".join(f"{n}x {e}" for e, n in d["client_errors"].items())),
           _row("  failed posts' n-th request of thread", str(d["failed_post_ordinals_per_thread"])),
           "     (no retries here; Telegram would redeliver an update that got no 200)"]
          if d["client_errors"] else []),
        _row("lost (unique - stored)", f"{d['lost']}  (never acknowledged: {d['never_acknowledged']})", "0",
             verdict(d["lost"], 0)),
        _row("doubled (stored - unique)", str(d["doubled"]), "0", verdict(d["doubled"], 0)),
        _row("  stored msgs / webhook items / convs", f"{d['stored_messages']} / {d['inbound_items']} / "
             f"{d['conversations']}  (unexpected {d['unexpected']})"),
        _row("webhook throughput", f"{d['webhooks_per_second']:.0f}/s  ({d['wall_seconds']} s)"),
        _row("bare PutItem throughput, 16 threads", f"{d['bare_puts_per_second']:.0f}/s  (before "
             f"{d['bare_before']:.0f}, after {d['bare_after']:.0f})"),
        _row("slowdown = bare put/s / webhook/s", f"{d['slowdown']:.2f}x", "no goal"),
        _row("urllib3 'connection pool is full'", f"{d['pool_full_warnings']} (16 handler threads share a "
             "pool of 10)"),
        _row("stream drain after the burst", f"{d['drained_records']} records in {d['drain_seconds']} s "
             f"({d['drain_records_per_second']}/s), parked {d['parked_records']}"),
    ]


def _imports(d: dict[str, Any]) -> list[str]:
    goal = d["goal_ratio"]
    lines = [
        _row(f"import app (median of {d['runs']})", f"{d['app_median_ms']:.0f} ms"),
        _row("import boto3, chalice, pynamodb", f"{d['baseline_median_ms']:.0f} ms"),
        _row("ratio of medians", f"{d['ratio']:.2f}x  (of minimums: {d['ratio_of_minimums']:.2f}x)", f"<= {goal}x",
             verdict(d["ratio"], goal)),
        _row("-X importtime self time", f"app {d['importtime_app_total_ms']} ms, baseline "
             f"{d['importtime_baseline_total_ms']} ms, not in baseline {d['importtime_added_ms']} ms"),
        "   largest cumulative import per package (ours/third-party); 'added' = part the baseline does not import:",
        f"     {'cumul.':>8} {'added':>8}  {'module':<44} imported by",
    ]
    lines += [f"     {r['cumulative_ms']:>5.1f} ms {r['added_ms']:>5.1f} ms  {r['module']:<44} {r['imported_by']}"
              for r in d["largest_cumulative"]]
    lines.append("   who pulls in what the baseline does not import (added ms; nested edges overlap):")
    lines += [f"     {r['added_ms']:>5.1f} ms  {r['importer']} -> {r['module']}" for r in d["largest_additions"]]
    lines.append("   not-in-baseline self time by package (ms): " + ops(d["added_self_by_package_ms"]))
    return lines
