"""What wins when two client cards merge (C2), and which cards look like the same person: pure rules."""

from __future__ import annotations

import pytest

from chalicelib.domain import merge


def test_phone_email_and_name_are_normalised_so_the_same_person_matches():
    assert merge.normal_phone("8 (912) 345-67-89") == merge.normal_phone("+7 912 345 67 89") == "79123456789"
    assert merge.normal_email("  Maria@Example.COM ") == "maria@example.com"
    assert merge.normal_name("Соколова  Мария") == merge.normal_name("мария соколова")
    assert merge.normal_name("Фёдор") == merge.normal_name("федор")
    assert merge.reasons(merge.match_keys("Olga", "o@x.ru", "+79120000000"),
                         merge.match_keys("olga", "O@X.ru", "89120000000")) == ["email", "phone", "name"]
    assert merge.match_keys("Al", "", "123") == {}  # a two-letter name and a short number suggest nothing


def test_a_filled_value_beats_an_empty_one_and_notes_and_fields_are_joined_by_default():
    survivor = {"display_name": "Maria", "email": "", "phone": "+7912", "notes": "VIP",
                "custom_fields": {"City": "Kazan"}}
    other = {"display_name": "Maria S", "email": "m@x.ru", "phone": "", "notes": "late payer",
             "custom_fields": {"City": "Moscow", "Order": "1"}}
    plan = {f.field: f for f in merge.plan(survivor, other)}
    assert [plan[f].side for f in merge.FIELDS] == ["survivor", "other", "survivor", "both", "both"]
    assert plan["notes"].result == "VIP\n\nlate payer"
    assert plan["custom_fields"].result == {"City": "Kazan", "Order": "1"}
    chosen = {f.field: f for f in merge.plan(survivor, other, {"display_name": "other", "custom_fields": "other"})}
    assert chosen["display_name"].result == "Maria S" and chosen["custom_fields"].result == other["custom_fields"]
    assert merge.changes_of(merge.plan(survivor, other, {"notes": "survivor", "custom_fields": "survivor",
                                                         "email": "survivor"})) == {}


@pytest.mark.parametrize("choices", [{"phone": "both"}, {"age": "other"}, {"notes": "mine"}])
def test_a_choice_of_an_unknown_field_or_side_is_refused(choices):
    with pytest.raises(ValueError):
        merge.plan({}, {}, choices)
