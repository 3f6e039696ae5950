/** The open conversation: header (status, tags), the messages in real time, and the reply box. */

import { useLayoutEffect, useRef } from "preact/hooks";
import { closeThread, loadEarlier, reloadThread, setBlocked, setEmotion, setStatus, store } from "../console/state";
import { t } from "../i18n";
import { can } from "../session";
import { useStore } from "../store";
import { EMOTIONS, type Emotion, type Status } from "../types";
import { ChannelBadge } from "./ChannelBadge";
import { Composer } from "./Composer";
import { errorText } from "./errors";
import { allStatuses } from "./Inbox";
import { ForwardButton } from "./ForwardDialog";
import { MessageItem } from "./MessageItem";
import { PresenceBadge } from "./PresenceBadge";
import { SnoozeMenu } from "./SnoozeMenu";
import { SurveyRating } from "./SurveyRating";
import { ThreadSkeleton } from "./Skeleton";
import { TagEditor } from "./TagEditor";
import { TasksBlock } from "./TasksBlock";

export function Thread() {
  const { thread } = useStore(store);
  if (!thread.id) {
    return (
      <section class="thread empty-thread" aria-label={t("conversation")}>
        <p class="empty-title">{t("empty_thread_title")}</p>
        <p class="muted">{t("empty_thread_hint")}</p>
        <Shortcuts />
      </section>
    );
  }
  if (thread.error) {
    return (
      <section class="thread empty-thread" aria-label={t("conversation")}>
        <p role="alert">{t("error_thread")} {errorText(thread.error)}</p>
        <button type="button" onClick={reloadThread}>{t("try_again")}</button>
      </section>
    );
  }
  return (
    <section class="thread" aria-label={t("conversation")}>
      <ThreadHeader />
      {thread.loading ? <ThreadSkeleton /> : <Messages />}
      {!thread.loading && <Composer key={thread.id} />}
    </section>
  );
}

function Shortcuts() {
  return (
    <dl class="shortcuts">
      <dt><kbd>j</kbd> / <kbd>k</kbd></dt><dd>{t("shortcut_next_prev")}</dd>
      <dt><kbd>r</kbd></dt><dd>{t("shortcut_reply")}</dd>
      <dt><kbd>e</kbd></dt><dd>{t("shortcut_close")}</dd>
    </dl>
  );
}

function ThreadHeader() {
  const { thread, session } = useStore(store);
  const detail = thread.detail;
  if (!detail) return <header class="thread-head"><span class="sk sk-line" /></header>;
  const manage = can(session, "conversations:manage");
  return (
    <header class="thread-head">
      <button type="button" class="ghost back" onClick={() => closeThread()} aria-label={t("back_to_list")}>←</button>
      <div class="thread-title">
        <h2>{detail.contact_name || detail.title || t("unknown_customer")}</h2>
        <ChannelBadge kind={detail.channel_kind} />
        {detail.surface === "comment" && <span class="muted">{t("surface_comment")}</span>}
        <PresenceBadge conversationId={detail.id} />
        <SurveyRating conversationId={detail.id} />
      </div>
      <div class="thread-actions">
        <label class="visually-hidden" for="status-select">{t("status")}</label>
        <select id="status-select" value={detail.status} disabled={!manage}
          onChange={(e) => void setStatus(e.currentTarget.value as Status)}>
          {allStatuses(store.state).map((s) => <option key={s.id} value={s.id}>{s.label}</option>)}
        </select>
        {detail.status !== "closed" && manage && (
          <button type="button" onClick={() => void setStatus("closed")} title={t("shortcut_close")}>
            {t("close_conversation")}
          </button>
        )}
        {manage && <SnoozeMenu detail={detail} />}
        {can(session, "conversations:reply") && <ForwardButton />}
        {can(session, "messages:moderate") && (
          <button type="button" class={detail.blocked ? "" : "ghost"} aria-pressed={!!detail.blocked}
            onClick={() => void setBlocked(!detail.blocked)}>
            {detail.blocked ? t("unblock_customer") : t("block_customer")}
          </button>
        )}
      </div>
      {detail.blocked && <p class="notice-inline" role="status">{t("customer_blocked")}</p>}
      <div class="thread-meta">
        <TagEditor tags={detail.tags} editable={manage} />
        <EmotionPicker value={detail.emotion ?? null} editable={manage} />
      </div>
      <TasksBlock conversationId={detail.id} />
    </header>
  );
}

const EMOTION_ICON: Record<Emotion, string> = { positive: "☺", neutral: "•", negative: "☹" };

/** How the customer feels (B8): three toggles; pressing the pressed one clears it. */
function EmotionPicker({ value, editable }: { value: Emotion | null; editable: boolean }) {
  return (
    <div class="emotions" role="group" aria-label={t("emotion")}>
      {EMOTIONS.map((e) => (
        <button type="button" key={e} class={`emotion emotion-${e}`} aria-pressed={value === e} disabled={!editable}
          onClick={() => void setEmotion(value === e ? null : e)}>
          <span aria-hidden="true">{EMOTION_ICON[e]}</span> {t(`emotion_${e}`)}
        </button>
      ))}
    </div>
  );
}

function Messages() {
  const { thread } = useStore(store);
  const box = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);
  const last = thread.messages[thread.messages.length - 1]?.id;
  useLayoutEffect(() => {
    const el = box.current;
    if (el && pinned.current) el.scrollTop = el.scrollHeight;
  }, [last, thread.messages.length]);
  const byId = new Map(thread.messages.map((m) => [m.id, m]));
  return (
    <div class="messages" ref={box} role="log" aria-live="polite" aria-label={t("messages")}
      onScroll={(e) => {
        const el = e.currentTarget;
        pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 120;
      }}>
      {thread.cursor && (
        <div class="more">
          <button type="button" disabled={thread.loadingEarlier} onClick={() => void loadEarlier()}>
            {thread.loadingEarlier ? t("loading") : t("load_earlier")}
          </button>
        </div>
      )}
      {thread.messages.length === 0 && <p class="muted empty-messages">{t("empty_messages")}</p>}
      {thread.messages.map((m) => (
        <MessageItem key={m.id} message={m} quoted={m.reply_to ? byId.get(m.reply_to) ?? null : null} />
      ))}
    </div>
  );
}
