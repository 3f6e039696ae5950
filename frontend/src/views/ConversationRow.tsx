/** One row of the inbox: who, where, the last message, when, unread badge and tags. */

import { isOverdue, isStale, openConversation, store } from "../console/state";
import { formatTime, t } from "../i18n";
import type { Conversation } from "../types";
import { ChannelBadge } from "./ChannelBadge";
import { RowPresence } from "./PresenceBadge";

/** In select mode (B5) a checkbox leads the row; shift-click ticks the range since the last tick. */
export interface RowCheck {
  checked: boolean;
  toggle: (range: boolean) => void;
}

export function ConversationRow({ conversation: c, selected, check }: {
  conversation: Conversation; selected: boolean; check?: RowCheck;
}) {
  const name = c.contact_name || c.title || t("unknown_customer");
  return (
    <li class={check ? `selectable${check.checked ? " checked" : ""}` : undefined}>
      {check && (
        <input type="checkbox" class="row-check" checked={check.checked} aria-label={t("bulk_select_row", { name })}
          onClick={(event) => check.toggle(event.shiftKey)} />
      )}
      <a href={`/c/${encodeURIComponent(c.id)}`} class={`row${selected ? " selected" : ""}${c.unread_count ? " unread" : ""}`}
        aria-current={selected ? "true" : undefined} data-conversation={c.id}
        onClick={(event) => {
          if (check && event.shiftKey) {  // select mode: shift-click on a row ticks the range
            event.preventDefault();
            check.toggle(true);
            return;
          }
          if (event.ctrlKey || event.metaKey || event.shiftKey) return;
          event.preventDefault();
          void openConversation(c.id);
        }}>
        <span class="avatar" aria-hidden="true">{initial(name)}</span>
        <span class="row-main">
          <span class="row-top">
            <span class="name">{name}</span>
            <time dateTime={c.last_activity_at}>{formatTime(c.last_activity_at)}</time>
          </span>
          <span class="row-bottom">
            <ChannelBadge kind={c.channel_kind} />
            <span class="preview">
              {c.last_message_direction === "out" && <span class="muted">{t("preview_you")} </span>}
              {c.last_message_preview}
            </span>
            <RowPresence conversationId={c.id} />
            {c.emotion && (
              <span class={`row-emotion emotion-${c.emotion}`} role="img" aria-label={t(`emotion_${c.emotion}`)}
                title={t(`emotion_${c.emotion}`)} />
            )}
            {isOverdue(c, store.state.slaMinutes) && c.awaiting_since && (
              <span class="overdue" title={t("overdue_since", { time: formatTime(c.awaiting_since) })}>
                {t("overdue_waiting", { minutes: Math.floor((Date.now() - Date.parse(c.awaiting_since)) / 60_000) })}
              </span>
            )}
            {c.sla_breached && <span class="sla-breached">{t("sla_breached_badge")}</span>}
            {isStale(c, store.state.staleHours) && (
              <span class="stale" title={t("stale_hint", { hours: store.state.staleHours })}>{t("stale_badge")}</span>
            )}
            {c.unread_count > 0 && (
              <span class="badge" aria-label={t("unread_count", { count: c.unread_count })}>{c.unread_count}</span>
            )}
          </span>
          {c.tags.length > 0 && (
            <span class="row-tags">{c.tags.map((tag) => <span class="tag" key={tag}>{tag}</span>)}</span>
          )}
        </span>
      </a>
    </li>
  );
}

export function initial(name: string): string {
  const first = [...name.trim()][0];
  return first ? first.toUpperCase() : "?";
}
