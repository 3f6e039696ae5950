"""Merging two client cards of one person (C2): what wins per field, and which cards look like the same person.

Pure functions: the service reads both cards, asks `plan` what the survivor becomes (the operator may pick a side
per field), and `match_keys` gives the normalised e-mail, phone and name a card is found by for suggestions.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

FIELDS = ("display_name", "email", "phone", "notes", "custom_fields")
SIDES = ("survivor", "other", "both")  # "both" only for notes (joined) and custom fields (united)
JOINABLE = ("notes", "custom_fields")
UNDO_HOURS = 24

_SPACE = re.compile(r"\s+")
_NOT_DIGIT = re.compile(r"\D")
_NOT_WORD = re.compile(r"[^\w\s]")


def normal_email(value: str) -> str:
    return (value or "").strip().lower()


def normal_phone(value: str) -> str:
    """Digits only, a Russian trunk 8 as +7 (8 912 … and +7 912 … are one number)."""
    digits = _NOT_DIGIT.sub("", value or "")
    if len(digits) == 11 and digits.startswith("8"):
        digits = "7" + digits[1:]
    return digits if 7 <= len(digits) <= 15 else ""


def normal_name(value: str) -> str:
    """Case, ё / е, accents, punctuation and word order do not matter: "Соколова Мария" = "мария соколова"."""
    text = unicodedata.normalize("NFKD", (value or "").casefold().replace("ё", "е"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).replace("й", "и")
    words = sorted(_SPACE.split(_NOT_WORD.sub(" ", text).strip()))
    return " ".join(w for w in words if w)


def match_keys(display_name: str, email: str, phone: str) -> dict[str, str]:
    """The keys a card is found by: {"name": ..., "email": ..., "phone": ...}, empty ones left out. A one-word name
    of two letters or fewer finds nothing (too common to suggest)."""
    keys = {"name": normal_name(display_name), "email": normal_email(email), "phone": normal_phone(phone)}
    if len(keys["name"]) < 3:
        keys["name"] = ""
    return {k: v for k, v in keys.items() if v}


def reasons(a: dict[str, str], b: dict[str, str]) -> list[str]:
    """Why two cards (their match keys) look like one person, strongest first."""
    return [k for k in ("email", "phone", "name") if a.get(k) and a.get(k) == b.get(k)]


@dataclass(frozen=True)
class FieldPlan:
    field: str
    survivor: Any
    other: Any
    side: str  # survivor | other | both
    result: Any


def _empty(value: Any) -> bool:
    return value in (None, "", {}, [])


def default_side(field: str, survivor: Any, other: Any) -> str:
    """A filled value beats an empty one; when both are filled the survivor wins, notes and fields are joined."""
    if _empty(survivor) and not _empty(other):
        return "other"
    if field in JOINABLE and not _empty(survivor) and not _empty(other) and survivor != other:
        return "both"
    return "survivor"


def _result(field: str, side: str, survivor: Any, other: Any) -> Any:
    if side == "survivor":
        return survivor
    if side == "other":
        return other
    if field == "notes":
        return "\n\n".join(x for x in (survivor, other) if x)
    return {**(other or {}), **(survivor or {})}  # united: the survivor's value of a field both have


def plan(survivor: dict[str, Any], other: dict[str, Any], choices: dict[str, str] | None = None) -> list[FieldPlan]:
    """What the survivor's card becomes. `choices` maps a field to survivor / other / both; ValueError for a field
    or side that does not exist."""
    choices = dict(choices or {})
    unknown = set(choices) - set(FIELDS)
    if unknown:
        raise ValueError(f"no such field: {', '.join(sorted(unknown))}")
    out: list[FieldPlan] = []
    for field in FIELDS:
        a, b = survivor.get(field), other.get(field)
        side = choices.get(field) or default_side(field, a, b)
        if side not in SIDES or (side == "both" and field not in JOINABLE):
            raise ValueError(f"{field}: choose one of {', '.join(SIDES if field in JOINABLE else SIDES[:2])}")
        out.append(FieldPlan(field, a, b, side, _result(field, side, a, b)))
    return out


def changes_of(fields: list[FieldPlan]) -> dict[str, Any]:
    """The survivor's new values, only where they differ from what it had."""
    return {f.field: f.result for f in fields if f.result != f.survivor}
