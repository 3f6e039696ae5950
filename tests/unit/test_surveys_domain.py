"""The pure rules of the CSAT / NPS surveys (chalicelib/domain/surveys.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import surveys as rules
from chalicelib.domain.notifications import InvalidSettings

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
ON = rules.parse_settings(None, {"csat_enabled": True})


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def candidate(**kw) -> rules.Candidate:
    base = {"channel_kind": "telegram", "surface": "private", "blocked": False, "automated": False,
            "last_inbound_at": iso(NOW - timedelta(hours=1))}
    return rules.Candidate(**{**base, **kw})


def test_settings_default_to_off_and_validate_whole():
    assert rules.settings_of(None)["csat_enabled"] is False
    assert rules.skip_reason(rules.settings_of(None), candidate(), NOW) == "off"
    changed = rules.parse_settings(ON, {"delay_minutes": 0, "channels": ["vk", "telegram"],
                                        "csat_question": {"en": "  Rate us  ", "ru": ""}})
    assert changed["channels"] == ["telegram", "vk"] and changed["csat_question"] == {"en": "Rate us"}
    for bad in ({"delay_minutes": True}, {"delay_minutes": 10**5}, {"channels": ["api"]}, {"x": 1},
                {"csat_question": {"de": "?"}}, {"thanks": {"ru": "x" * 501}}, [], {"nps_interval_days": 0}):
        with pytest.raises(InvalidSettings):
            rules.parse_settings(ON, bad)


@pytest.mark.parametrize(("change", "reason"), [
    ({"surface": "comment"}, "not_private"), ({"surface": "group"}, "not_private"), ({"blocked": True}, "blocked"),
    ({"channel_kind": "api"}, "channel"), ({"last_inbound_at": ""}, "no_customer_message"),
    ({"channel_kind": "whatsapp", "last_inbound_at": iso(NOW - timedelta(hours=25))}, "reply_window_closed"),
])
def test_no_survey_where_it_cannot_or_should_not_go(change, reason):
    assert rules.skip_reason(ON, candidate(**change), NOW) == reason
    assert rules.skip_reason(ON, candidate(), NOW) is None
    assert rules.skip_reason(ON, candidate(channel_kind="whatsapp"), NOW) is None


def test_nps_on_its_schedule_csat_outside_the_quiet_window():
    both = rules.parse_settings(ON, {"nps_enabled": True, "csat_window_days": 30, "nps_interval_days": 90})
    assert rules.choose_kind(both, {}, NOW) == "nps"
    recent = iso(NOW - timedelta(days=10))
    assert rules.choose_kind(both, {"any": recent, "nps": recent}, NOW) is None  # asked 10 days ago
    month = iso(NOW - timedelta(days=40))
    assert rules.choose_kind(both, {"any": month, "nps": month}, NOW) == "csat"  # NPS due only after 90 days
    old = iso(NOW - timedelta(days=91))
    assert rules.choose_kind(both, {"any": month, "nps": old}, NOW) == "nps"
    no_window = rules.parse_settings(ON, {"csat_window_days": 0})
    assert rules.choose_kind(no_window, {"any": iso(NOW)}, NOW) == "csat"


def test_ids_carry_the_kind_and_one_key_per_close():
    close = NOW - timedelta(minutes=1)
    a = rules.survey_id_for("csat", close, "c_1", iso(close))
    b = rules.survey_id_for("nps", close, "c_1", iso(close))
    assert rules.kind_of_id(a) == "csat" and rules.kind_of_id(b) == "nps"
    assert rules.close_key(a) == rules.close_key(b)  # a replay choosing another kind hits the same item
    assert rules.close_key(rules.survey_id_for("csat", NOW, "c_1", iso(NOW))) != rules.close_key(a)
    assert rules.kind_of_id("sx" + "0" * 20) is None and rules.kind_of_id("../etc") is None
    data = rules.answer_data(a, 5)
    assert len(data.encode()) <= 64 and rules.parse_answer_data(data) == (a, 5)
    for junk in (None, 5, "", "sv:", "sv:x:y", "other:1:2", "sv:" + "a" * 50 + ":1", "sv:a:123"):
        assert rules.parse_answer_data(junk) is None


@pytest.mark.parametrize(("text", "score"), [
    ("5", 5), (" 4 ", 4), ("5!", 5), ("4/5", 4), ("10", 10), ("★★★", 3), ("⭐⭐⭐⭐", 4),
    ("5 stars please", None), ("", None), ("I rate 5", None), ("123", None), ("-1", None), ("5" * 30, None),
])
def test_a_text_is_an_answer_only_when_it_is_just_a_rating(text, score):
    assert rules.parse_text_answer(text) == score


def test_refusals():
    until = iso(NOW + timedelta(hours=1))
    assert rules.refusal("csat", "sent", 5, until, NOW) is None
    assert rules.refusal("csat", "pending", 1, until, NOW) is None
    assert rules.refusal("csat", "sent", 6, until, NOW) == "out_of_range"
    assert rules.refusal("csat", "sent", 0, until, NOW) == "out_of_range"
    assert rules.refusal("nps", "sent", 0, until, NOW) is None
    assert rules.refusal("nps", "sent", True, until, NOW) == "out_of_range"
    assert rules.refusal("csat", "sent", "5", until, NOW) == "out_of_range"
    assert rules.refusal("csat", "answered", 5, until, NOW) == "already_answered"
    assert rules.refusal("csat", "failed", 5, until, NOW) == "not_open"
    assert rules.refusal("csat", "sent", 5, iso(NOW - timedelta(seconds=1)), NOW) == "expired"


def test_prompt_texts_follow_the_language_and_the_settings():
    p = rules.prompt(ON, "sc" + "0" * 20, "csat", "en-US")
    assert p.question.startswith("How did we do") and "1 to 5" in p.hint
    assert [score for _, score in p.options] == [1, 2, 3, 4, 5]
    assert rules.Prompt.from_json(p.as_json()) == p
    custom = rules.parse_settings(ON, {"csat_question": {"ru": "Как мы?"}, "thanks": {"ru": "Спасибо!"}})
    assert rules.prompt(custom, "x", "csat", "ru").question == "Как мы?"
    assert rules.prompt(custom, "x", "csat", "de").question == "Как мы?"  # unknown language: Russian
    assert rules.thanks(custom, "en") == rules.DEFAULT_THANKS["en"] and rules.thanks(custom, "ru") == "Спасибо!"
    nps = rules.prompt(ON, "x", "nps", "ru")
    assert [score for _, score in nps.options] == list(range(11))
    assert [len(r) for r in rules.rows_of(nps.options, 6)] == [6, 5]
    assert rules.nps_group(9) == "promoter" and rules.nps_group(7) == "passive" and rules.nps_group(6) == "detractor"
