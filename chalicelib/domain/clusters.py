"""Repeat-request detection (H2): which recent customer messages are about the same problem. Pure Python.

Each conversation's recent inbound text becomes a set of shingles: word stems (ё = е, the first 5 letters of a
word, which is enough to tie "оплата / оплату / оплатой" and "payment / payments" together; stop words dropped)
and pairs of neighbouring stems, plus its tags (each tag counts three times, so two short messages with one tag
lean together). MinHash (48 hashes of one 64-bit BLAKE2 hash each) estimates the Jaccard similarity of two sets;
locality-sensitive hashing (16 bands of 3 rows: a pair at 0.4 is proposed 2 times in 3, at 0.6 always) picks
the pairs worth comparing, so n messages cost about n signatures, not n² comparisons; a proposed pair joins a
cluster when its exact Jaccard is at least 0.4. Clusters are the connected pairs (union-find), counted by
distinct customers.

Why not an embedding model: it would be a large download and a native dependency for every Lambda, for messages
that are short and worded alike when a thing is broken ("не проходит оплата картой"); MinHash needs nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

HASHES = 48
BANDS = 16
ROWS = HASHES // BANDS
THRESHOLD = 0.4
MIN_CUSTOMERS = 3  # "N customers report the same problem": shown from three
SUDDEN_CUSTOMERS = 5  # ... and the leads are told when five write within SUDDEN_MINUTES
SUDDEN_MINUTES = 15
STEM = 5
TAG_WEIGHT = 3
_PRIME = (1 << 61) - 1
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_COEFFS = [(int.from_bytes(hashlib.blake2b(f"a{i}".encode(), digest_size=8).digest(), "big") % _PRIME | 1,
            int.from_bytes(hashlib.blake2b(f"b{i}".encode(), digest_size=8).digest(), "big") % _PRIME)
           for i in range(HASHES)]

STOP_WORDS = frozenset("""
a an and are as at be but by can do does for from have hello hi how i if in is it its me my no not of on or our
please so that the there this to was we what when where which why will with you your yours thanks thank just
и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне было вот от меня
еще нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был него до вас нибудь опять уж вам ведь там
потом себя ничего ей может они тут где есть надо ней для мы тебя их чем была сам чтоб без будто чего раз тоже
себе под будет ж тогда кто этот того потому этого какой совсем ним здесь этом один почти мой тем чтобы нее сейчас
были куда зачем всех никогда можно при наконец два об другой хоть после над больше тот через эти нас про всего
них какая много разве три эту моя впрочем хорошо свою этой перед иногда лучше чуть том нельзя такой им более
всегда конечно всю между здравствуйте добрый день привет спасибо пожалуйста подскажите у вас
""".split())


def stems(text: str) -> list[str]:
    words = _WORD.findall((text or "").casefold().replace("ё", "е"))
    return [w[:STEM] for w in words if w not in STOP_WORDS and (len(w) > 2 or w.isdigit())]


def shingles(text: str, tags: Iterable[str] = ()) -> frozenset[str]:
    words = stems(text)
    out = set(words) | {f"{a} {b}" for a, b in zip(words, words[1:], strict=False)}
    for tag in tags:
        out |= {f"#{tag.casefold()}#{i}" for i in range(TAG_WEIGHT)}
    return frozenset(out)


def signature(items: frozenset[str]) -> tuple[int, ...]:
    if not items:
        return ()
    base = [int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "big") for s in items]
    return tuple(min((a * x + b) % _PRIME for x in base) for a, b in _COEFFS)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


@dataclass(frozen=True)
class Doc:
    """One conversation's recent inbound text: who wrote (the customer), when last, with which tags."""

    id: str
    customer: str
    text: str
    at: str
    tags: tuple[str, ...] = ()


@dataclass
class Cluster:
    members: list[Doc]
    terms: list[str] = field(default_factory=list)  # the stems most members share: what it is about
    tags: list[str] = field(default_factory=list)

    @property
    def customers(self) -> int:
        return len({d.customer for d in self.members})

    @property
    def first_at(self) -> str:
        return min(d.at for d in self.members)

    @property
    def last_at(self) -> str:
        return max(d.at for d in self.members)

    def customers_since(self, since: str) -> int:
        return len({d.customer for d in self.members if d.at >= since})


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def cluster(docs: list[Doc], *, threshold: float = THRESHOLD, min_customers: int = MIN_CUSTOMERS) -> list[Cluster]:
    """The groups of at least `min_customers` customers writing about the same thing, biggest first."""
    sets = [shingles(d.text, d.tags) for d in docs]
    sigs = [signature(s) for s in sets]
    parent = list(range(len(docs)))
    buckets: dict[tuple[int, tuple[int, ...]], list[int]] = {}
    for i, sig in enumerate(sigs):
        if not sig:
            continue
        for band in range(BANDS):
            buckets.setdefault((band, sig[band * ROWS:(band + 1) * ROWS]), []).append(i)
    checked: set[tuple[int, int]] = set()
    for members in buckets.values():
        for pos in range(1, len(members)):
            j = members[pos]
            for k in members[:pos]:
                if _find(parent, k) == _find(parent, j):
                    break  # together already
                if (k, j) in checked:
                    continue
                checked.add((k, j))
                if jaccard(sets[k], sets[j]) >= threshold:
                    parent[_find(parent, j)] = _find(parent, k)
                    break
    groups: dict[int, list[int]] = {}
    for i in range(len(docs)):
        groups.setdefault(_find(parent, i), []).append(i)
    out = []
    for idx in groups.values():
        found = Cluster([docs[i] for i in idx])
        if found.customers < min_customers:
            continue
        words = Counter(w for i in idx for w in {s for s in sets[i] if " " not in s and not s.startswith("#")})
        found.terms = [w for w, n in words.most_common(5) if n * 2 >= len(idx)]
        tags = Counter(t for i in idx for t in set(docs[i].tags))
        found.tags = [t for t, n in tags.most_common(5) if n * 2 >= len(idx)]
        found.members.sort(key=lambda d: d.at, reverse=True)
        out.append(found)
    out.sort(key=lambda c: (c.customers, c.last_at), reverse=True)
    return out


def is_sudden(found: Cluster, since: str, *, customers: int = SUDDEN_CUSTOMERS) -> bool:
    """A burst: at least `customers` distinct customers wrote within the window starting at `since`."""
    return found.customers_since(since) >= customers


def same_cluster(members: Iterable[str], announced: Iterable[str]) -> bool:
    """A cluster told about before: it shares a conversation with that announcement."""
    return bool(set(members) & set(announced))
