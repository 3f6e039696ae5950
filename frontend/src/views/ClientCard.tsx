/** The client card: contact details, identities in every channel, and the client's other conversations. */

import { openConversation, store } from "../console/state";
import { formatDateTime, formatTime, plural, t } from "../i18n";
import { useStore } from "../store";
import type { Contact } from "../types";
import { ChannelBadge } from "./ChannelBadge";
import { STATUS_LABEL } from "./Inbox";

export function ClientCard() {
  const { thread } = useStore(store);
  if (!thread.id) return <aside class="card" aria-label={t("client_card")} />;
  const detail = thread.detail;
  if (!detail) {
    return <aside class="card" aria-label={t("client_card")} aria-busy="true"><span class="sk sk-line" /></aside>;
  }
  const contact = detail.contact;
  return (
    <aside class="card" aria-label={t("client_card")}>
      <h3>{contact?.display_name || detail.contact_name || t("unknown_customer")}</h3>
      {contact ? <ContactFields contact={contact} /> : <p class="muted">{t("card_no_contact")}</p>}
      <h4>{t("card_history")}</h4>
      {detail.history.length === 0 ? (
        <p class="muted">{t("card_no_history")}</p>
      ) : (
        <ul class="history">
          {detail.history.map((c) => (
            <li key={c.id}>
              <a href={`/c/${encodeURIComponent(c.id)}`} onClick={(e) => { e.preventDefault(); void openConversation(c.id); }}>
                <ChannelBadge kind={c.channel_kind} /> <span>{t(STATUS_LABEL[c.status])}</span>
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
