"""Instagram messaging and comments, Facebook-Login flavour on graph.facebook.com (CHANNELS.md §7).

DMs arrive in `messaging[]` (text, image / video / audio, replies, edits, unsends, reads); comments on our media
arrive in `changes[]` field `comments` (and `live_comments`). Sends go to `/me/messages` with the Page token of the
Page linked to the Instagram professional account; public comment replies to `/{comment_id}/replies`.

Secrets: `page_access_token`, `ig_user_id` (the professional account: `entry[].id`), optional `page_id`,
`app_secret`, `webhook_secret`. Comment conversations: `igpost:{media_id}:{author_id}`.
"""

from __future__ import annotations

from typing import Any

from chalicelib import errors
from chalicelib.channels.meta import Json, MessagingPlatformAdapter, WebhookContext, id_of, obj, text_of, timestamp
from chalicelib.domain.model import Channel, InboundEvent, Sender

TEXT_MAX = 1000
COMMENT_FIELDS = ("comments", "live_comments")
SUBSCRIBED_FIELDS = ("messages", "messaging_seen", "message_edit", "comments")

CAPABILITIES: dict[str, Any] = {
    "text_max": TEXT_MAX,
    "upload_max_bytes": {"image": 8 * 1024 * 1024, "audio": 25 * 1024 * 1024, "video": 25 * 1024 * 1024},
    "window_hours": 24,
    "human_agent_days": 7,  # MESSAGE_TAG HUMAN_AGENT, the only tag Instagram accepts
    "edit_in": True, "edit_out": False, "delete_in": True, "delete_out": False,
    "reply_to_in": True, "reply_to_out": False,
    "documents_out": "pdf only",
    "comments": True, "private_reply": {"within_days": 7, "per_comment": 1},
    "hide_comment": True, "delete_comment": True,
    "read_receipts": True,
    "rate_limits": {"send_per_second": 300, "media_per_second": 10, "private_replies_per_hour": 750},
}


class InstagramAdapter(MessagingPlatformAdapter):
    """`ChannelAdapter` + `CommentsAdapter` for an Instagram professional account linked to a Page."""

    kind = "instagram"
    webhook_object = "instagram"
    text_max = TEXT_MAX
    upload_kinds = frozenset({"image", "video", "audio", "voice", "document"})
    upload_platform = "instagram"
    public_reply_edge = "replies"
    hide_field = "hide"
    conversation_prefix = "igpost"
    capabilities: frozenset[str] = frozenset({
        "text", "images", "voice", "edit_in", "delete_in", "reply_to_in", "comments", "private_reply",
        "hide_comment", "delete_comment", "read_receipts",
    })

    def own_ids(self, channel: Channel) -> set[str]:
        return {channel.secrets.get("ig_user_id", ""), channel.secrets.get("page_id", "")} - {""}

    def parse_change(self, ctx: WebhookContext, entry: Json, change: Json) -> list[InboundEvent]:
        value = obj(change, "value")
        if change.get("field") not in COMMENT_FIELDS:
            return []
        author = obj(value, "from")
        media = obj(value, "media")
        author_id, comment_id, media_id = id_of(author.get("id")), id_of(value.get("id")), id_of(media.get("id"))
        if not author_id or not comment_id or not media_id or author_id in self.own_ids(ctx.channel):
            return []  # our own replies are notified too
        username = text_of(author.get("username"))
        return [self.comment_event(
            ctx, event_type="comment", event_id=comment_id, post_id=media_id, comment_id=comment_id,
            parent_id=id_of(value.get("parent_id")),
            author=Sender(external_user_id=author_id, display_name=username, username=username),
            text=text_of(value.get("text")), created=timestamp(entry.get("time")),
        )]

    def register_webhook(self, channel: Channel, url: str) -> None:
        """Subscribe the linked Page to the app where its id is known; fields are set in the App Dashboard."""
        page_id = channel.secrets.get("page_id", "")
        if page_id:
            self.graph.call("POST", f"{page_id}/subscribed_apps", self.token(channel),
                            params={"subscribed_fields": "messages"})

    def check_health(self, channel: Channel) -> dict[str, Any]:
        try:
            account = self.graph.call("GET", channel.secrets.get("ig_user_id", "") or "me", self.token(channel),
                                      params={"fields": "id,username"})
        except errors.ChannelError as exc:
            return {"ok": False, "error": exc.message}
        return {"ok": True, "ig_user_id": id_of(account.get("id")), "username": text_of(account.get("username"))}
