"""The one place that knows which adapter serves which channel kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from chalicelib.channels.base import ChannelAdapter
from chalicelib.errors import NotFound
from chalicelib.settings import Settings

if TYPE_CHECKING:
    import requests

WEBHOOK_KINDS = ("telegram",)  # kinds with a provider webhook (CHANNELS.md §2.1); more come with issue 4
KINDS = (*WEBHOOK_KINDS, "api")


def _telegram(settings: Settings, session: requests.Session) -> ChannelAdapter:
    from chalicelib.channels.telegram import TelegramAdapter

    return TelegramAdapter(settings.telegram_api_url, session=session)


def _api(settings: Settings, session: requests.Session) -> ChannelAdapter:
    from chalicelib.channels.api import ApiAdapter

    return ApiAdapter()


FACTORIES: dict[str, Callable[[Settings, requests.Session], ChannelAdapter]] = {
    "telegram": _telegram,
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
