/**
 * The customer simulator: pick a demo channel, write as a customer (the server posts the provider's own signed
 * webhook through the real webhook path), and read what the brand sent back, refreshed every second.
 */

import { useEffect, useState } from "preact/hooks";
import { ApiError, simulator } from "../api";
import { t } from "../i18n";
import type { SimChannel, SimSeen } from "../types";
import { ChannelBadge } from "../views/ChannelBadge";
import { errorText } from "../views/errors";
import { LangSwitch } from "../views/LangSwitch";
import { loadThread, merge, randomCustomerId, saveThread, type Thread } from "./transcript";

const POLL_MS = 1000;
const CUSTOMER_KEY = "zabota.sim.customer";

function savedCustomer(): { id: string; name: string } {
  try {
    const saved = JSON.parse(window.localStorage.getItem(CUSTOMER_KEY) ?? "null") as { id: string; name: string } | null;
    if (saved?.id) return saved;
  } catch {
    // fall through to a new customer
  }
  return { id: randomCustomerId(), name: "Anna" };
}

export function SimulatorApp() {
  const [channels, setChannels] = useState<SimChannel[] | null>(null);
  const [loadError, setLoadError] = useState<ApiError | null>(null);
  const [channelId, setChannelId] = useState("");
  const [customer, setCustomer] = useState(savedCustomer);

  useEffect(() => {
    simulator.channels().then((page) => {
      setChannels(page.items);
      setChannelId((current) => current || page.items[0]?.id || "");
    }, (err: ApiError) => setLoadError(err));
  }, []);
  useEffect(() => {
    try {
      window.localStorage.setItem(CUSTOMER_KEY, JSON.stringify(customer));
    } catch {
      // private mode: the customer is forgotten on reload
    }
  }, [customer]);

  return (
    <div class="sim">
      <header class="sim-head">
        <h1>{t("sim_title")}</h1>
        <span class="spacer" />
        <a href="/">{t("sim_open_console")}</a>
        <LangSwitch />
      </header>
      <p class="muted sim-intro">{t("sim_intro")}</p>
      {loadError && (
        <p class="form-error" role="alert">{loadError.status === 404 ? t("sim_embedded_only") : errorText(loadError)}</p>
      )}
      {channels === null && !loadError && <p class="muted" aria-busy="true">{t("loading")}</p>}
      {channels && channels.length === 0 && <p>{t("sim_no_channels")}</p>}
      {channels && channels.length > 0 && (
        <div class="sim-body">
          <div class="sim-side">
            <fieldset class="sim-channels">
              <legend>{t("sim_channel")}</legend>
              {channels.map((c) => (
                <label key={c.id} class="sim-channel" data-channel={c.id}>
                  <input type="radio" name="sim-channel" value={c.id} checked={c.id === channelId}
                    onChange={() => setChannelId(c.id)} />
                  <ChannelBadge kind={c.kind} />
                  <span class="sim-channel-name">{c.name}</span>
                </label>
              ))}
            </fieldset>
            <fieldset class="sim-who">
              <legend>{t("sim_customer")}</legend>
              <label>
                {t("sim_customer_id")}
                <input value={customer.id} onChange={(e) => setCustomer({ ...customer, id: e.currentTarget.value.trim() })} />
              </label>
              <label>
                {t("sim_customer_name")}
                <input value={customer.name} onInput={(e) => setCustomer({ ...customer, name: e.currentTarget.value })} />
              </label>
              <button type="button" onClick={() => setCustomer({ id: randomCustomerId(), name: customer.name })}>
                {t("sim_new_customer")}
              </button>
            </fieldset>
          </div>
          {channelId && customer.id && (
            <Chat key={`${channelId}.${customer.id}`} channel={channels.find((c) => c.id === channelId)!}
              userId={customer.id} name={customer.name} />
          )}
        </div>
      )}
    </div>
  );
}

function Chat({ channel, userId, name }: { channel: SimChannel; userId: string; name: string }) {
  const [thread, setThread] = useState<Thread>(() => loadThread(channel.id, userId));
  const [seen, setSeen] = useState<SimSeen[]>([]);
  const [text, setText] = useState("");
  const [replyTo, setReplyTo] = useState<SimSeen | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => saveThread(channel.id, userId, thread), [channel.id, userId, thread]);
  useEffect(() => {
    const conversation = thread.conversation;
    if (!conversation) return undefined;
    let stopped = false;
    const poll = (): void => {
      simulator.seen(channel.id, conversation).then((page) => {
        if (!stopped) setSeen(page.items);
      }, () => undefined);
    };
    poll();
    const timer = window.setInterval(poll, POLL_MS);
    return () => {
      stopped = true;
      window.clearInterval(timer);
    };
  }, [channel.id, thread.conversation]);

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    const body = text.trim();
    if (!body || busy) return;
    setBusy(true);
    setError(null);
    try {
      const sent = await simulator.write(channel.id, { user_id: userId, name: name.trim() || "Anna", text: body,
        reply_to: replyTo?.id ?? null });
      setThread((current) => ({ conversation: sent.external_conversation_id,
        written: [...current.written, { text: body, at: Date.now() / 1000 }] }));
      setText("");
      setReplyTo(null);
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, "error", String(err)));
    } finally {
      setBusy(false);
    }
  };

  /** The customer presses a button under the brand's message (a survey's): the provider's own webhook for it. */
  const press = async (messageId: string, data: string): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await simulator.press(channel.id, { user_id: userId, name: name.trim() || "Anna", message_id: messageId, data });
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, "error", String(err)));
    } finally {
      setBusy(false);
    }
  };

  const lines = merge(thread.written, seen);
  return (
    <section class="sim-chat" aria-label={channel.name}>
      <header class="sim-chat-head"><ChannelBadge kind={channel.kind} /> {channel.name}</header>
      <div class="sim-lines" role="log" aria-live="polite">
        {lines.length === 0 && <p class="muted">{t("sim_nothing_yet")}</p>}
        {lines.map((line) => (
          <div key={line.key} class={`sim-line sim-${line.from}`} data-from={line.from}>
            <span class="sim-author">{line.from === "customer" ? t("sim_you") : t("sim_brand")}</span>
            {line.text && <p class="sim-text">{line.text}</p>}
            {line.attachments.length > 0 && <p class="muted small">{t("attachments")}: {line.attachments.join(", ")}</p>}
            {line.from === "brand" && (seen.find((s) => s.id === line.id)?.buttons ?? []).length > 0 && (
              <div class="sim-buttons" role="group">
                {(seen.find((s) => s.id === line.id)?.buttons ?? []).map((b) => (
                  <button type="button" key={b.data} disabled={busy} onClick={() => void press(line.id, b.data)}>
                    {b.label}</button>
                ))}
              </div>
            )}
            {line.from === "brand" && (
              <button type="button" class="link" onClick={() => setReplyTo(seen.find((s) => s.id === line.id) ?? null)}>
                {t("sim_reply")}
              </button>
            )}
          </div>
        ))}
      </div>
      <form class="sim-form" onSubmit={submit}>
        {replyTo && (
          <p class="replying">
            {t("sim_replying_to")} <q>{replyTo.text}</q>
            <button type="button" class="ghost" aria-label={t("dismiss")} onClick={() => setReplyTo(null)}>×</button>
          </p>
        )}
        <label class="visually-hidden" for="sim-text">{t("sim_message")}</label>
        <textarea id="sim-text" rows={2} value={text} placeholder={t("sim_message")}
          onInput={(e) => setText(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) void submit(e);
          }} />
        <button type="submit" class="primary" disabled={busy || !text.trim()}>{t("sim_send")}</button>
        {error && <p class="form-error" role="alert">{errorText(error)}</p>}
      </form>
    </section>
  );
}
