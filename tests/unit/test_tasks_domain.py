"""Task rules (domain/tasks.py): numbering, deadlines with time zones, overdue, reminder times, list orders."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.domain import tasks as rules

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def test_numbers_follow_the_counter_from_one():
    assert [rules.next_number(n) for n in (None, 0, 1, 41)] == [1, 1, 2, 42]


def test_a_deadline_with_an_offset_is_kept_in_utc_with_its_offset():
    deadline = rules.parse_deadline("2026-12-03T18:00:00+03:00", None, now=NOW)
    assert deadline is not None
    assert (deadline.utc, deadline.timezone) == ("2026-12-03T15:00:00.000Z", "+03:00")


def test_a_local_deadline_is_read_in_the_named_time_zone():
    deadline = rules.parse_deadline("2026-12-03T18:00", "Asia/Vladivostok", now=datetime(2026, 12, 2, tzinfo=UTC))
    assert deadline is not None and deadline.utc == "2026-12-03T08:00:00.000Z"
    assert deadline.timezone == "Asia/Vladivostok"


@pytest.mark.parametrize(("value", "zone", "code"), [
    ("2026-12-03T08:59:00Z", None, "deadline_in_past"),
    ("2026-12-03T09:00:00Z", None, "deadline_in_past"),
    ("2026-12-04T10:00", None, "invalid_deadline"),  # no zone at all
    ("tomorrow", None, "invalid_deadline"),
    ("2026-12-04T10:00", "Mars/Olympus", "invalid_timezone"),
    (12, None, "invalid_deadline"),
])
def test_a_wrong_or_past_deadline_is_refused_with_its_reason(value, zone, code):
    with pytest.raises(rules.Refused) as refused:
        rules.parse_deadline(value, zone, now=NOW)
    assert refused.value.code == code and refused.value.field in ("deadline", "timezone")


def test_overdue_is_current_work_past_its_deadline_only():
    past = "2026-12-03T08:00:00.000Z"
    assert rules.is_overdue("open", past, NOW) and rules.is_overdue("waiting", past, NOW)
    assert not rules.is_overdue("done", past, NOW) and not rules.is_overdue("cancelled", past, NOW)
    assert not rules.is_overdue("open", None, NOW)
    assert not rules.is_overdue("open", "2026-12-03T09:00:01.000Z", NOW)
    assert not rules.is_overdue("open", "2026-12-03T09:00:00.000Z", NOW)  # at the deadline: due, not overdue


def test_the_reminder_comes_the_lead_time_before_the_deadline():
    plan = rules.timer_plan("open", "2026-12-03T18:00:00.000Z", 90, NOW)
    assert plan == {rules.REMINDER: datetime(2026, 12, 3, 16, 30, tzinfo=UTC),
                    rules.DUE: datetime(2026, 12, 3, 18, 0, tzinfo=UTC)}


def test_a_reminder_already_past_is_skipped_but_the_due_notice_stays():
    plan = rules.timer_plan("open", "2026-12-03T09:30:00.000Z", 60, NOW)
    assert plan[rules.REMINDER] is None and plan[rules.DUE] == datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("status", ["done", "cancelled"])
def test_a_finished_task_has_no_timers(status):
    assert rules.timer_plan(status, "2026-12-03T18:00:00.000Z", 60, NOW) == {rules.REMINDER: None, rules.DUE: None}


def test_no_lead_time_means_only_the_due_notice():
    assert rules.timer_plan("open", "2026-12-03T18:00:00.000Z", 0, NOW)[rules.REMINDER] is None


def test_current_work_is_keyed_by_deadline_and_the_overdue_range_ends_at_now():
    early = rules.index_sk("open", "2026-12-03T08:00:00.000Z", 7)
    late = rules.index_sk("in_progress", "2026-12-03T10:00:00.000Z", 3)
    none = rules.index_sk("waiting", None, 1)
    assert early < rules.overdue_before(NOW) < late < none
    assert rules.index_sk("done", "2026-12-03T08:00:00.000Z", 12) == "C#0000000012"
    assert rules.bucket("cancelled") == rules.CLOSED and rules.bucket("waiting") == rules.OPEN


def facts(number, status="open", deadline=None, who=""):
    return rules.Facts(number, status, deadline, who)


def test_each_sort_breaks_ties_by_number():
    d1, d2 = "2026-12-04T10:00:00.000Z", "2026-12-05T10:00:00.000Z"
    tasks = [facts(1, "waiting", d2, "Boris"), facts(2, "open", d1, "anna"), facts(3, "open", d1, ""),
             facts(4, "open", None, "Anna"), facts(5, "in_progress", d1, "boris")]

    def order(sort):
        return [f.number for f in sorted(tasks, key=lambda f: rules.sort_key(f, sort))]

    assert order("created") == [5, 4, 3, 2, 1]
    assert order("deadline") == [2, 3, 5, 1, 4]
    assert order("status") == [2, 3, 4, 5, 1]
    assert order("assignee") == [2, 4, 1, 5, 3]  # anna, Anna (ties by number), Boris, boris, unassigned last


def test_a_page_after_the_cursor_neither_repeats_nor_skips_when_others_change():
    rows = [(rules.sort_key(facts(n, deadline=f"2026-12-0{n}T00:00:00.000Z"), "deadline"), n) for n in range(4, 10)]
    first, cursor = rules.page_after(rows, None, 3)
    assert first == [4, 5, 6] and cursor is not None
    # meanwhile task 5 moves to the end, and a new task 1 comes before the cursor
    changed = [r for r in rows if r[1] != 5] + [(rules.sort_key(facts(5), "deadline"), 5),
                                                 (rules.sort_key(facts(1, deadline="2026-12-01T00:00:00.000Z"),
                                                                 "deadline"), 1)]
    second, cursor = rules.page_after(changed, cursor, 3)
    third, end = rules.page_after(changed, cursor, 3)
    assert second == [7, 8, 9] and third == [5] and end is None


def test_the_native_cursor_becomes_the_index_key_of_that_task():
    key = rules.sort_key(facts(42, deadline="2026-12-04T10:00:00.000Z"), "deadline")
    assert rules.cursor_to_sk("current", key) == rules.index_sk("open", "2026-12-04T10:00:00.000Z", 42)
    assert rules.cursor_to_sk("done", rules.sort_key(facts(42), "created")) == rules.index_sk("done", None, 42)


def test_history_lists_the_fields_that_changed_with_before_and_after():
    before = {"title": "A", "status": "open", "tags": ["x"]}
    after = {"title": "A", "status": "done", "tags": ["x", "y"]}
    assert rules.changes(before, after) == [{"field": "status", "before": "open", "after": "done"},
                                           {"field": "tags", "before": ["x"], "after": ["x", "y"]}]


def test_a_title_of_100_kb_is_refused_and_whitespace_is_tidied():
    with pytest.raises(rules.Refused) as refused:
        rules.clean_title("x" * 100_000)
    assert "at most 200" in refused.value.message
    assert rules.clean_title("  Fix   the  widget ") == "Fix the widget"


def test_tags_are_trimmed_and_deduplicated_and_commas_refused():
    assert rules.clean_tags([" bug ", "bug", "billing"]) == ["bug", "billing"]
    with pytest.raises(rules.Refused):
        rules.clean_tags(["a,b"])


def test_the_done_message_names_the_team():
    assert rules.done_message("Engineering") == "Engineering fixed it: tell the customer"


def test_the_lead_time_is_bounded():
    assert rules.clean_remind(None) == rules.DEFAULT_REMIND_MINUTES
    for wrong in (-1, rules.MAX_REMIND_MINUTES + 1, True, "60"):
        with pytest.raises(rules.Refused):
            rules.clean_remind(wrong)
    assert rules.reminder_due("2026-12-03T18:00:00.000Z", 15) == datetime(2026, 12, 3, 17, 45, tzinfo=UTC)


def test_a_cursor_must_have_the_shape_of_its_sorts_keys():
    for sort in rules.SORTS:
        assert rules.valid_cursor(rules.sort_key(facts(3, deadline="2026-12-04T10:00:00.000Z", who="A"), sort), sort)
    assert not rules.valid_cursor(["a"], "created")
    assert not rules.valid_cursor([True], "created")
    assert not rules.valid_cursor(["x", 1, 2], "deadline")
    assert not rules.valid_cursor("x", "status")
