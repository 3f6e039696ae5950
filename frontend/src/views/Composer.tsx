/**
 * The reply box: a reply to the customer or an internal note, optionally quoting a message, with attachments
 * uploaded first (progress bar) and sent by id. Enter sends, Shift+Enter starts a new line, Esc leaves the box.
 * `/` at the start or after a space opens the reply templates (B7): the picked one replaces `/query`, filled in.
 * Ctrl+K (⌘K) opens the knowledge base (H1): an article's text or link goes in at the caret, and the reply names
 * the articles it used (each counts a use once it is sent).
 */

import { useLayoutEffect, useRef, useState } from "preact/hooks";
import { MAX_UPLOAD_BYTES } from "../api";
import { typingIn } from "../console/presence";
import { loadTemplates, send, type SendResult, setReplyTo, showNotice, store, upload } from "../console/state";
import { formatSize, t } from "../i18n";
import { can, type Session } from "../session";
import { useStore } from "../store";
import { insertTemplate, matchTemplates, renderTemplate, slashQuery, type SlashQuery } from "../templates";
import type { Template, Upload } from "../types";
import { ArticlePicker, type Inserted } from "./ArticlePicker";
import { EmojiPicker } from "./EmojiPicker";
import { authorLabel } from "./MessageItem";
import { optionId, PICKER_ID, TemplatePicker } from "./TemplatePicker";

type Mode = "reply" | "note";

interface Pending {
  id: number;
  name: string;
  progress: number;
}

let pendingSeq = 0;

/** `{operator_name}`: the signed-in user's name or e-mail; an API key has no person behind it. */
function operatorName(session: Session | null): string {
  const me = session?.me;
  return me && me.via === "session" ? me.name || me.email || "" : "";
}

export function Composer() {
  const { session, thread, focusComposer, templates } = useStore(store);
  const canReply = can(session, "conversations:reply");
  const canNote = can(session, "conversations:manage");
  const canRead = can(session, "articles:read");
  const [mode, setMode] = useState<Mode>(canReply ? "reply" : "note");
  const [text, setText] = useState("");
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [pending, setPending] = useState<Pending[]>([]);
  const [sending, setSending] = useState(false);
  const [slash, setSlash] = useState<SlashQuery | null>(null);
  const [active, setActive] = useState(0);
  const [dismissedAt, setDismissedAt] = useState<number | null>(null);
  /** A colleague answered after the last message I saw (B10): the reply waits for "Send anyway" or "Cancel". */
  const [held, setHeld] = useState<Exclude<SendResult, "sent" | "failed"> | null>(null);
  const [articles, setArticles] = useState(false);
  const [used, setUsed] = useState<string[]>([]);
  const box = useRef<HTMLTextAreaElement>(null);
  const files = useRef<HTMLInputElement>(null);

  useLayoutEffect(() => {
    if (focusComposer > 0) box.current?.focus();
  }, [focusComposer]);

  if (!canReply && !canNote) return <p class="composer muted">{t("composer_readonly")}</p>;

  const open = slash !== null && slash.start !== dismissedAt;
  const choices = open ? matchTemplates(templates.items, slash.query) : [];
  const current = choices[Math.min(active, choices.length - 1)] as Template | undefined;

  /** Follow the caret: a `/query` before it opens (or narrows) the template list. */
  const follow = (value: string, caret: number): void => {
    const found = slashQuery(value, caret);
    if (found && (!slash || found.start !== slash.start)) void loadTemplates({ fresh: templates.loaded });
    if (!found || found.start !== dismissedAt) setDismissedAt(null);
    if (found?.query !== slash?.query) setActive(0);
    setSlash(found);
  };

  const pick = (template: Template): void => {
    if (!slash) return;
    const rendered = renderTemplate(template.text, {
      customer_name: thread.detail?.contact_name ?? "", operator_name: operatorName(session),
      workspace_name: templates.workspaceName,
    });
    const next = insertTemplate(text, slash, rendered);
    setText(next.text);
    setSlash(null);
    requestAnimationFrame(() => {
      box.current?.focus();
      box.current?.setSelectionRange(next.caret, next.caret);
    });
  };

  /** The list's keys while it is open; true when the key was handled. */
  const pickerKey = (e: KeyboardEvent): boolean => {
    if (!open) return false;
    if (e.key === "Escape") {
      setDismissedAt(slash.start);
    } else if (choices.length === 0) {
      return false;
    } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      const step = e.key === "ArrowDown" ? 1 : -1;
      setActive((Math.min(active, choices.length - 1) + step + choices.length) % choices.length);
    } else if ((e.key === "Enter" || e.key === "Tab") && !e.shiftKey && !e.isComposing && current) {
      pick(current);
    } else {
      return false;
    }
    e.preventDefault();
    return true;
  };

  const attach = async (list: FileList | null): Promise<void> => {
    for (const file of Array.from(list ?? [])) {
      if (file.size > MAX_UPLOAD_BYTES) {
        showNotice(new Error(t("upload_too_large", { name: file.name, size: formatSize(MAX_UPLOAD_BYTES) })));
        continue;
      }
      const entry: Pending = { id: ++pendingSeq, name: file.name, progress: 0 };
      setPending((p) => [...p, entry]);
      try {
        const done = await upload(file, (fraction) =>
          setPending((p) => p.map((x) => (x.id === entry.id ? { ...x, progress: fraction } : x))));
        setUploads((u) => [...u, done]);
      } catch (err) {
        showNotice(err);
      } finally {
        setPending((p) => p.filter((x) => x.id !== entry.id));
      }
    }
    if (files.current) files.current.value = "";
  };

  const submit = async ({ force = false } = {}): Promise<void> => {
    const body = text.trim();
    const withFiles = mode === "reply" ? uploads : [];
    if (sending || pending.length > 0 || (!body && withFiles.length === 0)) return;
    setSending(true);
    const result = await send(mode, body, withFiles, { force, articles: mode === "reply" ? used : [] });
    setSending(false);
    if (result === "sent") {
      setHeld(null);
      setText("");
      setUsed([]);
      if (mode === "reply") setUploads([]);
      box.current?.focus();
    } else if (result !== "failed") {
      setHeld(result);
    }
  };

  /** Put text at the caret (the emoji picker), keeping the caret after it. */
  const insertAtCaret = (value: string): void => {
    const area = box.current;
    const start = area?.selectionStart ?? text.length;
    const end = area?.selectionEnd ?? text.length;
    setText(text.slice(0, start) + value + text.slice(end));
    requestAnimationFrame(() => {
      area?.focus();
      area?.setSelectionRange(start + value.length, start + value.length);
    });
  };

  const insertArticle = ({ articleId, text: value }: Inserted): void => {
    setArticles(false);
    setUsed((list) => (list.includes(articleId) ? list : [...list, articleId].slice(-5)));
    const before = text.slice(0, box.current?.selectionStart ?? text.length);
    insertAtCaret(before && !/\s$/.test(before) ? `\n${value}` : value);  // on a line of its own
  };

  const heldReply = held ? thread.messages.find((m) => m.id === held.messageId) : undefined;

  const label = mode === "note" ? t("composer_note_label") : t("composer_reply_label");
  return (
    <form class={`composer composer-${mode}`} onSubmit={(e) => { e.preventDefault(); if (!held) void submit(); }}>
      <div class="composer-modes" role="group" aria-label={t("composer_mode")}>
        {canReply && (
          <button type="button" aria-pressed={mode === "reply"} onClick={() => setMode("reply")}>
            {t("composer_reply")}
          </button>
        )}
        {canNote && (
          <button type="button" aria-pressed={mode === "note"} onClick={() => setMode("note")}>
            {t("composer_note")}
          </button>
        )}
      </div>
      {mode === "reply" && thread.replyTo && (
        <div class="replying">
          <span>{t("composer_replying_to", { name: authorLabel(thread.replyTo) })}</span>
          <q>{thread.replyTo.text || t("msg_attachment")}</q>
          <button type="button" class="ghost" aria-label={t("composer_cancel_reply")} onClick={() => setReplyTo(null)}>×</button>
        </div>
      )}
      <textarea ref={box} aria-label={label} placeholder={label} rows={3} value={text}
        aria-autocomplete="list" aria-controls={open ? PICKER_ID : undefined}
        aria-activedescendant={open && current ? optionId(current) : undefined}
        onInput={(e) => {
          setText(e.currentTarget.value);
          follow(e.currentTarget.value, e.currentTarget.selectionStart);
          if (mode === "reply" && thread.id && e.currentTarget.value.trim()) typingIn(thread.id);
        }}
        onClick={(e) => follow(e.currentTarget.value, e.currentTarget.selectionStart)}
        onKeyUp={(e) => {
          if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(e.key)) {
            follow(e.currentTarget.value, e.currentTarget.selectionStart);
          }
        }}
        onBlur={() => setSlash(null)}
        onKeyDown={(e) => {
          if (pickerKey(e)) {
            return;
          } else if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k" && canRead) {
            e.preventDefault();
            setArticles(true);
          } else if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            if (!held) void submit();  // while held, only "Send anyway" sends
          } else if (e.key === "Escape") {
            e.currentTarget.blur();
          }
        }} />
      {open && (
        <TemplatePicker items={choices} active={Math.min(active, choices.length - 1)} loaded={templates.loaded}
          onPick={pick} onHover={setActive} />
      )}
      {articles && <ArticlePicker onInsert={insertArticle} onClose={() => { setArticles(false); box.current?.focus(); }} />}
      {held && (
        <div class="held" role="alert">
          <p>{held.colleague ? t("colleague_replied_named", { name: held.colleague }) : t("colleague_replied")}</p>
          {heldReply?.text && <q>{heldReply.text}</q>}
          <div class="held-actions">
            <button type="button" class="primary" disabled={sending} onClick={() => void submit({ force: true })}>
              {t("colleague_send_anyway")}</button>
            <button type="button" onClick={() => { setHeld(null); box.current?.focus(); }}>{t("colleague_cancel")}</button>
          </div>
        </div>
      )}
      {pending.map((p) => (
        <div class="upload" key={p.id}>
          <span>{p.name}</span>
          <progress max={1} value={p.progress} aria-label={t("uploading", { name: p.name })} />
        </div>
      ))}
      {mode === "reply" && uploads.length > 0 && (
        <ul class="chips" aria-label={t("attachments")}>
          {uploads.map((u) => (
            <li class="chip" key={u.upload_id}>
              {u.file_name} <span class="muted">{formatSize(u.size_bytes)}</span>
              <button type="button" class="ghost" aria-label={t("remove_named", { name: u.file_name })}
                onClick={() => setUploads((list) => list.filter((x) => x.upload_id !== u.upload_id))}>×</button>
            </li>
          ))}
        </ul>
      )}
      <div class="composer-bar">
        {mode === "reply" && (
          <label class="button attach">
            <svg aria-hidden="true" width="14" height="14" viewBox="0 0 24 24" fill="none" stroke="currentColor"
              stroke-width="2"><path d="M21 11l-8.5 8.5a5 5 0 01-7-7L14 4a3.5 3.5 0 015 5l-8.5 8.5a2 2 0 01-3-3L15 7" /></svg>
            {t("attach")}
            <input ref={files} type="file" multiple class="visually-hidden"
              onChange={(e) => void attach(e.currentTarget.files)} />
          </label>
        )}
        <EmojiPicker onPick={insertAtCaret} />
        {canRead && (
          <button type="button" class="ghost" aria-expanded={articles} onClick={() => setArticles(!articles)}
            title={t("kb_picker_open")}>{t("kb_picker_button")}</button>
        )}
        <span class="hint">{t("composer_hint")}</span>
        <button type="submit" class="primary" disabled={sending || pending.length > 0 || !!held}>
          {mode === "note" ? t("composer_add_note") : t("composer_send")}
        </button>
      </div>
    </form>
  );
}
