"""The one loader of outside JSON: what it refuses, with which error (and so which status), and what it keeps."""

from __future__ import annotations

import pytest

from chalicelib import errors, safejson
from chalicelib.api.http import status_of


@pytest.mark.parametrize(("raw", "code", "status"), [
    (b"[" * 5000 + b"]" * 5000, "too_deep", 400),
    (b'{"a": ' * 65 + b"1" + b"}" * 65, "too_deep", 400),
    (b"\xff\xfe{}", "invalid_utf8", 400),
    (b'"\\ud800"', "invalid_utf8", 400),
    (b'{"a": 1,}', "malformed_json", 400),
    (b"", "malformed_json", 400),
    (b'{"id": 9223372036854775808}', "number_out_of_range", 422),
    (b'{"id": -9223372036854775809}', "number_out_of_range", 422),
    (b'{"id": ' + b"9" * 5000 + b"}", "number_out_of_range", 422),
    (b'{"t": 1e999}', "number_out_of_range", 422),
    (b'{"t": NaN}', "number_out_of_range", 422),
    (b'{"t": -Infinity}', "number_out_of_range", 422),
])
def test_hostile_json_is_refused_with_a_typed_error(raw, code, status):
    with pytest.raises(errors.InvalidInput) as caught:
        safejson.loads(raw)
    assert caught.value.code == code and status_of(caught.value) == status


def test_what_providers_really_send_is_kept():
    raw = '\ufeff{"id": 9223372036854775807, "low": -9223372036854775808, "text": "[[[{{{ 😀 \\ud83d\\ude00", ' \
          '"depth": ' + "[" * 63 + "]" * 63 + "}"
    value = safejson.loads(raw.encode())
    assert value["id"] == 2**63 - 1 and value["low"] == -(2**63) and value["text"] == "[[[{{{ 😀 😀"


def test_depth_ignores_brackets_inside_strings_and_escaped_quotes():
    assert safejson.nesting_depth('{"a": "[[[[\\"[[[["}') == 1
    assert safejson.nesting_depth("[[], [[]]]") == 3
