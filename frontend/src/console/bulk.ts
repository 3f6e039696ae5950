/**
 * Select mode of the inbox (B5): which conversations are ticked, one reply to all of them, and closing or tagging
 * them one PATCH at a time. Its own small store beside console/state.ts; only this module changes it.
 *
 * A bulk reply carries a client `request_id`: the same text to the same conversations reuses it, so "Try again"
 * after a lost answer (or a second click) never sends anything twice; the server derives the messages from it.
 */

import { ApiError } from "../api";
import { Store } from "../store";
import type { BulkReplyItem, Conversation, LiveEvent, Status } from "../types";
import { apiClient, applyConversation, onLive, store as consoleStore } from "./state";

export type Outcome = "queued" | "sent" | "failed";

export interface BulkRow {
  conversationId: string;
  name: string;
  outcome: Outcome;
  messageId?: string;
  reason?: string;
}

export interface BulkProgress {
  verb: "close" | "tag";
  done: number;
  total: number;
  running: boolean;
  failed: { name: string; reason: string }[];
}

export interface BulkState {
  selecting: boolean;
  selected: string[];
  anchor: string | null;
  composing: boolean;
  sending: boolean;
  rows: BulkRow[];
  error: ApiError | null;
  progress: BulkProgress | null;
}

const IDLE: BulkState = {
  selecting: false, selected: [], anchor: null, composing: false, sending: false, rows: [], error: null,
  progress: null,
};

export const bulk = new Store<BulkState>(IDLE);

let lastRequest: { key: string; id: string } | null = null;

function asApiError(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError(0, "error", err instanceof Error ? err.message : String(err));
}

function nameOf(id: string): string {
  const c = consoleStore.state.list.items.find((item) => item.id === id);
  return c?.contact_name || c?.title || id;
}

// --- selecting ----------------------------------------------------------------------------------------------

export function toggleSelecting(): void {
  bulk.update((s) => (s.selecting ? { ...IDLE } : { selecting: true }));
}

/** Tick or untick one row; with `range` (shift-click) everything between the last ticked row and this one. */
export function toggle(id: string, range: boolean, visible: string[]): void {
  bulk.update((s) => {
    const chosen = new Set(s.selected);
    const from = s.anchor ? visible.indexOf(s.anchor) : -1;
    const to = visible.indexOf(id);
    if (range && from >= 0 && to >= 0) {
      const on = !chosen.has(id) || chosen.has(s.anchor ?? "");
      for (const other of visible.slice(Math.min(from, to), Math.max(from, to) + 1)) {
        if (on) chosen.add(other);
        else chosen.delete(other);
      }
    } else if (chosen.has(id)) {
      chosen.delete(id);
    } else {
      chosen.add(id);
    }
    return { selected: visible.filter((v) => chosen.has(v)).concat([...chosen].filter((v) => !visible.includes(v))),
      anchor: id };
  });
}

export function selectAll(visible: string[]): void {
  bulk.update((s) => ({ selected: [...new Set([...s.selected, ...visible])] }));
}

export function clearSelection(): void {
  bulk.update({ selected: [], anchor: null });
}

// --- one reply to all ---------------------------------------------------------------------------------------

export function openComposer(): void {
  bulk.update({ composing: true, rows: [], error: null });
}

/** Select these conversations and open the reply to all of them (a cluster of repeat requests, H2). */
export function replyToAll(ids: string[]): void {
  bulk.update({ selecting: true, selected: [...new Set(ids)], anchor: null, composing: true, rows: [], error: null });
}

export function closeComposer(): void {
  bulk.update({ composing: false, rows: [], error: null });
}

function requestIdFor(text: string, ids: string[]): string {
  const key = JSON.stringify([text, [...ids].sort()]);
  if (lastRequest?.key !== key) {
    const random = typeof crypto.randomUUID === "function" ? crypto.randomUUID()
      : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
    lastRequest = { key, id: `console-${random}` };
  }
  return lastRequest.id;
}

function rowOf(item: BulkReplyItem): BulkRow {
  const base = { conversationId: item.conversation_id, name: nameOf(item.conversation_id) };
  if (item.error) return { ...base, outcome: "failed", reason: item.error.message };
  if (item.status === "failed") return { ...base, outcome: "failed", messageId: item.message_id };
  return { ...base, outcome: item.status === "sent" ? "sent" : "queued", messageId: item.message_id };
}

/** Send `text` to every selected conversation; a second call with the same text and selection is a safe retry. */
export async function sendBulk(text: string): Promise<void> {
  const ids = bulk.state.selected;
  if (!text.trim() || ids.length === 0 || bulk.state.sending) return;
  bulk.update({ sending: true, error: null });
  try {
    const result = await apiClient().bulkReply(requestIdFor(text.trim(), ids), ids, text.trim());
    bulk.update((s) => {
      const known = new Map(s.rows.map((r) => [r.messageId, r]));
      // a push may already have told us more than the answer (sent, failed): keep the further state
      const rows = result.items.map((item) => {
        const row = rowOf(item);
        const seen = row.messageId ? known.get(row.messageId) : undefined;
        return seen && seen.outcome !== "queued" ? seen : row;
      });
      return { sending: false, rows };
    });
  } catch (err) {
    bulk.update({ sending: false, error: asApiError(err) });
  }
}

/** Our replies go from queued to sent or failed (window closed, blocked at the provider…) as the stream reports. */
function follow(event: LiveEvent): void {
  if (event.type !== "message.new" && event.type !== "message.updated") return;
  const { message } = event;
  if (!bulk.state.rows.some((r) => r.messageId === message.id)) return;
  bulk.update((s) => ({
    rows: s.rows.map((r) => {
      if (r.messageId !== message.id) return r;
      if (message.status === "sent") return { ...r, outcome: "sent" };
      if (message.status === "failed") return { ...r, outcome: "failed", reason: message.error?.message ?? "" };
      return r;
    }),
  }));
}

onLive(follow);

// --- close or tag the selection, one conversation at a time -------------------------------------------------

type Patch = { status?: Status; tags?: string[] };

async function each(verb: "close" | "tag", change: (c: Conversation) => Patch): Promise<void> {
  const ids = [...bulk.state.selected];
  if (ids.length === 0 || bulk.state.progress?.running) return;
  bulk.update({ progress: { verb, done: 0, total: ids.length, running: true, failed: [] } });
  const finished: string[] = [];
  for (const id of ids) {
    try {
      const known = consoleStore.state.list.items.find((c) => c.id === id) ?? await apiClient().conversation(id);
      applyConversation(await apiClient().update(id, change(known)));
      finished.push(id);
    } catch (err) {
      const reason = asApiError(err).message || asApiError(err).code;
      bulk.update((s) => ({ progress: s.progress && { ...s.progress,
        failed: [...s.progress.failed, { name: nameOf(id), reason }] } }));
    }
    bulk.update((s) => ({ progress: s.progress && { ...s.progress, done: s.progress.done + 1 } }));
  }
  bulk.update((s) => ({
    progress: s.progress && { ...s.progress, running: false },
    selected: verb === "close" ? s.selected.filter((id) => !finished.includes(id)) : s.selected,
  }));
}

export function closeAll(): Promise<void> {
  return each("close", () => ({ status: "closed" }));
}

export function tagAll(tag: string): Promise<void> {
  const clean = tag.trim();
  if (!clean) return Promise.resolve();
  return each("tag", (c) => ({ tags: [...new Set([...c.tags, clean])] }));
}

export function dismissProgress(): void {
  bulk.update({ progress: null });
}

// Another tab of the inbox is another list: the ticks belonged to the rows that were on screen.
let shownTab = consoleStore.state.tab;
consoleStore.addEventListener("change", () => {
  if (consoleStore.state.tab === shownTab) return;
  shownTab = consoleStore.state.tab;
  if (bulk.state.selected.length > 0 || bulk.state.composing) {
    bulk.update({ selected: [], anchor: null, composing: false, rows: [] });
  }
});
