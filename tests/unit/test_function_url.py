"""The Function URL event (payload format 2.0) as the REST-proxy event Chalice reads, and the answer back."""

from __future__ import annotations

import base64

from chalicelib.events.function_url import RESOURCE_PATH, rest_event, url_response
from tests.support import function_url_event


def test_the_webhook_path_becomes_chalice_s_resource_with_decoded_parameters():
    event = rest_event(function_url_event("POST", "/api/webhooks/telegram/ch_a%2Db", body=b"{}",
                                          headers={"Content-Type": "application/json"}))
    assert event is not None
    assert event["requestContext"]["resourcePath"] == RESOURCE_PATH == "/webhooks/{kind}/{channel_id}"
    assert event["requestContext"]["httpMethod"] == event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"kind": "telegram", "channel_id": "ch_a-b"}
    assert event["requestContext"]["identity"]["sourceIp"] == "203.0.113.7"
    assert event["headers"]["content-type"] == "application/json" and event["body"] == "{}"
    assert event["multiValueQueryStringParameters"] is None and event["isBase64Encoded"] is False


def test_repeated_and_empty_query_values_and_cookies_survive():
    raw = function_url_event("GET", "/api/webhooks/whatsapp/ch_x", query="hub.mode=subscribe&a=1&a=2&b=")
    raw["cookies"] = ["s=1", "t=2"]
    event = rest_event(raw)
    assert event is not None
    assert event["multiValueQueryStringParameters"] == {"hub.mode": ["subscribe"], "a": ["1", "2"], "b": [""]}
    assert event["queryStringParameters"] == {"hub.mode": "subscribe", "a": "2", "b": ""}
    assert event["headers"]["cookie"] == "s=1; t=2"


def test_a_base64_body_is_passed_on_for_chalice_to_decode():
    event = rest_event(function_url_event("POST", "/api/webhooks/vk/ch_x", body=b"\xd0\xbf", base64_body=True))
    assert event is not None and event["isBase64Encoded"] is True and event["body"] == "0L8="


def test_other_paths_are_not_converted():
    for path in ("/api/webhooks/telegram", "/api/webhooks/telegram/ch_x/", "/webhooks/telegram/ch_x",
                 "/api/conversations", "/api/webhooks/telegram/ch_x/y", ""):
        assert rest_event(function_url_event("POST", path)) is None, path


def test_the_answer_has_only_what_a_function_url_response_may_carry():
    answer = url_response({"statusCode": 405, "headers": {"Allow": "POST"}, "multiValueHeaders": {},
                           "body": '{"error":{}}'})
    assert answer == {"statusCode": 405, "headers": {"Allow": "POST"}, "body": '{"error":{}}',
                      "isBase64Encoded": False}


def test_the_answer_is_in_the_function_url_shape():
    answer = url_response({"statusCode": 201, "headers": {"Content-Type": "text/plain"}, "body": "ok",
                           "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "Vary": ["Origin", "Accept"]}})
    assert answer == {"statusCode": 201, "headers": {"Content-Type": "text/plain", "Vary": "Origin, Accept"},
                      "body": "ok", "isBase64Encoded": False, "cookies": ["a=1", "b=2"]}
    binary = url_response({"statusCode": 200, "headers": {}, "body": base64.b64encode(b"\x00").decode(),
                           "isBase64Encoded": True})
    assert binary["isBase64Encoded"] is True and base64.b64decode(binary["body"]) == b"\x00"


def test_api_routes_match_as_api_gateway_did_literal_segments_first_parameters_decoded():
    from chalicelib.events.function_url import Routes

    routes = Routes(["/conversations/{cid}", "/conversations/search", "/conversations/{cid}/replies", "/me"])
    assert routes.match("/conversations/search") == ("/conversations/search", {})
    assert routes.match("/conversations/c%2F1") == ("/conversations/{cid}", {"cid": "c/1"})
    assert routes.match("/conversations/c1/replies") == ("/conversations/{cid}/replies", {"cid": "c1"})
    assert routes.match("/me") == ("/me", {})
    for path in ("/conversations", "/conversations/", "/conversations//replies", "/me/", "me", "", "/nope"):
        assert routes.match(path) is None, path


def test_behind_cloudfront_the_caller_s_credential_replaces_cloudfront_s_signature():
    from chalicelib.events.function_url import Routes

    signed = {"Authorization": "AWS4-HMAC-SHA256 Credential=AKIA/20261203/us-east-1/lambda/aws4_request, Signature=f",
              "X-Amz-Date": "20261203T120000Z", "X-Amz-Content-Sha256": "e3b0", "X-Workspace": "ws1"}
    routes = Routes(["/conversations"])
    event = rest_event(function_url_event("GET", "/api/conversations", headers={
        **signed, "X-Zabota-Authorization": "Bearer zb_key"}), routes, signed_by_cloudfront=True)
    assert event is not None and event["resource"] == "/conversations" and event["pathParameters"] is None
    assert event["headers"]["authorization"] == "Bearer zb_key" and event["headers"]["x-workspace"] == "ws1"
    assert "x-zabota-authorization" not in event["headers"] and "x-amz-date" not in event["headers"]
    anonymous = rest_event(function_url_event("GET", "/api/conversations", headers=signed), routes,
                           signed_by_cloudfront=True)
    assert anonymous is not None and "authorization" not in anonymous["headers"]  # the signature is nobody's key
    direct = rest_event(function_url_event("GET", "/api/conversations", headers=signed), routes)
    assert direct is not None and direct["headers"]["authorization"].startswith("AWS4-HMAC-SHA256")  # webhook entry
