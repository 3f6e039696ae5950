/** The client card: contact details, identities in every channel, and the client's other conversations. */

import type { ComponentType } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { ApiError } from "../api";
import { apiClient, openConversation, reloadThread, saveContact, showNotice, store } from "../console/state";
import { formatDateTime, formatTime, plural, t } from "../i18n";
import { can } from "../session";
import { useStore } from "../store";
import type { Contact, Duplicate, MergeInfo } from "../types";
import { ChannelBadge } from "./ChannelBadge";
import { errorText } from "./errors";
import { allStatuses } from "./Inbox";

export function ClientCard() {
  const state = useStore(store);
  const { thread, session } = state;
  const [editing, setEditing] = useState<string | null>(null);  // the contact being edited
  if (!thread.id) return <aside class="card" aria-label={t("client_card")} />;
  const detail = thread.detail;
  if (!detail) {
    return <aside class="card" aria-label={t("client_card")} aria-busy="true"><span class="sk sk-line" /></aside>;
  }
  const contact = detail.contact;
  const label = (id: string): string => allStatuses(state).find((s) => s.id === id)?.label ?? id;
  return (
    <aside class="card" aria-label={t("client_card")}>
      <div class="card-head">
        <h3>{contact?.display_name || detail.contact_name || t("unknown_customer")}</h3>
        {contact && can(session, "conversations:manage") && editing !== contact.id && (
          <button type="button" class="link" onClick={() => setEditing(contact.id)}>{t("card_edit")}</button>
        )}
      </div>
      {contact && editing === contact.id ? <ContactForm contact={contact} done={() => setEditing(null)} />
        : contact ? <ContactFields contact={contact} /> : <p class="muted">{t("card_no_contact")}</p>}
      {contact && editing !== contact.id && <MergeBlock contact={contact} canMerge={can(session, "conversations:manage")} />}
      <h4>{t("card_history")}</h4>
      {detail.history.length === 0 ? (
        <p class="muted">{t("card_no_history")}</p>
      ) : (
        <ul class="history">
          {detail.history.map((c) => (
            <li key={c.id}>
              <a href={`/c/${encodeURIComponent(c.id)}`} onClick={(e) => { e.preventDefault(); void openConversation(c.id); }}>
                <ChannelBadge kind={c.channel_kind} /> <span>{label(c.status)}</span>
                <time dateTime={c.last_activity_at}> {formatTime(c.last_activity_at)}</time>
                <span class="preview">{c.last_message_preview}</span>
              </a>
            </li>
          ))}
        </ul>
      )}
      <p class="muted small">{plural("messages", detail.message_count)} · {t("card_since", { date: formatDateTime(detail.created_at) })}</p>
    </aside>
  );
}

function ContactFields({ contact }: { contact: Contact }) {
  const fields: [string, string][] = [
    [t("card_username"), contact.username ? `@${contact.username}` : ""],
    [t("card_phone"), contact.phone], [t("card_email"), contact.email], [t("card_language"), contact.language],
    [t("card_notes"), contact.notes],
    ...Object.entries(contact.custom_fields ?? {}),
  ];
  return (
    <>
      <dl class="fields">
        {fields.filter(([, value]) => value).map(([name, value]) => (
          <div key={name}><dt>{name}</dt><dd>{value}</dd></div>
        ))}
      </dl>
      <h4>{t("card_identities")}</h4>
      <ul class="identities">
        {contact.identities.map((i) => (
          <li key={`${i.channel_id}:${i.external_user_id}`}>
            <ChannelBadge kind={i.channel_kind} /> <span>{i.display_name || i.username || i.external_user_id}</span>
            <span class="muted"> · {i.external_user_id}</span>
          </li>
        ))}
      </ul>
    </>
  );
}

/** Correct the card in place (C1): name, e-mail, phone, notes and the team's own fields; Esc or Cancel leaves. */
function ContactForm({ contact, done }: { contact: Contact; done: () => void }) {
  const [name, setName] = useState(contact.display_name);
  const [email, setEmail] = useState(contact.email);
  const [phone, setPhone] = useState(contact.phone);
  const [notes, setNotes] = useState(contact.notes);
  const [fields, setFields] = useState<[string, string][]>(Object.entries(contact.custom_fields ?? {}));
  // the card as it was when editing began: a colleague's edit pushed meanwhile must make this one stale
  const [revision] = useState(contact.revision);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

  const save = async (event: Event): Promise<void> => {
    event.preventDefault();
    setSaving(true);
    const failed = await saveContact({
      revision, display_name: name, email, phone, notes,
      custom_fields: Object.fromEntries(fields.filter(([key]) => key.trim())),
    });
    setSaving(false);
    if (failed) setError(failed);
    else done();
  };
  const setField = (index: number, part: 0 | 1, value: string): void =>
    setFields(fields.map((f, i) => (i === index ? (part === 0 ? [value, f[1]] : [f[0], value]) : f)));

  return (
    <form class="contact-form" aria-label={t("card_edit_label")} onSubmit={save}
      onKeyDown={(e) => { if (e.key === "Escape") done(); }}>
      <label>{t("card_name")}<input required maxLength={100} value={name}
        onInput={(e) => setName(e.currentTarget.value)} /></label>
      <label>{t("card_email")}<input type="email" value={email} onInput={(e) => setEmail(e.currentTarget.value)} /></label>
      <label>{t("card_phone")}<input type="tel" value={phone} placeholder="+7 912 345-67-89"
        onInput={(e) => setPhone(e.currentTarget.value)} /></label>
      <label>{t("card_notes")}<textarea rows={3} maxLength={5000} value={notes}
        onInput={(e) => setNotes(e.currentTarget.value)} /></label>
      <fieldset>
        <legend>{t("card_fields")}</legend>
        {fields.map(([key, value], i) => (
          <div class="field-row" key={i}>
            <input aria-label={t("card_field_name")} placeholder={t("card_field_name")} maxLength={40} value={key}
              onInput={(e) => setField(i, 0, e.currentTarget.value)} />
            <input aria-label={t("card_field_value", { name: key || "…" })} maxLength={500} value={value}
              onInput={(e) => setField(i, 1, e.currentTarget.value)} />
            <button type="button" class="ghost" aria-label={t("remove_named", { name: key || "…" })}
              onClick={() => setFields(fields.filter((_, j) => j !== i))}>×</button>
          </div>
        ))}
        {fields.length < 20 && (
          <button type="button" class="link" onClick={() => setFields([...fields, ["", ""]])}>{t("card_add_field")}</button>
        )}
      </fieldset>
      {error && (
        <p class="form-error" role="alert">
          {error.code === "stale" ? t("card_stale") : errorText(error)}
          {error.code === "stale" && (
            <button type="button" class="link" onClick={() => { done(); reloadThread(); }}>{t("card_reload")}</button>
          )}
        </p>
      )}
      <div class="dialog-actions">
        <button type="button" onClick={done}>{t("colleague_cancel")}</button>
        <button type="submit" class="primary" disabled={saving}>{saving ? t("loading") : t("settings_save")}</button>
      </div>
    </form>
  );
}

type MergeDialogProps = { survivorId: string; other: Duplicate; close: () => void; merged: (m: MergeInfo) => void };
let mergeDialog: ComponentType<MergeDialogProps> | null = null;

/** C2 on the card: cards that look like the same person (Merge…), and a merge of the last 24 h (Undo). */
function MergeBlock({ contact, canMerge }: { contact: Contact; canMerge: boolean }) {
  const [duplicates, setDuplicates] = useState<Duplicate[]>([]);
  const [merges, setMerges] = useState<MergeInfo[]>([]);
  const [merging, setMerging] = useState<Duplicate | null>(null);
  const [Dialog, setDialog] = useState<ComponentType<MergeDialogProps> | null>(() => mergeDialog);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    let live = true;
    void apiClient().duplicates(contact.id).then((d) => { if (live) setDuplicates(d.items); }, () => undefined);
    void apiClient().contactCard(contact.id).then((c) => { if (live) setMerges(c.merges); }, () => undefined);
    return () => { live = false; };
  }, [contact.id, contact.revision]);

  const open = async (dup: Duplicate): Promise<void> => {
    if (!mergeDialog) mergeDialog = (await import("./MergeDialog")).default;
    setDialog(() => mergeDialog);
    setMerging(dup);
  };
  const undo = async (merge: MergeInfo): Promise<void> => {
    setBusy(true);
    try {
      await apiClient().undoMerge(merge.id);
      reloadThread();
    } catch (err) {
      showNotice(err);
    } finally {
      setBusy(false);
    }
  };
  const now = new Date().toISOString();
  const undoable = merges.filter((m) => m.state === "done" && m.undo_until > now);
  return (
    <>
      {undoable.map((m) => (
        <p class="merge-note" key={m.id} role="status">
          {t("merge_done", { name: m.other_name || m.other_id, conversations: m.conversations })}{" "}
          {canMerge && <button type="button" class="link" disabled={busy} onClick={() => void undo(m)}>
            {t("merge_undo")}</button>}
        </p>
      ))}
      {duplicates.length > 0 && (
        <section class="duplicates" aria-label={t("merge_suggestions")}>
          <h4>{t("merge_suggestions")}</h4>
          <ul>
            {duplicates.map((d) => (
              <li key={d.contact_id}>
                <span>{d.display_name || d.contact_id}</span>
                <span class="muted"> · {d.reasons.map((r) => t(`merge_reason_${r}` as const)).join(", ")}</span>
                {canMerge && <button type="button" class="link" aria-label={t("merge_with", { name: d.display_name })}
                  onClick={() => void open(d)}>{t("merge_open")}</button>}
              </li>
            ))}
          </ul>
        </section>
      )}
      {merging && Dialog && (
        <Dialog survivorId={contact.id} other={merging} close={() => setMerging(null)}
          merged={() => { setMerging(null); reloadThread(); }} />
      )}
    </>
  );
}
