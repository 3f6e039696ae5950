/**
 * Forward the conversation by e-mail (B11): recipients, an optional note, Send. The dialog keeps one
 * `request_id` while it is open, so sending again after a lost answer never mails anyone twice.
 */

import { useEffect, useRef, useState } from "preact/hooks";
import type { ApiError } from "../api";
import { forwardConversation } from "../console/state";
import { t } from "../i18n";
import { errorText } from "./errors";

function newRequestId(): string {
  return typeof crypto.randomUUID === "function" ? crypto.randomUUID()
    : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function ForwardButton() {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" class="ghost" aria-haspopup="dialog" onClick={() => setOpen(true)}>{t("forward")}</button>
      {open && <ForwardDialog close={() => setOpen(false)} />}
    </>
  );
}

function ForwardDialog({ close }: { close: () => void }) {
  const [to, setTo] = useState("");
  const [note, setNote] = useState("");
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [sentTo, setSentTo] = useState<string[] | null>(null);
  const [requestId] = useState(newRequestId);
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);

  const send = async (event: Event): Promise<void> => {
    event.preventDefault();
    const addresses = to.split(/[\s,;]+/).filter(Boolean);
    setSending(true);
    setError(null);
    const failed = await forwardConversation(addresses, note, requestId);
    setSending(false);
    if (failed) setError(failed);
    else setSentTo(addresses);
  };

  return (
    <dialog ref={dialog} class="settings" aria-labelledby="forward-title" onClose={close}>
      {sentTo ? (
        <div class="forward-done">
          <h2 id="forward-title">{t("forward_title")}</h2>
          <p role="status">{t("forward_sent", { to: sentTo.join(", ") })}</p>
          <div class="dialog-actions">
            <button type="button" class="primary" onClick={() => dialog.current?.close()}>{t("forward_close")}</button>
          </div>
        </div>
      ) : (
        <form onSubmit={send}>
          <h2 id="forward-title">{t("forward_title")}</h2>
          <label class="field">
            {t("forward_to")}
            <input required value={to} placeholder="billing@shop.example, legal@shop.example"
              onInput={(e) => setTo(e.currentTarget.value)} />
            <span class="muted">{t("forward_to_hint")}</span>
          </label>
          <label class="field">
            {t("forward_note")}
            <textarea rows={3} maxLength={2000} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
          </label>
          {error && <p class="form-error" role="alert">{errorText(error)}</p>}
          <div class="dialog-actions">
            <button type="button" onClick={() => dialog.current?.close()}>{t("colleague_cancel")}</button>
            <button type="submit" class="primary" disabled={sending}>{sending ? t("forward_sending") : t("forward_send")}</button>
          </div>
        </form>
      )}
    </dialog>
  );
}
