"""What every HTTP-speaking adapter shares: reading a body that may not be JSON, turning transport failures into
`TransientError` without leaking the URL (provider URLs carry tokens), and keeping tokens out of urllib3's logs."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, NoReturn

from chalicelib import errors

if TYPE_CHECKING:
    import requests


def json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def raise_transport(what: str, exc: Exception) -> NoReturn:
    """requests' own text contains the URL, hence the token: build our own message and do not chain."""
    import requests

    reason = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
    raise errors.TransientError(f"{what}: {reason} ({type(exc).__name__})") from None


class _Redact(logging.Filter):
    def __init__(self, pattern: re.Pattern[str], replacement: str) -> None:
        super().__init__()
        self.pattern, self.replacement = pattern, replacement

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.pattern.search(message):
            record.msg = self.pattern.sub(self.replacement, message)
            record.args = None
        return True


def redact_in_urllib3_logs(pattern: re.Pattern[str], replacement: str) -> None:
    """urllib3 logs request lines (with tokens in paths or query strings) at DEBUG: redact them, once."""
    target = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _Redact) and f.pattern == pattern for f in target.filters):
        target.addFilter(_Redact(pattern, replacement))
