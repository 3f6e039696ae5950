"""The single place where real dependencies are wired. Handlers call `deps()`; tests may `override()`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from chalicelib.channels.registry import Adapters
from chalicelib.domain.model import utcnow
from chalicelib.settings import Settings, load
from chalicelib.store import models, secrets
from chalicelib.store.files import FileStore, LocalFileStore, S3FileStore

if TYPE_CHECKING:
    from chalicelib.search.engines import Engine


@dataclass
class Deps:
    settings: Settings
    clock: Callable[[], datetime] = utcnow
    sleep: Callable[[float], None] = time.sleep
    _adapters: Adapters | None = field(default=None, repr=False)
    lambda_context: Any = field(default=None, repr=False)  # set per invocation by event handlers
    cache: dict[str, Any] = field(default_factory=dict, repr=False)  # clients built on first use, per Deps

    @cached_property
    def adapters(self) -> Adapters:
        return self._adapters or Adapters(self.settings)

    @cached_property
    def files(self) -> FileStore:
        if self.settings.files_bucket:
            import boto3

            return S3FileStore(self.settings.files_bucket, boto3.client("s3", region_name=self.settings.region))
        return LocalFileStore(self.settings.files_dir, self.settings.signing_key, self.settings.public_url)

    @cached_property
    def search(self) -> Engine:
        """The full-text index (chalicelib/search): S3 base + segments in AWS, SQLite files in embedded mode."""
        from chalicelib.search.engines import ItemSegments, LocalEngine, S3Engine

        if self.settings.search_bucket:
            import boto3

            client = boto3.client("s3", region_name=self.settings.region)
            from chalicelib.store.base import connection

            items = ItemSegments(connection().client, self.settings.main_table)  # pynamodb's client: same endpoint
            return S3Engine(self.settings.search_bucket, client, "/tmp/search", prefix=".search/", items=items)
        return LocalEngine(self.settings.search_dir)

    @cached_property
    def live(self) -> Any:
        from chalicelib.services.live import LivePush

        return LivePush(self.settings)

    def now(self) -> datetime:
        return self.clock()


_current: Deps | None = None


def deps() -> Deps:
    global _current
    if _current is None:
        settings = load()
        models.configure(settings)
        secrets.configure(settings)
        _current = Deps(settings)
    return _current


def override(value: Deps | None) -> None:
    """Tests: use these dependencies (or rebuild from the environment with None)."""
    global _current
    _current = value
    if value is not None:
        models.configure(value.settings)
        secrets.configure(value.settings)
