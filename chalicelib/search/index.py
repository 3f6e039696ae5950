"""One workspace's search index: a SQLite database with an FTS5 table of stems and the documents beside it.

Both engines (search/engines.py) keep exactly this file: embedded mode in `.data/search/<ws>.sqlite`, AWS mode as
a base file in S3 plus small segments, merged into the same file in the search Lambda's /tmp. A document is one
message body, note, client card, conversation title or article; `put` replaces it by id and `delete` removes it,
so applying the same operations twice leaves the same index (stream replays).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from chalicelib.search.analyze import Query

KINDS = ("message", "note", "contact", "conversation", "article")
SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, conversation_id TEXT NOT NULL,
    contact_id TEXT NOT NULL, article_id TEXT NOT NULL, message_id TEXT NOT NULL, at TEXT NOT NULL,
    title TEXT NOT NULL, body TEXT NOT NULL, direction TEXT NOT NULL, published INTEGER NOT NULL,
    hidden INTEGER NOT NULL, language TEXT NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 0');
CREATE TABLE IF NOT EXISTS applied (segment TEXT PRIMARY KEY);
"""
TITLE_WEIGHT = 3.0  # a match in a title (article, subject, name) ranks above one in a body


@dataclass(frozen=True)
class Doc:
    doc_id: str
    kind: str
    title: str = ""
    body: str = ""
    title_stems: str = ""
    body_stems: str = ""
    conversation_id: str = ""
    contact_id: str = ""
    article_id: str = ""
    message_id: str = ""
    at: str = ""
    direction: str = ""
    published: bool = True
    hidden: bool = False
    language: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(value: dict[str, Any]) -> Doc:
        return Doc(**{k: value[k] for k in Doc.__dataclass_fields__ if k in value})


@dataclass(frozen=True)
class Op:
    """`put` a document (replacing one with its id) or `delete` the one with `doc_id`."""

    action: str
    doc_id: str
    doc: Doc | None = None

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "doc_id": self.doc_id, "doc": self.doc.to_json() if self.doc else None}

    @staticmethod
    def from_json(value: dict[str, Any]) -> Op:
        doc = value.get("doc")
        return Op(str(value["action"]), str(value["doc_id"]), Doc.from_json(doc) if isinstance(doc, dict) else None)


def put(doc: Doc) -> Op:
    return Op("put", doc.doc_id, doc)


def delete(doc_id: str) -> Op:
    return Op("delete", doc_id)


@dataclass(frozen=True)
class Filter:
    kinds: tuple[str, ...] = KINDS
    drafts: bool = False  # article drafts: only for those who edit the knowledge base


@dataclass
class Hit:
    doc: Doc
    score: float
    extra: dict[str, Any] = field(default_factory=dict)


class SqliteIndex:
    """One database file (or `:memory:`); opened per use, safe to share between threads of one process."""

    def __init__(self, path: str) -> None:
        self.path = path
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL" if path != ":memory:" else "PRAGMA journal_mode=MEMORY")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._db.execute("INSERT INTO fts(fts, rank) VALUES ('rank', ?)", (f"bm25({TITLE_WEIGHT}, 1.0)",))

    def close(self) -> None:
        self._db.close()

    def apply(self, ops: Iterable[Op], *, segment: str | None = None) -> int:
        """Apply `ops` in order in one transaction; with `segment`, only once (its name is remembered)."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if segment is not None:
                if db.execute("SELECT 1 FROM applied WHERE segment = ?", (segment,)).fetchone():
                    db.execute("ROLLBACK")
                    return 0
                db.execute("INSERT INTO applied(segment) VALUES (?)", (segment,))
            count = 0
            for op in ops:
                self._remove(op.doc_id)
                if op.action == "put" and op.doc is not None:
                    self._insert(op.doc)
                count += 1
            db.execute("COMMIT")
            return count
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _remove(self, doc_id: str) -> None:
        row = self._db.execute("SELECT id FROM docs WHERE doc_id = ?", (doc_id,)).fetchone()
        if row:
            self._db.execute("DELETE FROM fts WHERE rowid = ?", (row[0],))
            self._db.execute("DELETE FROM docs WHERE id = ?", (row[0],))

    def _insert(self, d: Doc) -> None:
        cur = self._db.execute(
            "INSERT INTO docs(doc_id, kind, conversation_id, contact_id, article_id, message_id, at, title, body,"
            " direction, published, hidden, language) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (d.doc_id, d.kind, d.conversation_id, d.contact_id, d.article_id, d.message_id, d.at, d.title, d.body,
             d.direction, int(d.published), int(d.hidden), d.language))
        self._db.execute("INSERT INTO fts(rowid, title, body) VALUES (?, ?, ?)",
                         (cur.lastrowid, d.title_stems, d.body_stems))

    def search(self, query: Query, flt: Filter, *, limit: int, offset: int) -> list[Hit]:
        """The best `limit` hits after `offset`, by bm25 (titles weigh 3x), the newer first among equals.

        The engine ranks a window of the best row ids first (the same ranked MATCH as `bare`), then only those rows
        are joined to their documents and filtered (kinds, drafts); the whole match set is joined only when the
        window filters down to less than the page."""
        if not query.terms:
            return []
        kinds = {k for k in flt.kinds if k in KINDS} or set(KINDS)
        need = offset + limit
        window = need * 2 + 50
        ranked = self._db.execute("SELECT rowid, rank FROM fts WHERE fts MATCH ? ORDER BY rank, rowid DESC LIMIT ?",
                                  (query.fts(), window)).fetchall()
        hits = self._hits(ranked, kinds, flt.drafts)
        if len(hits) < need and len(ranked) == window:  # filtered too much: rank every match
            ranked = self._db.execute("SELECT rowid, rank FROM fts WHERE fts MATCH ? ORDER BY rank, rowid DESC",
                                      (query.fts(),)).fetchall()
            hits = self._hits(ranked, kinds, flt.drafts)
        return hits[offset:need]

    def _hits(self, ranked: list[Any], kinds: set[str], drafts: bool) -> list[Hit]:
        if not ranked:
            return []
        found: dict[int, Doc] = {}
        ids = [r[0] for r in ranked]
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" for _ in chunk)
            for r in self._db.execute(
                    "SELECT id, doc_id, kind, conversation_id, contact_id, article_id, message_id, at, title, body,"
                    f" direction, published, hidden, language FROM docs WHERE id IN ({marks})", chunk):
                doc = Doc(doc_id=r[1], kind=r[2], conversation_id=r[3], contact_id=r[4], article_id=r[5],
                          message_id=r[6], at=r[7], title=r[8], body=r[9], direction=r[10], published=bool(r[11]),
                          hidden=bool(r[12]), language=r[13])
                if doc.kind in kinds and (drafts or doc.kind != "article" or doc.published):
                    found[r[0]] = doc
        return [Hit(found[rowid], score=-float(score)) for rowid, score in ranked if rowid in found]

    def bare(self, fts_query: str, limit: int) -> list[int]:
        """The engine alone (benchmarks): the ranked row ids of an FTS5 query, nothing joined or cut."""
        return [r[0] for r in self._db.execute(
            "SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY rank, rowid DESC LIMIT ?", (fts_query, limit)).fetchall()]

    def clear(self) -> None:
        """Forget every document (tests; an index to rebuild with `services.search.reindex_workspace`)."""
        self._db.execute("DELETE FROM fts")
        self._db.execute("DELETE FROM docs")

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM docs").fetchone()[0])

    def applied(self) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT segment FROM applied").fetchall()}

    def optimize(self) -> None:
        self._db.execute("INSERT INTO fts(fts) VALUES ('optimize')")
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def doc_ids(self, ids: Sequence[str]) -> set[str]:
        marks = ",".join("?" for _ in ids)
        return {r[0] for r in self._db.execute(f"SELECT doc_id FROM docs WHERE doc_id IN ({marks})", tuple(ids))}
