"""CSAT and NPS surveys after a close (G4), from the stream, the timers and the widget.

- A conversation MODIFY into `closed` (seen in the stream) books a `survey` timer `survey#<conv>` at the
  workspace's delay (or, with no delay, asks at once). Closing again within the delay moves the same timer.
- Asking (services: `ask`): the conversation is re-read (reopened meanwhile: nothing), the skip rules and the
  customer's last-asked times decide NPS / CSAT / nothing, and one transaction writes the survey, its prompt (a
  pending outbound message with `survey`, sent by services/outbound.py through the channel's native buttons) and
  the customer's marker under the window's condition. A replayed record, a re-fired timer or a second close
  within the window writes nothing.
- Answers: a button (Telegram callback_query, VK payload, WhatsApp list / button reply) arrives as a
  `survey_answer` inbound event; a text that is only a number is taken as the answer to the conversation's open
  survey before it becomes a message, so it neither reopens the conversation nor counts as a request (a text that
  is no valid answer stays an ordinary message); the widget posts stars to its API. Each answer is one
  conditional update: open, unanswered, in time, in the scale. A refused answer writes nothing (webhooks: logged;
  widget: 4xx). An accepted one gets the thank-you reply.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from chalicelib.domain import surveys as rules
from chalicelib.domain.model import InboundEvent, derived_id, iso, parse_iso
from chalicelib.errors import Conflict, InvalidInput, NotFound, Unprocessable
from chalicelib.observability import logger
from chalicelib.services import assignment, timers
from chalicelib.services.deps import Deps
from chalicelib.store import repo
from chalicelib.store import surveys as store
from chalicelib.store.models import ConversationItem, MessageItem, SurveyItem, TimerItem, plain

KIND = "survey"


def settings(ws: str) -> dict[str, Any]:
    return rules.settings_of(plain(assignment.team_settings(ws).surveys) or {})


def timer_id(conv_id: str) -> str:
    return f"survey#{conv_id}"


# --- the close ----------------------------------------------------------------------------------------------


def on_conversation_change(d: Deps, new: ConversationItem, old: ConversationItem | None) -> None:
    """Stream: a conversation that just closed gets its survey (after the delay)."""
    if new.status != "closed" or old is None or old.status == "closed":
        return
    ws = new.workspace_id or ""
    s = settings(ws)
    if rules.skip_reason(s, _candidate(new), d.now()) is not None:
        return
    delay = int(s["delay_minutes"])
    if delay <= 0:
        ask(d, ws, new.conversation_id, closed_at=new.closed_at or "")
        return
    repo.put_timer(ws, timer_id(new.conversation_id), KIND, iso(d.now() + timedelta(minutes=delay)),
                   {"conversation_id": new.conversation_id, "closed_at": new.closed_at or ""}, now=d.now())


@timers.register(KIND)
def _on_timer(d: Deps, timer: TimerItem) -> None:
    target = plain(timer.target)
    ask(d, timer.workspace_id or "", str(target.get("conversation_id") or ""), closed_at=str(target.get("closed_at")
                                                                                             or ""))


def _candidate(conv: ConversationItem) -> rules.Candidate:
    return rules.Candidate(conv.channel_kind, conv.surface or "private", bool(conv.blocked), bool(conv.automated),
                           conv.last_inbound_at or "")


def ask(d: Deps, ws: str, conv_id: str, *, closed_at: str) -> SurveyItem | None:
    """Survey the customer about this close, at most once; None when nothing is sent (and why is logged)."""
    now = d.now()
    conv = repo.get_conversation(ws, conv_id, consistent=True)
    if conv is None or conv.status != "closed":
        return None  # reopened (or gone) before the delay ran out
    s = settings(ws)
    reason = rules.skip_reason(s, _candidate(conv), now)
    channel = repo.get_channel(conv.channel_id) if reason is None else None
    if reason is None and (channel is None or not channel.enabled):
        reason = "channel"
    kind = rules.choose_kind(s, store.last_asked(ws, conv.contact_id), now) if reason is None else None
    if kind is None:
        logger.info("no survey", extra={"reason": reason or "window", "conversation_id": conv_id})
        return None
    close = conv.closed_at or closed_at or iso(now)
    survey_id = rules.survey_id_for(kind, parse_iso(close), conv_id, close)
    language = rules.language_of(conv.language or "", _workspace_language(ws))
    prompt = rules.prompt(s, survey_id, kind, language)
    message = repo.new_message(
        ws, conv_id, derived_id("m", now, "survey", survey_id), channel_id=conv.channel_id, direction="out",
        origin="survey", author_id="bot", text=prompt.text_with_hint(), status="pending", created_at=iso(now),
        survey=prompt.as_json())
    survey = store.new_survey(
        ws, conv_id, survey_id, kind=kind, channel_id=conv.channel_id, channel_kind=conv.channel_kind,
        contact_id=conv.contact_id, operator_id=conv.assignee_id, state="pending", language=language,
        answer_until=iso(now + timedelta(hours=int(s["answer_hours"]))), message_id=message.message_id,
        closed_at=close, created_at=iso(now))
    if not store.create(survey, message, quiet=rules.quiet_window(s), nps_interval=rules.nps_interval(s), now=now):
        logger.info("no survey", extra={"reason": "already_asked", "conversation_id": conv_id})
        return None
    logger.info("survey asked", extra={"kind": kind, "survey_id": survey_id, "conversation_id": conv_id})
    return survey


def _workspace_language(ws: str) -> str:
    workspace = repo.get_workspace(ws)
    return (workspace.language if workspace is not None else "") or "ru"


def on_message_change(d: Deps, new: MessageItem, old: MessageItem | None) -> None:
    """Stream: the prompt went out (or failed): the survey's state follows."""
    if not new.survey or new.status not in ("sent", "failed") or (old is not None and old.status == new.status):
        return
    survey_id = str(plain(new.survey).get("survey_id") or "")
    store.mark_delivery(new.workspace_id or "", new.conversation_id, survey_id, new.status, now=d.now())


# --- answers ----------------------------------------------------------------------------------------------------


def answer(d: Deps, ws: str, conv_id: str, survey_id: str, score: object, *, via: str) -> tuple[SurveyItem | None,
                                                                                                 str | None]:
    """Record an answer for a survey of this conversation: (the survey, None) or (None, why it was refused).

    One conditional update when it counts (the scale is known from the id); a refusal reads the survey to say why."""
    now = d.now()
    kind = rules.kind_of_id(survey_id)
    if kind is None:
        return None, "unknown_survey"
    if not rules.in_scale(kind, score):
        return None, "out_of_range"
    assert isinstance(score, int)
    done = store.record_answer(ws, conv_id, survey_id, score, via=via, now=now)
    if done is None:
        survey = store.get(ws, conv_id, survey_id)
        if survey is None:
            return None, "unknown_survey"
        return None, rules.refusal(survey.kind, survey.state, score, survey.answer_until or "", now) or "not_open"
    _thank(d, done)
    return done, None


def _thank(d: Deps, survey: SurveyItem) -> None:
    ws = survey.workspace_id or ""
    conv_id = survey.conversation_id or ""
    at = d.now()
    message = repo.new_message(
        ws, conv_id, derived_id("m", at, "survey-thanks", survey.survey_id), channel_id=survey.channel_id,
        direction="out", origin="survey", author_id="bot", text=rules.thanks(settings(ws), survey.language or "ru"),
        status="pending", created_at=iso(at))
    repo.put_message_once(message)


def on_answer_event(d: Deps, event: InboundEvent, conv_id: str) -> None:
    """Inbound `survey_answer` (a pressed button): recorded, or ignored and logged; Telegram hears a toast."""
    survey_id = str(event.answer.get("survey_id") or "")
    score = event.answer.get("score")
    done, why = answer(d, event.workspace_id, conv_id, survey_id, score, via=str(event.answer.get("via") or "button"))
    if why is not None:
        logger.warning("survey answer refused", extra={"reason": why, "survey_id": survey_id,
                                                       "conversation_id": conv_id})
    callback_id = str(event.answer.get("callback_id") or "")
    adapter = d.adapters.get(event.channel_kind)
    if callback_id and hasattr(adapter, "answer_callback"):
        channel = repo.get_channel(event.channel_id)
        language = done.language if done is not None else rules.language_of(event.sender.language)
        text = rules.thanks(settings(event.workspace_id), language or "ru") if done is not None else ""
        if channel is not None:
            try:
                adapter.answer_callback(channel, callback_id, text)
            except Exception as err:  # noqa: BLE001 - the answer is stored; a lost toast only stops a spinner
                logger.info("callback answer not sent", extra={"error": type(err).__name__})


def take_text_answer(d: Deps, event: InboundEvent, conv_id: str) -> bool:
    """A customer's message that is only a number, for the open survey of the still closed conversation: taken as
    its answer (True: nothing else happens to the message). Any other text costs no DynamoDB request here."""
    score = rules.parse_text_answer(event.text)
    if score is None or event.attachments or event.surface != "private":
        return False
    survey = store.latest_of(event.workspace_id, conv_id)
    if survey is None or rules.refusal(survey.kind, survey.state, score, survey.answer_until or "", d.now()):
        return False  # no open survey, or not a number of its scale: an ordinary message
    conv = repo.get_conversation(event.workspace_id, conv_id, consistent=True)
    if conv is None or conv.status != "closed":
        return False  # the customer wrote again since the close: a number is part of that talk now
    done, _why = answer(d, event.workspace_id, conv_id, survey.survey_id, score, via="text")
    return done is not None


def answer_from_widget(d: Deps, ws: str, conv_id: str, survey_id: str, score: object) -> dict[str, Any]:
    """The widget's stars: 404 for a survey not of this visitor's conversation, 422 out of range, 409 otherwise."""
    done, why = answer(d, ws, conv_id, survey_id, score, via="widget")
    if why == "unknown_survey":
        raise NotFound("no such survey in this conversation")
    if why == "out_of_range":
        raise Unprocessable("score is out of the survey's scale", code="out_of_range")
    if why is not None:
        raise Conflict(f"this survey cannot be answered: {why.replace('_', ' ')}", code=why)
    assert done is not None
    return survey_json(done)


def answered_now(new: SurveyItem, old: Any) -> bool:
    """The record that carries the answer (score from null to a number): the one the consoles hear of."""
    return new.score is not None and (not isinstance(old, SurveyItem) or old.score is None)


# --- reading ----------------------------------------------------------------------------------------------------


def survey_json(s: SurveyItem, now: Any = None) -> dict[str, Any]:
    state = s.state
    if state in ("pending", "sent") and now is not None and s.answer_until and parse_iso(s.answer_until) <= now:
        state = "expired"
    return {"id": s.survey_id, "kind": s.kind, "conversation_id": s.conversation_id, "channel_id": s.channel_id,
            "channel_kind": s.channel_kind, "contact_id": s.contact_id, "operator_id": s.operator_id,
            "state": state, "score": int(s.score) if s.score is not None else None, "comment": s.comment,
            "created_at": s.created_at, "sent_at": s.sent_at, "answered_at": s.answered_at,
            "answered_via": s.answered_via, "answer_until": s.answer_until, "closed_at": s.closed_at}


MAX_PAGE = 200


def list_surveys(d: Deps, ws: str, params: dict[str, str]) -> dict[str, Any]:
    now = d.now()
    conv_id = params.get("conversation_id") or ""
    if conv_id:
        return {"items": [survey_json(s, now) for s in store.of_conversation(ws, conv_id)], "next_cursor": None}
    try:
        limit = int(params.get("limit") or 50)
    except ValueError:
        raise InvalidInput("limit is a number 1..200") from None
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("limit is a number 1..200")
    bounds: dict[str, str | None] = {}
    for name in ("since", "until"):
        value = params.get(name) or None
        try:
            at = parse_iso(value) if value else None
            if at is not None and at.tzinfo is None:
                at = at.replace(tzinfo=UTC)
            if at is not None and not 1970 <= at.astimezone(UTC).year <= 9998:
                raise ValueError(value)
            bounds[name] = iso(at) if at is not None else None
        except (ValueError, OverflowError):
            raise InvalidInput(f"{name} is an ISO-8601 time (1970-9998)") from None
    if bounds["since"] and bounds["until"] and bounds["since"] > bounds["until"]:
        raise InvalidInput("since is after until")
    kind, operator, answered = params.get("kind") or "", params.get("operator_id") or "", params.get("answered")
    if kind and kind not in rules.KINDS:
        raise InvalidInput("kind is csat or nps")
    if answered not in (None, "", "0", "1", "true", "false"):
        raise InvalidInput("answered is 1 or 0")
    flt: Any = None

    def both(a: Any, b: Any) -> Any:
        return b if a is None else a & b

    if kind:
        flt = both(flt, SurveyItem.kind == kind)
    if operator:
        flt = both(flt, SurveyItem.operator_id == operator)
    if answered in ("1", "true"):
        flt = both(flt, SurveyItem.score.exists())
    elif answered in ("0", "false"):
        flt = both(flt, SurveyItem.score.does_not_exist())
    try:
        items, cursor = store.page(ws, since=bounds["since"], until=bounds["until"], limit=limit,
                                   cursor=params.get("cursor") or None, filter_condition=flt)
    except ValueError:
        raise InvalidInput("cursor is not one of ours") from None
    return {"items": [survey_json(s, now) for s in items], "next_cursor": cursor}


def get_settings(ws: str) -> dict[str, Any]:
    return settings(ws)


def put_settings(d: Deps, principal: Any, body: object) -> dict[str, Any]:
    from chalicelib.domain.notifications import InvalidSettings
    from chalicelib.services import audit
    from chalicelib.store import team

    ws = principal.workspace_id
    item = team.get_team_settings(ws)
    before = rules.settings_of(plain(item.surveys) or {})
    try:
        after = rules.parse_settings(before, body)
    except InvalidSettings as err:
        raise InvalidInput(str(err)) from None
    if after != before:
        item.surveys = after
        team.put_team_settings(item, audit.admin_entry(principal, "surveys.settings", "workspace", ws, now=d.now(),
                                                       before=before, after=after))
        assignment.forget_settings(ws)
    return after
