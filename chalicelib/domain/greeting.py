"""Auto-greeting texts (FEATURES E1). Workspace settings override the defaults."""

from __future__ import annotations

DEFAULT_GREETINGS = {
    "ru": "Здравствуйте! Мы получили ваше сообщение и ответим в течение часа.",
    "en": "Hello! We have received your message and will answer within an hour.",
}


def greeting_text(custom: dict[str, str] | None, language: str) -> str:
    texts = {**DEFAULT_GREETINGS, **{k: v for k, v in (custom or {}).items() if v}}
    lang = (language or "").split("-")[0].lower()
    return texts.get(lang) or texts["ru"]
