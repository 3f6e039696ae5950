"""Domain rules with no AWS and no network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.greeting import DEFAULT_GREETINGS, greeting_text
from chalicelib.domain.model import (
    Attachment,
    InboundEvent,
    Sender,
    contact_id_for,
    conversation_id_for,
    derived_id,
    iso,
    new_id,
    parse_iso,
    preview,
)
from chalicelib.settings import MissingSetting, load

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_derived_ids_are_stable_and_sort_by_time():
    assert derived_id("m", T0, "a") == derived_id("m", T0, "a")
    assert derived_id("m", T0, "a") != derived_id("m", T0, "b")
    assert derived_id("m", T0, "z") < derived_id("m", T0 + timedelta(milliseconds=1), "a")


def test_new_ids_sort_by_creation_time():
    assert new_id("m", T0) < new_id("m", T0 + timedelta(milliseconds=1))


def test_one_conversation_per_external_chat_and_workspace():
    assert conversation_id_for("w1", "ch", "42") == conversation_id_for("w1", "ch", "42")
    assert conversation_id_for("w1", "ch", "42") != conversation_id_for("w2", "ch", "42")
    assert contact_id_for("w1", "ch", "42") != conversation_id_for("w1", "ch", "42")


def test_iso_round_trips_and_sorts_as_text():
    later = T0 + timedelta(seconds=1, microseconds=5000)
    assert parse_iso(iso(later)) == later.replace(microsecond=5000)
    assert iso(T0) < iso(later) and iso(T0).endswith("Z")


def test_preview_flattens_whitespace_truncates_and_names_attachments():
    assert preview("a\n\n b", []) == "a b"
    assert len(preview("x" * 500, [])) == 140 and preview("x" * 500, []).endswith("…")
    assert preview("", [Attachment(kind="voice")]) == "[voice]"
    assert preview("", [{"kind": "image"}]) == "[image]"


def test_inbound_event_survives_json():
    event = InboundEvent(
        channel_kind="telegram", channel_id="ch", workspace_id="w", event_type="message", external_event_id="9",
        external_conversation_id="42", sender=Sender(external_user_id="42", display_name="Анна"),
        occurred_at=iso(T0), received_at=iso(T0), text="привет", attachments=[Attachment(kind="image", file_ref="f")],
    )
    again = InboundEvent.from_json(event.to_json())
    assert again == event and again.dedupe_key == "telegram#ch#9"


@pytest.mark.parametrize(("lang", "expected"), [("ru", "ru"), ("en-GB", "en"), ("de", "ru"), ("", "ru")])
def test_greeting_follows_the_customer_language_with_russian_default(lang, expected):
    assert greeting_text(None, lang) == DEFAULT_GREETINGS[expected]


def test_workspace_greeting_overrides_the_default():
    assert greeting_text({"ru": "Привет!", "en": ""}, "ru") == "Привет!"
    assert greeting_text({"ru": "Привет!", "en": ""}, "en") == DEFAULT_GREETINGS["en"]


def test_settings_name_the_missing_variable():
    with pytest.raises(MissingSetting, match="MAIN_TABLE"):
        load({})
    settings = load({"MAIN_TABLE": "m", "IDEMPOTENCY_TABLE": "i", "CONNECTIONS_TABLE": "c",
                     "TELEGRAM_API_URL": "http://x/"})
    assert settings.telegram_api_url == "http://x" and settings.embedded
