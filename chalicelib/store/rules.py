"""Automation rules (E3): every DynamoDB call of services/rules.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.domain.model import iso
from chalicelib.store import keys
from chalicelib.store.base import typed
from chalicelib.store.models import RuleItem


def list_rules(ws: str) -> list[RuleItem]:
    return list(RuleItem.query(keys.rules(ws), RuleItem.sk.startswith("RULE#")))


def get_rule(ws: str, rule_id: str) -> RuleItem | None:
    try:
        return RuleItem.get(keys.rules(ws), f"RULE#{rule_id}", consistent_read=True)
    except RuleItem.DoesNotExist:
        return None


def put_rule(ws: str, rule_id: str, definition: dict[str, Any], position: int, *, by: str, now: datetime,
             new: bool) -> RuleItem:
    item = typed(RuleItem, keys.rules(ws), f"RULE#{rule_id}", workspace_id=ws, rule_id=rule_id,
                 definition=definition, position=position, updated_at=iso(now), updated_by=by, created_at=iso(now))
    item.save(condition=RuleItem.pk.does_not_exist() if new else RuleItem.pk.exists())
    return item


def delete_rule(item: RuleItem) -> None:
    item.delete()
