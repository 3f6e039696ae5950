"""VKAdapter against the fake VK API over real HTTP: Callback API parsing, sending, comments, errors, setup."""

from __future__ import annotations

import json
import socket
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib import errors
from chalicelib.channels.base import ChannelAdapter, CommentRef, ConvRef, OutboundMedia, WebhookRequest
from chalicelib.channels.vk import CALLBACK_EVENTS, CAPABILITIES, VKAdapter, random_id_for, split_text
from chalicelib.domain.model import Channel, InboundEvent
from chalicelib.local.fakes.vk import FakeVK, FakeVKServer, wall_reply_new

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "vk"
GROUP = 123456
TOKEN = "vk1.a.community-Token_value"
USER_TOKEN = "vk1.a.admin-user-Token"
SECRET = "s3cr3t-Key"
CHANNEL = Channel(id="ch_vk1", workspace_id="ws_1", kind="vk", name="Shop community",
                  secrets={"access_token": TOKEN, "group_id": str(GROUP), "secret_key": SECRET,
                           "confirmation_code": "a1b2c3d4", "webhook_secret": "w" * 43}, settings={})
ADMIN = Channel(id="ch_vk1", workspace_id="ws_1", kind="vk", name="Shop community",
                secrets={**CHANNEL.secrets, "user_token": USER_TOKEN}, settings={})
DIALOG = ConvRef("111222")
CHAT = ConvRef("2000000007", surface="group")
COMMENTS = ConvRef("wall-123456_77_111222", "-123456_77", surface="comment")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (640).to_bytes(4, "big") + (480).to_bytes(4, "big") + bytes(
    range(256))


@pytest.fixture
def server() -> Iterator[FakeVKServer]:
    with FakeVKServer() as running:
        running.fake.add_group(GROUP, TOKEN, "Shop", user_token=USER_TOKEN, confirmation_code="f00dcafe")
        yield running


@pytest.fixture
def fake(server: FakeVKServer) -> FakeVK:
    return server.fake


@pytest.fixture
def adapter(server: FakeVKServer) -> VKAdapter:
    return VKAdapter(server.url, "5.199", timeout=5.0)


def fixture_body(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def callback(body: bytes, received_at: str = "2024-05-20T10:20:00.000Z") -> WebhookRequest:
    return WebhookRequest(method="POST", headers={"content-type": "application/json"}, query={}, raw_body=body,
                          request_id="req-1", received_at=received_at)


def parse(adapter: VKAdapter, name: str, channel: Channel = CHANNEL) -> list[InboundEvent]:
    result = adapter.parse_webhook(channel, callback(fixture_body(name)))
    assert (result.status, result.body, result.content_type) == (200, "ok", "text/plain")
    return result.events


def parse_one(adapter: VKAdapter, name: str) -> InboundEvent:
    (event,) = parse(adapter, name)
    return event


def with_changes(name: str, **changes: object) -> bytes:
    body = json.loads(fixture_body(name))
    body.update(changes)
    return json.dumps(body).encode()


def api_calls(fake: FakeVK, method: str) -> list[dict]:
    return [c for c in fake.calls if c["method"] == method]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def assert_token_free(exc: BaseException) -> None:
    text = str(exc) + "".join(traceback.format_exception(exc))
    assert TOKEN not in text and USER_TOKEN not in text


# ------------------------------------------------------------------------------------------------ handshake, auth


def test_the_adapter_satisfies_the_channel_protocol_and_describes_its_limits() -> None:
    adapter: ChannelAdapter = VKAdapter("http://127.0.0.1:9")
    assert adapter.kind == "vk"
    assert {"text", "images", "documents", "voice", "edit_out", "delete_out", "reply_to", "comments"} <= (
        adapter.capabilities)
    assert CAPABILITIES["text_max"] == 4096
    assert CAPABILITIES["delete_out"]["max_age_hours"] == 24
    assert CAPABILITIES["block"] == "user_token" and CAPABILITIES["comments"]["reply"] is True


def test_a_confirmation_is_answered_with_the_stored_code_as_plain_text(adapter: VKAdapter, fake: FakeVK) -> None:
    result = adapter.parse_webhook(CHANNEL, callback(fixture_body("confirmation")))
    assert (result.status, result.body, result.content_type, result.events) == (200, "a1b2c3d4", "text/plain", [])
    assert fake.calls == []


def test_a_confirmation_without_a_stored_code_asks_vk_for_it(adapter: VKAdapter, fake: FakeVK) -> None:
    channel = Channel(**{**CHANNEL.__dict__, "secrets": {k: v for k, v in CHANNEL.secrets.items()
                                                         if k != "confirmation_code"}})
    result = adapter.parse_webhook(channel, callback(fixture_body("confirmation")))
    assert result.body == "f00dcafe"
    (call,) = api_calls(fake, "groups.getCallbackConfirmationCode")
    assert call["params"]["group_id"] == str(GROUP) and call["token"] == TOKEN


@pytest.mark.parametrize("name", ["confirmation", "message_new_text"])
def test_a_wrong_or_missing_secret_is_forbidden(adapter: VKAdapter, name: str) -> None:
    with pytest.raises(errors.Forbidden):
        adapter.parse_webhook(CHANNEL, callback(with_changes(name, secret="guess")))
    body = json.loads(fixture_body(name))
    del body["secret"]
    with pytest.raises(errors.Forbidden):
        adapter.parse_webhook(CHANNEL, callback(json.dumps(body).encode()))


def test_an_event_for_another_community_is_forbidden_even_with_the_right_secret(adapter: VKAdapter) -> None:
    with pytest.raises(errors.Forbidden):
        adapter.parse_webhook(CHANNEL, callback(with_changes("message_new_text", group_id=654321)))


def test_without_a_pasted_secret_key_the_generated_webhook_secret_is_the_key(adapter: VKAdapter) -> None:
    channel = Channel(**{**CHANNEL.__dict__, "secrets": {"access_token": TOKEN, "group_id": str(GROUP),
                                                         "webhook_secret": "w" * 43}})
    result = adapter.parse_webhook(channel, callback(with_changes("message_new_text", secret="w" * 43)))
    assert len(result.events) == 1
    with pytest.raises(errors.Forbidden):
        adapter.parse_webhook(channel, callback(fixture_body("message_new_text")))


def test_malformed_json_is_invalid_input(adapter: VKAdapter) -> None:
    with pytest.raises(errors.InvalidInput):
        adapter.parse_webhook(CHANNEL, callback(b"{not json"))
    with pytest.raises(errors.InvalidInput):
        adapter.parse_webhook(CHANNEL, callback(b'["message_new"]'))


def test_event_types_we_do_not_handle_are_acknowledged_with_ok_and_no_events(adapter: VKAdapter) -> None:
    assert parse(adapter, "group_join") == []


# ------------------------------------------------------------------------------------------------------ messages


def test_a_private_text_message_becomes_one_normalised_message_event(adapter: VKAdapter) -> None:
    event = parse_one(adapter, "message_new_text")
    assert event.event_type == "message" and event.direction == "in"
    assert (event.channel_kind, event.channel_id, event.workspace_id) == ("vk", "ch_vk1", "ws_1")
    assert event.external_event_id == "3f1c9a7e0d8b2c4e5a6b7c8d9e0f1a2b3c4d5e6f"
    assert event.dedupe_key == "vk#ch_vk1#3f1c9a7e0d8b2c4e5a6b7c8d9e0f1a2b3c4d5e6f"
    assert (event.external_conversation_id, event.external_message_id, event.external_thread_id) == (
        "111222", "987", "")
    assert event.text == "Where is my parcel?"
    assert event.sender.external_user_id == "111222" and event.sender.display_name == ""
    assert event.occurred_at == "2024-05-20T10:13:20.000Z"
    assert event.received_at == "2024-05-20T10:20:00.000Z" and event.correlation_id == "req-1"
    assert (event.surface, event.reply_to_external_message_id, event.attachments) == ("private", "", [])


def test_attachments_keep_vk_direct_urls_and_a_reply_names_the_quoted_message(adapter: VKAdapter) -> None:
    event = parse_one(adapter, "message_new_attachments")
    assert event.reply_to_external_message_id == "986"
    photo, doc, voice, video, sticker, wall = event.attachments
    assert (photo.kind, photo.url, photo.file_ref) == ("image", "https://sun9-1.userapi.com/impg/w.jpg",
                                                       "https://sun9-1.userapi.com/impg/w.jpg")
    assert (photo.width, photo.height, photo.mime_type) == (1440, 1080, "image/jpeg")
    assert (doc.kind, doc.file_name, doc.mime_type, doc.size_bytes) == (
        "document", "invoice.pdf", "application/pdf", 48213)
    assert doc.file_ref == "https://vk.com/doc111222_6000123?hash=ab12&dl=cd34"
    assert (voice.kind, voice.mime_type, voice.duration_s, voice.file_ref) == (
        "voice", "audio/ogg", 7, "https://psv4.userapi.com/s/v1/amsg/v.ogg")
    assert (video.kind, video.file_ref, video.duration_s, video.url) == ("video", "video111222_456239018", 42, "")
    assert "Unboxing" in video.caption and "https://vk.com/video111222_456239018" in video.caption
    assert (sticker.kind, sticker.url, sticker.width) == ("sticker", "https://vk.com/sticker/1-9019-512", 512)
    assert wall.kind == "other" and "https://vk.com/wall-123456_77" in wall.caption and wall.file_ref == ""


def test_forwarded_messages_are_appended_to_the_text_as_quotes(adapter: VKAdapter) -> None:
    event = parse_one(adapter, "message_new_forwarded")
    assert event.text == ("See what the courier wrote\n\n"
                          "> Parcel is delayed\n> New date: Friday\n>> Depot is closed\n> [1 attachment]")
    assert event.attachments == []


def test_a_group_chat_message_uses_conversation_message_ids(adapter: VKAdapter) -> None:
    event = parse_one(adapter, "message_new_chat")
    assert (event.external_conversation_id, event.surface) == ("2000000007", "group")
    assert (event.external_message_id, event.reply_to_external_message_id) == ("c341", "c339")
    assert event.sender.external_user_id == "111222"


def test_an_edit_points_at_the_original_message_and_carries_the_edit_time(adapter: VKAdapter) -> None:
    event = parse_one(adapter, "message_edit")
    assert (event.event_type, event.is_edited, event.direction) == ("message_edited", True, "in")
    assert (event.external_conversation_id, event.external_message_id) == ("111222", "987")
    assert event.text == "Where is my parcel #1234?"
    assert event.occurred_at == "2024-05-20T10:15:00.000Z"


def test_a_message_reply_is_an_outbound_message_by_the_admin_who_wrote_it(adapter: VKAdapter) -> None:
    event = parse_one(adapter, "message_reply")
    assert (event.event_type, event.direction) == ("message", "out")
    assert (event.external_conversation_id, event.external_message_id) == ("111222", "990")
    assert event.sender.external_user_id == "777888"
    assert event.text == "Your parcel is at the pick-up point"


def test_allow_deny_and_read_events_are_normalised(adapter: VKAdapter) -> None:
    allow, deny = parse_one(adapter, "message_allow"), parse_one(adapter, "message_deny")
    assert (allow.event_type, allow.external_conversation_id, allow.status) == (
        "subscription", "111222", {"state": "allowed"})
    assert (deny.event_type, deny.status) == ("subscription", {"state": "denied"})
    read = parse_one(adapter, "message_read")
    assert (read.event_type, read.external_conversation_id, read.status) == (
        "read", "111222", {"message_id": "990", "state": "read"})


# ------------------------------------------------------------------------------------------------------ comments


def test_a_wall_comment_opens_one_conversation_per_commenter_and_post(adapter: VKAdapter) -> None:
    event = parse_one(adapter, "wall_reply_new")
    assert (event.event_type, event.surface, event.direction) == ("comment", "comment", "in")
    assert event.external_conversation_id == "wall-123456_77_111222"
    assert (event.external_thread_id, event.external_message_id) == ("-123456_77", "4501")
    assert event.text == "Delivery is too slow!"
    assert event.comment == {"post_id": "77", "comment_id": "4501", "parent_comment_id": "",
                             "permalink": "https://vk.com/wall-123456_77?reply=4501", "author_id": "111222"}
    assert event.occurred_at == "2024-05-20T10:20:00.000Z"  # 1716200400


def test_a_nested_comment_replies_to_its_parent_and_keeps_its_photo(adapter: VKAdapter) -> None:
    event = parse_one(adapter, "wall_reply_new_nested")
    assert event.reply_to_external_message_id == "4502"
    assert event.comment["parent_comment_id"] == "4502"
    assert event.comment["permalink"] == "https://vk.com/wall-123456_77?reply=4503&thread=4502"
    (photo,) = event.attachments
    assert photo.file_ref == "https://sun9-3.userapi.com/c.jpg"


def test_the_communitys_own_comment_belongs_to_the_conversation_of_the_customer_it_answers(
        adapter: VKAdapter) -> None:
    event = parse_one(adapter, "wall_reply_new_community")
    assert (event.direction, event.external_conversation_id) == ("out", "wall-123456_77_111222")
    assert event.external_message_id == "4502" and event.sender.external_user_id == "-123456"
    top_level = with_changes("wall_reply_new_community", object={**json.loads(fixture_body(
        "wall_reply_new_community"))["object"], "reply_to_user": None, "reply_to_comment": None})
    assert adapter.parse_webhook(CHANNEL, callback(top_level)).events == []


def test_comment_edits_and_deletions_point_at_the_comment(adapter: VKAdapter) -> None:
    edited = parse_one(adapter, "wall_reply_edit")
    assert (edited.event_type, edited.external_message_id, edited.is_edited) == ("comment_edited", "4501", True)
    assert edited.external_conversation_id == "wall-123456_77_111222"
    assert edited.occurred_at == "2024-05-20T10:20:00.000Z"  # VK gives no edit time: our receipt time
    deleted = parse_one(adapter, "wall_reply_delete")
    assert (deleted.event_type, deleted.external_message_id, deleted.is_deleted) == ("comment_deleted", "4501", True)
    assert deleted.external_conversation_id == "wall-123456_77_111222"


# ------------------------------------------------------------------------------------------------------- sending


def test_a_text_goes_out_with_a_random_id_derived_from_the_idempotency_key(adapter: VKAdapter, fake: FakeVK) -> None:
    result = adapter.send_text(CHANNEL, DIALOG, "We are on it", reply_to="987", idempotency_key="m-1")
    (call,) = api_calls(fake, "messages.send")
    params = call["params"]
    assert (params["peer_id"], params["message"], params["reply_to"]) == ("111222", "We are on it", "987")
    assert params["random_id"] == str(random_id_for("m-1")) and params["v"] == "5.199"
    assert call["token"] == TOKEN
    (sent,) = fake.sent("111222")
    assert result.external_message_id == str(sent["id"])


def test_a_retry_with_the_same_key_is_not_delivered_twice(adapter: VKAdapter, fake: FakeVK) -> None:
    first = adapter.send_text(CHANNEL, DIALOG, "Hello", idempotency_key="m-2")
    again = adapter.send_text(CHANNEL, DIALOG, "Hello", idempotency_key="m-2")
    assert first.external_message_id == again.external_message_id
    assert len(fake.sent("111222")) == 1
    other = adapter.send_text(CHANNEL, DIALOG, "Hello", idempotency_key="m-3")
    assert other.external_message_id != first.external_message_id


def test_random_ids_are_stable_positive_31_bit_numbers() -> None:
    ids = {random_id_for(f"m{n}") for n in range(200)}
    assert len(ids) == 200 and all(0 < i < 2**31 for i in ids)
    assert random_id_for("m1") == random_id_for("m1")


def test_a_reply_in_a_group_chat_quotes_by_conversation_message_id(adapter: VKAdapter, fake: FakeVK) -> None:
    result = adapter.send_text(CHANNEL, CHAT, "Yes, 10-18", reply_to="c341", idempotency_key="m-4")
    (call,) = api_calls(fake, "messages.send")
    assert call["params"]["peer_ids"] == "2000000007" and "peer_id" not in call["params"]
    assert json.loads(call["params"]["forward"]) == {"peer_id": 2000000007, "conversation_message_ids": [341],
                                                     "is_reply": True}
    assert result.external_message_id.startswith("c")


def test_a_long_text_is_split_and_each_part_has_its_own_random_id(adapter: VKAdapter, fake: FakeVK) -> None:
    text = ("word " * 1000).strip() + "\n" + "x" * 10
    adapter.send_text(CHANNEL, DIALOG, text, idempotency_key="m-5")
    parts = [c["params"] for c in api_calls(fake, "messages.send")]
    assert len(parts) == 2 and all(len(p["message"]) <= 4096 for p in parts)
    assert parts[0]["random_id"] != parts[1]["random_id"]
    assert " ".join(p["message"] for p in parts).split() == text.split()
    assert split_text("short") == ["short"]


def test_an_image_is_uploaded_to_the_messages_upload_server_and_sent_as_a_photo(
        adapter: VKAdapter, fake: FakeVK, server: FakeVKServer) -> None:
    media = OutboundMedia("image", "box.png", "image/png", PNG)
    adapter.send_media(CHANNEL, DIALOG, media, caption="the replacement", idempotency_key="m-6")
    assert [c["method"] for c in fake.calls] == [
        "photos.getMessagesUploadServer", "upload", "photos.saveMessagesPhoto", "messages.send"]
    upload = api_calls(fake, "upload")[0]
    assert upload["files"]["photo"][2] == PNG and upload["token"] == ""
    (sent,) = fake.sent("111222")
    assert sent["text"] == "the replacement"
    photo = sent["attachments"][0]["photo"]
    send = api_calls(fake, "messages.send")[0]["params"]
    assert send["attachment"] == f"photo{photo['owner_id']}_{photo['id']}_{photo['access_key']}"
    fetched = adapter.fetch_media(CHANNEL, photo["sizes"][0]["url"])
    assert fetched.data == PNG


@pytest.mark.parametrize(("kind", "doc_type"), [("document", "doc"), ("voice", "audio_message"), ("video", "doc")])
def test_files_and_voice_go_through_the_docs_upload(adapter: VKAdapter, fake: FakeVK, kind: str,
                                                    doc_type: str) -> None:
    media = OutboundMedia(kind, "file.bin", "application/octet-stream", b"%PDF-1.4 invoice")
    adapter.send_media(CHANNEL, DIALOG, media, idempotency_key="m-7")
    (server_call,) = api_calls(fake, "docs.getMessagesUploadServer")
    assert (server_call["params"]["type"], server_call["params"]["peer_id"]) == (doc_type, "111222")
    assert api_calls(fake, "docs.save")[0]["params"]["title"] == "file.bin"
    attachment = api_calls(fake, "messages.send")[0]["params"]["attachment"]
    assert attachment.startswith("doc-123456_")
    (sent,) = fake.sent("111222")
    assert sent["attachments"][0]["type"] == doc_type


def test_an_edit_and_a_delete_for_everyone_change_what_the_customer_sees(adapter: VKAdapter, fake: FakeVK) -> None:
    sent = adapter.send_text(CHANNEL, DIALOG, "Price is 100", idempotency_key="m-8")
    adapter.edit_text(CHANNEL, DIALOG, sent.external_message_id, "Price is 90")
    assert fake.sent("111222")[0]["text"] == "Price is 90"
    edit = api_calls(fake, "messages.edit")[0]["params"]
    assert (edit["message_id"], edit["keep_forward_messages"]) == (sent.external_message_id, "1")
    adapter.delete(CHANNEL, DIALOG, sent.external_message_id)
    assert api_calls(fake, "messages.delete")[0]["params"]["delete_for_all"] == "1"
    assert fake.sent("111222") == []
    with pytest.raises(errors.PermanentError) as failed:
        adapter.delete(CHANNEL, DIALOG, "424242")
    assert failed.value.details["error_code"] == 924


def test_block_needs_an_admin_user_token(adapter: VKAdapter, fake: FakeVK) -> None:
    with pytest.raises(errors.NotSupported):
        adapter.block(CHANNEL, DIALOG, "111222")
    adapter.block(ADMIN, DIALOG, "111222")
    assert 111222 in fake.banned(GROUP)
    assert api_calls(fake, "groups.ban")[0]["token"] == USER_TOKEN


# ---------------------------------------------------------------------------------------------- comment replies


def test_a_comment_reply_answers_the_comment_on_the_post_once(adapter: VKAdapter, fake: FakeVK) -> None:
    wall_reply_new(CHANNEL, user_id=111222, post_id=77, text="slow!", comment_id=4501, fake=fake)
    target = CommentRef(external_comment_id="4501", post_id="-123456_77", conv=COMMENTS,
                        author_external_id="111222")
    first = adapter.reply_comment(CHANNEL, target, "Sorry, we are checking", idempotency_key="m-9")
    again = adapter.reply_comment(CHANNEL, target, "Sorry, we are checking", idempotency_key="m-9")
    assert first.external_message_id == again.external_message_id
    params = api_calls(fake, "wall.createComment")[0]["params"]
    assert (params["owner_id"], params["post_id"], params["reply_to_comment"], params["from_group"]) == (
        "-123456", "77", "4501", str(GROUP))
    assert params["guid"] == api_calls(fake, "wall.createComment")[1]["params"]["guid"]
    (comment,) = fake.comments(-123456, 77)
    assert comment["reply_to_user"] == 111222 and comment["text"] == "Sorry, we are checking"


def test_a_comment_reply_takes_the_owner_from_the_thread_when_only_the_post_number_is_known(
        adapter: VKAdapter, fake: FakeVK) -> None:
    target = CommentRef(external_comment_id="12", post_id="77", conv=ConvRef("wall-999_77_1", "-999_77", "",
                                                                             "comment"))
    adapter.reply_comment(CHANNEL, target, "Hello", idempotency_key="m-10")
    params = api_calls(fake, "wall.createComment")[0]["params"]
    assert (params["owner_id"], params["post_id"], params["reply_to_comment"]) == ("-999", "77", "12")


def test_nothing_is_posted_publicly_without_a_comment_to_answer(adapter: VKAdapter, fake: FakeVK) -> None:
    with pytest.raises(errors.NotSupported):
        adapter.reply_comment(CHANNEL, CommentRef("", "77", COMMENTS), "Hello!", idempotency_key="m-greeting")
    assert fake.calls == []


def test_private_replies_and_hiding_comments_are_not_supported(adapter: VKAdapter) -> None:
    target = CommentRef("4501", "77", COMMENTS)
    with pytest.raises(errors.NotSupported):
        adapter.reply_comment(CHANNEL, target, "psst", private=True, idempotency_key="m-11")
    with pytest.raises(errors.NotSupported):
        adapter.hide_comment(CHANNEL, target, True)


def test_deleting_a_comment_needs_an_admin_user_token(adapter: VKAdapter, fake: FakeVK) -> None:
    ours = adapter.reply_comment(CHANNEL, CommentRef("4501", "77", COMMENTS), "oops", idempotency_key="m-12")
    target = CommentRef(ours.external_message_id, "77", COMMENTS)
    with pytest.raises(errors.NotSupported):
        adapter.delete_comment(CHANNEL, target)
    adapter.delete_comment(ADMIN, target)
    assert fake.comments(-123456, 77) == []


# ------------------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("code", "error"), [
    (6, errors.RateLimited), (9, errors.TransientError), (10, errors.TransientError), (29, errors.RateLimited),
    (902, errors.RecipientUnavailable), (15, errors.PermanentError), (100, errors.PermanentError),
])
def test_vk_error_codes_map_to_typed_channel_errors(adapter: VKAdapter, fake: FakeVK, code: int,
                                                    error: type[errors.ChannelError]) -> None:
    fake.fail_next("messages.send", error_code=code)
    with pytest.raises(error) as raised:
        adapter.send_text(CHANNEL, DIALOG, "hi", idempotency_key="m-13")
    assert type(raised.value) is error
    assert_token_free(raised.value)
    if code == 6:
        assert raised.value.retry_after == 1.0  # type: ignore[attr-defined]
    assert fake.sent() == []


def test_a_customer_who_denied_messages_is_unavailable(adapter: VKAdapter, fake: FakeVK) -> None:
    fake.deny_messages(GROUP, 111222)
    with pytest.raises(errors.RecipientUnavailable) as raised:
        adapter.send_text(CHANNEL, DIALOG, "hi", idempotency_key="m-14")
    assert raised.value.details["error_code"] == 901


def test_a_wrong_token_is_permanent_and_never_echoed(adapter: VKAdapter) -> None:
    channel = Channel(**{**CHANNEL.__dict__, "secrets": {**CHANNEL.secrets, "access_token": "vk1.a.revoked-x"}})
    with pytest.raises(errors.PermanentError) as raised:
        adapter.send_text(channel, DIALOG, "hi", idempotency_key="m-15")
    assert raised.value.details["error_code"] == 5
    assert "vk1.a.revoked-x" not in "".join(traceback.format_exception(raised.value))


def test_http_5xx_and_unreachable_hosts_are_transient(adapter: VKAdapter, fake: FakeVK) -> None:
    fake.fail_next("messages.send", http_status=502)
    with pytest.raises(errors.TransientError):
        adapter.send_text(CHANNEL, DIALOG, "hi", idempotency_key="m-16")
    unreachable = VKAdapter(f"http://127.0.0.1:{closed_port()}", timeout=2.0)
    with pytest.raises(errors.TransientError) as raised:
        unreachable.send_text(CHANNEL, DIALOG, "hi", idempotency_key="m-16")
    assert_token_free(raised.value)


def test_a_failing_upload_server_is_transient_and_nothing_is_sent(adapter: VKAdapter, fake: FakeVK) -> None:
    fake.fail_next("upload", http_status=503)
    with pytest.raises(errors.TransientError):
        adapter.send_media(CHANNEL, DIALOG, OutboundMedia("image", "a.png", "image/png", PNG), idempotency_key="m-17")
    assert fake.sent() == []


# ------------------------------------------------------------------------------------------------ files and setup


def test_media_is_downloaded_only_from_vk_hosts(adapter: VKAdapter, fake: FakeVK) -> None:
    url = fake.add_file(b"\xff\xd8\xff photo", "p.jpg", "image/jpeg")
    fetched = adapter.fetch_media(CHANNEL, url)
    assert (fetched.data, fetched.mime_type) == (b"\xff\xd8\xff photo", "image/jpeg")
    assert fetched.file_name.endswith("p.jpg")
    with pytest.raises(errors.PermanentError):
        adapter.fetch_media(CHANNEL, "http://169.254.169.254/latest/meta-data")
    with pytest.raises(errors.PermanentError):
        adapter.fetch_media(CHANNEL, "https://userapi.com.evil.example/x.jpg")
    with pytest.raises(errors.PermanentError):
        adapter.fetch_media(CHANNEL, "video111222_456239018")


def test_a_missing_file_is_permanent_and_a_5xx_download_transient(adapter: VKAdapter, fake: FakeVK) -> None:
    url = fake.add_file(b"data", "d.bin")
    with pytest.raises(errors.PermanentError):
        adapter.fetch_media(CHANNEL, url + "-gone")
    fake.fail_next("file", http_status=500)
    with pytest.raises(errors.TransientError):
        adapter.fetch_media(CHANNEL, url)


def test_register_webhook_adds_our_server_with_the_secret_and_subscribes_to_our_events(
        adapter: VKAdapter, fake: FakeVK) -> None:
    url = "https://inbox.example/api/webhooks/vk/ch_vk1"
    kept = adapter.register_webhook(CHANNEL, url)
    (server,) = fake.callback_servers(GROUP)
    assert (server["url"], server["title"], server["secret_key"]) == (url, "Zabota", SECRET)
    assert kept == {"confirmation_code": "f00dcafe", "server_id": str(server["id"])}
    settings = fake.callback_settings(GROUP, server["id"])
    assert settings["api_version"] == "5.199"
    assert {event for event, on in settings.items() if on == 1} == set(CALLBACK_EVENTS)
    again = adapter.register_webhook(CHANNEL, url)  # a repeated create reuses the server
    assert again == kept and len(fake.callback_servers(GROUP)) == 1


def test_check_health_names_the_community_or_reports_the_error(adapter: VKAdapter) -> None:
    assert adapter.check_health(CHANNEL) == {"ok": True, "name": "Shop", "screen_name": f"club{GROUP}",
                                             "group_id": str(GROUP)}
    broken = Channel(**{**CHANNEL.__dict__, "secrets": {**CHANNEL.secrets, "access_token": "nope"}})
    health = adapter.check_health(broken)
    assert health["ok"] is False and "authorization failed" in health["error"]


def test_lookup_sender_fetches_the_name_screen_name_and_avatar(adapter: VKAdapter, fake: FakeVK) -> None:
    fake.add_user(111222, "Anna", "Karpova", "anna_k")
    sender = adapter.lookup_sender(CHANNEL, "111222")
    assert (sender.display_name, sender.username) == ("Anna Karpova", "anna_k")
    assert sender.avatar_url.startswith("https://")
    assert api_calls(fake, "users.get")[0]["params"]["fields"] == "screen_name,photo_100"
