"""Counter deltas (store/analytics.py) on DynamoDB Local: one item per workspace per stream batch, folded into the
hour items later, every record counted exactly once however its batches were cut, replayed, late or folded."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.store import analytics as store
from tests.e2e.conftest import tick
from tests.e2e.test_automation_sla import chat_id, customer_writes
from tests.support import new_workspace

pytestmark = pytest.mark.ddblocal

T = datetime(2031, 5, 6, 10, 0, tzinfo=UTC)
HOUR = "2031-05-06T10"


def records(ws: str, n: int, *, at: datetime = T, start: int = 0, metric: str = "in") -> list[store.Record]:
    """n stream records of one shard, in order, each adding 1 to the workspace-hour `metric`."""
    return [(f"ev{start + i:04d}{secrets.token_hex(4)}", str(10**20 + start + i),
             int((at + timedelta(seconds=i)).timestamp() * 1000), {(ws, f"a#{HOUR}"): {metric: 1}})
            for i in range(n)]


def total(ws: str, now: datetime, metric: str = "in", **kwargs) -> int:
    found = store.tail(ws, now=now, **kwargs)
    return sum(m.get(metric, 0) for _, m in store.query(ws, f"a#{HOUR}", f"a#{HOUR}", found))


def fresh_ws() -> str:
    return f"wsd{secrets.token_hex(5)}"


def test_a_batch_bisected_after_its_counts_were_written_counts_each_record_once(stack):
    ws, batch = fresh_ws(), None
    batch = records(ws, 10)
    now = T + timedelta(seconds=10)
    assert store.apply(batch, now=now) == 1  # one delta item for the workspace's ten records
    store.apply(batch[:5], now=now)  # Lambda bisects the batch that failed after counting...
    store.apply(batch[5:], now=now)  # ...and delivers both halves
    assert total(ws, now, fold_at=10**9) == 10
    later = now + timedelta(minutes=10)
    assert store.fold(ws, now=later) == 2 and total(ws, later) == 10
    assert store.tail(ws, now=later).deltas == ()


def test_a_replay_after_the_fold_is_recognised_by_its_keys_and_counts_nothing(stack):
    ws = fresh_ws()
    batch = records(ws, 6)
    store.apply(batch, now=T + timedelta(seconds=6))
    store.fold(ws, now=T + timedelta(minutes=10))
    skipped = store.STATS.skipped_records
    store.apply(batch, now=T + timedelta(hours=3))  # the whole batch again, hours later: the checked path
    store.apply(batch[:2], now=T + timedelta(hours=3))
    assert store.STATS.skipped_records - skipped == 8
    assert total(ws, T + timedelta(hours=3)) == 6


def test_a_record_first_counted_behind_the_cursor_goes_into_the_hour_items_once(stack):
    ws = fresh_ws()
    store.apply(records(ws, 4), now=T + timedelta(seconds=4))
    store.fold(ws, now=T + timedelta(minutes=10))  # the cursor is at T + 8 minutes
    late = records(ws, 3, at=T + timedelta(minutes=1), start=100)  # a stream that was stuck for an hour
    store.apply(late, now=T + timedelta(hours=1))
    store.apply(late, now=T + timedelta(hours=1, minutes=5))  # and its retry
    assert total(ws, T + timedelta(hours=2)) == 7
    assert store.tail(ws, now=T + timedelta(hours=2)).deltas == ()  # counted in the hour item, not as a delta


def test_a_late_record_ahead_of_the_cursor_makes_a_fold_in_flight_start_again(stack, monkeypatch):
    ws = fresh_ws()
    store.apply(records(ws, 1, at=T - timedelta(hours=1)), now=T - timedelta(hours=1))
    store.fold(ws, now=T)  # the cursor item exists: only its version can tell a fold that a late write landed
    store.apply(records(ws, 5, start=10), now=T + timedelta(seconds=5))
    real = store._deltas
    injected: list[int] = []

    def deltas_then_a_late_write(ws_, low, high, *, consistent, max_items=None):
        found = real(ws_, low, high, consistent=consistent, max_items=max_items)
        if high is not None and not injected:  # the fold has read; a late record lands before it commits
            injected.append(store.apply(records(ws, 2, at=T + timedelta(minutes=2), start=200),
                                        now=T + timedelta(minutes=6)))
        return found

    monkeypatch.setattr(store, "_deltas", deltas_then_a_late_write)
    folded = store.fold(ws, now=T + timedelta(minutes=10))
    monkeypatch.setattr(store, "_deltas", real)
    assert injected == [1] and folded == 2  # the first try lost its compare-and-set; the second folded both
    assert total(ws, T + timedelta(minutes=10)) == 8 and store.tail(ws, now=T + timedelta(minutes=10)).deltas == ()


def test_a_delta_touching_more_items_than_a_transaction_holds_folds_in_pieces(stack, monkeypatch):
    ws = fresh_ws()
    wide: store.Record = ("evwide", str(10**20), int(T.timestamp() * 1000),
                          {(ws, f"t#{HOUR}#tag{i:03d}"): {"new": 1} for i in range(150)})
    store.apply([wide], now=T + timedelta(seconds=1))
    real = store._transact
    calls: list[int] = []

    def one_then_fail(items, *, sleep, retries=8):
        calls.append(len(items))
        if len(calls) > 1:
            raise RuntimeError("the fold's Lambda dies half-way")
        return real(items, sleep=sleep, retries=retries)

    monkeypatch.setattr(store, "_transact", one_then_fail)
    with pytest.raises(RuntimeError):
        store.fold(ws, now=T + timedelta(minutes=10))
    monkeypatch.setattr(store, "_transact", real)
    later = T + timedelta(minutes=10)

    def tags(tail: store.Tail) -> dict[str, int]:
        return {sk: m.get("new", 0) for sk, m in store.query(ws, f"t#{HOUR}#", f"t#{HOUR}#~", tail)}

    half = tags(store.tail(ws, now=later, fold_at=10**9))  # a reader between the pieces
    assert calls[0] == 1 + store.MAX_ITEMS and len(half) == 150 and set(half.values()) == {1}
    store.fold(ws, now=later)
    done = store.tail(ws, now=later)
    assert done.deltas == () and tags(done) == half


def test_a_reader_with_a_tail_read_before_a_fold_adds_only_what_each_item_lacks(stack):
    ws = fresh_ws()
    store.apply(records(ws, 3), now=T + timedelta(seconds=3))
    stale = store.tail(ws, now=T + timedelta(minutes=10), fold_at=10**9)
    store.apply(records(ws, 2, at=T + timedelta(minutes=9), start=300), now=T + timedelta(minutes=9, seconds=2))
    store.fold(ws, now=T + timedelta(minutes=10))  # folds the first three; the last two are within SETTLE
    assert len(stale.deltas) == 1
    assert sum(m["in"] for _, m in store.query(ws, f"a#{HOUR}", f"a#{HOUR}", stale)) == 3  # not 6
    assert total(ws, T + timedelta(minutes=10), fold_at=10**9) == 5


def test_the_stream_books_a_weekly_fold_that_folds_a_workspace_nobody_reads(stack, clock):
    from chalicelib.services import analytics
    from chalicelib.store import repo

    ws = new_workspace(stack)
    customer_writes(ws, chat_id(), "hello")
    ws.drain()
    timer = repo.get_timer(ws.id, analytics.FOLD_TIMER)
    assert timer is not None and timer.kind == analytics.FOLD_KIND
    assert timer.due_at[:10] == (clock() + analytics.FOLD_EVERY).strftime("%Y-%m-%d")
    assert store.tail(ws.id, now=clock(), fold_at=10**9).deltas  # nobody opened analytics: nothing folded
    clock.now = datetime.fromisoformat(timer.due_at.replace("Z", "+00:00")) + timedelta(minutes=1)
    assert tick() >= 1
    assert store.tail(ws.id, now=clock(), fold_at=10**9).deltas == ()
    assert repo.get_timer(ws.id, analytics.FOLD_TIMER) is None  # nothing more to fold: no timer left


def test_a_bounded_fold_takes_the_oldest_deltas_and_the_next_one_goes_on(stack):
    ws = fresh_ws()
    for n in range(5):  # five batches, a second apart
        store.apply(records(ws, 2, at=T + timedelta(seconds=n), start=10 * n), now=T + timedelta(seconds=n))
    later = T + timedelta(minutes=10)
    assert store.fold(ws, now=later, max_deltas=2) == 2
    assert len(store.tail(ws, now=later, fold_at=10**9).deltas) == 3 and total(ws, later, fold_at=10**9) == 10
    assert store.fold(ws, now=later) == 3 and total(ws, later) == 10


def test_the_stream_folds_a_busy_workspace_itself(stack, clock, monkeypatch):
    from chalicelib.services import analytics

    monkeypatch.setattr(store, "STREAM_FOLD", 3)
    ws = new_workspace(stack)
    for n in range(3):
        customer_writes(ws, chat_id(), f"message {n}")
        ws.drain()
        clock.advance(minutes=5)
    assert analytics._batches_since_fold.get(ws.id, 0) < 3  # every third batch of the workspace folds it
    found = store.tail(ws.id, now=clock(), fold_at=10**9)
    assert found.cursor and all(sk >= found.cursor for sk, _ in found.deltas)
    state = store._fold_state(ws.id, consistent=True)
    assert state is not None and state["cur"]["S"] > "0"
