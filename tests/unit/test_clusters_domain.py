"""Repeat-request detection (H2): a planted burst of similar messages among random ones is found, whole, and
unrelated messages never pair up."""

from __future__ import annotations

import random

from chalicelib.domain import clusters
from chalicelib.domain.clusters import Doc

SYLLABLES = "ка ро ми ту ле на зо пе ви ша до бу ль ст ре ко ма ти ne ro ta li mo ve sa du".split()


def vocabulary(rng: random.Random, n: int = 3000) -> list[str]:
    return ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(n)]


BURST = ["Не проходит оплата картой, пишет ошибка 500", "не проходит оплата картой: ошибка 500!",
         "Оплата картой не проходит — ошибка 500 на сайте", "у меня не проходит оплата картой, ошибка 500",
         "ошибка 500 при оплате картой, оплата не проходит", "Здравствуйте! Не проходит оплата картой, ошибка 500"]


def random_messages(rng: random.Random, n: int) -> list[Doc]:
    """Unrelated messages: 4 to 12 words drawn from 3,000 made-up ones (common words as often as rare ones)."""
    words = vocabulary(rng)
    return [Doc(f"r{i}", f"rc{i}", " ".join(rng.sample(words, rng.randint(4, 12))), f"2026-12-03T10:{i % 60:02d}")
            for i in range(n)]


def test_a_burst_of_30_similar_messages_among_1000_random_ones_is_found_whole():
    rng = random.Random(15)
    burst = [Doc(f"b{i}", f"bc{i}", BURST[i % len(BURST)] + rng.choice(["", " срочно", " помогите", "?"]),
                 f"2026-12-03T11:{i:02d}") for i in range(30)]
    docs = random_messages(rng, 1000) + burst
    rng.shuffle(docs)
    found = clusters.cluster(docs)
    assert len(found) == 1
    (only,) = found
    assert {d.id for d in only.members} == {d.id for d in burst}
    assert only.customers == 30 and {"оплат", "карто"} <= set(only.terms)


def test_unrelated_messages_and_pairs_that_share_a_word_or_two_stay_apart():
    rng = random.Random(7)
    assert clusters.cluster(random_messages(rng, 1000), min_customers=2) == []
    pairs = [Doc("1", "a", "Где мой заказ? Курьер не приехал", "t"), Doc("2", "b", "Заказ пришёл, спасибо!", "t"),
             Doc("3", "c", "Хочу вернуть заказ, размер не подошёл", "t")]
    assert clusters.cluster(pairs, min_customers=2) == []


def test_one_customer_writing_five_times_is_not_five_customers_and_tags_pull_short_texts_together():
    same = [Doc(f"{i}", "one", "не работает вход в кабинет", f"t{i}") for i in range(5)]
    assert clusters.cluster(same) == []
    tagged = [Doc(f"{i}", f"c{i}", text, "t", ("outage",)) for i, text in
              enumerate(["сайт лежит", "сайт не открывается", "не грузится сайт"])]
    (found,) = clusters.cluster(tagged)
    assert found.customers == 3 and found.tags == ["outage"]


def test_a_burst_is_sudden_when_five_customers_wrote_within_the_window():
    docs = [Doc(f"{i}", f"c{i}", "ошибка 500 при оплате картой", f"2026-12-03T11:{i * 4:02d}") for i in range(6)]
    (found,) = clusters.cluster(docs)
    assert clusters.is_sudden(found, "2026-12-03T11:00")
    assert not clusters.is_sudden(found, "2026-12-03T11:08")  # only four since then
    assert clusters.same_cluster([d.id for d in found.members], ["3", "x"])
