/**
 * The site chat: a launcher button and a panel (full screen on a phone) with the pre-chat form, then the
 * conversation with live replies. Sent messages show at once and are confirmed by the server's id.
 */

import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import {
  localized, newId, WidgetClient, WidgetError, type PreChatField, type WidgetConfig, type WidgetMessage,
} from "./client";
import { texts, type TextKey } from "./texts";

const POLL_MS = 5000;
const TYPING_EVERY_MS = 3000;
export const UPLOAD_MAX_BYTES = 10 * 1024 * 1024;
const ACCEPT = "image/png,image/jpeg,image/gif,image/webp,application/pdf,.doc,.docx,.xls,.xlsx,.ppt,.pptx,.odt,.ods,.txt,.csv";

function safeHref(url: string | undefined): string | undefined {
  return url && /^https?:\/\//i.test(url) ? url : undefined;
}

function Files({ files }: { files: WidgetMessage["attachments"] }) {
  return (
    <>
      {files.map((a, i) => {
        const href = safeHref(a.url);
        if (a.kind === "image" && href) {
          return <a key={i} href={href} target="_blank" rel="noopener noreferrer"><img class="zw-img" src={href} alt={a.file_name || ""} /></a>;
        }
        return href ? <a key={i} class="zw-file" href={href} target="_blank" rel="noopener noreferrer">📎 {a.file_name || "file"}</a>
          : <span key={i} class="zw-file">📎 {a.file_name || "file"}</span>;
      })}
    </>
  );
}

/** A survey's scale as buttons: stars for CSAT (1-5), numbers for NPS (0-10); the answer goes once. */
function Rating({ client, survey, tx }: {
  client: WidgetClient; survey: NonNullable<WidgetMessage["survey"]>; tx: ReturnType<typeof texts>;
}) {
  const [state, setState] = useState<"open" | "busy" | "done" | "closed">("open");
  const [chosen, setChosen] = useState<number | null>(null);
  const [low, high] = survey.scale.length === 2 ? survey.scale : [1, 5];
  const scores = Array.from({ length: high - low + 1 }, (_, i) => low + i);
  const stars = survey.kind === "csat";
  const pick = async (score: number): Promise<void> => {
    setState("busy");
    setChosen(score);
    try {
      await client.answerSurvey(survey.id, score);
      setState("done");
    } catch (err) {
      setState(err instanceof WidgetError && (err.status === 409 || err.status === 404) ? "closed" : "open");
    }
  };
  if (state === "done") return <p class="zw-muted" role="status">{tx.survey_thanks}</p>;
  if (state === "closed") return <p class="zw-muted" role="status">{tx.survey_closed}</p>;
  return (
    <div class="zw-rating" role="group" aria-label={tx.survey_rate}>
      {scores.map((score) => (
        <button key={score} type="button" class={`zw-rate${chosen !== null && score <= chosen && stars ? " zw-on" : ""}`}
          disabled={state === "busy"} aria-label={`${score} / ${high}`} data-score={score}
          onClick={() => void pick(score)}>{stars ? "★" : String(score)}</button>
      ))}
    </div>
  );
}

interface Props {
  client: WidgetClient;
  lang: "ru" | "en";
}

export function Widget({ client, lang }: Props) {
  const tx = texts(lang);
  const [open, setOpen] = useState(false);
  const [config, setConfig] = useState<WidgetConfig | null>(null);
  const [started, setStarted] = useState(client.session !== null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!open || config) return;
    void client.config().then(setConfig);
  }, [open]);

  return (
    <div class="zw">
      {open && (
        <section class="zw-panel" role="dialog" aria-label={localized(config?.title, lang) || tx.title}>
          <header class="zw-head">
            <span>{localized(config?.title, lang) || tx.title}</span>
            <button type="button" class="zw-x" aria-label={tx.close} onClick={() => setOpen(false)}>×</button>
          </header>
          {error && <p class="zw-error" role="alert">{tx.error} {error}</p>}
          {!started && config && (
            <PreChat fields={config.pre_chat} tx={tx} lang={lang} onStart={async (values) => {
              setError(null);
              try {
                await client.start(values, lang);
                setStarted(true);
              } catch (err) {
                setError(reason(err, tx));
              }
            }} />
          )}
          {started && (
            <Conversation client={client} tx={tx} configuredWs={config?.ws_url} greeting={localized(config?.greeting, lang)}
              onSignedOut={() => setStarted(false)} />
          )}
        </section>
      )}
      <button type="button" class="zw-launcher" aria-expanded={open} aria-label={open ? tx.close : tx.open}
        onClick={() => setOpen(!open)}>
        <svg aria-hidden="true" width="26" height="26" viewBox="0 0 24 24" fill="currentColor">
          <path d="M4 4h16v12H7l-3 3z" />
        </svg>
      </button>
    </div>
  );
}

/** What went wrong, in words: the server's reason, or "cannot reach" for a network failure. */
function reason(err: unknown, tx: ReturnType<typeof texts>): string {
  if (err instanceof WidgetError) return err.status === 0 ? tx.network : err.message || err.code;
  return err instanceof Error ? err.message : String(err);
}

function fieldLabel(field: PreChatField, tx: ReturnType<typeof texts>, lang: string): string {
  return localized(field.label, lang) || (tx as Record<string, string>)[field.name] || field.name;
}

function PreChat({ fields, tx, lang, onStart }: {
  fields: PreChatField[]; tx: ReturnType<typeof texts>; lang: string;
  onStart: (values: Record<string, string | boolean>) => Promise<void>;
}) {
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const values: Record<string, string | boolean> = {};
    for (const field of fields) {
      const input = form.elements.namedItem(field.name) as HTMLInputElement | HTMLSelectElement | null;
      if (!input) continue;
      values[field.name] = input instanceof HTMLInputElement && input.type === "checkbox" ? input.checked : input.value.trim();
    }
    setBusy(true);
    await onStart(values);
    setBusy(false);
  };
  return (
    <form class="zw-form" onSubmit={submit}>
      <p class="zw-muted">{tx.intro}</p>
      {fields.map((field) => (
        <Field key={field.name} field={field} label={fieldLabel(field, tx, lang)} tx={tx} lang={lang} />
      ))}
      <button type="submit" class="zw-primary" disabled={busy}>{tx.start}</button>
    </form>
  );
}

function Field({ field, label, tx, lang }: {
  field: PreChatField; label: string; tx: ReturnType<typeof texts>; lang: string;
}) {
  const id = `zw-${field.name}`;
  if (field.type === "checkbox" || field.name === "consent") {
    return (
      <label class="zw-check">
        <input id={id} name={field.name} type="checkbox" required={field.required} />
        {localized(field.label, lang) || tx.consent}
      </label>
    );
  }
  // One of email / tel / text; Preact's input typings want a single literal, hence the cast.
  const inputType = (field.type === "email" || field.name === "email" ? "email"
    : field.type === "phone" || field.type === "tel" || field.name === "phone" ? "tel" : "text") as "text";
  return (
    <label class="zw-field" for={id}>
      <span>{label}{field.required && <span class="zw-muted"> ({tx.required})</span>}</span>
      {field.options?.length ? (
        <select id={id} name={field.name} required={field.required}>
          <option value="" />
          {field.options.map((option) => {
            const { value, label: text } = typeof option === "string" ? { value: option, label: option } : option;
            return <option key={value} value={value}>{localized(text, lang) || value}</option>;
          })}
        </select>
      ) : (
        <input id={id} name={field.name} required={field.required}
          type={inputType}
          autocomplete={field.name === "email" ? "email" : field.name === "phone" ? "tel" : field.name === "name" ? "name" : "off"} />
      )}
    </label>
  );
}

function sortMessages(list: WidgetMessage[]): WidgetMessage[] {
  return [...list].sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0));
}

function Conversation({ client, tx, configuredWs, greeting, onSignedOut }: {
  client: WidgetClient; tx: ReturnType<typeof texts>; configuredWs?: string; greeting?: string;
  onSignedOut: () => void;
}) {
  const [messages, setMessages] = useState<WidgetMessage[]>([]);
  const [online, setOnline] = useState(true);
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [progress, setProgress] = useState<{ name: string; fraction: number } | null>(null);
  const [operatorTyping, setOperatorTyping] = useState(false);
  const typingTimer = useRef<number | undefined>(undefined);
  const typedAt = useRef(0);
  const box = useRef<HTMLDivElement>(null);

  const merge = (incoming: WidgetMessage[]): void => setMessages((current) => {
    const byId = new Map(current.map((m) => [m.id, m]));
    for (const message of incoming) byId.set(message.id, message);
    return sortMessages([...byId.values()]);
  });

  useEffect(() => {
    let stopped = false;
    let socket: WebSocket | null = null;
    let retry = 0;
    let timer: number | undefined;
    const catchUp = (): void => {
      client.messages(null).then((page) => !stopped && merge(page.items), (err: WidgetError) => {
        if (err.status === 401) onSignedOut();
      });
    };
    const connect = async (): Promise<void> => {
      try {
        socket = new WebSocket(await client.liveUrl(configuredWs));
      } catch {
        setOnline(false);
        timer = window.setTimeout(() => void connect(), Math.min(15000, 1000 * 2 ** retry++));
        return;
      }
      socket.onopen = () => {
        retry = 0;
        setOnline(true);
        catchUp();
      };
      socket.onmessage = (event) => {
        try {
          const data = JSON.parse(String(event.data)) as { type?: string; message?: WidgetMessage };
          if ((data.type === "message.new" || data.type === "message.updated") && data.message) {
            merge([data.message]);
            if (data.message.author.kind !== "visitor") setOperatorTyping(false);  // the answer is here
          } else if (data.type === "typing") {
            setOperatorTyping(true);
            window.clearTimeout(typingTimer.current);
            typingTimer.current = window.setTimeout(() => setOperatorTyping(false), 6000);
          }
        } catch {
          // not ours
        }
      };
      socket.onclose = () => {
        if (stopped) return;
        setOnline(false);
        timer = window.setTimeout(() => void connect(), Math.min(15000, 1000 * 2 ** retry++));
      };
    };
    catchUp();
    void connect();
    const poll = window.setInterval(() => {
      if (socket?.readyState !== WebSocket.OPEN) catchUp();
    }, POLL_MS);
    return () => {
      stopped = true;
      window.clearTimeout(timer);
      window.clearInterval(poll);
      socket?.close();
    };
  }, []);

  useLayoutEffect(() => {
    if (box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [messages.length]);

  const attach = async (file: File | undefined): Promise<void> => {
    if (!file) return;
    setError(null);
    if (file.size > UPLOAD_MAX_BYTES) {
      setError(tx.too_large);
      return;
    }
    setProgress({ name: file.name, fraction: 0 });
    try {
      const uploadId = await client.upload(file, (fraction) => setProgress({ name: file.name, fraction }));
      const clientId = newId();
      const answer = await client.send(clientId, "", null, [uploadId]);
      merge([{ id: answer.message_id, author: { kind: "visitor" }, text: "", reply_to: null,
        attachments: [{ kind: file.type.startsWith("image/") ? "image" : "document", file_name: file.name }],
        created_at: answer.created_at }]);
      catchUpSoon();
    } catch (err) {
      setError(err instanceof WidgetError && err.status === 415 ? tx.wrong_type : reason(err, tx));
    } finally {
      setProgress(null);
    }
  };

  /** The stored copy (with its link) replaces the local one once the server has it. */
  const catchUpSoon = (): void => {
    window.setTimeout(() => void client.messages(null).then((page) => merge(page.items), () => undefined), 600);
  };

  const typing = (): void => {
    const now = Date.now();
    if (now - typedAt.current < TYPING_EVERY_MS) return;
    typedAt.current = now;
    void client.typing().catch(() => undefined);
  };

  const deliver = async (clientId: string, body: string): Promise<void> => {
    try {
      const answer = await client.send(clientId, body, null);
      setMessages((current) => sortMessages(current.filter((m) => m.id !== clientId && m.id !== answer.message_id).concat({
        id: answer.message_id, author: { kind: "visitor" }, text: body, attachments: [], reply_to: null,
        created_at: answer.created_at,
      })));
    } catch (err) {
      setMessages((current) => current.map((m) => (m.id === clientId ? { ...m, pending: false, failed: true } : m)));
      setError(reason(err, tx));
    }
  };

  const submit = (event: Event): void => {
    event.preventDefault();
    const body = text.trim();
    if (!body) return;
    const clientId = newId();
    setText("");
    setError(null);
    merge([{ id: clientId, author: { kind: "visitor" }, text: body, attachments: [], reply_to: null,
      created_at: new Date().toISOString(), pending: true }]);
    void deliver(clientId, body);
  };

  const label = (m: WidgetMessage): string => (m.author.kind === "visitor" ? tx.you : m.author.name || tx.operator);
  return (
    <>
      {!online && <p class="zw-offline" role="status">{tx.offline}</p>}
      <div class="zw-messages" ref={box} role="log" aria-live="polite">
        {greeting && <p class="zw-msg zw-in">{greeting}</p>}
        {messages.length === 0 && !greeting && <p class="zw-muted">{tx.empty}</p>}
        {messages.map((m) => (
          <div key={m.id} class={`zw-msg ${m.author.kind === "visitor" ? "zw-out" : "zw-in"}`} data-author={m.author.kind}>
            <span class="zw-author">{label(m)}</span>
            {m.survey ? <p class="zw-text">{m.survey.question}</p> : m.text && <p class="zw-text">{m.text}</p>}
            {m.survey && <Rating client={client} survey={m.survey} tx={tx} />}
            {m.attachments.length > 0 && <Files files={m.attachments} />}
            {m.pending && <span class="zw-muted">{tx.sending}</span>}
            {m.failed && (
              <button type="button" class="zw-link" onClick={() => {
                setMessages((current) => current.map((x) => (x.id === m.id ? { ...x, failed: false, pending: true } : x)));
                void deliver(m.id, m.text);
              }}>{tx.failed}</button>
            )}
          </div>
        ))}
      </div>
      <p class="zw-typing" role="status">{operatorTyping ? tx.operator_typing : ""}</p>
      {error && <p class="zw-error" role="alert">{tx.error} {error}</p>}
      {progress && (
        <p class="zw-progress" role="status">
          {tx.uploading} {progress.name}
          <progress max={1} value={progress.fraction} aria-label={`${tx.uploading} ${progress.name}`} />
        </p>
      )}
      <form class="zw-compose" onSubmit={submit}>
        <label class="zw-attach" title={tx.attach}>
          <svg aria-hidden="true" width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor"
            stroke-width="2"><path d="M21 11l-8.5 8.5a5 5 0 01-7-7L14 4a3.5 3.5 0 015 5l-8.5 8.5a2 2 0 01-3-3L15 7" /></svg>
          <input type="file" class="zw-hidden" accept={ACCEPT} aria-label={tx.attach} disabled={!!progress}
            onChange={(e) => {
              const input = e.currentTarget;
              void attach(input.files?.[0]).then(() => { input.value = ""; });
            }} />
        </label>
        <textarea aria-label={tx.message} placeholder={tx.message} rows={1} value={text}
          onInput={(e) => {
            setText(e.currentTarget.value);
            if (e.currentTarget.value.trim()) typing();
          }}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) submit(e);
          }} />
        <button type="submit" class="zw-primary" aria-label={tx.send}>{tx.send}</button>
      </form>
    </>
  );
}

export type { TextKey };
