"""Working hours (E1): weekly hours in the workspace's time zone (IANA, DST-correct through zoneinfo) and holidays.

A *period* is one stretch of open or closed time; the off-hours message goes at most once per conversation per
closed period, so its id derives from the period's start. Standard library only; `now` is aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from chalicelib.domain.notifications import InvalidSettings, clock_time, zone

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_INTERVALS = 4
MAX_HOLIDAYS = 366
LOOK_BACK_DAYS = 400  # a period longer than this (e.g. no hours at all) starts at a fixed point

DEFAULT_OFF_HOURS = {
    "ru": "Здравствуйте! Сейчас мы не работаем, но обязательно ответим, как только начнётся рабочий день.",
    "en": "Hello! We are away right now and will answer as soon as our working day begins.",
}


@dataclass(frozen=True)
class WorkingHours:
    zone: str
    week: dict[int, tuple[tuple[time, time | None], ...]]  # weekday (0 = Monday) -> intervals; None end = 24:00
    holidays: frozenset[date]

    def as_json(self) -> dict[str, Any]:
        def hhmm(t: time | None) -> str:
            return "24:00" if t is None else t.strftime("%H:%M")

        return {"time_zone": self.zone,
                "week": {DAYS[d]: [[hhmm(a), hhmm(b)] for a, b in self.week.get(d, ())] for d in range(7)},
                "holidays": sorted(h.isoformat() for h in self.holidays)}


def parse_hours(value: object) -> WorkingHours | None:
    """Validate working hours as sent by the console; None turns them off (always open)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidSettings("working_hours is {time_zone, week: {mon: [[HH:MM, HH:MM]], ...}, holidays} or null")
    name = value.get("time_zone")
    zone(name if isinstance(name, str) else "")
    week_in = value.get("week") or {}
    if not isinstance(week_in, dict) or set(week_in) - set(DAYS):
        raise InvalidSettings(f"week has the days {', '.join(DAYS)}")
    week: dict[int, tuple[tuple[time, time | None], ...]] = {}
    for day, intervals in week_in.items():
        if not isinstance(intervals, list) or len(intervals) > MAX_INTERVALS:
            raise InvalidSettings(f"{day}: a list of up to {MAX_INTERVALS} [start, end] intervals")
        parsed: list[tuple[time, time | None]] = []
        for pair in intervals:
            if not isinstance(pair, list) or len(pair) != 2:
                raise InvalidSettings(f"{day}: each interval is [HH:MM, HH:MM]")
            start = clock_time(pair[0], f"{day} start")
            end = None if pair[1] == "24:00" else clock_time(pair[1], f"{day} end")
            if end is not None and end <= start:
                raise InvalidSettings(f"{day}: {pair[0]}-{pair[1]} ends before it starts (a night shift is two days)")
            parsed.append((start, end))
        parsed.sort(key=lambda p: p[0])
        for (_, end_a), (start_b, _) in zip(parsed, parsed[1:], strict=False):
            if end_a is None or start_b < end_a:
                raise InvalidSettings(f"{day}: intervals overlap")
        if parsed:
            week[DAYS.index(day)] = tuple(parsed)
    holidays_in = value.get("holidays") or []
    if not isinstance(holidays_in, list) or len(holidays_in) > MAX_HOLIDAYS:
        raise InvalidSettings(f"holidays is a list of up to {MAX_HOLIDAYS} dates (YYYY-MM-DD)")
    holidays = set()
    for text in holidays_in:
        try:
            holidays.add(date.fromisoformat(text))
        except (TypeError, ValueError) as err:
            raise InvalidSettings(f"holiday {text!r} is not a date (YYYY-MM-DD)") from err
    return WorkingHours(str(name), week, frozenset(holidays))


def _intervals_on(hours: WorkingHours, day: date) -> list[tuple[datetime, datetime]]:
    """The open intervals of one local day, as aware UTC datetimes."""
    if day in hours.holidays:
        return []
    tz = zone(hours.zone)
    out = []
    for start, end in hours.week.get(day.weekday(), ()):
        begin = datetime.combine(day, start, tzinfo=tz)
        finish = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz) if end is None \
            else datetime.combine(day, end, tzinfo=tz)
        out.append((begin.astimezone(UTC), finish.astimezone(UTC)))
    return out


def period(now: datetime, hours: WorkingHours | None) -> tuple[bool, datetime]:
    """(open now?, when the current open or closed period began, UTC). Without hours: always open."""
    if hours is None:
        return True, datetime(2000, 1, 1, tzinfo=UTC)
    today = now.astimezone(zone(hours.zone)).date()
    last_end: datetime | None = None
    for back in range(LOOK_BACK_DAYS):
        day = today - timedelta(days=back)
        for begin, finish in reversed(_intervals_on(hours, day)):
            if begin <= now < finish:
                return True, _joined_start(hours, begin)
            if finish <= now and last_end is None:
                last_end = finish
        if last_end is not None:
            return False, last_end
    return False, datetime(2000, 1, 1, tzinfo=UTC)


def _joined_start(hours: WorkingHours, begin: datetime) -> datetime:
    """An interval that starts where the previous day's ended (…-24:00, 00:00-…) continues the same period."""
    for _ in range(LOOK_BACK_DAYS * MAX_INTERVALS):
        local_day = begin.astimezone(zone(hours.zone)).date()
        previous = [b for b, f in _intervals_on(hours, local_day - timedelta(days=1)) + _intervals_on(hours, local_day)
                    if f == begin]
        if not previous:
            return begin
        begin = previous[0]
    return datetime(2000, 1, 1, tzinfo=UTC)  # open around the clock: one period


def is_open(now: datetime, hours: WorkingHours | None) -> bool:
    return period(now, hours)[0]


def off_hours_text(custom: dict[str, str] | None, language: str) -> str:
    texts = {**DEFAULT_OFF_HOURS, **{k: v for k, v in (custom or {}).items() if v}}
    lang = (language or "").split("-")[0].lower()
    return texts.get(lang) or texts["ru"]
