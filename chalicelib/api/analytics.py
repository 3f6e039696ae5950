"""Analytics (G1-G5, D6): the dashboard, the workload heat map, operator and team KPIs, reports and their export.
Everything is read from the stream's counters (never from raw messages); `analytics:read` (analyst, admin)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.http import json_object
from chalicelib.api.routing import Ctx, route
from chalicelib.services import analytics, exports

bp = Blueprint(__name__)

NUM = {"type": ["number", "null"]}
SUMMARY = {"type": "object", "properties": {
    **{k: {"type": "integer"} for k in ("new", "messages_in", "messages_out", "first_responses", "resolved",
                                        "reopened", "sla_breaches", "csat_answers", "nps_answers", "nps_promoters",
                                        "nps_passives", "nps_detractors")},
    **{k: NUM for k in ("first_response_avg_s", "first_response_median_s", "first_response_p90_s",
                        "resolution_avg_s", "resolution_median_s", "resolution_p90_s", "csat_avg", "nps")},
    "csat_scores": {"type": "object", "description": "answers per score 1-5"}}}
PERIOD = {
    "from": {"type": "string", "description": "ISO date or date-time (UTC unless it has an offset); default: 7 days "
             "before `to`", "examples": ["2026-12-01"]},
    "to": {"type": "string", "description": "ISO date or date-time, excluded; default: now",
           "examples": ["2026-12-08"]},
}
ZONE = {"tz": {"type": "string", "description": "IANA time zone to show local days and hours in; default: the "
               "working hours' zone, else UTC", "examples": ["Europe/Moscow"]}}
DASHBOARD = {"type": "object", "properties": {
    "generated_at": {"type": "string"}, "from": {"type": "string"}, "split": {"type": "string"},
    "to": {"type": "string"}, "current": SUMMARY, "previous": SUMMARY, "waiting_now": {"type": "integer"},
    "oldest_waiting": {"type": ["object", "null"], "properties": {
        "conversation_id": {"type": "string"}, "contact_name": {"type": "string"}, "channel_id": {"type": "string"},
        "waiting_since": {"type": ["string", "null"]}, "waiting_s": {"type": "integer"}}},
    "channels": {"type": "array", "items": {"type": "object", "properties": {
        "channel_id": {"type": "string"}, "name": {"type": "string"}, "current": SUMMARY, "previous": SUMMARY}}},
    "hourly": {"type": "array", "items": {"type": "object"}}}}
HEATMAP = {"type": "object", "properties": {
    "time_zone": {"type": "string"}, "metric": {"type": "string"}, "from": {"type": "string"},
    "to": {"type": "string"}, "max": {"type": "integer"},
    "cells": {"type": "array", "description": "7 rows (Monday first) of 24 local hours",
              "items": {"type": "array", "items": {"type": "integer"}}}}}
KPI = {"type": "object", "properties": {
    **{k: {"type": "integer"} for k in ("handled", "replies", "first_responses", "csat_answers", "sla_breaches",
                                        "reopened")},
    **{k: NUM for k in ("first_response_median_s", "first_response_p90_s", "resolution_median_s",
                        "resolution_avg_s", "csat_avg", "nps")}}}
KPIS = {"type": "object", "properties": {
    "from": {"type": "string"}, "to": {"type": "string"}, "workspace": KPI,
    "operators": {"type": "array", "items": {"type": "object", "properties": {
        "user_id": {"type": "string"}, "name": {"type": "string"}, "role": {"type": "string"},
        **KPI["properties"]}}},  # type: ignore[dict-item]
    "teams": {"type": "array", "items": {"type": "object", "properties": {
        "team_id": {"type": "string"}, "name": {"type": "string"},
        "member_ids": {"type": "array", "items": {"type": "string"}}, **KPI["properties"]}}}}}  # type: ignore[dict-item]
REPORT = {"type": "object", "properties": {
    "group": {"type": "string"}, "interval": {"type": "string"}, "time_zone": {"type": "string"},
    "from": {"type": "string"}, "to": {"type": "string"},
    "groups": {"type": "array", "items": {"type": "object", "properties": {
        "key": {"type": "string"}, "name": {"type": "string"}, "totals": SUMMARY,
        "series": {"type": "array", "items": {"type": "object"}}}}}}}
EXPORT = {"type": "object", "properties": {
    "id": {"type": "string"}, "format": {"enum": list(exports.FORMATS)}, "rows": {"enum": list(exports.ROWS)},
    "state": {"enum": ["pending", "running", "done", "failed"]}, "rows_written": {"type": "integer"},
    "rows_expected": {"type": ["integer", "null"]}, "from": {"type": "string"}, "to": {"type": "string"},
    "url": {"type": ["string", "null"], "description": "a short-lived download link, when done"},
    "file_name": {"type": "string"}, "error": {"type": ["string", "null"]}, "created_at": {"type": "string"}}}
EXPORT_REQUEST = {"type": "object", "properties": {
    "format": {"enum": list(exports.FORMATS), "default": "csv"},
    "rows": {"enum": list(exports.ROWS), "default": "conversations",
             "description": "conversations: one row per conversation created in the period; hours: one row per "
                            "hour x channel / operator / tag counter"},
    "from": PERIOD["from"], "to": PERIOD["to"], "tz": ZONE["tz"]}}


def _period(ctx: Ctx) -> Any:
    return analytics.period(ctx.query("from"), ctx.query("to"), ctx.deps.now())


@route(bp, "/analytics/dashboard", "GET", permission="analytics:read", tag="analytics", response=DASHBOARD,
       summary="The last 24 h against the 24 h before: new, answered, waiting now, first response, per channel")
def get_dashboard(ctx: Ctx) -> dict[str, Any]:
    return analytics.dashboard(ctx.deps, ctx.workspace_id)


@route(bp, "/analytics/heatmap", "GET", permission="analytics:read", tag="analytics", response=HEATMAP,
       query={**PERIOD, **ZONE, "metric": {"enum": list(analytics.METRICS), "default": "in",
                                           "description": "in: customer messages; new: conversations; out: replies; "
                                                          "res: resolutions; fr: first responses"}},
       summary="Workload: weekday x hour in the workspace's time zone, for a period (at most 92 days)")
def get_heatmap(ctx: Ctx) -> dict[str, Any]:
    low, high = _period(ctx)
    zone = analytics.zone_of(ctx.workspace_id, ctx.query("tz"))
    return analytics.heatmap(ctx.workspace_id, low, high, zone, ctx.query("metric") or "in")


@route(bp, "/analytics/kpis", "GET", permission="analytics:read", tag="analytics", response=KPIS, query=PERIOD,
       summary="Per operator and per team: handled, first-response and resolution time, CSAT, for a period")
def get_kpis(ctx: Ctx) -> dict[str, Any]:
    low, high = _period(ctx)
    return analytics.kpis(ctx.workspace_id, low, high)


@route(bp, "/analytics/report", "GET", permission="analytics:read", tag="analytics", response=REPORT,
       query={**PERIOD, **ZONE, "group": {"enum": list(analytics.GROUPS), "default": "channel"},
              "interval": {"enum": list(analytics.INTERVALS), "default": "day"}},
       summary="A report by channel, tag, operator or in total, with a series per local day or hour")
def get_report(ctx: Ctx) -> dict[str, Any]:
    low, high = _period(ctx)
    zone = analytics.zone_of(ctx.workspace_id, ctx.query("tz"))
    return analytics.report(ctx.workspace_id, ctx.query("group") or "channel", low, high, zone,
                            ctx.query("interval") or "day")


@route(bp, "/analytics/exports", "POST", permission="analytics:read", tag="analytics", request=EXPORT_REQUEST,
       response=EXPORT, status=202,
       summary="Export a report as CSV or XLSX, streamed with no row cap: a background job; poll it for the link")
def post_export(ctx: Ctx) -> dict[str, Any]:
    assert ctx.principal is not None
    job = exports.request_export(ctx.deps, ctx.principal, json_object(ctx.request.raw_body))
    return exports.export_json(ctx.deps, job)


@route(bp, "/analytics/exports/{export_id}", "GET", permission="analytics:read", tag="analytics", response=EXPORT,
       summary="An export's progress, and its download link when done")
def get_export(ctx: Ctx, export_id: str) -> dict[str, Any]:
    return exports.export_json(ctx.deps, exports.require_export(ctx.workspace_id, export_id))
