"""The only mapping from error class to HTTP status, and the JSON helpers every view uses.

Error bodies are `{"error": {"code": ..., "message": ...}}`.
"""

from __future__ import annotations

import json
from typing import Any

from chalice import Response

from chalicelib import errors, safejson

STATUS: list[tuple[type[errors.AppError], int]] = [  # first match wins: subclasses before their bases
    (errors.Unprocessable, 422),
    (errors.InvalidPayload, 422),
    (errors.InvalidInput, 400),
    (errors.Unauthenticated, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.MethodNotAllowed, 405),
    (errors.Conflict, 409),
    (errors.PayloadTooLarge, 413),
    (errors.UnsupportedMediaType, 415),
    (errors.RateLimitedByUs, 429),
    (errors.Unavailable, 503),
    (errors.WindowClosed, 422),
    (errors.NotSupported, 422),
    (errors.ChannelError, 502),
]


def status_of(err: errors.AppError) -> int:
    for cls, status in STATUS:
        if isinstance(err, cls):
            return status
    return 500


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status_code=status,
        headers={"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store", **(headers or {})},
    )


def error_response(err: errors.AppError) -> Response:
    status = status_of(err)
    body: dict[str, Any] = {"code": err.code, "message": err.message}
    if err.details:
        body["details"] = err.details
    headers = {}
    if isinstance(err, (errors.RateLimitedByUs, errors.Unavailable)):
        headers["Retry-After"] = str(err.retry_after)
    if isinstance(err, errors.MethodNotAllowed):
        headers["Allow"] = err.allow
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return json_response({"error": body}, status, headers)


def internal_error() -> Response:
    return json_response({"error": {"code": "internal", "message": "internal error"}}, 500)


def parse_json(raw: bytes | None) -> Any:
    """The request body through the one safe loader (UTF-8, depth, number range): see chalicelib/safejson.py."""
    if not raw:
        raise errors.InvalidInput("request body must be JSON")
    return safejson.loads(raw)


def json_object(raw: bytes | None) -> dict[str, Any]:
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise errors.InvalidInput("request body must be a JSON object")
    return body
