"""The one JSON loader for anything that comes from outside: request bodies, webhook payloads, SNS messages.

Python's `json` module recurses on nesting (a body nested a few thousand levels deep raises RecursionError),
accepts integers of any size (and ints of more than 4,300 digits raise ValueError), `NaN` / `Infinity`, and lone
UTF-16 surrogates in `\\u` escapes, which DynamoDB then cannot encode. `loads` refuses all of these with a typed
error before anything reads the value:

- not UTF-8, not JSON, a lone surrogate, nested deeper than `MAX_DEPTH`: `MalformedBody` (400);
- an integer outside 64 bits, a float that overflows, NaN / Infinity: `Unprocessable` (422).

The depth is counted without recursion, by a scan of the brackets outside strings, before the parser runs.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate, repeat
from operator import sub
from typing import Any

from chalicelib import errors

MAX_DEPTH = 64
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
_INT_DIGITS = 19  # 2**63 has 19 digits: longer literals are refused before int() converts them

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEPS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")


def nesting_depth(text: str) -> int:
    """The deepest bracket nesting of `text`, ignoring brackets inside JSON strings. No recursion."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub('""', text)).encode("ascii").translate(_STEPS)
    return max(accumulate(map(sub, brackets, repeat(1))), default=0)  # opener +1, closer -1, all in C


def _int(literal: str) -> int:
    if len(literal.lstrip("-")) > _INT_DIGITS:
        raise errors.Unprocessable("an integer is outside the 64-bit range", code="number_out_of_range")
    value = int(literal)
    if not INT_MIN <= value <= INT_MAX:
        raise errors.Unprocessable("an integer is outside the 64-bit range", code="number_out_of_range")
    return value


def _float(literal: str) -> float:
    value = float(literal)
    if value in (float("inf"), float("-inf")):
        raise errors.Unprocessable("a number is outside the double range", code="number_out_of_range")
    return value


def _constant(name: str) -> Any:
    raise errors.Unprocessable(f"{name} is not a JSON number", code="number_out_of_range")


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse `raw` (UTF-8 bytes or text) or raise `MalformedBody` / `Unprocessable`; never anything else."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise errors.MalformedBody("the body is not valid UTF-8", code="invalid_utf8") from None
    else:
        text = raw
    if text.startswith("\ufeff"):
        text = text[1:]
    if nesting_depth(text) > max_depth:
        raise errors.MalformedBody(f"JSON nested deeper than {max_depth} levels", code="too_deep")
    try:
        value = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except errors.AppError:
        raise
    except (ValueError, RecursionError) as err:
        raise errors.MalformedBody(f"malformed JSON: {err}", code="malformed_json") from None
    if _has_lone_surrogate(text, value):
        raise errors.MalformedBody("a string holds a lone UTF-16 surrogate", code="invalid_utf8")
    return value


def _has_lone_surrogate(text: str, value: Any) -> bool:
    if "\\u" not in text and "\\U" not in text:
        return False  # decoded UTF-8 text has no surrogates; only escapes can make them
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
