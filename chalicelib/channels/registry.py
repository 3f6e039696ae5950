"""The one place that knows which adapter serves which channel kind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.channels.base import ChannelAdapter
from chalicelib.domain.model import Channel
from chalicelib.errors import NotFound
from chalicelib.settings import Settings

if TYPE_CHECKING:
    import requests

# kinds with a provider webhook (CHANNELS.md §2.1); more come with issue 4
WEBHOOK_KINDS = ("telegram", "whatsapp", "messenger", "instagram", "ok", "email", "vk")
KINDS = (*WEBHOOK_KINDS, "api", "widget")


@dataclass(frozen=True)
class WebhookRules:
    """How a kind's webhook answers what it cannot use (docs/CHANNELS.md, "Refused input").

    `methods`: the only methods its provider uses (others: 405 with Allow). `acknowledge`: the body of the
    provider's usual acknowledgement for an authenticated payload that misses what the adapter needs (stored
    never), or None to refuse it with 422. `why`: the provider's retry rule behind the choice.
    """

    methods: tuple[str, ...]
    acknowledge: str | None
    why: str
    requires: str = ""  # what the adapter checks before anything is stored


_META_NEEDS = ("`object` of the product and an `entry` list; an item without its sender, recipient or message id "
               "is skipped and its siblings are stored")
_META_WHY = "Meta resends anything but 200 for up to 7 days (WhatsApp) or about 36 hours (Pages, Instagram)"
WEBHOOK_RULES: dict[str, WebhookRules] = {
    "telegram": WebhookRules(("POST",), "", "Telegram resends anything but 2xx and holds back every later update "
                                            "of the bot meanwhile (up to 24 hours)",
                             "integer `update_id`; a message's `message_id`, `date`, `chat` {`id`, `type`}, `from` "
                             "{`id`, `is_bot`, `first_name`} if present, `edit_date` on edits; `text` a string"),
    "vk": WebhookRules(("POST",), "ok", "VK resends anything but `ok` and may switch the server off",
                       "`type` (before authentication: else 400); `object`; a message's `peer_id`; a comment's "
                       "`owner_id`, `post_id`, `id`, `from_id`"),
    "ok": WebhookRules(("POST",), "", "OK resends on failure and drops a subscription failing for 8 hours",
                       "a JSON object; for a message (`message.mid`): `recipient.chat_id`, `sender.user_id`"),
    "whatsapp": WebhookRules(("GET", "POST"), "", _META_WHY, _META_NEEDS),
    "messenger": WebhookRules(("GET", "POST"), "EVENT_RECEIVED", _META_WHY, _META_NEEDS),
    "instagram": WebhookRules(("GET", "POST"), "EVENT_RECEIVED", _META_WHY, _META_NEEDS),
    "email": WebhookRules(("POST",), None, "SNS never retries a 4xx, so the refusal is visible and final",
                          "(after the SNS signature) a sender address; base64 `content` when so encoded"),
}


def _telegram(settings: Settings, session: requests.Session) -> ChannelAdapter:
    from chalicelib.channels.telegram import TelegramAdapter

    return TelegramAdapter(settings.telegram_api_url, session=session)


def _vk(settings: Settings, session: requests.Session) -> ChannelAdapter:
    from chalicelib.channels.vk import VKAdapter

    return VKAdapter(settings.vk_api_url, settings.vk_api_version, session=session)


def _whatsapp(settings: Settings, session: requests.Session) -> ChannelAdapter:
    from chalicelib.channels.whatsapp import WhatsAppAdapter

    return WhatsAppAdapter(settings.graph_api_url, settings.graph_api_version, session=session)


def _messenger(settings: Settings, session: requests.Session) -> ChannelAdapter:
    from chalicelib.channels.messenger import MessengerAdapter

    return MessengerAdapter(settings.graph_api_url, settings.graph_api_version, session=session)


def _instagram(settings: Settings, session: requests.Session) -> ChannelAdapter:
    from chalicelib.channels.instagram import InstagramAdapter

    return InstagramAdapter(settings.graph_api_url, settings.graph_api_version, session=session)


def _ok(settings: Settings, session: requests.Session) -> ChannelAdapter:
    from chalicelib.channels.ok import OKAdapter

    return OKAdapter(settings.ok_api_url, settings.webhook_base, session=session)


def _widget(settings: Settings, session: requests.Session) -> ChannelAdapter:
    from chalicelib.channels.widget import WidgetAdapter

    return WidgetAdapter(settings)


def _email(settings: Settings, session: requests.Session) -> ChannelAdapter:
    from chalicelib.channels.email import EmailAdapter

    hooks: dict[str, Any] = {}
    if settings.embedded:  # the fake SNS/SES: its certificate and confirmations; the URL checks stay as in AWS
        from chalicelib.local.fakes.email import embedded_sns_hooks

        hooks = embedded_sns_hooks(f"{settings.public_url}/_fake/email", session)
    return EmailAdapter(settings.region, session=session, mail_store=_file_store, thread_lookup=_email_thread,
                        **hooks)


def _file_store() -> Any:
    from chalicelib.services.deps import deps  # the one wiring place; imported late (it imports this module)

    return deps().files


def _email_thread(channel: Channel, conversation_id: str) -> str | None:
    """The thread root of one of this channel's conversations (a reply that came back to our plus address)."""
    from chalicelib.store import repo

    conv = repo.get_conversation(channel.workspace_id, conversation_id)
    return conv.external_conversation_id if conv is not None and conv.channel_id == channel.id else None


def _api(settings: Settings, session: requests.Session) -> ChannelAdapter:
    from chalicelib.channels.api import ApiAdapter

    return ApiAdapter()


FACTORIES: dict[str, Callable[[Settings, requests.Session], ChannelAdapter]] = {
    "telegram": _telegram,
    "vk": _vk,
    "whatsapp": _whatsapp,
    "messenger": _messenger,
    "instagram": _instagram,
    "ok": _ok,
    "widget": _widget,
    "email": _email,
    "api": _api,
}


class Adapters:
    """Adapters built on first use and kept for the life of the process (one HTTP session, kept alive)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._session: requests.Session | None = None
        self._built: dict[str, ChannelAdapter] = {}

    def get(self, kind: str) -> ChannelAdapter:
        if kind not in self._built:
            factory = FACTORIES.get(kind)
            if factory is None:
                raise NotFound(f"unknown channel kind {kind!r}")
            if self._session is None:
                import requests  # not on the webhook's cold path

                self._session = requests.Session()
            self._built[kind] = factory(self._settings, self._session)
        return self._built[kind]
