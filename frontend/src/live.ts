/**
 * Live updates: one WebSocket per console, reconnected with capped exponential backoff. The URL is `/ws` on the
 * same origin in embedded mode, or `wsUrl` from /config.js (AWS: the WebSocket API's stage URL).
 * A ping every 60 s keeps idle gateways from closing the socket.
 */
import { currentWorkspace } from "./api";

import type { LiveEvent } from "./types";

export type LiveState = "connecting" | "open" | "reconnecting";

export interface LiveHandlers {
  onEvent: (event: LiveEvent) => void;
  onState: (state: LiveState) => void;
  /** On every open (the first too: a push may have gone out between the first load and the socket opening),
   * whatever was pushed while the socket was down must be fetched again. */
  onResync: () => void;
}

const PING_MS = 60_000;
const MAX_BACKOFF_MS = 15_000;

export function liveUrl(token: string, base = window.ZABOTA_CONFIG?.wsUrl): string {
  const origin = base || `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
  const separator = origin.includes("?") ? "&" : "?";
  if (!token) return `${origin}${separator}workspace=${encodeURIComponent(currentWorkspace() ?? "")}`; // cookie
  return `${origin}${separator}token=${encodeURIComponent(token)}`;
}

export class LiveSocket {
  private socket: WebSocket | null = null;
  private attempts = 0;
  private everOpened = false;
  private stopped = false;
  private retryTimer: number | undefined;
  private pingTimer: number | undefined;

  constructor(private readonly url: string, private readonly handlers: LiveHandlers) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    window.clearTimeout(this.retryTimer);
    window.clearInterval(this.pingTimer);
    this.socket?.close(1000, "bye");
    this.socket = null;
  }

  private connect(): void {
    this.handlers.onState(this.everOpened ? "reconnecting" : "connecting");
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.onopen = () => {
      this.attempts = 0;
      this.everOpened = true;
      this.handlers.onState("open");
      window.clearInterval(this.pingTimer);
      this.pingTimer = window.setInterval(() => this.send({ type: "ping" }), PING_MS);
      this.handlers.onResync();
    };
    socket.onmessage = (message) => {
      for (const event of parse(message.data)) this.handlers.onEvent(event);
    };
    socket.onclose = () => {
      window.clearInterval(this.pingTimer);
      if (this.socket !== socket || this.stopped) return;
      this.socket = null;
      this.handlers.onState("reconnecting");
      this.scheduleReconnect();
    };
  }

  private scheduleReconnect(): void {
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempts) * (0.75 + Math.random() / 2);
    this.attempts += 1;
    this.retryTimer = window.setTimeout(() => this.connect(), delay);
  }

  /** Send a message over the socket when it is open (presence: heartbeat, viewing, typing); false otherwise. */
  send(payload: object): boolean {
    if (this.socket?.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(payload));
    return true;
  }
}

/** The events of one frame: a single event, or a stream batch's `{type: "batch", events: [...]}`. */
function parse(data: unknown): LiveEvent[] {
  if (typeof data !== "string") return [];
  try {
    const value = JSON.parse(data) as { type?: unknown; events?: unknown };
    if (!value || typeof value.type !== "string") return [];
    if (value.type !== "batch") return [value as LiveEvent];
    return Array.isArray(value.events)
      ? value.events.filter((e): e is LiveEvent => !!e && typeof (e as { type?: unknown }).type === "string")
      : [];
  } catch {
    return [];
  }
}
