/** One message: who wrote it, its text and attachments, the quoted message, and our replies' delivery status. */

import { useState } from "preact/hooks";
import { channelCan, deleteMessage, editMessage, hideMessage, retry, setReplyTo, store } from "../console/state";
import { formatDateTime, formatTime, t, type Key } from "../i18n";
import { can } from "../session";
import type { Message } from "../types";
import { AttachmentView } from "./AttachmentView";
import { safeUrl } from "./safeUrl";
import { createTaskFrom } from "./TasksNav";

const STATUS_TEXT: Record<string, Key> = { pending: "msg_pending", sent: "msg_sent", failed: "msg_failed" };

/** Rendered by Messages, which re-renders on every store change: no subscription of its own. */
export function MessageItem({ message: m, quoted }: { message: Message; quoted: Message | null }) {
  const { session } = store.state;
  const side = m.direction === "in" ? "in" : m.direction === "note" ? "note" : m.direction === "system" ? "system" : "out";
  const permalink = safeUrl(m.comment?.permalink);
  const [editing, setEditing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const ours = m.direction === "out" && m.status === "sent" && !!m.external_message_id && !m.deleted;
  const comment = m.direction === "in" && !!m.comment && !m.deleted;
  const hideable = comment && channelCan(store.state.thread.detail?.channel_kind, "hide_comment");
  const busy = m.action?.state === "pending";  // one change at a time at the provider: the buttons wait for it
  return (
    <article class={`msg msg-${side}${m.status === "failed" ? " msg-failed" : ""}${m.hidden ? " msg-hidden" : ""}`}
      data-message={m.id} data-hidden={m.hidden ? "true" : undefined} aria-label={authorLabel(m)}>
      <div class="msg-meta">
        <span class="author">{authorLabel(m)}</span>
        <time dateTime={m.created_at} title={formatDateTime(m.created_at)}>{formatTime(m.created_at)}</time>
        {m.edited && <span class="muted">{t("msg_edited")}</span>}
        {m.hidden && !m.deleted && <span class="hidden-label">{t("msg_hidden")}</span>}
      </div>
      {quoted && (
        <blockquote class="quote">
          <span class="quote-author">{authorLabel(quoted)}</span>
          <span class="quote-text">{quoted.text || t("msg_attachment")}</span>
        </blockquote>
      )}
      {editing ? <EditBox message={m} done={() => setEditing(false)} />
        : m.deleted ? <p class="msg-text muted">{t("msg_deleted")}</p> : m.text && <p class="msg-text">{m.text}</p>}
      {m.attachments.length > 0 && (
        <div class="attachments">{m.attachments.map((a, i) => <AttachmentView key={i} attachment={a} />)}</div>
      )}
      <div class="msg-foot">
        {m.direction === "out" && <DeliveryStatus message={m} />}
        {permalink && <a href={permalink} target="_blank" rel="noopener noreferrer">{t("msg_open_original")}</a>}
        {m.direction === "in" && can(session, "conversations:reply") && (
          <button type="button" class="link" onClick={() => setReplyTo(m)}>{t("msg_reply")}</button>
        )}
        {m.direction === "in" && can(session, "tasks:write") && (
          <button type="button" class="link" onClick={() => createTaskFrom(m)}>{t("msg_create_task")}</button>
        )}
        {ours && can(session, "conversations:reply") && !editing && (
          <button type="button" class="link" disabled={busy} onClick={() => setEditing(true)}>{t("msg_edit")}</button>
        )}
        {(ours || comment) && can(session, "messages:moderate") && (
          confirming
            ? <button type="button" class="link danger" disabled={busy} onClick={() => { setConfirming(false); void deleteMessage(m); }}>
                {t("msg_delete_confirm")}</button>
            : <button type="button" class="link" disabled={busy} onClick={() => setConfirming(true)}>{t("msg_delete")}</button>
        )}
        {hideable && can(session, "messages:moderate") && (
          <button type="button" class="link" disabled={busy} onClick={() => void hideMessage(m, !m.hidden)}>
            {t(m.hidden ? "msg_unhide" : "msg_hide")}</button>
        )}
        {m.action?.state === "pending" && <span class="muted" role="status">{t("msg_action_pending")}</span>}
        {m.action?.state === "failed" && m.action.error && (
          <span class="reason" role="status">{t("msg_action_failed")}: {m.action.error.message}</span>
        )}
      </div>
    </article>
  );
}

function EditBox({ message, done }: { message: Message; done: () => void }) {
  const [text, setText] = useState(message.text);
  const save = async (event: Event): Promise<void> => {
    event.preventDefault();
    if (text.trim() && text !== message.text && !(await editMessage(message, text.trim()))) return;
    done();
  };
  return (
    <form class="edit-box" onSubmit={save}>
      <textarea aria-label={t("msg_edit_label")} value={text} rows={2}
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => { if (e.key === "Escape") done(); }} />
      <button type="submit" class="primary">{t("msg_edit_save")}</button>
      <button type="button" class="link" onClick={done}>{t("msg_edit_cancel")}</button>
    </form>
  );
}

export function authorLabel(m: Message): string {
  if (m.direction === "in") return store.state.thread.detail?.contact_name || t("customer");
  if (m.direction === "note") return t("msg_note");
  if (m.origin === "greeting") return t("msg_greeting");
  if (m.origin === "api") return t("msg_api");
  if (m.origin === "survey") return t("msg_survey");
  if (m.direction === "system") return t("msg_system");
  return m.author_id === store.state.session?.me.subject ? t("msg_you") : t("msg_operator");
}

function DeliveryStatus({ message: m }: { message: Message }) {
  const key = STATUS_TEXT[m.status];
  return (
    <span class={`delivery delivery-${m.status}`} data-status={m.status}>
      {key ? t(key) : m.status}
      {m.delivery && m.status === "sent" && <span> · {m.delivery}</span>}
      {m.status === "failed" && m.error && <span class="reason">: {m.error.message} ({m.error.code})</span>}
      {m.status === "failed" && can(store.state.session, "conversations:reply") && (
        <button type="button" class="link" onClick={() => void retry(m)}>{t("msg_retry")}</button>
      )}
    </span>
  );
}
