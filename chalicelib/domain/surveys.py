"""CSAT and NPS surveys (G4): the settings, which survey a close gets, the prompt and its buttons, and which
answers count. Standard library only; times come in as arguments.

A close gets at most one survey: NPS (0-10) when the workspace asks it and this customer was not asked within
`nps_interval_days`, otherwise CSAT (1-5) when the customer was not asked within `csat_window_days`. The
survey can be answered for `answer_hours`; an answer is a number in its scale, once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.notifications import InvalidSettings

KINDS = ("csat", "nps")
SCALES: dict[str, tuple[int, int]] = {"csat": (1, 5), "nps": (0, 10)}
# channels a survey can go through (the integration API's "api" kind cannot send; public comments never get one)
SURVEY_KINDS = ("telegram", "vk", "ok", "whatsapp", "instagram", "messenger", "email", "widget")
REPLY_WINDOW_KINDS = frozenset({"whatsapp", "instagram", "messenger"})  # the 24-hour customer-service window
REPLY_WINDOW = timedelta(hours=24)
LANGUAGES = ("ru", "en")
MAX_TEXT = 500
MAX_DELAY_MINUTES = 24 * 60
MAX_WINDOW_DAYS = 365
ANSWER_PREFIX = "sv"  # button data: "sv:<survey id>:<score>" (Telegram callback_data is 1-64 bytes)

DEFAULT_QUESTIONS: dict[str, dict[str, str]] = {
    "csat": {"ru": "Оцените, пожалуйста, как мы вам помогли: от 1 (плохо) до 5 (отлично).",
             "en": "How did we do? Please rate us from 1 (poor) to 5 (excellent)."},
    "nps": {"ru": "Насколько вероятно, что вы порекомендуете нас друзьям? От 0 (точно нет) до 10 (точно да).",
            "en": "How likely are you to recommend us to a friend? From 0 (not at all) to 10 (extremely likely)."},
}
DEFAULT_THANKS = {"ru": "Спасибо за оценку!", "en": "Thank you for your feedback!"}
REPLY_HINT = {"ru": "Ответьте одной цифрой от {low} до {high}.", "en": "Reply with one number from {low} to {high}."}
LIST_BUTTON = {"ru": "Оценить", "en": "Rate"}

DEFAULTS: dict[str, Any] = {
    "csat_enabled": False,
    "csat_question": {},
    "delay_minutes": 2,
    "csat_window_days": 30,
    "nps_enabled": False,
    "nps_question": {},
    "nps_interval_days": 90,
    "answer_hours": 72,
    "channels": list(SURVEY_KINDS),
    "thanks": {},
}


@dataclass(frozen=True)
class Prompt:
    """What is sent: the question (with the reply hint when the channel has no buttons) and its options."""

    survey_id: str
    kind: str
    question: str
    hint: str
    options: tuple[tuple[str, int], ...]  # (label, score)
    list_button: str

    def text_with_hint(self) -> str:
        return f"{self.question}\n{self.hint}"

    def data(self, score: int) -> str:
        return answer_data(self.survey_id, score)

    def as_json(self) -> dict[str, Any]:
        return {"survey_id": self.survey_id, "kind": self.kind, "question": self.question, "hint": self.hint,
                "options": [[label, score] for label, score in self.options], "list_button": self.list_button}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Prompt:
        return cls(str(raw["survey_id"]), str(raw["kind"]), str(raw["question"]), str(raw.get("hint", "")),
                   tuple((str(label), int(score)) for label, score in raw.get("options", [])),
                   str(raw.get("list_button", "")))


# --- settings -------------------------------------------------------------------------------------------------


def settings_of(raw: dict[str, Any] | None) -> dict[str, Any]:
    """Stored settings over the defaults (keys unknown to this version are dropped)."""
    out = {k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v) for k, v in DEFAULTS.items()}
    for key, value in (raw or {}).items():
        if key in out:
            out[key] = value
    return out


def _flag(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidSettings(f"{what} must be true or false")
    return value


def _number(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidSettings(f"{what} must be {low}..{high}")
    return value


def _texts(value: object, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not set(value) <= set(LANGUAGES):
        raise InvalidSettings(f"{what} is {{ru, en}}: texts of up to {MAX_TEXT} characters")
    out: dict[str, str] = {}
    for lang, text in value.items():
        if not isinstance(text, str) or len(text) > MAX_TEXT:
            raise InvalidSettings(f"{what}.{lang} is a text of up to {MAX_TEXT} characters")
        if text.strip():
            out[lang] = text.strip()
    return out


_PARSERS: dict[str, Any] = {
    "csat_enabled": lambda v: _flag(v, "csat_enabled"),
    "nps_enabled": lambda v: _flag(v, "nps_enabled"),
    "csat_question": lambda v: _texts(v, "csat_question"),
    "nps_question": lambda v: _texts(v, "nps_question"),
    "thanks": lambda v: _texts(v, "thanks"),
    "delay_minutes": lambda v: _number(v, "delay_minutes", 0, MAX_DELAY_MINUTES),
    "csat_window_days": lambda v: _number(v, "csat_window_days", 0, MAX_WINDOW_DAYS),
    "nps_interval_days": lambda v: _number(v, "nps_interval_days", 1, 2 * MAX_WINDOW_DAYS),
    "answer_hours": lambda v: _number(v, "answer_hours", 1, 14 * 24),
}


def parse_settings(current: dict[str, Any] | None, body: object) -> dict[str, Any]:
    """A change of the settings (any subset of their keys), validated whole: InvalidSettings otherwise."""
    if not isinstance(body, dict):
        raise InvalidSettings("survey settings are an object")
    unknown = set(body) - set(DEFAULTS)
    if unknown:
        raise InvalidSettings(f"unknown survey settings: {', '.join(sorted(unknown))}")
    out = settings_of(current)
    for key, value in body.items():
        if key == "channels":
            if not isinstance(value, list) or not all(isinstance(k, str) and k in SURVEY_KINDS for k in value):
                raise InvalidSettings(f"channels is a list of channel kinds: {', '.join(SURVEY_KINDS)}")
            out[key] = [k for k in SURVEY_KINDS if k in value]
        else:
            out[key] = _PARSERS[key](value)
    return out


# --- which survey a close gets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """What the decision needs to know about the closed conversation."""

    channel_kind: str
    surface: str
    blocked: bool
    automated: bool
    last_inbound_at: str  # ISO or ""


def skip_reason(settings: dict[str, Any], conv: Candidate, now: datetime) -> str | None:
    """Why this close gets no survey at all (None: it may get one)."""
    s = settings_of(settings)
    if not (s["csat_enabled"] or s["nps_enabled"]):
        return "off"
    if conv.channel_kind not in SURVEY_KINDS or conv.channel_kind not in s["channels"]:
        return "channel"
    if conv.surface != "private":
        return "not_private"  # public comments and group chats
    if conv.blocked:
        return "blocked"
    if not conv.last_inbound_at:
        return "no_customer_message"
    if conv.channel_kind in REPLY_WINDOW_KINDS and _parse(conv.last_inbound_at) + REPLY_WINDOW <= now:
        return "reply_window_closed"
    return None


def choose_kind(settings: dict[str, Any], last_asked: dict[str, str], now: datetime) -> str | None:
    """None when this customer was asked any survey within `csat_window_days` (the quiet window); else NPS when
    due (`nps_interval_days` since the last NPS), else CSAT. `last_asked`: "any" / "nps" -> ISO time."""
    s = settings_of(settings)
    if _within(last_asked.get("any"), quiet_window(s), now):
        return None
    if s["nps_enabled"] and not _within(last_asked.get("nps"), nps_interval(s), now):
        return "nps"
    return "csat" if s["csat_enabled"] else None


def quiet_window(settings: dict[str, Any]) -> timedelta:
    return timedelta(days=settings_of(settings)["csat_window_days"])


def nps_interval(settings: dict[str, Any]) -> timedelta:
    return timedelta(days=settings_of(settings)["nps_interval_days"])


def _within(at: str | None, window: timedelta, now: datetime) -> bool:
    return bool(at) and window > timedelta(0) and _parse(at or "") + window > now


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- the prompt -------------------------------------------------------------------------------------------------


def language_of(*candidates: str) -> str:
    for lang in candidates:
        short = (lang or "").lower()[:2]
        if short in LANGUAGES:
            return short
    return "ru"


def prompt(settings: dict[str, Any], survey_id: str, kind: str, language: str) -> Prompt:
    s = settings_of(settings)
    lang = language_of(language)
    question = (s.get(f"{kind}_question") or {}).get(lang) or DEFAULT_QUESTIONS[kind][lang]
    low, high = SCALES[kind]
    options = tuple((f"{n} ★" if kind == "csat" else str(n), n) for n in range(low, high + 1))
    return Prompt(survey_id, kind, question, REPLY_HINT[lang].format(low=low, high=high), options, LIST_BUTTON[lang])


def thanks(settings: dict[str, Any], language: str) -> str:
    lang = language_of(language)
    return (settings_of(settings).get("thanks") or {}).get(lang) or DEFAULT_THANKS[lang]


def rows_of(options: tuple[tuple[str, int], ...], per_row: int) -> list[list[tuple[str, int]]]:
    return [list(options[i:i + per_row]) for i in range(0, len(options), per_row)]


# --- answers ----------------------------------------------------------------------------------------------------

_DATA = re.compile(rf"^{ANSWER_PREFIX}:([A-Za-z0-9_-]{{1,40}}):(\d{{1,2}})$")
_NUMBER = re.compile(r"^\s*(\d{1,2})\s*(?:/\s*(?:5|10)\s*)?[!.)]?\s*$")
_STARS = re.compile(r"^\s*(★|⭐)+\s*$")


def survey_id_for(kind: str, closed: datetime, conv_id: str, closed_at: str) -> str:
    """Derived from the close (a replay gives the same id); its second letter is the kind, so an answer's scale is
    known without a read: `sc…` CSAT, `sn…` NPS. The rest (`close_key`) is the item's key: one survey per close
    whatever kind a replay would choose."""
    ms = int(closed.timestamp() * 1000)
    digest = hashlib.sha256(f"survey\x1f{conv_id}\x1f{closed_at}".encode()).hexdigest()[:8]
    return f"s{kind[0]}{ms:012x}{digest}"


def close_key(survey_id: str) -> str:
    return survey_id[2:]


def kind_of_id(survey_id: str) -> str | None:
    if not re.fullmatch(r"s[cn][0-9a-f]{20}", survey_id or ""):
        return None
    return "csat" if survey_id[1] == "c" else "nps"


def answer_data(survey_id: str, score: int) -> str:
    return f"{ANSWER_PREFIX}:{survey_id}:{score}"


def parse_answer_data(data: object) -> tuple[str, int] | None:
    """A button's data back to (survey id, score); None for anything else (a customer's client may send junk)."""
    if not isinstance(data, str):
        return None
    found = _DATA.match(data)
    return (found.group(1), int(found.group(2))) if found else None


def parse_text_answer(text: str) -> int | None:
    """A message that is only a rating ("5", " 4 ", "5!", "4/5", "★★★"); None for anything else."""
    if not text or len(text) > 20:
        return None
    found = _NUMBER.match(text)
    if found:
        return int(found.group(1))
    if _STARS.match(text):
        return sum(1 for ch in text if ch in "★⭐")
    return None


def in_scale(kind: str, score: object) -> bool:
    if isinstance(score, bool) or not isinstance(score, int) or kind not in SCALES:
        return False
    low, high = SCALES[kind]
    return low <= score <= high


def refusal(kind: str, state: str, score: object, answer_until: str, now: datetime) -> str | None:
    """Why an answer to this survey is refused (None: it counts)."""
    if state == "answered":
        return "already_answered"
    if state not in ("pending", "sent"):
        return "not_open"
    if answer_until and _parse(answer_until) <= now:
        return "expired"
    if not in_scale(kind, score):
        return "out_of_range"
    return None


def nps_group(score: int) -> str:
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
