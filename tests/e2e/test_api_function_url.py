"""The API function's entry (chalicelib/events/function_url.py, `app.api`): the whole API through its Function URL,
behind CloudFront's origin access control (the origin request arrives SigV4-signed, the caller's credential in
X-Zabota-Authorization), on the embedded stack with every guard and our own authentication."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from tests.support import customer_message, function_url_event, lambda_context, new_workspace

pytestmark = pytest.mark.ddblocal

SIGNATURE = ("AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261203/us-east-1/lambda/aws4_request, "
             "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=0123abcd")


def call(method: str, path: str, *, key: str | None = None, body: Any = None, query: str = "",
         headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A console request as the API function receives it from CloudFront."""
    import app as app_module

    raw = b"" if body is None else json.dumps(body).encode()
    sent = {"Authorization": SIGNATURE, "X-Amz-Date": "20261203T120000Z",
            "X-Amz-Content-Sha256": hashlib.sha256(raw).hexdigest(), **(headers or {})}
    if key is not None:
        sent["X-Zabota-Authorization"] = f"Bearer {key}"
    if body is not None:
        sent["Content-Type"] = "application/json"
    answer = app_module.api(function_url_event(method, path, headers=sent, body=raw if body is not None else None,
                                               query=query), lambda_context("zabota-APIHandler"))
    assert set(answer) <= {"statusCode", "headers", "body", "isBase64Encoded", "cookies"}  # a URL response
    return answer


def payload(answer: dict[str, Any]) -> Any:
    return json.loads(answer["body"])


def test_an_operator_lists_and_answers_a_conversation_through_the_api_function(stack):
    ws = new_workspace(stack)
    assert ws.post_update(customer_message(5_560_001, "Где мой заказ?")).status_code == 200
    ws.drain()
    listed = call("GET", "/api/conversations", key=ws.key, query="limit=5")
    assert listed["statusCode"] == 200, listed
    (conversation,) = payload(listed)["items"]
    reply = call("POST", f"/api/conversations/{conversation['id']}/replies", key=ws.key, body={"text": "Уже едет"})
    assert reply["statusCode"] == 202, reply  # accepted: the stream sends it
    ws.drain()
    assert [m["text"] for m in ws.messages(conversation["id"]) if m["direction"] == "out"][-1] == "Уже едет"
    messages = call("GET", f"/api/conversations/{conversation['id']}/messages", key=ws.key)
    assert messages["statusCode"] == 200 and "Уже едет" in messages["body"]


def test_without_the_caller_s_credential_cloudfront_s_signature_authenticates_nobody(stack):
    ws = new_workspace(stack)
    answer = call("GET", "/api/conversations")
    assert answer["statusCode"] == 401 and payload(answer)["error"]["code"] == "unauthenticated"
    assert call("GET", "/api/conversations", key="zb_not_a_key")["statusCode"] == 401
    assert call("GET", "/api/conversations", key=ws.key)["statusCode"] == 200


def test_a_workspace_s_key_sees_none_of_another_workspace_s_data(stack):
    first, second = new_workspace(stack), new_workspace(stack)
    assert first.post_update(customer_message(5_560_002, "private")).status_code == 200
    first.drain()
    (conversation,) = first.conversations()
    assert payload(call("GET", "/api/conversations", key=second.key))["items"] == []
    other = call("GET", f"/api/conversations/{conversation['id']}/messages", key=second.key)
    assert other["statusCode"] == 404 and "private" not in other["body"]


def test_paths_methods_and_bodies_meet_the_same_guards_as_behind_api_gateway(stack):
    ws = new_workspace(stack)
    for path in ("/api/nothing-here", "/api/conversations/", "/conversations", "/api", "/"):
        missing = call("GET", path, key=ws.key)
        assert missing["statusCode"] == 404 and payload(missing)["error"]["code"] == "not_found", path
    wrong = call("DELETE", "/api/conversations", key=ws.key)
    assert wrong["statusCode"] == 405 and "GET" in wrong["headers"]["Allow"]
    huge = call("POST", "/api/conversations/c1/replies", key=ws.key, body={"text": "x" * (2 * 1024 * 1024)})
    assert huge["statusCode"] == 413
    assert call("POST", "/api/conversations/c1/replies", key=ws.key, body=[1])["statusCode"] in (400, 422)


def test_the_openapi_document_and_public_routes_answer_without_credentials(stack):
    document = call("GET", "/api/openapi.json")
    assert document["statusCode"] == 200 and "/api/conversations" in payload(document)["paths"]


def test_the_webhook_path_is_served_here_too_for_channels_registered_on_the_console_origin(stack):
    ws = new_workspace(stack)
    body = customer_message(5_560_003, "via the console origin")
    answer = call("POST", f"/api/webhooks/telegram/{ws.channel_id}", body=body,
                  headers={"X-Telegram-Bot-Api-Secret-Token": ws.webhook_secret})
    assert answer["statusCode"] == 200, answer
    ws.drain()
    (conversation,) = ws.conversations()
    assert conversation["id"]


def test_embedded_mode_takes_the_credential_a_client_written_for_cloudfront_sends(stack):
    """The same client works on both: the key in X-Zabota-Authorization reaches our authentication locally too,
    and wins over an Authorization header (behind CloudFront that one is the signature)."""
    import requests

    ws = new_workspace(stack)
    url = f"{stack.url}/api/conversations"
    assert requests.get(url, timeout=30).status_code == 401
    answer = requests.get(url, headers={"X-Zabota-Authorization": f"Bearer {ws.key}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    signed = requests.get(url, headers={"X-Zabota-Authorization": f"Bearer {ws.key}", "Authorization": SIGNATURE},
                          timeout=30)
    assert signed.status_code == 200, signed.text
    wrong = requests.get(url, headers={"X-Zabota-Authorization": "Bearer nope", "Authorization": f"Bearer {ws.key}"},
                         timeout=30)
    assert wrong.status_code == 401
