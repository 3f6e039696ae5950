"""Surveys (G4): every DynamoDB call of the CSAT / NPS surveys.

A survey is created in one transaction with its prompt message and the customer's "asked" marker, whose
condition is the "not twice within N days" window: a replayed close, or a second close inside the window, writes
nothing. An answer is one conditional update (open, unanswered, in time); a refused answer writes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.domain.model import iso
from chalicelib.domain.surveys import close_key
from chalicelib.store import keys
from chalicelib.store.base import condition_failed, page_items, start_key, transact_if, typed
from chalicelib.store.models import MessageItem, SurveyAskedItem, SurveyItem


def new_survey(ws: str, conv_id: str, survey_id: str, **attrs: Any) -> SurveyItem:
    pk, sk = keys.survey(ws, conv_id, close_key(survey_id))
    created = str(attrs.get("created_at") or "")
    return typed(SurveyItem, pk, sk, workspace_id=ws, survey_id=survey_id, conversation_id=conv_id,
                 gsi1pk=keys.surveys_of(ws), gsi1sk=f"{created}#{survey_id}", **attrs)


def last_asked(ws: str, contact_id: str) -> dict[str, str]:
    """kind -> when this customer was last asked (one Query of their marker partition)."""
    pk = keys.survey_asked(ws, contact_id, "")[0]
    return {item.kind: item.asked_at for item in SurveyAskedItem.query(pk, consistent_read=True)}


def create(survey: SurveyItem, message: MessageItem, *, quiet: timedelta, nps_interval: timedelta,
           now: datetime) -> bool:
    """Survey, prompt and the customer's markers at once; False when a window or a replay says no."""
    ws = survey.workspace_id or ""

    def marker(kind: str, window: timedelta) -> tuple[SurveyAskedItem, Any]:
        pk, sk = keys.survey_asked(ws, survey.contact_id, kind)
        item = typed(SurveyAskedItem, pk, sk, workspace_id=ws, contact_id=survey.contact_id, kind=kind,
                     asked_at=iso(now), survey_id=survey.survey_id)
        free = SurveyAskedItem.pk.does_not_exist() | (SurveyAskedItem.asked_at <= iso(now - window))
        return item, (free if window > timedelta(0) else None)

    markers = [marker("any", quiet)] + ([marker("nps", nps_interval)] if survey.kind == "nps" else [])

    def build(tx: Any) -> None:
        for item, condition in markers:
            tx.save(item, condition=condition)
        tx.save(survey, condition=SurveyItem.pk.does_not_exist())
        tx.save(message, condition=MessageItem.pk.does_not_exist())

    return transact_if(build)


def get(ws: str, conv_id: str, survey_id: str) -> SurveyItem | None:
    pk, sk = keys.survey(ws, conv_id, close_key(survey_id))
    try:
        return SurveyItem.get(pk, sk, consistent_read=True)
    except SurveyItem.DoesNotExist:
        return None


def latest_of(ws: str, conv_id: str) -> SurveyItem | None:
    """The conversation's newest survey (a text answer is for that one)."""
    pk = keys.conversation(ws, conv_id)[0]
    found = SurveyItem.query(pk, SurveyItem.sk.startswith(keys.SURVEY_PREFIX), scan_index_forward=False, limit=1,
                             consistent_read=True)
    return next(iter(found), None)


def of_conversation(ws: str, conv_id: str) -> list[SurveyItem]:
    pk = keys.conversation(ws, conv_id)[0]
    return list(SurveyItem.query(pk, SurveyItem.sk.startswith(keys.SURVEY_PREFIX), scan_index_forward=False))


def record_answer(ws: str, conv_id: str, survey_id: str, score: int, *, via: str, now: datetime) -> SurveyItem | None:
    """The answer, once: only while open (pending / sent), unanswered and in time. The survey as it is now, or None
    when the condition fails (answered already, expired, not this conversation's)."""
    pk, sk = keys.survey(ws, conv_id, close_key(survey_id))
    item = SurveyItem(pk, sk)
    condition = (SurveyItem.pk.exists() & SurveyItem.state.is_in("pending", "sent") & SurveyItem.score.does_not_exist()
                 & (SurveyItem.answer_until.does_not_exist() | (SurveyItem.answer_until > iso(now))))
    try:
        item.update(actions=[SurveyItem.score.set(score), SurveyItem.state.set("answered"),
                             SurveyItem.answered_at.set(iso(now)), SurveyItem.answered_via.set(via)],
                    condition=condition)
    except UpdateError as err:
        if condition_failed(err):
            return None
        raise
    return item


def mark_delivery(ws: str, conv_id: str, survey_id: str, state: str, *, now: datetime) -> bool:
    """The prompt went out (sent) or could not (failed); an answer that came first stays."""
    pk, sk = keys.survey(ws, conv_id, close_key(survey_id))
    actions: list[Any] = [SurveyItem.state.set(state)] + ([SurveyItem.sent_at.set(iso(now))] if state == "sent" else [])
    try:
        SurveyItem(pk, sk).update(actions=actions, condition=SurveyItem.pk.exists() & (SurveyItem.state == "pending"))
        return True
    except UpdateError as err:
        if condition_failed(err):
            return False
        raise


def page(ws: str, *, since: str | None, until: str | None, limit: int, cursor: str | None,
         filter_condition: Any = None) -> tuple[list[SurveyItem], str | None]:
    """A workspace's surveys newest first (gsi1), `since` <= created < `until`."""
    import json

    start = start_key(cursor)
    low, high = since or "0", until or "~"
    result = SurveyItem.gsi1.query(keys.surveys_of(ws), SurveyItem.gsi1sk.between(low, high),
                                   scan_index_forward=False, limit=limit, last_evaluated_key=start,
                                   filter_condition=filter_condition, page_size=max(limit, 25))
    items = page_items(result, start)
    last = result.last_evaluated_key
    return items, json.dumps(last, separators=(",", ":")) if last and len(items) >= limit else None
