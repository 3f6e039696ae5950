"""The one place that knows which adapter serves which channel kind."""

from __future__ import annotations

from collections.abc import Callable
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

    return OKAdapter(settings.ok_api_url, settings.public_url, session=session)


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
