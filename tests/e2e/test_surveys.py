"""CSAT and NPS surveys (G4) end to end: a close in the stream, the survey through the channel's own buttons (the
fake providers record the real sends), the customer's answer through the real webhook, and what is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.model import iso
from tests.e2e.conftest import tick
from tests.e2e.test_automation_sla import chat_id, customer_writes
from tests.e2e.test_team_support import add_user
from tests.support import customer_message, new_workspace

pytestmark = pytest.mark.ddblocal


def surveyed_workspace(stack, **settings):
    ws = new_workspace(stack)
    assert ws.api("PUT", "/team/settings", json={"sla_minutes": 10080}).status_code == 200
    body = {"csat_enabled": True, "delay_minutes": 0, **settings}
    resp = ws.api("PUT", "/surveys/settings", json=body)
    assert resp.status_code == 200, resp.text
    return ws


def close(ws, conv_id: str) -> None:
    resp = ws.api("PATCH", f"/conversations/{conv_id}", json={"status": "closed"})
    assert resp.status_code == 200, resp.text
    ws.drain()


def surveys_of(ws, conv_id: str) -> list[dict]:
    resp = ws.api("GET", f"/conversations/{conv_id}/surveys")
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


def keyboards(ws, chat: int) -> list[dict]:
    return [m for m in ws.stack.fake_telegram.sent(chat) if m.get("reply_markup")]


def press(ws, chat: int, message: dict, score: int) -> None:
    button = next(b for row in message["reply_markup"]["inline_keyboard"] for b in row if b["text"].startswith(
        str(score)))
    update = ws.stack.fake_telegram.press(ws.bot_token, chat, message["message_id"], button["callback_data"])
    assert ws.post_update(update).status_code == 200
    ws.drain()


def test_a_close_sends_a_telegram_keyboard_and_the_pressed_button_is_the_answer(stack, clock):
    ws = surveyed_workspace(stack)
    op = add_user(stack, ws.id, "operator")
    chat = chat_id()
    conv_id = customer_writes(ws, chat, "where is my parcel?")
    assert op.api("POST", f"/conversations/{conv_id}/claim").status_code == 200
    assert ws.reply(conv_id, "on its way").status_code == 202
    ws.drain()
    close(ws, conv_id)
    [prompt] = keyboards(ws, chat)
    rows = prompt["reply_markup"]["inline_keyboard"]
    assert [[b["text"] for b in row] for row in rows] == [["1 ★", "2 ★", "3 ★", "4 ★", "5 ★"]]
    assert "1" in prompt["text"] and "5" in prompt["text"]
    [survey] = surveys_of(ws, conv_id)
    assert survey["kind"] == "csat" and survey["state"] == "sent" and survey["operator_id"] == op.user_id
    press(ws, chat, prompt, 4)
    [survey] = surveys_of(ws, conv_id)
    assert survey["score"] == 4 and survey["state"] == "answered" and survey["answered_via"] == "button"
    answers = stack.fake_telegram.callback_answers()
    assert any(a["text"] for a in answers)  # the spinner stopped with a thank-you toast
    texts = [m.get("text") for m in stack.fake_telegram.sent(chat)]
    assert texts[-1] == "Спасибо за оценку!"  # the thank-you reply, in the customer's language
    conv = ws.api("GET", f"/conversations/{conv_id}").json()
    assert conv["status"] == "closed"  # the answer is no new request
    # a second press (or the same one replayed) is refused and changes nothing
    press(ws, chat, prompt, 1)
    assert surveys_of(ws, conv_id)[0]["score"] == 4
    assert [m.get("text") for m in stack.fake_telegram.sent(chat)].count("Спасибо за оценку!") == 1


def test_one_survey_per_close_when_the_record_is_replayed_and_within_the_window(stack, clock):
    from chalicelib.services import surveys
    from chalicelib.services.deps import deps
    from chalicelib.store import repo
    from chalicelib.store.models import ConversationItem

    ws = surveyed_workspace(stack, csat_window_days=30)
    chat = chat_id()
    conv_id = customer_writes(ws, chat, "hello")
    close(ws, conv_id)
    assert len(keyboards(ws, chat)) == 1
    closed = repo.get_conversation(ws.id, conv_id, consistent=True)
    assert closed is not None
    before = ConversationItem.from_raw_data(closed.serialize())
    before.status = "in_progress"
    surveys.on_conversation_change(deps(), closed, before)  # the stream record once more
    ws.drain()
    assert len(keyboards(ws, chat)) == 1 and len(surveys_of(ws, conv_id)) == 1
    # reopened by the customer and closed again within the window: not asked again
    clock.advance(days=3)
    customer_writes(ws, chat, "one more question")
    close(ws, conv_id)
    assert len(keyboards(ws, chat)) == 1 and len(surveys_of(ws, conv_id)) == 1
    # after the window, the next close asks again
    clock.advance(days=28)
    customer_writes(ws, chat, "hi again")
    close(ws, conv_id)
    assert len(keyboards(ws, chat)) == 2 and len(surveys_of(ws, conv_id)) == 2


def test_the_delay_runs_on_the_timer_and_a_reopen_before_it_cancels(stack, clock):
    ws = surveyed_workspace(stack, delay_minutes=5)
    chat = chat_id()
    conv_id = customer_writes(ws, chat, "hello")
    close(ws, conv_id)
    assert keyboards(ws, chat) == []
    clock.advance(minutes=5)
    assert tick() == 1
    ws.drain()
    assert len(keyboards(ws, chat)) == 1
    # another customer reopens before the delay: nothing is sent
    other = chat_id()
    conv2 = customer_writes(ws, other, "hello")
    close(ws, conv2)
    clock.advance(minutes=2)
    customer_writes(ws, other, "wait, one more thing")
    clock.advance(minutes=3)
    tick()
    ws.drain()
    assert keyboards(ws, other) == [] and surveys_of(ws, conv2) == []


def test_a_text_answer_is_taken_and_does_not_reopen_the_conversation(stack, clock):
    ws = surveyed_workspace(stack)
    chat = chat_id()
    conv_id = customer_writes(ws, chat, "hello")
    close(ws, conv_id)
    count = len(ws.messages(conv_id))
    assert ws.post_update(customer_message(chat, " 5 ", first_name=f"Customer {chat}")).status_code == 200
    ws.drain()
    [survey] = surveys_of(ws, conv_id)
    assert survey["score"] == 5 and survey["answered_via"] == "text"
    conv = ws.api("GET", f"/conversations/{conv_id}").json()
    assert conv["status"] == "closed"
    messages = ws.messages(conv_id)
    assert not any(m["direction"] == "in" and m["text"].strip() == "5" for m in messages)
    assert len(messages) == count + 1 and "Спасибо за оценку!" in [m["text"] for m in messages]
    # a number out of the scale is no answer: an ordinary message that reopens as always
    other = chat_id()
    conv2 = customer_writes(ws, other, "hello")
    close(ws, conv2)
    assert ws.post_update(customer_message(other, "7", first_name=f"Customer {other}")).status_code == 200
    ws.drain()
    assert surveys_of(ws, conv2)[0]["score"] is None
    assert ws.api("GET", f"/conversations/{conv2}").json()["status"] != "closed"


def test_answers_out_of_range_for_another_customer_or_expired_are_refused(stack, clock):
    from chalicelib.domain import surveys as rules

    ws = surveyed_workspace(stack, answer_hours=1)
    alice, bob = chat_id(), chat_id()
    conv_a = customer_writes(ws, alice, "hello")
    conv_b = customer_writes(ws, bob, "hello")
    close(ws, conv_a)
    close(ws, conv_b)
    [survey_a] = surveys_of(ws, conv_a)

    def callback(chat: int, data: str) -> dict:
        return {"update_id": 10**9 + chat % 10**6 + len(data), "callback_query": {
            "id": f"q{chat}{len(data)}", "chat_instance": "1", "data": data,
            "from": {"id": chat, "is_bot": False, "first_name": "X"},
            "message": {"message_id": 1, "date": 1, "chat": {"id": chat, "type": "private"}}}}

    # Bob presses a forged button carrying Alice's survey: nothing is stored
    assert ws.post_update(callback(bob, rules.answer_data(survey_a["id"], 5))).status_code == 200
    # out of the scale
    assert ws.post_update(callback(alice, rules.answer_data(survey_a["id"], 9))).status_code == 200
    ws.drain()
    assert surveys_of(ws, conv_a)[0]["score"] is None and surveys_of(ws, conv_b)[0]["score"] is None
    # expired
    clock.advance(hours=1, minutes=1)
    assert ws.post_update(callback(alice, rules.answer_data(survey_a["id"], 5) + "")).status_code == 200
    ws.drain()
    [after] = surveys_of(ws, conv_a)
    assert after["score"] is None and after["state"] == "expired"


def test_no_survey_for_blocked_customers_comments_or_when_off(stack, clock):
    ws = surveyed_workspace(stack, channels=["vk"])  # telegram not chosen
    chat = chat_id()
    conv_id = customer_writes(ws, chat, "hello")
    close(ws, conv_id)
    assert keyboards(ws, chat) == [] and surveys_of(ws, conv_id) == []
    ws2 = surveyed_workspace(stack)
    chat2 = chat_id()
    conv2 = customer_writes(ws2, chat2, "hello")
    assert ws2.api("POST", f"/conversations/{conv2}/block", json={"blocked": True}).status_code == 200
    ws2.drain()
    close(ws2, conv2)
    assert keyboards(ws2, chat2) == [] and surveys_of(ws2, conv2) == []


def test_nps_on_its_schedule_and_results_for_analysts_only_in_their_workspace(stack, clock):
    ws = surveyed_workspace(stack, nps_enabled=True, csat_window_days=0, nps_interval_days=90)
    chat = chat_id()
    conv_id = customer_writes(ws, chat, "hello")
    close(ws, conv_id)
    [nps] = keyboards(ws, chat)
    assert [b["text"] for row in nps["reply_markup"]["inline_keyboard"] for b in row] == [str(n) for n in range(11)]
    press(ws, chat, nps, 9)
    clock.advance(days=1)
    customer_writes(ws, chat, "again")
    close(ws, conv_id)  # NPS was asked less than 90 days ago: CSAT this time
    kinds = sorted(s["kind"] for s in surveys_of(ws, conv_id))
    assert kinds == ["csat", "nps"]
    analyst = add_user(stack, ws.id, "analyst")
    resp = analyst.api("GET", "/surveys", params={"kind": "nps", "answered": "1"})
    assert resp.status_code == 200, resp.text
    assert [(s["kind"], s["score"]) for s in resp.json()["items"]] == [("nps", 9)]
    operator = add_user(stack, ws.id, "operator")
    assert operator.api("GET", "/surveys").status_code == 403
    assert operator.api("GET", f"/conversations/{conv_id}/surveys").status_code == 200
    other = new_workspace(stack)
    assert other.api("GET", "/surveys").json()["items"] == []
    assert other.api("GET", f"/conversations/{conv_id}/surveys").status_code == 404
    page = ws.api("GET", "/surveys", params={"limit": 1}).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = ws.api("GET", "/surveys", params={"limit": 1, "cursor": page["next_cursor"]}).json()
    assert rest["items"][0]["id"] != page["items"][0]["id"]
    assert ws.api("GET", "/surveys", params={"cursor": "forged"}).status_code == 400
    for bad in ({"since": "0298-04-21T22:05:41-00:52"}, {"until": "tomorrow"}, {"limit": 0}, {"kind": "ces"},
                {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}):
        assert ws.api("GET", "/surveys", params=bad).status_code == 400, bad
    assert ws.api("GET", "/surveys", params={"since": iso(clock() + timedelta(days=1))}).json()["items"] == []


def test_settings_are_validated_and_admins_only(stack, clock):
    ws = surveyed_workspace(stack)
    for body in ({"delay_minutes": -1}, {"csat_enabled": "yes"}, {"channels": ["fax"]}, {"nope": 1},
                 {"csat_question": {"de": "Wie?"}}, {"csat_window_days": 10**6}):
        resp = ws.api("PUT", "/surveys/settings", json=body)
        assert resp.status_code == 400, (body, resp.text)
    assert ws.api("GET", "/surveys/settings").json()["delay_minutes"] == 0
    operator = add_user(stack, ws.id, "operator")
    assert operator.api("PUT", "/surveys/settings", json={"csat_enabled": False}).status_code == 403
    assert operator.api("GET", "/surveys/settings").json()["csat_enabled"] is True


def enable(shop, **settings) -> None:
    resp = shop.api("PUT", "/surveys/settings", json={"csat_enabled": True, "delay_minutes": 0, **settings})
    assert resp.status_code == 200, resp.text


def test_vk_gets_an_inline_keyboard_and_the_payload_of_the_pressed_button_is_the_answer(stack):
    from chalicelib.local.fakes import vk as fake_vk
    from tests.e2e.test_channel_vk import customer, vk_shop

    shop = vk_shop(stack)
    enable(shop)
    user = customer()
    assert shop.post_event(fake_vk.message_new(shop.channel, user_id=user, text="hello")).status_code == 200
    shop.drain()
    conv_id = shop.only_conversation()["id"]
    close(shop, conv_id)
    [prompt] = [m for m in shop.fake.sent(user) if m.get("keyboard")]
    assert prompt["keyboard"]["inline"] is True
    labels = [b["action"]["label"] for row in prompt["keyboard"]["buttons"] for b in row]
    assert labels == ["1 ★", "2 ★", "3 ★", "4 ★", "5 ★"]
    view = fake_vk.customer_view(shop.fake, str(user))
    button = next(b for m in view for b in m.get("buttons", []) if b["label"] == "5 ★")
    press = fake_vk.press(shop.fake, shop.channel, user_id=user, message_id=prompt["id"], data=button["data"])
    assert shop.post_event(press).status_code == 200
    shop.drain()
    [survey] = surveys_of(shop, conv_id)
    assert survey["score"] == 5 and survey["answered_via"] == "button"
    assert shop.fake.sent(user)[-1]["text"] == "Спасибо за оценку!"
    assert shop.api("GET", f"/conversations/{conv_id}").json()["status"] == "closed"  # the press is no message
    assert not any(m["direction"] == "in" and "★" in m["text"] for m in shop.messages(conv_id))
    # a payload from another customer's chat carrying this survey: refused, nothing stored
    forged = fake_vk.message_new(shop.channel, user_id=customer(), text="1 ★", payload=button["data"][:-2] + "1\"}")
    assert shop.post_event(forged).status_code == 200
    shop.drain()
    assert surveys_of(shop, conv_id)[0]["score"] == 5


def test_whatsapp_gets_a_list_and_the_chosen_row_is_the_answer(stack):
    from chalicelib.local.fakes.graph import choices, whatsapp_choice, whatsapp_webhook
    from tests.e2e.test_channel_meta import digits, open_shop

    shop = open_shop(stack, "whatsapp")
    enable(shop)
    user = digits(11)
    shop.fake.customer_wrote(shop.channel.secrets["phone_number_id"], user)
    shop.customer_writes(user, "hello")
    shop.drain()
    conv_id = shop.conversations()[0]["id"]
    close(shop, conv_id)
    [prompt] = [m for m in shop.fake.sent(user) if m["type"] == "interactive"]
    assert prompt["interactive"]["type"] == "list"
    rows = choices(prompt)
    assert [r["label"] for r in rows] == ["1 ★", "2 ★", "3 ★", "4 ★", "5 ★"]

    def pick(score: int, sent: dict) -> None:
        message = whatsapp_choice(user, sent, next(r["data"] for r in rows if r["label"].startswith(str(score))))
        payload = whatsapp_webhook(shop.channel.secrets["phone_number_id"], messages=[message],
                                   contacts=[{"profile": {"name": "Boris"}, "wa_id": user}])
        assert shop.post(payload).status_code == 200
        shop.drain()

    pick(3, prompt)
    [survey] = surveys_of(shop, conv_id)
    assert survey["score"] == 3 and survey["state"] == "answered"
    assert shop.fake.sent(user)[-1]["text"] == "Спасибо за оценку!"
    pick(5, prompt)  # the list chosen once more: already answered
    assert surveys_of(shop, conv_id)[0]["score"] == 3
    # a button_reply (reply buttons) is read the same way
    from chalicelib.channels.whatsapp import _survey_answer

    button = {"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {
        "id": rows[0]["data"], "title": "1"}}}
    assert _survey_answer(button) == (survey["id"], 1)


def test_email_and_other_text_channels_ask_for_a_number_and_nps_goes_as_text_where_buttons_cannot_hold_it(stack):
    from chalicelib.local.fakes import vk as fake_vk
    from tests.e2e.test_channel_vk import customer, vk_shop

    shop = vk_shop(stack)
    enable(shop, nps_enabled=True)
    user = customer()
    assert shop.post_event(fake_vk.message_new(shop.channel, user_id=user, text="hello")).status_code == 200
    shop.drain()
    conv_id = shop.only_conversation()["id"]
    close(shop, conv_id)
    prompt = shop.fake.sent(user)[-1]
    assert "keyboard" not in prompt and "0" in prompt["text"] and "10" in prompt["text"]
    assert shop.post_event(fake_vk.message_new(shop.channel, user_id=user, text="8")).status_code == 200
    shop.drain()
    [survey] = surveys_of(shop, conv_id)
    assert (survey["kind"], survey["score"], survey["answered_via"]) == ("nps", 8, "text")


def test_the_widget_shows_stars_and_takes_them_once_from_this_visitor_only(stack):
    from tests.e2e.test_widget_api import widget_site

    site = widget_site(stack)
    enable(site.ws)
    visitor = site.visitor()
    assert visitor.write("hello").status_code == 201
    site.ws.drain()
    close(site.ws, visitor.conversation_id)
    [prompt] = [m for m in visitor.history() if m.get("survey")]
    survey = prompt["survey"]
    assert survey["kind"] == "csat" and survey["scale"] == [1, 5] and "operator_id" not in str(prompt)
    other = site.visitor({"name": "Ivan", "email": "ivan@example.org"})
    path = f"/surveys/{survey['id']}"
    assert other.call("POST", path, json={"score": 5}).status_code == 404  # not their conversation's survey
    assert visitor.call("POST", path, json={"score": 6}).status_code == 422
    assert visitor.call("POST", path, json={"score": "5"}).status_code == 422
    assert visitor.call("POST", path, json={}).status_code == 422
    assert visitor.call("POST", path, token="forged", json={"score": 5}).status_code == 401
    assert surveys_of(site.ws, visitor.conversation_id)[0]["score"] is None  # nothing stored so far
    resp = visitor.call("POST", path, json={"score": 5})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"id": survey["id"], "kind": "csat", "score": 5, "state": "answered"}
    assert resp.headers["Access-Control-Allow-Origin"]
    again = visitor.call("POST", path, json={"score": 1})
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_answered"
    site.ws.drain()
    assert surveys_of(site.ws, visitor.conversation_id)[0]["score"] == 5
    assert visitor.history()[-1]["text"] == "Спасибо за оценку!"


def test_a_number_after_the_customer_wrote_again_is_part_of_the_talk_not_an_answer(stack, clock):
    ws = surveyed_workspace(stack)
    chat = chat_id()
    conv_id = customer_writes(ws, chat, "hello")
    close(ws, conv_id)
    clock.advance(minutes=1)
    customer_writes(ws, chat, "how many boxes can I return?")
    assert ws.post_update(customer_message(chat, "5", first_name=f"Customer {chat}")).status_code == 200
    ws.drain()
    assert surveys_of(ws, conv_id)[0]["score"] is None
    assert "5" in [m["text"] for m in ws.messages(conv_id) if m["direction"] == "in"]  # an ordinary message
