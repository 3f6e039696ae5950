"""Analytics counters (domain/analytics.py): which counters a change moves, histogram percentiles, the heat map."""

from __future__ import annotations

import math
import random
import statistics
from types import SimpleNamespace

import pytest

from chalicelib.domain import analytics as a


def conv(**kw):
    base = dict(workspace_id="w1", channel_id="ch1", assignee_id=None, tags=[], created_at="2026-12-03T10:05:00.000Z",
                status="new", first_response_at=None, first_response_seconds=None, first_inbound_at=None,
                closed_at=None, changed_at=None, changed_by=None, last_activity_at="2026-12-03T10:05:00.000Z",
                sla_breaches=0, sla_breached_at=None, awaiting_since=None, blocked=False)
    base.update(kw)
    return SimpleNamespace(**base)


def summed(*deltas_lists):
    batch = a.Batch()
    for deltas in deltas_lists:
        for d in deltas:
            batch.add(d)
    return batch.nonzero()


def test_a_new_conversation_counts_once_in_the_workspace_its_channel_and_tags():
    items = summed(a.conversation_deltas("INSERT", conv(tags=["vip", "vip", "refund"]), None))
    assert items == {("w1", "a#2026-12-03T10"): {"new": 1}, ("w1", "c#2026-12-03T10#ch1"): {"new": 1},
                     ("w1", "t#2026-12-03T10#vip"): {"new": 1}, ("w1", "t#2026-12-03T10#refund"): {"new": 1}}


def test_first_response_resolution_reopening_and_breach_move_their_counters_at_their_own_hour():
    old = conv(first_inbound_at="2026-12-03T10:05:00.000Z", assignee_id="u1")
    answered = conv(first_inbound_at="2026-12-03T10:05:00.000Z", assignee_id="u1",
                    first_response_at="2026-12-03T11:00:00.000Z", first_response_seconds=3300, status="in_progress")
    items = summed(a.conversation_deltas("MODIFY", answered, old))
    b = a.bucket(3300)
    assert items[("w1", "o#2026-12-03T11#u1")] == {"fr": 1, "frs": 3300, f"f{b}": 1}
    closed = conv(**{**vars(answered), "status": "closed", "closed_at": "2026-12-03T12:30:00.000Z"})
    items = summed(a.conversation_deltas("MODIFY", closed, answered))
    assert items[("w1", "a#2026-12-03T12")] == {"res": 1, "rs": 8700, f"r{a.bucket(8700)}": 1}
    reopened = conv(**{**vars(closed), "status": "in_progress", "changed_at": "2026-12-04T08:00:00.000Z"})
    assert summed(a.conversation_deltas("MODIFY", reopened, closed))[("w1", "a#2026-12-04T08")] == {"reo": 1}
    breached = conv(**{**vars(answered), "sla_breaches": 1, "sla_breached_at": "2026-12-03T11:30:00.000Z"})
    assert summed(a.conversation_deltas("MODIFY", breached, answered))[("w1", "a#2026-12-03T11")] == {"sla": 1}
    assert a.conversation_deltas("MODIFY", answered, answered) == []  # a replayed image changes nothing


def test_tags_carry_counts_but_no_histograms():
    old = conv(tags=["vip"], first_inbound_at="2026-12-03T10:05:00.000Z")
    new = conv(tags=["vip"], first_inbound_at="2026-12-03T10:05:00.000Z",
               first_response_at="2026-12-03T10:06:00.000Z", first_response_seconds=60)
    assert summed(a.conversation_deltas("MODIFY", new, old))[("w1", "t#2026-12-03T10#vip")] == {"fr": 1, "frs": 60}


def test_messages_in_and_out_and_the_operator_of_a_reply():
    msg = SimpleNamespace(workspace_id="w1", channel_id="ch1", created_at="2026-12-03T10:59:59.999Z", occurred_at=None,
                          direction="out", origin="operator", author_id="user:u7")
    # one item per message: the channel's and the operator's counts are folded into the workspace-hour item
    assert summed(a.message_deltas("INSERT", msg)) == {
        ("w1", "a#2026-12-03T10"): {"out": 1, "out@c:ch1": 1, "out@o:u7": 1}}
    assert a.message_deltas("MODIFY", msg) == []  # a status change of a message is not a new message
    by_key = SimpleNamespace(**{**vars(msg), "author_id": "key:k1"})  # an API key is nobody's work
    assert summed(a.message_deltas("INSERT", by_key)) == {("w1", "a#2026-12-03T10"): {"out": 1, "out@c:ch1": 1}}
    item = {"out": 3, "in": 2, "out@c:ch1": 3, "in@c:ch1": 2, "out@o:u7": 1}
    assert a.own(item) == {"out": 3, "in": 2}
    assert sorted(a.folded(item)) == [("c", "ch1", "in", 2), ("c", "ch1", "out", 3), ("o", "u7", "out", 1)]
    note = SimpleNamespace(**{**vars(msg), "direction": "note"})
    assert a.message_deltas("INSERT", note) == []


def survey(**kw):
    base = dict(workspace_id="w1", channel_id="ch1", operator_id="u1", kind="csat", score=None,
                answered_at="2026-12-03T10:00:00.000Z", created_at="2026-12-03T09:00:00.000Z")
    base.update(kw)
    return SimpleNamespace(**base)


@pytest.mark.parametrize(("kind", "score", "want"), [
    ("csat", 4, {"cn": 1, "cs": 4, "c4": 1}), ("nps", 10, {"nn": 1, "np": 1}), ("nps", 8, {"nn": 1, "npa": 1}),
    ("nps", 0, {"nn": 1, "nd": 1}), ("csat", 0, None), ("csat", 6, None), ("nps", 11, None)])
def test_a_survey_answer_counts_once_when_its_score_appears(kind, score, want):
    deltas = a.survey_deltas("MODIFY", survey(kind=kind, score=score), survey(kind=kind))
    items = summed(deltas)
    assert items.get(("w1", "o#2026-12-03T10#u1")) == want
    assert a.survey_deltas("MODIFY", survey(kind=kind, score=score), survey(kind=kind, score=score)) == []


@pytest.mark.parametrize("seed", range(5))
def test_percentiles_from_the_histogram_are_within_one_bucket_of_the_exact_value(seed):
    rng = random.Random(seed)
    values = [rng.lognormvariate(5, 1.5) for _ in range(rng.randint(50, 3000))]
    hist: dict[int, int] = {}
    for v in values:
        hist[a.bucket(v)] = hist.get(a.bucket(v), 0) + 1
    ordered = sorted(values)
    for q in (0.5, 0.9):
        exact = ordered[max(0, math.ceil(len(ordered) * q) - 1)]
        estimate = a.percentile(hist, q)
        assert estimate is not None
        assert abs(a.bucket(estimate) - a.bucket(exact)) <= 1, (q, exact, estimate)
    assert a.percentile({}, 0.5) is None
    assert statistics.median(values) > 0


def test_log_buckets_are_increasing_and_cover_a_month():
    assert list(a.BOUNDS) == sorted(set(a.BOUNDS))
    assert a.BOUNDS[-1] > 30 * 86400
    assert a.bucket(0) == 0 and a.bucket(10) == 0 and a.bucket(10.5) == 1
    assert a.bucket(10**9) == len(a.BOUNDS)


def test_heat_map_hours_across_dst_land_in_their_local_weekday_and_hour():
    rows = [("2026-10-25T00", {"in": 1}),  # 02:00 CEST, Sunday
            ("2026-10-25T01", {"in": 10}),  # 02:00 CET: the repeated hour, Sunday 02 again
            ("2026-10-25T02", {"in": 100}),  # 03:00 CET
            ("2026-03-29T00", {"in": 1000}),  # 01:00 CET, Sunday
            ("2026-03-29T01", {"in": 10000}),  # 03:00 CEST (02:00 does not exist that night)
            ("2026-12-03T23", {"in": 7})]  # Thursday 23:00 UTC = Friday 00:00 in Berlin
    cells = a.heatmap(rows, "Europe/Berlin")
    assert cells[6][2] == 11 and cells[6][3] == 10100 and cells[6][1] == 1000
    assert cells[4][0] == 7 and cells[3][23] == 0
    assert sum(map(sum, cells)) == 11118
    assert a.heatmap(rows, "UTC")[6][1] == 10010


def test_local_periods_and_sort_keys():
    assert a.local_period("2026-12-03T21", "Europe/Moscow", "day") == "2026-12-04"
    assert a.local_period("2026-12-03T21", "Europe/Moscow", "hour") == "2026-12-04T00"
    assert a.parse_sort_key("o#2026-12-03T10#u1") == ("o", "2026-12-03T10", "u1")
    assert a.parse_sort_key(a.sort_key("a", "2026-12-03T10")) == ("a", "2026-12-03T10", "")


def test_summary_reads_csat_nps_and_averages():
    s = a.summary({"cn": 4, "cs": 17, "c5": 2, "c4": 1, "c3": 1, "nn": 10, "np": 6, "npa": 2, "nd": 2, "fr": 2,
                   "frs": 90, "f3": 2})
    assert s["csat_avg"] == 4.25 and s["csat_scores"]["5"] == 2 and s["nps"] == 40.0
    assert s["first_response_avg_s"] == 45.0 and s["first_response_median_s"] is not None
    assert a.summary({})["csat_avg"] is None and a.summary({})["nps"] is None


def test_rows_give_a_channel_its_folded_counts_and_those_of_items_written_before_the_fold(monkeypatch):
    from datetime import UTC, datetime

    from chalicelib.services import analytics
    from chalicelib.store import analytics as store

    items = {  # hour 10 written before the fold (the channel's own item holds `in`), hour 11 after it
        "a#2026-12-03T10": {"in": 2, "new": 1}, "c#2026-12-03T10#ch1": {"in": 2, "new": 1},
        "a#2026-12-03T11": {"in": 3, "out": 1, "in@c:ch1": 1, "in@c:ch2": 2, "out@c:ch1": 1, "out@o:u7": 1},
        "c#2026-12-03T11#ch1": {"new": 1}, "o#2026-12-03T11#u7": {"fr": 1},
    }
    queries: list[str] = []

    def query(ws, low, high, tail=None):
        queries.append(low[0])
        return iter(sorted((sk, m) for sk, m in items.items() if low <= sk <= high))

    monkeypatch.setattr(store, "query", query)
    monkeypatch.setattr(store, "tail", lambda ws, now, fold_at=0: store.Tail("", ()))
    low, high = datetime(2026, 12, 3, 10, tzinfo=UTC), datetime(2026, 12, 3, 12, tzinfo=UTC)
    found = analytics.rows_by_kind("w1", ("a", "c", "o"), low, high, now=high)
    assert found["a"] == [("2026-12-03T10", "", {"in": 2, "new": 1}), ("2026-12-03T11", "", {"in": 3, "out": 1})]
    assert found["c"] == [("2026-12-03T10", "ch1", {"in": 2, "new": 1}),
                          ("2026-12-03T11", "ch1", {"in": 1, "out": 1, "new": 1}), ("2026-12-03T11", "ch2", {"in": 2})]
    assert found["o"] == [("2026-12-03T11", "u7", {"out": 1, "fr": 1})]
    assert queries == ["a", "c", "o"]  # the workspace-hour items are read once for every kind
    queries.clear()
    assert analytics.rows("w1", "c", low, high, now=high) == found["c"] and queries == ["a", "c"]


def test_a_change_is_timed_by_the_latest_of_its_own_times_never_by_a_providers():
    closed = conv(closed_at="2026-12-03T11:00:00.000Z", changed_at="2026-12-03T10:59:59.000Z")
    assert a.change_time(closed) == "2026-12-03T11:00:00.000Z"
    assert a.change_time(conv()) == "2026-12-03T10:05:00.000Z"
    message = SimpleNamespace(created_at="2026-12-03T10:00:00.000Z", occurred_at="2099-01-01T00:00:00.000Z")
    assert a.change_time(message) == "2026-12-03T10:00:00.000Z"  # a provider's clock does not key the counts
    assert a.change_time(SimpleNamespace()) == ""


def test_a_fold_cuts_its_transactions_between_milliseconds_and_a_wide_delta_into_pieces(monkeypatch):
    from chalicelib.store import analytics as store

    monkeypatch.setattr(store, "MAX_ITEMS", 3)
    ms1, ms2, ms3 = "0000000001000", "0000000002000", "0000000003000"
    pending = [(f"{ms1}#a", {"k1": {"n": 1}, "k2": {"n": 1}}), (f"{ms1}#b", {"k1": {"n": 2}}),
               (f"{ms2}#c", {"k3": {"n": 1}, "k4": {"n": 1}}),
               (f"{ms3}#d", {f"w{i}": {"n": 1} for i in range(5)})]  # wider than a transaction
    chunks = store._chunks(pending, "", "0000000009000")
    assert [(c[0], c[1], c[3]) for c in chunks] == [
        (ms2, ms2, 2),  # both deltas of ms1 together: the cursor says "every delta before ms2"
        (ms3, ms3, 1),
        (f"{ms3}#d!1", f"{ms3}#d!", 0), (f"{ms3}#d~", f"{ms3}#d~", 1),  # the wide one in two pieces
        ("0000000009000", "0000000009000", 0)]
    assert chunks[0][2] == {"k1": {"n": 3}, "k2": {"n": 1}}
    assert sorted(chunks[2][2]) == ["w0", "w1", "w2"] and sorted(chunks[3][2]) == ["w3", "w4"]
    resumed = store._chunks(pending[3:], f"{ms3}#d!1", "0000000009000")  # after a crash between the pieces
    assert [c[0] for c in resumed] == [f"{ms3}#d~", "0000000009000"] and sorted(resumed[0][2]) == ["w3", "w4"]
