"""Pure rules of automation: working hours across DST, quiet hours across midnight, SLA policies, @mentions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import hours, notifications, sla

WEEKDAYS = {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_hours_follow_the_wall_clock_across_a_dst_change():
    berlin = hours.parse_hours({"time_zone": "Europe/Berlin", "week": WEEKDAYS})
    # Friday 2026-03-27 (CET, UTC+1) and Monday 2026-03-30 (CEST, UTC+2): 09:00 local is 08:00 then 07:00 UTC
    assert not hours.is_open(utc(2026, 3, 27, 7, 59), berlin) and hours.is_open(utc(2026, 3, 27, 8, 0), berlin)
    assert not hours.is_open(utc(2026, 3, 30, 6, 59), berlin) and hours.is_open(utc(2026, 3, 30, 7, 0), berlin)
    # the weekend across the change is one closed period, from Friday 18:00 CET (17:00 UTC)
    is_open, started = hours.period(utc(2026, 3, 29, 12, 0), berlin)
    assert not is_open and started == utc(2026, 3, 27, 17, 0)
    assert hours.period(utc(2026, 3, 30, 6, 0), berlin) == (False, utc(2026, 3, 27, 17, 0))
    assert hours.period(utc(2026, 3, 30, 7, 30), berlin) == (True, utc(2026, 3, 30, 7, 0))


def test_holidays_close_a_working_day_and_midnight_spanning_hours_are_one_period():
    moscow = hours.parse_hours({"time_zone": "Europe/Moscow", "week": WEEKDAYS, "holidays": ["2026-12-31"]})
    assert hours.is_open(utc(2026, 12, 30, 10, 0), moscow)  # 13:00 MSK
    assert not hours.is_open(utc(2026, 12, 31, 10, 0), moscow)
    night = hours.parse_hours({"time_zone": "UTC", "week": {"mon": [["20:00", "24:00"]], "tue": [["00:00", "06:00"]]}})
    monday_night = hours.period(utc(2026, 11, 30, 21, 0), night)
    tuesday_morning = hours.period(utc(2026, 12, 1, 5, 0), night)
    assert monday_night == tuesday_morning == (True, utc(2026, 11, 30, 20, 0))
    assert hours.period(utc(2026, 12, 1, 7, 0), night) == (False, utc(2026, 12, 1, 6, 0))
    assert hours.is_open(utc(2026, 12, 1, 7, 0), None)  # no hours: always open


@pytest.mark.parametrize("bad", [
    {"time_zone": "Mars/Base", "week": {}},
    {"time_zone": "Europe/Moscow", "week": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}},
    {"time_zone": "Europe/Moscow", "week": {"mon": [["10:00", "09:00"]]}},
    {"time_zone": "Europe/Moscow", "week": {"mon": [["9:00", "12:00"]]}},
    {"time_zone": "Europe/Moscow", "week": {"mon": [["09:00", "25:00"]]}},
    {"time_zone": "Europe/Moscow", "week": {"someday": []}},
    {"time_zone": "Europe/Moscow", "holidays": ["tomorrow"]},
    {"time_zone": "../../etc/passwd"},
    "always",
])
def test_bad_hours_are_refused_with_a_reason(bad):
    with pytest.raises(notifications.InvalidSettings) as err:
        hours.parse_hours(bad)
    assert str(err.value)


def test_hours_round_trip_through_their_json():
    parsed = hours.parse_hours({"time_zone": "Asia/Yekaterinburg", "week": {"sat": [["10:00", "24:00"]]},
                                "holidays": ["2027-01-01"]})
    assert hours.parse_hours(parsed.as_json()) == parsed


def test_quiet_hours_across_midnight_and_dst():
    quiet = notifications.parse_quiet_hours({"start": "22:00", "end": "07:00", "time_zone": "Europe/Berlin"})
    assert notifications.quiet_until(utc(2026, 3, 28, 20, 0), quiet) is None  # 21:00 CET
    # 23:00 CET on Saturday: quiet until 07:00 CEST on Sunday, which is 05:00 UTC (the clocks went forward)
    assert notifications.quiet_until(utc(2026, 3, 28, 22, 0), quiet) == utc(2026, 3, 29, 5, 0)
    assert notifications.quiet_until(utc(2026, 3, 29, 4, 0), quiet) == utc(2026, 3, 29, 5, 0)
    assert notifications.quiet_until(utc(2026, 3, 29, 5, 0), quiet) is None


def test_e_mail_goes_at_once_at_the_digest_hour_or_after_quiet_hours():
    now = utc(2026, 12, 3, 10, 17)
    assert notifications.email_due(now, "instant", None) is None
    assert notifications.email_due(now, "digest", None) == utc(2026, 12, 3, 11, 0)
    quiet = notifications.QuietHours(*[datetime.strptime(t, "%H:%M").time() for t in ("09:00", "12:30")], "UTC")
    assert notifications.email_due(now, "instant", quiet) == utc(2026, 12, 3, 12, 30)
    assert notifications.email_due(now, "digest", quiet) == utc(2026, 12, 3, 12, 30)


def test_sla_policy_first_match_by_channel_and_tag_else_default():
    policies = sla.parse_policies([
        {"id": "vip", "tags": ["vip"], "first_response_minutes": 5, "next_response_minutes": 15},
        {"id": "tg", "channel_ids": ["ch_tg"], "first_response_minutes": 20},
    ])
    assert sla.pick(policies, 30, "ch_tg", ["vip"]).id == "vip"
    assert sla.pick(policies, 30, "ch_tg", []).id == "tg"
    default = sla.pick(policies, 30, "ch_vk", ["other"])
    assert (default.id, default.first_response_minutes) == ("default", 30)
    since = utc(2026, 12, 3, 10, 0)
    first = sla.deadline(policies[0], since, answered_before=False)
    after = sla.deadline(policies[0], since, answered_before=True)
    assert (first.warn_at, first.breach_at) == (since + timedelta(minutes=4), since + timedelta(minutes=5))
    assert (after.target, after.breach_at) == ("next_response", since + timedelta(minutes=15))
    with pytest.raises(notifications.InvalidSettings):
        sla.parse_policies([{"id": "x", "first_response_minutes": 10 ** 9}])


def test_mentions_match_first_name_full_name_and_mail_handle_not_e_mail_addresses():
    members = [("u1", "Анна Смирнова", "anna.s@shop.example"), ("u2", "Boris", "b@shop.example"),
               ("u3", "Семён", "semen@shop.example")]
    assert notifications.mentioned("@анна посмотри", members) == ["u1"]
    assert notifications.mentioned("cc @anna.s and @BORIS.", members) == ["u1", "u2"]
    assert notifications.mentioned("@семен", members) == ["u3"]  # ё = е
    assert notifications.mentioned("write to anna.s@shop.example", members) == []
    assert notifications.mentioned("no mention here", members) == []
