"""The fakes' shared request parser: every encoding the providers accept, and a clear error for broken bodies."""

from __future__ import annotations

import pytest
import requests

from chalicelib.local.fakes import forms


def _prepared(**kwargs: object) -> tuple[str, dict[str, str], bytes]:
    request = requests.Request("POST", "http://fake/method?chat_id=1&x=q", **kwargs).prepare()  # type: ignore[arg-type]
    body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
    return "chat_id=1&x=q", dict(request.headers), body


def test_multipart_fields_and_files_as_requests_sends_them() -> None:
    query, headers, body = _prepared(data={"caption": "Привет", "x": "body"},
                                     files={"photo": ("cat.png", b"\x89PNG...", "image/png")})
    params, files = forms.parse_request(query, headers, body)
    assert params == {"chat_id": "1", "x": "body", "caption": "Привет"}
    assert files == {"photo": ("cat.png", "image/png", b"\x89PNG...")}


def test_urlencoded_and_json_bodies_override_the_query() -> None:
    query, headers, body = _prepared(data={"x": "form"})
    assert forms.parse_request(query, headers, body)[0] == {"chat_id": "1", "x": "form"}
    query, headers, body = _prepared(json={"x": {"nested": True}})
    assert forms.parse_request(query, headers, body) == ({"chat_id": "1", "x": {"nested": True}}, {})


def test_json_is_read_as_a_form_where_the_provider_does_not_accept_it() -> None:
    params, _ = forms.parse_request("", {"Content-Type": "application/json"}, b"a=1", accept_json=False)
    assert params == {"a": "1"}


@pytest.mark.parametrize("content_type, body", [
    ("multipart/form-data", b"--x\r\n\r\n--x--"),
    ("application/json", b"[1, 2]"),
    ("application/json", b"{broken"),
])
def test_unreadable_bodies_raise_a_form_error(content_type: str, body: bytes) -> None:
    with pytest.raises(forms.FormError):
        forms.parse_request("", {"content-type": content_type}, body)


def test_header_lookup_ignores_case() -> None:
    assert forms.header({"X-Telegram-Bot-Api-Secret-Token": "s"}, "x-telegram-bot-api-secret-token") == "s"
    assert forms.header({}, "host") == ""
