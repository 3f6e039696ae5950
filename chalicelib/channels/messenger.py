"""Facebook Messenger for Pages (CHANNELS.md §8): DMs through `messaging[]`, Page post comments through the `feed`
field of `changes[]`, the Send API on `/me/messages` with the Page token.

Secrets: `page_access_token`, `page_id`, `app_secret` (signature), `webhook_secret` (the verify token).
Conversations: a DM is keyed by the customer's PSID; a commenter's comments under one post are one conversation
`fbpost:{post_id}:{author_id}` (surface "comment", thread = post id).
"""

from __future__ import annotations

from typing import Any

from chalicelib import errors
from chalicelib.channels.base import ConvRef
from chalicelib.channels.meta import (
    Json,
    MessagingPlatformAdapter,
    WebhookContext,
    id_of,
    obj,
    text_of,
    timestamp,
)
from chalicelib.domain.model import Channel, InboundEvent, Sender, stable_hash

TEXT_MAX = 2000
SUBSCRIBED_FIELDS = ("messages", "message_echoes", "message_deliveries", "message_reads", "message_edits",
                     "messaging_postbacks", "feed")

CAPABILITIES: dict[str, Any] = {
    "text_max": TEXT_MAX,
    "upload_max_bytes": 25 * 1024 * 1024,
    "window_hours": 24,
    "human_agent_days": 7,  # MESSAGE_TAG HUMAN_AGENT after 24 h (needs App Review)
    "edit_in": True, "edit_out": False, "delete_in": False, "delete_out": False,
    "reply_to_in": True, "reply_to_out": False,
    "comments": True, "private_reply": {"within_days": 7, "per_comment": 1},
    "hide_comment": True, "delete_comment": True,
    "delivery_status": True, "read_watermark": True,
    "rate_limits": {"send_per_second": 300, "media_per_second": 10},
}

_FEED_VERBS = {"add": "comment", "edited": "comment_edited", "remove": "comment_deleted"}


class MessengerAdapter(MessagingPlatformAdapter):
    """`ChannelAdapter` + `CommentsAdapter` for a Facebook Page."""

    kind = "messenger"
    webhook_object = "page"
    text_max = TEXT_MAX
    public_reply_edge = "comments"
    hide_field = "is_hidden"
    conversation_prefix = "fbpost"
    capabilities: frozenset[str] = frozenset({
        "text", "images", "documents", "voice", "edit_in", "reply_to_in", "comments", "private_reply",
        "hide_comment", "delete_comment", "delivery_status", "read_receipts",
    })

    def own_ids(self, channel: Channel) -> set[str]:
        return {channel.secrets.get("page_id", "")} - {""}

    def parse_change(self, ctx: WebhookContext, entry: Json, change: Json) -> list[InboundEvent]:
        value = obj(change, "value")
        verb = text_of(value.get("verb"))
        if change.get("field") != "feed" or value.get("item") != "comment" or verb not in _FEED_VERBS:
            return []  # posts, reactions, shares: not conversations
        author = obj(value, "from")
        author_id = id_of(author.get("id"))
        comment_id, post_id = id_of(value.get("comment_id")), id_of(value.get("post_id"))
        if not author_id or not comment_id or not post_id or author_id in self.own_ids(ctx.channel):
            return []  # our own replies come back through the feed too
        text = text_of(value.get("message"))
        suffix = f":{stable_hash(text, str(value.get('created_time')), length=12)}" if verb == "edited" else ""
        post = obj(value, "post")
        return [self.comment_event(
            ctx, event_type=_FEED_VERBS[verb], event_id=f"{comment_id}:{verb}{suffix}", post_id=post_id,
            comment_id=comment_id, parent_id=id_of(value.get("parent_id")),
            author=Sender(external_user_id=author_id, display_name=text_of(author.get("name"))), text=text,
            created=timestamp(value.get("created_time")) or timestamp(entry.get("time")),
            permalink=text_of(value.get("permalink_url")) or text_of(post.get("permalink_url")),
        )]

    def register_webhook(self, channel: Channel, url: str) -> None:
        """Subscribe the Page to the app; the callback URL and verify token are set in the App Dashboard."""
        page_id = channel.secrets.get("page_id", "")
        if not page_id:
            raise errors.PermanentError("messenger channel has no page_id")
        self.graph.call("POST", f"{page_id}/subscribed_apps", self.token(channel),
                        params={"subscribed_fields": ",".join(SUBSCRIBED_FIELDS)})

    def check_health(self, channel: Channel) -> dict[str, Any]:
        try:
            page = self.graph.call("GET", channel.secrets.get("page_id", "") or "me", self.token(channel),
                                   params={"fields": "id,name"})
        except errors.ChannelError as exc:
            return {"ok": False, "error": exc.message}
        return {"ok": True, "page_id": id_of(page.get("id")), "name": text_of(page.get("name"))}

    def typing(self, channel: Channel, conv: ConvRef) -> None:
        self.graph.call("POST", "me/messages", self.token(channel), json_body={
            "recipient": {"id": conv.external_conversation_id}, "sender_action": "typing_on"})
