"""Text analysis of the full-text search (B1): normalise, split into words, stem Russian and English, highlight.

Both engines index the stems this module makes (SQLite FTS5's own porter tokenizer knows English only), so
"заказы" finds "заказ", "ёлка" finds "елка" (ё is е before anything else) and "shipping" finds "shipped".
A word in Cyrillic goes to the Russian Snowball stemmer, any other word to the English one (`snowballstemmer`,
pure Python: the same wheel everywhere, 2 MB installed, about 20 µs a word, cached). Digits stay as typed; a
phone number is also indexed as one run of its digits, so "+7 912 345-67-89" is found by "79123456789".

Snippets are cut from the original text: the words whose stems match a query term are marked by their offsets
(`[start, end)` in the snippet), so a client renders text and marks, never HTML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

MAX_QUERY = 200
MAX_TERMS = 12
MIN_PREFIX = 2  # the last word of a query matches as a prefix (typing), once it is this long
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CYRILLIC = re.compile(r"[а-яё]")


def normalise(text: str) -> str:
    return text.lower().replace("ё", "е")


@lru_cache(maxsize=2)
def _stemmer(language: str) -> Any:
    """Loaded on the first word, not at import: the package imports all its 36 stemmers (about 70 ms), and a cold
    Lambda that never searches or indexes should not pay for that."""
    import snowballstemmer

    return snowballstemmer.stemmer(language)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """One lower-case word (ё already е) to its stem; digits and short words stay as they are."""
    if word.isdigit() or len(word) < 3:
        return word
    return str(_stemmer("russian" if _CYRILLIC.search(word) else "english").stemWord(word))


def words(text: str) -> list[tuple[int, int, str]]:
    """(start, end, normalised word) for every word of `text`."""
    return [(m.start(), m.end(), normalise(m.group())) for m in _WORD.finditer(text)]


def index_text(text: str) -> str:
    """What the engine stores for `text`: its stems, one space between them."""
    return " ".join(stem(w) for _, _, w in words(text))


def phone_digits(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    return digits if len(digits) >= 5 else ""


@dataclass(frozen=True)
class Query:
    """A parsed query: the stems every hit must contain; the last one may be a prefix of a longer word."""

    terms: tuple[str, ...]
    prefix_last: bool

    def fts(self) -> str:
        """FTS5 MATCH syntax: every term quoted (no operator of the user's reaches FTS5), all of them required."""
        parts = [f'"{t}"' for t in self.terms]
        if self.prefix_last and parts:
            parts[-1] += "*"
        return " AND ".join(parts)

    def matches(self, word_stem: str) -> bool:
        if word_stem in self.terms:
            return True
        last = self.terms[-1] if self.terms else ""
        return self.prefix_last and bool(last) and word_stem.startswith(last)


def parse_query(text: str) -> Query:
    """The user's query as stems. Empty when it holds no word (the API answers 400 before this)."""
    found = [w for _, _, w in words(text[:MAX_QUERY])]
    terms = list(dict.fromkeys(stem(w) for w in found))[:MAX_TERMS]
    prefix = bool(found) and not text[-1:].isspace() and len(found[-1]) >= MIN_PREFIX
    if prefix and found:  # the word being typed matches as its own prefix too ("заказ" -> "заказами")
        last = found[-1]
        terms = [t for t in terms if t != stem(last)] + [min(stem(last), last, key=len)]
    return Query(tuple(terms), prefix)


def snippet(text: str, query: Query, *, width: int = 160) -> tuple[str, list[tuple[int, int]]]:
    """A window of `text` around its first match, and the offsets of the matching words inside it."""
    spans = [(s, e) for s, e, w in words(text) if query.matches(stem(w)) or _digits_match(w, query)]
    if not spans:
        cut = text[:width]
        return (cut + ("…" if len(text) > width else "")), []
    first = spans[0][0]
    start = max(0, first - width // 3)
    if start > 0:  # start at a word boundary
        space = text.rfind(" ", 0, start)
        start = space + 1 if space >= 0 and first - space < width // 2 else start
    end = min(len(text), start + width)
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    body = text[start:end].replace("\n", " ")
    shift = len(prefix) - start
    marks = [(s + shift, min(e, end) + shift) for s, e in spans if s >= start and s < end]
    return prefix + body + suffix, marks


def _digits_match(word: str, query: Query) -> bool:
    return word.isdigit() and any(t.isdigit() and len(t) >= 5 and t in word for t in query.terms)
