/**
 * What the simulated customer wrote (kept in sessionStorage per channel and customer) merged with what the brand
 * sent back (read from the fake provider), oldest first.
 */

import type { SimSeen } from "../types";

export interface Line {
  key: string;
  from: "customer" | "brand";
  text: string;
  attachments: string[];
  at: number;
  id: string;
}

export interface Written {
  text: string;
  at: number;
}

export interface Thread {
  conversation: string | null;
  written: Written[];
}

const PREFIX = "zabota.sim.";

function storage(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

export function loadThread(channelId: string, userId: string): Thread {
  try {
    const raw = storage()?.getItem(`${PREFIX}${channelId}.${userId}`);
    const parsed = raw ? (JSON.parse(raw) as Thread) : null;
    if (parsed && Array.isArray(parsed.written)) return parsed;
  } catch {
    // a broken entry starts over
  }
  return { conversation: null, written: [] };
}

export function saveThread(channelId: string, userId: string, thread: Thread): void {
  storage()?.setItem(`${PREFIX}${channelId}.${userId}`, JSON.stringify(thread));
}

function seconds(at: number | string | null): number {
  if (typeof at === "number") return at;
  if (typeof at === "string") {
    const parsed = Date.parse(at);
    return Number.isNaN(parsed) ? 0 : parsed / 1000;
  }
  return 0;
}

export function merge(written: Written[], seen: SimSeen[]): Line[] {
  const lines: Line[] = [
    ...written.map((w, i) => ({ key: `c${i}`, from: "customer" as const, text: w.text, attachments: [], at: w.at, id: "" })),
    ...seen.map((s) => ({ key: `b${s.id}`, from: "brand" as const, text: s.text, attachments: s.attachments,
      at: seconds(s.at), id: s.id })),
  ];
  return lines.sort((a, b) => a.at - b.at);
}

export function randomCustomerId(): string {
  return String(5_000_000 + Math.floor(Math.random() * 4_000_000));
}
