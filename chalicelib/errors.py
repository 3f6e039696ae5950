"""The application's error hierarchy. No HTTP and no AWS here: api/http.py maps classes to statuses."""

from __future__ import annotations


class AppError(Exception):
    code = "error"

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}


class InvalidInput(AppError):
    code = "invalid_input"


class MalformedBody(InvalidInput):
    """The body is not what the route reads: not UTF-8, not JSON, nested too deep, a body where none is taken."""

    code = "malformed_body"


class Unprocessable(InvalidInput):
    """Well-formed, but a value no route accepts (an integer outside 64 bits, a float outside double range)."""

    code = "unprocessable"


class InvalidPayload(InvalidInput):
    """An authenticated provider payload that misses what the adapter needs (the provider's documented schema).

    services/webhooks.py decides, per kind, whether it is acknowledged (the provider would retry a refusal for
    days) or refused with 422; never stored either way.
    """

    code = "invalid_payload"


class MethodNotAllowed(AppError):
    code = "method_not_allowed"

    def __init__(self, message: str, *, allow: str) -> None:
        super().__init__(message)
        self.allow = allow


class Unauthenticated(AppError):
    code = "unauthenticated"


class Forbidden(AppError):
    code = "forbidden"


class NotFound(AppError):
    code = "not_found"


class Conflict(AppError):
    code = "conflict"


class PayloadTooLarge(AppError):
    code = "payload_too_large"


class UnsupportedMediaType(AppError):
    code = "unsupported_media_type"


class RateLimitedByUs(AppError):
    """We refuse: the caller sent too much (our own limits)."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(AppError):
    """Our store cannot be reached right now: nothing was stored; the caller should retry (503, Retry-After)."""

    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# --- channel errors (CHANNELS.md §2.3). The stream handler decides retry vs. fail from the class. ---


class ChannelError(AppError):
    code = "channel_error"


class NotSupported(ChannelError):
    code = "not_supported"


class WindowClosed(ChannelError):
    code = "window_closed"


class RecipientUnavailable(ChannelError):
    code = "recipient_unavailable"


class PermanentError(ChannelError):
    code = "provider_rejected"


class TransientError(ChannelError):
    code = "provider_unavailable"


class RateLimited(TransientError):
    code = "provider_rate_limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
