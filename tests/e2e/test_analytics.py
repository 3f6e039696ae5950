"""Analytics (G1-G5) on DynamoDB Local with the real stream: counters exactly once (a randomised burst with
duplicates and replayed batches, recounted from the raw items), the dashboard, surveys counted from SurveyItems,
KPIs, reports, exports, isolation and bad input."""

from __future__ import annotations

import csv
import io
import random
from collections import Counter
from datetime import timedelta

import pytest
import requests

from chalicelib.domain import analytics as rules
from tests.e2e.test_automation_sla import chat_id, customer_writes
from tests.e2e.test_team_support import add_user
from tests.support import customer_message, new_workspace

pytestmark = pytest.mark.ddblocal


def api(ws, path, **params):
    resp = ws.api("GET", path, params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def all_counters(ws_id: str, kind: str) -> dict[str, dict[str, int]]:
    """Every counter of one kind, summed per dimension value (all hours; a channel's and an operator's message
    counts folded into the workspace-hour items included)."""
    from datetime import UTC, datetime

    from chalicelib.services import analytics

    out: dict[str, dict[str, int]] = {}
    for _, value, metrics in analytics.rows(ws_id, kind, datetime(2000, 1, 1, tzinfo=UTC),
                                            datetime(2300, 1, 1, tzinfo=UTC)):
        rules.merge(out.setdefault(value, {}), metrics)
    return out


def set_status(ws, conv_id: str, status: str) -> None:
    resp = ws.api("PATCH", f"/conversations/{conv_id}", json={"status": status})
    assert resp.status_code == 200, resp.text


class Recorder:
    """Wraps the pump's handler: keeps every batch so a test can deliver it again, as Lambda does on a retry."""

    def __init__(self, pump) -> None:
        self.pump, self.original, self.events = pump, pump.handler, []

    def __enter__(self):
        def handler(event, context):
            self.events.append(event)
            return self.original(event, context)

        self.pump.handler = handler
        return self

    def __exit__(self, *exc) -> None:
        self.pump.handler = self.original

    def replay(self) -> None:
        from chalicelib.local.stream_pump import default_context

        for event in self.events:
            self.original(event, default_context())


def raw_items(ws_id: str):
    from chalicelib.store import repo
    from chalicelib.store.models import ConversationItem, MessageItem

    convs = [c for s in ("new", "in_progress", "closed")
             for c in ConversationItem.gsi1.query(f"WS#{ws_id}#STATUS#{s}")]
    messages = [m for c in convs for m in repo.list_messages(ws_id, c.conversation_id, limit=500)[0]
                if isinstance(m, MessageItem)]
    return convs, messages


def test_a_randomised_burst_with_duplicates_and_replayed_batches_counts_every_change_exactly_once(stack, clock):
    ws = new_workspace(stack)
    rng = random.Random(13)
    chats = [chat_id() for _ in range(6)]
    known: dict[int, str] = {}
    closes = reopens = 0
    with Recorder(stack.pump) as recorder:
        for step in range(40):
            chat = rng.choice(chats)
            clock.advance(minutes=rng.randint(1, 50))
            action = rng.random()
            if chat not in known:
                known[chat] = customer_writes(ws, chat, f"hello {step}")
            elif action < 0.35:
                if ws.api("GET", f"/conversations/{known[chat]}").json()["status"] == "closed":
                    reopens += 1  # the customer writes again after a close
                update = customer_message(chat, f"question {step}", first_name=f"Customer {chat}")
                assert ws.post_update(update).status_code == 200
                if rng.random() < 0.3:  # the provider delivers it twice
                    assert ws.post_update(update).status_code == 200
            elif action < 0.7:
                assert ws.reply(known[chat], f"answer {step}").status_code == 202
            else:
                conv = ws.api("GET", f"/conversations/{known[chat]}").json()
                if conv["status"] == "closed":
                    set_status(ws, known[chat], "in_progress")
                    reopens += 1
                else:
                    set_status(ws, known[chat], "closed")
                    closes += 1
            ws.drain()
        assert len(recorder.events) > 10
        recorder.replay()  # every batch delivered a second time...
        recorder.replay()  # ...and a third
    ws.drain()

    convs, messages = raw_items(ws.id)
    total = all_counters(ws.id, "a")[""]
    assert total.get("new", 0) == len(convs) == len(known)
    assert total.get("in", 0) == sum(1 for m in messages if m.direction == "in")
    assert total.get("out", 0) == sum(1 for m in messages if m.direction == "out")
    answered = [c for c in convs if c.first_response_at]
    assert total.get("fr", 0) == len(answered)
    assert total.get("frs", 0) == sum(int(c.first_response_seconds) for c in answered)
    assert rules.histogram(total, "f") == dict(Counter(rules.bucket(c.first_response_seconds) for c in answered))
    assert total.get("res", 0) == closes and total.get("reo", 0) == reopens
    per_channel = all_counters(ws.id, "c")[ws.channel_id]
    assert {k: v for k, v in per_channel.items()} == total
    waiting = sum(1 for c in convs if c.awaiting_since)
    assert api(ws, "/analytics/dashboard")["waiting_now"] == waiting


def test_the_dashboard_compares_the_last_24_hours_with_the_day_before_and_links_the_oldest_wait(stack, clock):
    ws = new_workspace(stack)
    old = customer_writes(ws, chat_id(), "yesterday's question")
    assert ws.reply(old, "yesterday's answer").status_code == 202
    ws.drain()
    clock.advance(hours=25)
    first = customer_writes(ws, chat_id(), "where is my order?")
    clock.advance(minutes=3)
    second = customer_writes(ws, chat_id(), "and mine?")
    clock.advance(minutes=2)
    assert ws.reply(second, "on its way").status_code == 202
    ws.drain()
    board = api(ws, "/analytics/dashboard")
    assert board["current"]["new"] == 2 and board["previous"]["new"] == 1
    assert board["current"]["first_responses"] == 1 and board["previous"]["first_responses"] == 1
    assert board["current"]["first_response_median_s"] is not None
    assert board["waiting_now"] == 1
    assert board["oldest_waiting"]["conversation_id"] == first
    assert board["oldest_waiting"]["waiting_s"] == 300
    assert [c["channel_id"] for c in board["channels"]] == [ws.channel_id]
    assert board["channels"][0]["current"]["messages_in"] == 2
    assert sum(h["new"] for h in board["hourly"]) == 2 and len(board["hourly"]) == 24


def test_the_dashboard_sums_final_hours_once_per_hour_and_reads_the_live_hours_each_time(stack, clock):
    from chalicelib.services import analytics
    from chalicelib.store import analytics as store

    ws = new_workspace(stack)
    customer_writes(ws, chat_id(), "thirty hours ago")
    clock.advance(hours=10)
    customer_writes(ws, chat_id(), "twenty hours ago")
    clock.advance(hours=20)
    first = api(ws, "/analytics/dashboard")
    assert (first["current"]["new"], first["previous"]["new"]) == (1, 1)
    end_hour = first["to"][:13]
    snap = store.snapshot(ws.id, end_hour)
    assert snap is not None and snap["cur"]["new"] == 1 and snap["prev"]["new"] == 1
    customer_writes(ws, chat_id(), "just now")  # a live hour: read at every open, the snapshot stays
    again = api(ws, "/analytics/dashboard")
    assert (again["current"]["new"], again["current"]["messages_in"]) == (2, 2)
    assert again["channels"][0]["current"]["new"] == 2 and sum(h["new"] for h in again["hourly"]) == 2
    assert store.snapshot(ws.id, end_hour) == snap
    clock.advance(hours=analytics.LIVE_HOURS)  # the window moves: a new snapshot holds the hour that was live
    later = api(ws, "/analytics/dashboard")
    assert (later["current"]["new"], later["previous"]["new"]) == (1, 2)
    assert store.snapshot(ws.id, later["to"][:13])["cur"]["new"] == 1


def put_survey(ws_id: str, survey_id: str, **attrs):
    from chalicelib.store.base import typed
    from chalicelib.store.models import SurveyItem

    item = typed(SurveyItem, f"WS#{ws_id}#SURVEY#{survey_id}", "SURVEY", workspace_id=ws_id, survey_id=survey_id,
                 created_at="2026-12-03T10:00:00.000Z", **attrs)
    item.save()
    return item


def test_survey_answers_count_once_when_their_score_appears(stack, clock):
    from chalicelib.domain.model import iso
    from chalicelib.store.models import SurveyItem

    ws = new_workspace(stack)
    lead = add_user(stack, ws.id, "operator", name="Olga Operator")
    now = iso(clock())
    pending = put_survey(ws.id, "s1", kind="csat", channel_id=ws.channel_id, operator_id=lead.user_id, state="sent")
    ws.drain()
    pending.update(actions=[SurveyItem.score.set(4), SurveyItem.state.set("answered"),
                            SurveyItem.answered_at.set(now)])
    ws.drain()
    pending.update(actions=[SurveyItem.comment.set("thanks")])  # a later change: not a second answer
    put_survey(ws.id, "s2", kind="csat", channel_id=ws.channel_id, operator_id=lead.user_id, score=2,
               answered_at=now, state="answered")  # an INSERT that already carries its score
    for score in (10, 9, 7, 3):
        put_survey(ws.id, f"n{score}", kind="nps", channel_id=ws.channel_id, score=score, answered_at=now)
    ws.drain()
    board = api(ws, "/analytics/dashboard")["current"]
    assert board["csat_answers"] == 2 and board["csat_avg"] == 3.0 and board["csat_scores"]["4"] == 1
    assert board["nps_answers"] == 4 and board["nps"] == 25.0
    kpis = api(ws, "/analytics/kpis")
    olga = next(o for o in kpis["operators"] if o["user_id"] == lead.user_id)
    assert olga["csat_answers"] == 2 and olga["csat_avg"] == 3.0


def test_kpis_per_operator_and_team_and_reports_by_channel_tag_and_operator(stack, clock):
    ws = new_workspace(stack)
    olga = add_user(stack, ws.id, "operator", name="Olga Operator")
    conv = customer_writes(ws, chat_id(), "refund please")
    resp = olga.api("PATCH", f"/conversations/{conv}", json={"assignee_id": olga.user_id, "tags": ["refund"]})
    assert resp.status_code == 200, resp.text
    clock.advance(minutes=4)
    assert olga.api("POST", f"/conversations/{conv}/replies", json={"text": "done"}).status_code == 202
    clock.advance(minutes=10)
    assert olga.api("PATCH", f"/conversations/{conv}", json={"status": "closed"}).status_code == 200
    ws.drain()
    team = ws.api("POST", "/teams", json={"name": "Support", "member_ids": [olga.user_id]})
    assert team.status_code == 201, team.text
    kpis = api(ws, "/analytics/kpis")
    me = next(o for o in kpis["operators"] if o["user_id"] == olga.user_id)
    assert me["handled"] == 1 and me["replies"] == 1 and me["first_responses"] == 1
    assert me["first_response_median_s"] is not None and me["resolution_median_s"] is not None
    assert rules.bucket(me["first_response_median_s"]) in range(rules.bucket(240) - 1, rules.bucket(240) + 2)
    support = next(t for t in kpis["teams"] if t["name"] == "Support")
    assert support["handled"] == 1 and kpis["workspace"]["handled"] == 1
    by_tag = api(ws, "/analytics/report", group="tag")
    assert [g["key"] for g in by_tag["groups"]] == ["refund"] and by_tag["groups"][0]["totals"]["resolved"] == 1
    by_channel = api(ws, "/analytics/report", group="channel", interval="hour")
    assert by_channel["groups"][0]["name"] == "Support bot" and by_channel["groups"][0]["series"]
    by_op = api(ws, "/analytics/report", group="operator")
    assert by_op["groups"][0]["name"] == "Olga Operator"
    heat = api(ws, "/analytics/heatmap", tz="Asia/Tokyo")
    local = (clock() - timedelta(minutes=14)).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
    assert heat["cells"][local.weekday()][local.hour] == 1 and heat["max"] == 1
    # the lead's review of one operator's dialogs: the inbox filtered by assignee, each one opens
    mine = ws.conversations(status="closed", assignee=olga.user_id)
    assert [c["id"] for c in mine] == [conv]
    assert ws.api("GET", f"/conversations/{conv}").status_code == 200


def download(ws, export: dict) -> bytes:
    resp = requests.get(export["url"], timeout=30)
    assert resp.status_code == 200
    return resp.content


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_runs_in_the_background_and_its_link_has_every_row(stack, clock, fmt):
    ws = new_workspace(stack)
    convs = [customer_writes(ws, chat_id(), f"=cmd|' /C calc'!A0 {i}") for i in range(3)]
    ws.drain()
    resp = ws.api("POST", "/analytics/exports", json={"format": fmt, "rows": "conversations"})
    assert resp.status_code == 202, resp.text
    job = resp.json()
    assert job["state"] == "pending" and job["rows_expected"] == 3 and job["url"] is None
    ws.drain()
    assert stack.workers.join()  # the stream handed it to the export worker (a thread here, a Lambda in AWS)
    done = api(ws, f"/analytics/exports/{job['id']}")
    assert done["state"] == "done" and done["rows_written"] == 3 and done["url"]
    body = download(ws, done)
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    else:
        from openpyxl import load_workbook

        rows = [list(r) for r in load_workbook(io.BytesIO(body), read_only=True).active.iter_rows(values_only=True)]
    assert rows[0][0] == "conversation_id" and sorted(r[0] for r in rows[1:]) == sorted(convs)
    hours = ws.api("POST", "/analytics/exports", json={"format": fmt, "rows": "hours"}).json()
    ws.drain()
    assert stack.workers.join()
    assert api(ws, f"/analytics/exports/{hours['id']}")["rows_written"] >= 2  # the total and the channel


def test_analytics_are_per_workspace_and_refuse_bad_input_with_a_clear_4xx(stack, clock):
    ws, other = new_workspace(stack), new_workspace(stack)
    customer_writes(ws, chat_id(), "hello")
    job = ws.api("POST", "/analytics/exports", json={"format": "csv"}).json()
    ws.drain()
    assert api(other, "/analytics/dashboard")["current"]["new"] == 0
    assert api(other, "/analytics/report", group="channel")["groups"] == []
    assert other.api("GET", f"/analytics/exports/{job['id']}").status_code == 404
    for path, params in [("/analytics/heatmap", {"from": "2026-12-05", "to": "2026-12-01"}),
                         ("/analytics/heatmap", {"tz": "Mars/Olympus"}), ("/analytics/heatmap", {"metric": "x"}),
                         ("/analytics/report", {"group": "moon"}), ("/analytics/report", {"interval": "week"}),
                         ("/analytics/kpis", {"from": "yesterday"}),
                         ("/analytics/kpis", {"from": "2026-01-01", "to": "2026-12-01"})]:
        resp = ws.api("GET", path, params=params)
        assert resp.status_code == 400, (path, params, resp.text)
    for body in ({"format": "pdf"}, {"rows": "everything"}, {"from": 5}, {"tz": "Nowhere/City"}):
        assert ws.api("POST", "/analytics/exports", json=body).status_code == 400, body
    readonly = new_workspace(stack, role="readonly")
    assert readonly.api("GET", "/analytics/dashboard").status_code == 403


def test_a_customer_writing_after_a_close_counts_a_reopening(stack, clock):
    ws = new_workspace(stack)
    chat = chat_id()
    conv = customer_writes(ws, chat, "hello")
    set_status(ws, conv, "closed")
    clock.advance(hours=2)
    assert ws.post_update(customer_message(chat, "me again", first_name=f"Customer {chat}")).status_code == 200
    ws.drain()
    total = all_counters(ws.id, "a")[""]
    assert total["res"] == 1 and total["reo"] == 1 and total["in"] == 2 and total["new"] == 1


def test_a_partly_failed_batch_counts_what_will_not_come_back_and_its_retry_the_rest(stack, clock):
    """Lambda retries a batch from its first failed record: the records before it are counted at once, the retry
    counts the rest, and a late second delivery of the whole batch adds nothing."""
    import secrets

    from chalicelib.services import analytics
    from chalicelib.services.deps import deps
    from chalicelib.store import repo

    ws = new_workspace(stack)
    with Recorder(stack.pump) as recorder:
        conv = customer_writes(ws, chat_id(), "first")
        clock.advance(minutes=3)
        assert ws.reply(conv, "an answer").status_code == 202
        ws.drain()
        set_status(ws, conv, "closed")
        ws.drain()
    tag = secrets.token_hex(4)  # the same changes as records the stream never delivered (new event ids)
    records = [{**r, "eventID": f"{tag}-{r['eventID']}"} for e in recorder.events for r in e["Records"]]
    def deltas(record):
        image = record["dynamodb"]
        old = repo.decode(image["OldImage"]) if image.get("OldImage") else None
        new = repo.decode(image["NewImage"]) if image.get("NewImage") else None
        return analytics.deltas_of(record["eventName"], new, old).nonzero()

    counted = [i for i, r in enumerate(records) if any(w == ws.id for w, _ in deltas(r))]  # earlier tests'
    assert len(counted) >= 4  # records may still be in the stream: only this workspace's are compared
    expected: dict[str, int] = {}
    for i in counted:
        for (w, sk), metrics in deltas(records[i]).items():
            if w == ws.id and sk.startswith("a#"):
                rules.merge(expected, rules.own(metrics))
    failed = counted[len(counted) // 2]
    before = all_counters(ws.id, "a")[""]
    d = deps()
    seq = records[failed]["dynamodb"]["SequenceNumber"]
    analytics.count_batch(d, records, {"batchItemFailures": [{"itemIdentifier": seq}]})
    partly = all_counters(ws.id, "a")[""]
    assert partly != before and partly != rules.merge(dict(before), expected)
    analytics.count_batch(d, records[failed:], None)  # the retry, from the failed record on
    analytics.count_batch(d, records, None)  # the whole batch once more, late
    after = all_counters(ws.id, "a")[""]
    assert after == rules.merge(dict(before), expected)
