"""Request parsing shared by the fake providers: query string, url-encoded, multipart and (optionally) JSON bodies.

Providers differ in how they report a malformed request, so this module raises `FormError` and each fake turns it
into its own error shape (Telegram's `{"ok": false, …}`, VK's `{"error": …}`, Graph's `(#100)`).
"""

from __future__ import annotations

import json
from email import policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qs

Json = dict[str, Any]
Files = dict[str, tuple[str, str, bytes]]  # field -> (file name, content type, bytes)


class FormError(ValueError):
    """The body cannot be read as the content type it claims."""


def header(headers: dict[str, str], name: str) -> str:
    """A header's value by case-insensitive name ("" when absent)."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), "")


def _last(pairs: dict[str, list[str]]) -> Json:
    return {key: values[-1] for key, values in pairs.items()}


def parse_multipart(content_type: str, body: bytes) -> tuple[Json, Files]:
    """Fields and files of a multipart/form-data body (the last value of a repeated field wins)."""
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + body)
    if not message.get_param("boundary"):
        raise FormError("multipart boundary is missing")
    params: Json = {}
    files: Files = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        file_name = part.get_filename()
        if file_name is None:
            params[name] = data.decode("utf-8", "replace")
        else:
            files[name] = (file_name, part.get_content_type(), data)
    return params, files


def parse_request(query: str, headers: dict[str, str], body: bytes, *, accept_json: bool = True) -> tuple[Json, Files]:
    """Parameters (query string first, the body's fields over them) and uploaded files of a request."""
    params = _last(parse_qs(query, keep_blank_values=True))
    if not body:
        return params, {}
    content_type = header(headers, "content-type")
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        fields, files = parse_multipart(content_type, body)
        return {**params, **fields}, files
    if accept_json and media_type == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError:
            raise FormError("can't parse JSON object") from None
        if not isinstance(decoded, dict):
            raise FormError("can't parse JSON object")
        return {**params, **decoded}, {}
    if media_type == "application/x-www-form-urlencoded" or not accept_json:
        return {**params, **_last(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))}, {}
    return params, {}
