"""The webhook function's entry (chalicelib/events/function_url.py): Function URL events (payload format 2.0) go
through the app on the embedded stack, with every guard and the providers' own authentication, and come back in
the Function URL's response shape."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.local.fakes.graph import signed, whatsapp_text, whatsapp_webhook
from tests.e2e.test_channel_meta import open_shop
from tests.support import customer_message, function_url_event, lambda_context, new_workspace

pytestmark = pytest.mark.ddblocal

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    import app as app_module

    answer = app_module.webhook(event, lambda_context())
    assert set(answer) <= {"statusCode", "headers", "body", "isBase64Encoded", "cookies"}  # a URL response
    assert all(isinstance(v, str) for v in answer["headers"].values())
    return answer


def error_code(answer: dict[str, Any]) -> str:
    return str(json.loads(answer["body"])["error"]["code"])


def telegram(ws: Any, body: bytes, *, method: str = "POST", secret: str | None = None, base64_body: bool = False,
             content_type: str = "application/json") -> dict[str, Any]:
    headers = {"Content-Type": content_type, SECRET_HEADER: ws.webhook_secret if secret is None else secret}
    return invoke(function_url_event(method, f"/api/webhooks/telegram/{ws.channel_id}", headers=headers, body=body,
                                     base64_body=base64_body))


def test_a_telegram_update_with_its_secret_is_stored_once_and_opens_a_conversation(stack):
    ws = new_workspace(stack)
    update = customer_message(5_550_001, "Где мой заказ?")
    body = json.dumps(update, ensure_ascii=False).encode()
    answer = telegram(ws, body)
    assert answer["statusCode"] == 200, answer
    assert telegram(ws, body)["statusCode"] == 200  # Telegram's redelivery: acknowledged, not stored twice
    ws.drain()
    (conversation,) = ws.conversations()
    assert [m["text"] for m in ws.messages(conversation["id"]) if m["direction"] == "in"] == ["Где мой заказ?"]


def test_a_base64_body_is_decoded_before_the_guards_and_the_adapter_read_it(stack):
    ws = new_workspace(stack)
    body = json.dumps(customer_message(5_550_002, "base64 привет"), ensure_ascii=False).encode()
    assert telegram(ws, body, base64_body=True)["statusCode"] == 200
    ws.drain()
    (conversation,) = ws.conversations()
    assert [m["text"] for m in ws.messages(conversation["id"]) if m["direction"] == "in"] == ["base64 привет"]


def test_a_wrong_secret_token_is_refused_and_nothing_is_stored(stack):
    ws = new_workspace(stack)
    body = json.dumps(customer_message(5_550_003, "forged")).encode()
    answer = telegram(ws, body, secret="not-the-channel-secret")
    assert answer["statusCode"] == 401 and error_code(answer) == "unauthenticated"
    assert telegram(ws, body, secret="")["statusCode"] == 401
    ws.drain()
    assert ws.conversations() == []


def test_the_routing_guards_answer_before_anything_is_read(stack):
    ws = new_workspace(stack)
    body = json.dumps(customer_message(5_550_004, "hi")).encode()
    put = telegram(ws, body, method="PUT")
    assert put["statusCode"] == 405 and put["headers"]["Allow"] == "POST"
    assert telegram(ws, b"", method="GET")["statusCode"] == 405  # Telegram's kind has no GET
    assert telegram(ws, body, content_type="application/xml")["statusCode"] == 415
    assert telegram(ws, b"{not json")["statusCode"] == 400
    too_big = json.dumps({"update_id": 1, "pad": "x" * (600 * 1024)}).encode()
    assert telegram(ws, too_big)["statusCode"] == 413
    unknown_kind = invoke(function_url_event("POST", f"/api/webhooks/icq/{ws.channel_id}", body=body,
                                             headers={"Content-Type": "application/json"}))
    assert unknown_kind["statusCode"] == 404
    unknown_channel = invoke(function_url_event("POST", "/api/webhooks/telegram/ch_nobody", body=body, headers={
        "Content-Type": "application/json", SECRET_HEADER: ws.webhook_secret}))
    assert unknown_channel["statusCode"] == 404
    ws.drain()
    assert ws.conversations() == []


@pytest.mark.parametrize("path", ["/api/conversations", "/api/webhooks/telegram", "/webhooks/telegram/ch_x",
                                  "/api/webhooks/telegram/ch_x/extra", "/api/openapi.json", "/"])
def test_only_the_webhook_path_is_served_not_the_rest_of_the_api(stack, path):
    ws = new_workspace(stack)
    answer = invoke(function_url_event("GET", path, headers={"Authorization": f"Bearer {ws.key}"}))
    assert answer["statusCode"] == 404 and error_code(answer) == "not_found"


def test_meta_s_verification_get_reads_the_query_string(stack):
    shop = open_shop(stack, "whatsapp")
    token = shop.channel.secrets["webhook_secret"]
    path = f"/api/webhooks/whatsapp/{shop.channel.id}"
    ok = invoke(function_url_event("GET", path, query=f"hub.mode=subscribe&hub.verify_token={token}"
                                                      "&hub.challenge=1158201444"))
    assert ok["statusCode"] == 200 and ok["body"] == "1158201444"
    wrong = invoke(function_url_event("GET", path, query="hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1"))
    assert wrong["statusCode"] == 403


def test_a_signed_meta_post_verifies_on_the_exact_bytes_and_a_bad_signature_stores_nothing(stack):
    shop = open_shop(stack, "whatsapp")
    user = "79990001122"
    payload = whatsapp_webhook(shop.channel.secrets["phone_number_id"], waba_id=shop.channel.secrets["waba_id"],
                               contacts=[{"profile": {"name": "Вера"}, "wa_id": user}],
                               messages=[whatsapp_text(user, "Здравствуйте")])
    request = signed(shop.channel, payload)
    path = f"/api/webhooks/whatsapp/{shop.channel.id}"
    forged = {**request.headers, "X-Hub-Signature-256": "sha256=" + "0" * 64}
    bad = invoke(function_url_event("POST", path, headers=forged, body=request.body))
    assert bad["statusCode"] == 401
    shop.drain()
    assert shop.conversations() == []
    good = invoke(function_url_event("POST", path, headers=request.headers, body=request.body, base64_body=True))
    assert good["statusCode"] == 200
    shop.drain()
    (conversation,) = shop.conversations()
    assert [m["text"] for m in shop.messages(conversation["id"]) if m["direction"] == "in"] == ["Здравствуйте"]


def test_the_webhook_url_of_a_channel_follows_webhook_base_url(stack, monkeypatch):
    from dataclasses import replace

    from chalicelib.services import channels
    from chalicelib.services.deps import deps

    ws = new_workspace(stack)
    d = deps()
    monkeypatch.setattr(d, "settings", replace(d.settings, webhook_base_url="https://abc123.lambda-url.us-east-1.on.aws"))
    listed = ws.api("GET", "/channels").json()["items"]
    (mine,) = [c for c in listed if c["id"] == ws.channel_id]
    assert mine["webhook_url"] == f"https://abc123.lambda-url.us-east-1.on.aws/api/webhooks/telegram/{ws.channel_id}"
    channel = channels.create_channel(d, ws.id, "telegram", "Second bot", {"bot_token": "42:" + "a" * 16},
                                      register=False)
    assert channels.webhook_url(d, channel).startswith("https://abc123.lambda-url.us-east-1.on.aws/api/webhooks/")
    assert channels.setup_for_admin(d, channel)["webhook_url"] == channels.webhook_url(d, channel)
