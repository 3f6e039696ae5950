/**
 * The widget's only HTTP and WebSocket client: `/api/widget/{channel_id}/…` on the origin that served widget.js
 * (CHANNELS.md §10). The visitor token lives in localStorage (per channel) and goes out as a Bearer header; the
 * WebSocket authenticates with a one-time ticket, since browsers cannot set its headers.
 */

import { credentialHeaders, payloadHeaders } from "../signing";

/** A text as the channel settings give it: one string, or one per language (`{"ru": "Имя", "en": "Name"}`). */
export type Localized = string | Record<string, string>;

export interface PreChatOption {
  value: string;
  label?: Localized;
}

export interface PreChatField {
  name: string;
  label?: Localized;
  type?: string;
  required?: boolean;
  options?: (string | PreChatOption)[];
}

export interface WidgetConfig {
  title?: Localized;
  greeting?: Localized;
  pre_chat: PreChatField[];
  ws_url?: string;
}

export interface WidgetMessage {
  id: string;
  author: { kind: string; name?: string };
  text: string;
  attachments: { kind?: string; file_name?: string; url?: string }[];
  reply_to: string | null;
  created_at: string;
  pending?: boolean;
  failed?: boolean;
  survey?: { id: string; kind: string; question: string; scale: number[] };
}

export interface VisitorSession {
  visitor_token: string;
  visitor_id: string;
  conversation_id: string;
}

export class WidgetError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export const DEFAULT_FIELDS: PreChatField[] = [
  { name: "name", required: false },
  { name: "email", type: "email", required: false },
];

export class WidgetClient {
  private readonly base: string;
  private readonly storageKey: string;

  constructor(readonly origin: string, readonly channelId: string) {
    this.base = `${origin}/api/widget/${encodeURIComponent(channelId)}`;
    this.storageKey = `zabota.widget.${channelId}`;
  }

  get session(): VisitorSession | null {
    try {
      const raw = window.localStorage.getItem(this.storageKey);
      return raw ? (JSON.parse(raw) as VisitorSession) : null;
    } catch {
      return null;
    }
  }

  private set session(value: VisitorSession | null) {
    try {
      if (value) window.localStorage.setItem(this.storageKey, JSON.stringify(value));
      else window.localStorage.removeItem(this.storageKey);
    } catch {
      // storage blocked: the session lasts as long as the page
    }
  }

  forget(): void {
    this.session = null;
  }

  private async call<T>(method: string, path: string, body?: unknown, auth = true): Promise<T> {
    const token = auth ? this.session?.visitor_token : undefined;
    const headers: Record<string, string> = token ? credentialHeaders(`Bearer ${token}`) : {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const payload = body === undefined ? undefined : JSON.stringify(body);
    let response: Response;
    try {
      Object.assign(headers, await payloadHeaders(method, payload));
      response = await fetch(`${this.base}${path}`, { method, headers, body: payload });
    } catch (err) {
      throw new WidgetError(0, "network", err instanceof Error ? err.message : String(err));
    }
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string } } | null)?.error;
      if (response.status === 401) this.forget();
      throw new WidgetError(response.status, error?.code ?? "error", error?.message ?? response.statusText);
    }
    return parsed as T;
  }

  /** The channel's widget settings (pre-chat form); the default form when the channel publishes none or they
   * cannot be read (a real problem then shows when the session starts). */
  async config(): Promise<WidgetConfig> {
    try {
      const config = await this.call<Partial<WidgetConfig>>("GET", "/config", undefined, false);  // no preflight
      return { ...config, pre_chat: Array.isArray(config.pre_chat) ? config.pre_chat : DEFAULT_FIELDS };
    } catch {
      return { pre_chat: DEFAULT_FIELDS };
    }
  }

  async start(preChat: Record<string, string | boolean>, lang: string): Promise<VisitorSession> {
    const session = await this.call<VisitorSession>("POST", "/sessions",
      { pre_chat: preChat, page: { url: location.href, lang } });
    this.session = session;
    return session;
  }

  messages(after: string | null): Promise<{ items: WidgetMessage[]; next_cursor?: string | null }> {
    const query = new URLSearchParams({ limit: "50" });
    if (after) query.set("after", after);
    return this.call("GET", `/messages?${query}`);
  }

  send(clientMessageId: string, text: string, replyTo: string | null, attachments: string[] = []):
    Promise<{ message_id: string; created_at: string }> {
    return this.call("POST", "/messages", { client_message_id: clientMessageId, text, attachments, reply_to: replyTo });
  }

  /** The visitor's answer to a survey of their conversation (stars 1-5, or 0-10). */
  answerSurvey(surveyId: string, score: number): Promise<{ id: string; score: number; state: string }> {
    return this.call("POST", `/surveys/${encodeURIComponent(surveyId)}`, { score });
  }

  /** The visitor is typing (operators see it); the caller throttles. */
  typing(): Promise<unknown> {
    return this.call("POST", "/typing");
  }

  /** Upload a file (base64 in JSON, as the API takes it) with progress from 0 to 1; resolves with its upload id. */
  upload(file: File, onProgress: (fraction: number) => void): Promise<string> {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onerror = () => reject(new WidgetError(0, "read", reader.error?.message ?? "the file cannot be read"));
      reader.onload = async () => {
        const data = String(reader.result).split(",", 2)[1] ?? "";
        const body = JSON.stringify({ file_name: file.name, data_base64: data });
        const token = this.session?.visitor_token;
        const headers = { ...(token ? credentialHeaders(`Bearer ${token}`) : {}),
          ...await payloadHeaders("POST", body).catch(() => ({})) };
        const xhr = new XMLHttpRequest();
        xhr.open("POST", `${this.base}/uploads`);
        xhr.setRequestHeader("Content-Type", "application/json");
        for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
        xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
        xhr.onerror = () => reject(new WidgetError(0, "network", ""));
        xhr.onload = () => {
          let body: { upload_id?: string; error?: { code?: string; message?: string } } = {};
          try {
            body = JSON.parse(xhr.responseText) as typeof body;
          } catch {
            // not JSON: the status says enough
          }
          if (xhr.status === 201 && body.upload_id) resolve(body.upload_id);
          else reject(new WidgetError(xhr.status, body.error?.code ?? "error", body.error?.message ?? xhr.statusText));
        };
        xhr.send(body);
      };
      reader.readAsDataURL(file);
    });
  }

  /** A WebSocket URL with a fresh one-time ticket. */
  async liveUrl(configured?: string): Promise<string> {
    const answer = await this.call<{ ticket: string; url?: string }>("POST", "/ws-ticket");
    const base = answer.url || configured || `${this.origin.replace(/^http/, "ws")}/ws`;
    return `${base}${base.includes("?") ? "&" : "?"}ticket=${encodeURIComponent(answer.ticket)}`;
  }
}

export function localized(text: Localized | undefined, lang: string): string {
  if (!text) return "";
  if (typeof text === "string") return text;
  return text[lang] ?? text.en ?? Object.values(text)[0] ?? "";
}

export function newId(): string {
  return typeof crypto.randomUUID === "function"
    ? crypto.randomUUID()
    : `${Date.now().toString(16)}-${Math.random().toString(16).slice(2)}`;
}
