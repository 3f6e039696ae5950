/** H2 above the inbox: "N customers report the same problem in the last hour", with their conversations and one
 * reply to all of them through the select mode's bulk reply (console/bulk.ts). Refreshed every minute. */

import { useEffect, useState } from "preact/hooks";
import { replyToAll } from "../console/bulk";
import { apiClient, openConversation, store } from "../console/state";
import { formatTime, t } from "../i18n";
import { can } from "../session";
import { useStore } from "../store";
import type { RepeatCluster } from "../types";
import { ChannelBadge } from "./ChannelBadge";

const REFRESH_MS = 60_000;

export function RepeatRequests() {
  const { session } = useStore(store);
  const [items, setItems] = useState<RepeatCluster[]>([]);
  useEffect(() => {
    let live = true;
    const load = (): void => {
      void apiClient().clusters().then((c) => { if (live) setItems(c.items); }, () => undefined);
    };
    load();
    const timer = window.setInterval(load, REFRESH_MS);
    return () => { live = false; window.clearInterval(timer); };
  }, []);
  if (items.length === 0) return null;
  return (
    <section class="repeat-requests" aria-label={t("repeat_region")}>
      {items.slice(0, 3).map((c) => (
        <details key={c.id} class={c.sudden ? "repeat sudden" : "repeat"}>
          <summary>
            {t("repeat_summary", { count: c.customers })}
            {(c.tags.length > 0 || c.terms.length > 0) && (
              <span class="muted"> · {(c.tags.length ? c.tags : c.terms.slice(0, 3)).join(", ")}</span>
            )}
          </summary>
          <ul>
            {c.conversations.map((row) => (
              <li key={row.id}>
                <a href={`/c/${encodeURIComponent(row.id)}`}
                  onClick={(e) => { e.preventDefault(); void openConversation(row.id); }}>
                  <ChannelBadge kind={row.channel_kind} /> <strong>{row.contact_name}</strong>{" "}
                  <time dateTime={row.at}>{formatTime(row.at)}</time> <span class="preview">{row.text}</span>
                </a>
              </li>
            ))}
          </ul>
          {can(session, "conversations:reply") && (
            <button type="button" class="primary" onClick={() => replyToAll(c.conversations.map((r) => r.id))}>
              {t("repeat_reply_all", { count: c.conversations.length })}</button>
          )}
        </details>
      ))}
    </section>
  );
}
