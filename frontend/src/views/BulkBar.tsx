/** Select mode's bar (B5): the count, "select all on this page", reply to all, close all, tag all, with progress. */

import { useState } from "preact/hooks";
import {
  bulk, clearSelection, closeAll, closeComposer, dismissProgress, openComposer, selectAll, sendBulk, tagAll,
  type BulkRow,
} from "../console/bulk";
import { store } from "../console/state";
import { t, type Key } from "../i18n";
import { can } from "../session";
import { useStore } from "../store";
import { errorText } from "./errors";

const OUTCOME: Record<BulkRow["outcome"], Key> = { queued: "bulk_queued", sent: "bulk_sent", failed: "bulk_failed" };

export function BulkBar({ visible }: { visible: string[] }) {
  const b = useStore(bulk);
  const { session } = store.state;
  if (!b.selecting) return null;
  const count = b.selected.length;
  const allOn = visible.length > 0 && visible.every((id) => b.selected.includes(id));
  const busy = !!b.progress?.running;
  return (
    <div class="bulk" role="region" aria-label={t("bulk_region")}>
      <div class="bulk-bar">
        <label class="check">
          <input type="checkbox" checked={allOn} disabled={visible.length === 0}
            onChange={(e) => (e.currentTarget.checked ? selectAll(visible) : clearSelection())} />
          {t("bulk_select_page")}
        </label>
        <span class="bulk-count" role="status" aria-live="polite">{t("bulk_selected", { count })}</span>
      </div>
      {count > 0 && (
        <div class="bulk-bar">
          {can(session, "conversations:reply") && (
            <button type="button" class="primary" disabled={b.composing} onClick={openComposer}>
              {t("bulk_reply_to", { count })}</button>
          )}
          {can(session, "conversations:manage") && (
            <>
              <button type="button" disabled={busy} onClick={() => void closeAll()}>{t("bulk_close")}</button>
              <TagAll disabled={busy} />
            </>
          )}
        </div>
      )}
      {b.progress && (
        <div class="bulk-progress" role="status">
          <span>{t(b.progress.verb === "close" ? "bulk_closing" : "bulk_tagging",
            { done: b.progress.done, total: b.progress.total })}</span>
          {b.progress.failed.map((f, i) => <span key={i} class="reason">{f.name}: {f.reason}</span>)}
          {!b.progress.running && (
            <button type="button" class="link" onClick={dismissProgress}>{t("dismiss")}</button>
          )}
        </div>
      )}
      {b.composing && <BulkComposer count={count} />}
    </div>
  );
}

function TagAll({ disabled }: { disabled: boolean }) {
  const [tag, setTag] = useState("");
  return (
    <form class="bulk-tag" onSubmit={(e) => { e.preventDefault(); void tagAll(tag).then(() => setTag("")); }}>
      <input type="text" aria-label={t("bulk_tag_label")} placeholder={t("bulk_tag_label")} value={tag}
        maxLength={50} onInput={(e) => setTag(e.currentTarget.value)} />
      <button type="submit" disabled={disabled || !tag.trim()}>{t("bulk_tag")}</button>
    </form>
  );
}

function BulkComposer({ count }: { count: number }) {
  const b = useStore(bulk);
  const [text, setText] = useState("");
  return (
    <form class="bulk-composer" onSubmit={(e) => { e.preventDefault(); void sendBulk(text); }}>
      <label for="bulk-text">{t("bulk_text_label", { count })}</label>
      <textarea id="bulk-text" rows={3} value={text} maxLength={10000}
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => { if (e.key === "Escape") closeComposer(); }} />
      <div class="bulk-actions">
        <button type="submit" class="primary" disabled={!text.trim() || b.sending || count === 0}>
          {b.sending ? t("bulk_sending") : t("bulk_send", { count })}</button>
        <button type="button" class="link" onClick={closeComposer}>{t("bulk_done")}</button>
      </div>
      {b.error && (
        <p class="form-error" role="alert">
          {t("bulk_not_sent")} {errorText(b.error)}{" "}
          <button type="button" onClick={() => void sendBulk(text)}>{t("try_again")}</button>
        </p>
      )}
      {b.rows.length > 0 && (
        <ul class="bulk-results" aria-label={t("bulk_results")}>
          {b.rows.map((r) => (
            <li key={r.conversationId} data-outcome={r.outcome}>
              <span class="name">{r.name}</span>
              <span class={r.outcome === "failed" ? "reason" : "muted"}>
                {t(OUTCOME[r.outcome])}{r.reason ? `: ${r.reason}` : ""}</span>
            </li>
          ))}
        </ul>
      )}
    </form>
  );
}
