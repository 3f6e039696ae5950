"""Notification rules (D3): the event kinds and their default channels, quiet hours, the e-mail digest, @mentions.

Standard library only; every function takes `now` (aware UTC).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CHANNELS = ("console", "email")
EMAIL_MODES = ("instant", "digest")  # digest: one e-mail an hour with what came meanwhile

# kind -> default channels of a member who never changed their settings
KINDS: dict[str, tuple[str, ...]] = {
    "new_conversation": ("console",),
    "assigned_to_me": ("console", "email"),
    "sla_warning": ("console",),
    "sla_breach": ("console", "email"),
    "mention": ("console", "email"),
    "reminder": ("console", "email"),
    "rule": ("console",),
    "webhook_disabled": ("console", "email"),
    "task_assigned": ("console", "email"),
    "task_comment": ("console",),
    "task_due_soon": ("console",),
    "task_due": ("console", "email"),
    "task_done": ("console", "email"),
    "task_escalated": ("console",),
    "repeat_requests": ("console", "email"),  # H2: a sudden cluster of customers with the same problem (admins)
}


# What the e-mail and the console say, by text key and language ({name} etc. from the notification's params).
# The console has the same keys in its own dictionaries (ntitle_<key>), so each reader sees their own language.
TITLES: dict[str, dict[str, str]] = {
    "sla_warning": {"en": "SLA soon: {name}", "ru": "Скоро срок SLA: {name}"},
    "sla_breach": {"en": "SLA breached: {name}", "ru": "SLA нарушен: {name}"},
    "assigned_to_me": {"en": "Assigned to you: {name}", "ru": "Вам назначен диалог: {name}"},
    "mention": {"en": "{by} mentioned you", "ru": "{by} упоминает вас"},
    "reminder": {"en": "Reminder: {name}", "ru": "Напоминание: {name}"},
    "snooze_back": {"en": "Back from snooze: {name}", "ru": "Вернулся из отложенных: {name}"},
    "rule": {"en": "{rule}: {name}", "ru": "{rule}: {name}"},
    "webhook_disabled": {"en": "Webhook switched off: {url}", "ru": "Вебхук отключён: {url}"},
    "repeat_requests": {"en": "{count} customers report the same problem: {about}",
                        "ru": "Клиентов с одной проблемой: {count} ({about})"},
}


BODIES: dict[str, dict[str, str]] = {
    "sla_warning": {"en": "The {minutes}-minute target ends at {due_text}.",
                    "ru": "Срок в {minutes} мин истекает в {due_text}."},
    "sla_breach": {"en": "No answer within {minutes} minutes.", "ru": "Нет ответа дольше {minutes} мин."},
}
DIGEST_SUBJECT = {"en": "Zabota: {count} notifications", "ru": "Zabota: уведомлений — {count}"}


def title_in(text_key: str, params: dict[str, str], language: str, fallback: str, *,
             table: dict[str, dict[str, str]] = TITLES) -> str:
    texts = table.get(text_key)
    if not texts:
        return fallback
    lang = (language or "").split("-")[0].lower()
    try:
        return (texts.get(lang) or texts["en"]).format(**params)
    except (KeyError, IndexError, ValueError):
        return fallback


class InvalidSettings(ValueError):
    """A setting that cannot be stored; the message says why."""


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time
    zone: str

    def as_json(self) -> dict[str, str]:
        return {"start": self.start.strftime("%H:%M"), "end": self.end.strftime("%H:%M"), "time_zone": self.zone}


def zone(name: str) -> ZoneInfo:
    if not isinstance(name, str) or not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise InvalidSettings(f"unknown time zone {name!r} (an IANA name such as Europe/Moscow)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise InvalidSettings(f"unknown time zone {name!r} (an IANA name such as Europe/Moscow)") from err


def clock_time(text: object, what: str) -> time:
    if not isinstance(text, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", text):
        raise InvalidSettings(f"{what} must be HH:MM (00:00-23:59)")
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def parse_quiet_hours(value: object) -> QuietHours | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidSettings("quiet_hours is {start: HH:MM, end: HH:MM, time_zone} or null")
    start, end = clock_time(value.get("start"), "quiet_hours.start"), clock_time(value.get("end"), "quiet_hours.end")
    if start == end:
        raise InvalidSettings("quiet_hours.start and .end must differ")
    name = value.get("time_zone")
    zone(str(name) if name is not None else "")
    return QuietHours(start, end, str(name))


def quiet_until(now: datetime, quiet: QuietHours | None) -> datetime | None:
    """The end of the quiet window `now` is in (UTC), or None outside quiet hours. Windows may cross midnight."""
    if quiet is None:
        return None
    tz = zone(quiet.zone)
    local = now.astimezone(tz)
    t = local.time().replace(second=0, microsecond=0)
    crosses = quiet.start > quiet.end
    inside = (quiet.start <= t or t < quiet.end) if crosses else (quiet.start <= t < quiet.end)
    if not inside:
        return None
    day = local.date() if (not crosses or t < quiet.end) else local.date() + timedelta(days=1)
    end = datetime.combine(day, quiet.end, tzinfo=tz)  # wall time: DST-correct through zoneinfo
    return end.astimezone(UTC)


def next_digest_at(now: datetime) -> datetime:
    """Digests go at the top of the next hour (UTC hours line up with every whole-hour zone)."""
    return (now.astimezone(UTC) + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)


def email_due(now: datetime, mode: str, quiet: QuietHours | None) -> datetime | None:
    """When an e-mail for a notification made `now` goes: None = at once; else the digest time."""
    held = quiet_until(now, quiet)
    if mode == "digest":
        at = next_digest_at(now)
        return max(at, held) if held else at
    return held


MENTION = re.compile(r"(?<![\w@.])@([\w.\-]{2,64})", re.UNICODE)


def mention_handles(name: str, email: str) -> set[str]:
    """The @handles a member answers to: the e-mail's local part, the first name, the name without spaces."""
    handles = set()
    if email and "@" in email:
        handles.add(email.split("@", 1)[0].lower())
    words = [w for w in re.split(r"\s+", name.strip()) if w]
    if words:
        handles.add(words[0].lower())
        handles.add("".join(words).lower())
        handles.add(".".join(words).lower())
    return {h.replace("ё", "е") for h in handles if len(h) >= 2}


def mentioned(text: str, members: Iterable[tuple[str, str, str]]) -> list[str]:
    """User ids of the members (user_id, name, e-mail) that `text` mentions with @handle, in member order."""
    said = {m.group(1).lower().rstrip(".-").replace("ё", "е") for m in MENTION.finditer(text or "")}
    if not said:
        return []
    return [uid for uid, name, email in members if said & mention_handles(name, email)]
