"""The full-text search (B1) on both engines with the same tests: the embedded SQLite files and the S3 segments
(moto). Relevance on a Russian + English corpus (stems, ё), isolation between workspaces, paging, edits and
deletes, replays, drafts."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.search import analyze, documents
from chalicelib.search.engines import COMPACT_AFTER, Engine, LocalEngine, S3Engine
from chalicelib.search.index import Filter, Op

CORPUS = {
    "m1": "Где мой заказ? Уже неделю жду",
    "m2": "Купила ёлку, а пришла сломанная",
    "m3": "Your order has shipped yesterday",
    "m4": "Доставка курьером до двери, пожалуйста",
    "m5": "I want a refund for the broken lamp",
    "m6": "Спасибо, всё отлично!",
}


def message(mid: str, text: str, *, conv: str = "c1", deleted: bool = False, hidden: bool = False,
            direction: str = "in") -> Any:
    return SimpleNamespace(conversation_id=conv, message_id=mid, text=text, deleted=deleted, hidden=hidden,
                           direction=direction, occurred_at=f"2026-01-01T00:00:0{mid[-1]}Z", created_at="")


def ops_for(corpus: dict[str, str], conv: str = "c1") -> list[Op]:
    return [op for mid, text in corpus.items() for op in documents.message_ops(message(mid, text, conv=conv), None)]


@pytest.fixture(params=["local", "s3"])
def engine(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Engine]:
    if request.param == "local":
        yield LocalEngine(str(tmp_path / "search"))
        return
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="files")
        yield S3Engine("files", client, str(tmp_path / "cache"), chance=lambda: 1.0)  # compacts only when told


def index(engine: Engine, ws: str, ops: list[Op]) -> None:
    engine.add(ws, ops)
    engine.flush()  # the end of a stream batch


def found(engine: Engine, ws: str, q: str, **flt: Any) -> list[str]:
    hits = engine.search(ws, analyze.parse_query(q), Filter(**flt), limit=50, offset=0)
    return [h.doc.message_id or h.doc.article_id or h.doc.contact_id for h in hits]


@pytest.mark.parametrize(("query", "expected"), [
    ("заказы", ["m1"]),  # plural finds the singular
    ("заказ", ["m1"]),
    ("елка", ["m2"]),  # е finds ё
    ("ёлки", ["m2"]),
    ("shipping", ["m3"]),  # -ing finds -ed
    ("orders", ["m3"]),
    ("доставки курьер", ["m4"]),  # every word must match, each by its stem
    ("REFUND", ["m5"]),
    ("все", ["m6"]),
    ("отлично спасибо", ["m6"]),
])
def test_russian_and_english_words_are_found_by_their_stems(engine, query, expected):
    index(engine, "ws1", ops_for(CORPUS))
    assert found(engine, "ws1", query + " ") == expected  # a trailing space: no prefix matching


def test_the_word_being_typed_matches_as_a_prefix(engine):
    index(engine, "ws1", ops_for(CORPUS))
    assert found(engine, "ws1", "дост") == ["m4"]
    assert found(engine, "ws1", "ship") == ["m3"]
    assert found(engine, "ws1", "дост ") == []


def test_a_workspace_never_sees_another_workspaces_documents(engine):
    index(engine, "ws1", ops_for(CORPUS))
    index(engine, "ws2", ops_for({"x1": "другой заказ"}))
    assert found(engine, "ws2", "заказ ") == ["x1"]
    assert found(engine, "ws1", "заказ ") == ["m1"]
    assert found(engine, "ws3", "заказ ") == []


def test_the_more_relevant_document_ranks_first(engine):
    index(engine, "ws1", ops_for({"m1": "заказ", "m2": "Разговор про погоду и немного про заказ, а ещё про доставку,"
                                  " оплату, возврат, курьеров, склад и много чего другого",
                                  "m3": "заказ заказ заказ: где мой заказ"}))
    assert found(engine, "ws1", "заказ ")[-1] == "m2"


def test_a_title_match_outranks_a_body_match(engine):
    body = SimpleNamespace(versions={"ru": {"title": "Оплата", "body": "Возврат денег за заказ: как оформить"}},
                           status="published", category="", updated_at="2026-01-01", created_at="")
    title = SimpleNamespace(versions={"ru": {"title": "Возврат денег", "body": "Напишите нам"}},
                            status="published", category="", updated_at="2026-01-01", created_at="")
    index(engine, "ws1", documents.article_ops(body, None, article_id="a-body")
          + documents.article_ops(title, None, article_id="a-title"))
    assert found(engine, "ws1", "возврат ") == ["a-title", "a-body"]


def test_results_page_without_repeats_or_gaps(engine):
    index(engine, "ws1", ops_for({f"m{i:02d}": f"заказ номер {i}" for i in range(23)}))
    query = analyze.parse_query("заказ ")
    pages = [engine.search("ws1", query, Filter(), limit=10, offset=o) for o in (0, 10, 20)]
    assert [len(p) for p in pages] == [10, 10, 3]
    ids = [h.doc.message_id for p in pages for h in p]
    assert sorted(ids) == sorted(f"m{i:02d}" for i in range(23))


def test_the_index_follows_edits_and_deletes(engine):
    index(engine, "ws1", ops_for({"m1": "жду посылку"}))
    before = message("m1", "жду посылку")
    edited = message("m1", "посылка пришла, жду возврат")
    index(engine, "ws1", documents.message_ops(edited, before))
    assert found(engine, "ws1", "возврат ") == ["m1"]
    assert found(engine, "ws1", "посылку ") == ["m1"]
    gone = message("m1", "посылка пришла, жду возврат", deleted=True)
    index(engine, "ws1", documents.message_ops(gone, edited))
    assert found(engine, "ws1", "возврат ") == []


def test_a_replayed_batch_changes_nothing(engine):
    ops = ops_for(CORPUS)
    index(engine, "ws1", ops)
    index(engine, "ws1", ops)  # the stream delivers the same records again
    assert found(engine, "ws1", "заказ ") == ["m1"]
    assert engine.index_of("ws1").count() == len(CORPUS)


def test_a_status_change_of_a_message_writes_nothing(engine):
    sent = message("m1", "hello", direction="out")
    assert documents.message_ops(sent, message("m1", "hello", direction="out")) == []
    assert documents.message_ops(message("m1", "", direction="system"), None) == []


def test_hidden_comments_stay_findable_and_say_so(engine):
    index(engine, "ws1", documents.message_ops(message("m1", "spam spam", hidden=True), None))
    [hit] = engine.search("ws1", analyze.parse_query("spam "), Filter(), limit=5, offset=0)
    assert hit.doc.hidden is True


def test_contact_fields_are_found_by_name_phone_email_and_custom_fields(engine):
    card = SimpleNamespace(pk="WS#ws1#CONTACT#k1", display_name="Ольга Петрова", username="olga_p",
                           phone="+7 912 345-67-89", email="olga@example.org", notes="VIP",
                           custom_fields={"Город": "Казань"}, changed_at="", created_at="")
    index(engine, "ws1", documents.contact_ops(card, None))
    for query in ("петровой ", "79123456789 ", "olga@example.org ", "казань ", "vip "):
        assert found(engine, "ws1", query) == ["k1"], query
    renamed = SimpleNamespace(**{**vars(card), "display_name": "Ольга Смирнова"})
    index(engine, "ws1", documents.contact_ops(renamed, card))
    assert found(engine, "ws1", "петрова ") == []
    assert found(engine, "ws1", "смирнова ") == ["k1"]


def test_article_drafts_are_found_only_by_editors(engine):
    draft = SimpleNamespace(versions={"ru": {"title": "Возврат", "body": "черновик"}}, status="draft",
                            category="Оплата", updated_at="", created_at="")
    index(engine, "ws1", documents.article_ops(draft, None, article_id="a1"))
    assert found(engine, "ws1", "возврат ") == []
    assert found(engine, "ws1", "возврат ", drafts=True) == ["a1"]
    assert found(engine, "ws1", "оплата ", drafts=True) == ["a1"]  # the category is searchable
    published = SimpleNamespace(**{**vars(draft), "status": "published"})
    index(engine, "ws1", documents.article_ops(published, draft, article_id="a1"))
    assert found(engine, "ws1", "возврат ") == ["a1"]
    index(engine, "ws1", documents.article_ops(None, published, article_id="a1"))
    assert found(engine, "ws1", "возврат ", drafts=True) == []


def test_kinds_filter_the_results(engine):
    index(engine, "ws1", ops_for({"m1": "заказ"}) + documents.message_ops(
        message("n1", "заказ проверили", direction="note"), None))
    assert found(engine, "ws1", "заказ ", kinds=("note",)) == ["n1"]
    assert sorted(found(engine, "ws1", "заказ ")) == ["m1", "n1"]


def test_query_syntax_of_the_user_never_reaches_the_engine(engine):
    index(engine, "ws1", ops_for(CORPUS))
    for hostile in ('"', "NEAR(", "a OR b", "*", "title:x", "-заказ", "^заказ"):
        engine.search("ws1", analyze.parse_query(hostile), Filter(), limit=5, offset=0)  # no error


def test_s3_segments_are_folded_into_a_base_and_the_index_stays_the_same(tmp_path):
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="files")
        writer = S3Engine("files", client, str(tmp_path / "writer"), chance=lambda: 1.0)
        for i in range(COMPACT_AFTER):
            index(writer, "ws1", ops_for({f"m{i:02d}": f"заказ {i}"}))
        reader = S3Engine("files", client, str(tmp_path / "reader"))
        assert len(found(reader, "ws1", "заказ ")) == COMPACT_AFTER
        assert S3Engine("files", client, str(tmp_path / "job")).compact("ws1") is True
        keys = [o["Key"] for o in client.list_objects_v2(Bucket="files")["Contents"]]
        assert [k.split("/")[2] for k in keys] == ["base"]
        index(writer, "ws1", documents.message_ops(message("m00", "", deleted=True), message("m00", "заказ 0")))
        assert len(found(reader, "ws1", "заказ ")) == COMPACT_AFTER - 1  # the reader moved to the new base
        fresh = S3Engine("files", client, str(tmp_path / "cold"))  # a cold Lambda: base + one segment
        assert len(found(fresh, "ws1", "заказ ")) == COMPACT_AFTER - 1
        assert fresh.requests["get_file"] == 1 and fresh.requests["get"] == 1


def test_a_writer_compacts_now_and_then_and_a_reader_when_segments_pile_up(tmp_path):
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="files")

        def segments() -> int:
            listed = client.list_objects_v2(Bucket="files").get("Contents", [])
            return sum("/seg/" in o["Key"] for o in listed)

        lucky = S3Engine("files", client, str(tmp_path / "w1"), chance=lambda: 0.0)  # the 1-in-20 draw, every time
        index(lucky, "ws1", ops_for({"m1": "заказ"}))
        assert segments() == 0
        never = S3Engine("files", client, str(tmp_path / "w2"), chance=lambda: 1.0)
        for i in range(2 * COMPACT_AFTER):
            index(never, "ws1", ops_for({f"n{i:02d}": f"заказ {i}"}))
        assert segments() == 2 * COMPACT_AFTER
        reader = S3Engine("files", client, str(tmp_path / "r"))
        assert len(found(reader, "ws1", "заказ ")) == 2 * COMPACT_AFTER + 1
        assert segments() == 0
        assert len(found(S3Engine("files", client, str(tmp_path / "r2")), "ws1", "заказ ")) == 2 * COMPACT_AFTER + 1


def test_an_idle_workspace_costs_no_s3_request(tmp_path):
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="files")
        engine = S3Engine("files", client, str(tmp_path / "w"))
        engine.flush()  # a stream batch with nothing searchable in it
        assert sum(engine.requests.values()) == 0


def test_snippets_mark_the_matching_words_in_the_original_text():
    text = "Здравствуйте! " + "бла " * 60 + "Где мои Заказы? Ёлка тоже не пришла. " + "бла " * 60
    cut, marks = analyze.snippet(text, analyze.parse_query("заказ елка "))
    assert [cut[s:e] for s, e in marks] == ["Заказы", "Ёлка"]
    assert cut.startswith("…") and cut.endswith("…") and len(cut) <= 170


def test_a_query_without_words_has_no_terms():
    assert analyze.parse_query("!!! ??? ").terms == ()
