/**
 * Presence (B10): which colleague has which conversation open and who is typing in it, so that two operators
 * never answer the same customer. Its own small store beside console/state.ts; only this module changes it.
 *
 * Out: over the console's WebSocket, a heartbeat every 30 s (away while the tab is hidden), `viewing` whenever the
 * open conversation changes or the socket (re)opens, `typing` at most every 3 s while the operator types a reply.
 * In: `presence.updated` and `presence.typing` events; names come from GET /members (fetched again when an
 * unknown colleague shows up). The operator never sees themself. API-key consoles have no person: they see
 * colleagues but are not shown.
 */

import { Store } from "../store";
import type { LiveEvent, Member, Presence } from "../types";
import { apiClient, liveSend, onLive, store as consoleStore } from "./state";

const HEARTBEAT_MS = 30_000;
const TYPING_EVERY_MS = 3_000;
export const TYPING_SHOWN_MS = 6_000;

export interface PresenceStore {
  /** user id -> name (or e-mail). */
  names: Record<string, string>;
  /** user id -> presence. */
  people: Record<string, Presence>;
  /** conversation id -> user id -> shown until (ms since epoch). */
  typing: Record<string, Record<string, number>>;
}

export const presence = new Store<PresenceStore>({ names: {}, people: {}, typing: {} });

/** Colleagues (never me) who have `conversationId` open, and those of them typing in it now. */
export function colleaguesIn(state: PresenceStore, conversationId: string, now = Date.now()):
  { viewing: string[]; typing: string[] } {
  const me = consoleStore.state.session?.me.subject ?? "";
  const name = (userId: string): string => state.names[userId] || "…";
  const others = (userId: string): boolean => `user:${userId}` !== me;
  const typing = Object.entries(state.typing[conversationId] ?? {})
    .filter(([userId, until]) => until > now && others(userId)).map(([userId]) => userId);
  const viewing = Object.values(state.people)
    .filter((p) => p.viewing === conversationId && p.state !== "offline" && others(p.user_id) && !typing.includes(p.user_id))
    .map((p) => p.user_id);
  return { viewing: viewing.map(name).sort(), typing: typing.map(name).sort() };
}

// --- in --------------------------------------------------------------------------------------------------------

let membersRequest: Promise<void> | null = null;
let membersAgain: number | undefined;
let membersAt = 0;
const MEMBERS_AT_MOST_EVERY_MS = 2_000;

/** GET /members now, or once the one under way ends (a colleague who joined since shows with their name). */
function loadMembers(): void {
  if (membersRequest) {
    window.clearTimeout(membersAgain);
    membersAgain = window.setTimeout(loadMembers, MEMBERS_AT_MOST_EVERY_MS);
    return;
  }
  const wait = membersAt + MEMBERS_AT_MOST_EVERY_MS - Date.now();
  if (wait > 0) {  // an unknown id in a burst of events: one request, a little later
    window.clearTimeout(membersAgain);
    membersAgain = window.setTimeout(loadMembers, wait);
    return;
  }
  membersAt = Date.now();
  membersRequest = apiClient().members().then((page) => applyMembers(page.items), () => undefined)
    .finally(() => { membersRequest = null; });
}

function applyMembers(members: Member[]): void {
  presence.update((s) => ({
    names: Object.fromEntries(members.map((m) => [m.user_id, m.name || m.email])),
    // a push that arrived while the list was on its way is newer than the list
    people: { ...Object.fromEntries(members.map((m) => [m.user_id, m.presence])), ...s.people },
  }));
}

let expiry: number | undefined;

function onEvent(event: LiveEvent): void {
  if (event.type === "presence.updated") {
    const { user_id, state, viewing } = event;
    presence.update((s) => ({ people: { ...s.people, [user_id]: { user_id, state, viewing } } }));
    if (!(user_id in presence.state.names)) loadMembers();
  } else if (event.type === "presence.typing") {
    const until = Date.now() + TYPING_SHOWN_MS;
    presence.update((s) => ({
      typing: { ...s.typing, [event.conversation_id]: { ...s.typing[event.conversation_id], [event.user_id]: until } },
    }));
    if (!(event.user_id in presence.state.names)) loadMembers();
    window.clearTimeout(expiry);
    expiry = window.setTimeout(expireTyping, TYPING_SHOWN_MS + 50);
  } else if (event.type === "message.new" && event.message.direction === "out" && event.message.author_id) {
    stopTyping(event.conversation_id, event.message.author_id.replace(/^user:/, ""));  // the reply is here
  }
}

function stopTyping(conversationId: string, userId: string): void {
  const current = presence.state.typing[conversationId];
  if (!current || !(userId in current)) return;
  const { [userId]: _gone, ...rest } = current;
  presence.update((s) => ({ typing: { ...s.typing, [conversationId]: rest } }));
}

function expireTyping(): void {
  const now = Date.now();
  const typing = Object.fromEntries(Object.entries(presence.state.typing).map(([conversationId, users]) =>
    [conversationId, Object.fromEntries(Object.entries(users).filter(([, until]) => until > now))]));
  presence.update({ typing });
  const next = Math.min(...Object.values(typing).flatMap((users) => Object.values(users)));
  if (Number.isFinite(next)) expiry = window.setTimeout(expireTyping, next - now + 50);
}

// --- out -------------------------------------------------------------------------------------------------------

let heartbeatTimer: number | undefined;
let sentViewing: string | null | undefined;  // undefined: not told since the socket opened
let lastTyping = { conversationId: "", at: 0 };

function heartbeat(): void {
  liveSend({ type: "heartbeat", state: document.visibilityState === "hidden" ? "away" : "online" });
}

function tellViewing(): void {
  const open = consoleStore.state.thread.id;
  if (open === sentViewing) return;
  if (liveSend({ type: "viewing", conversation_id: open })) sentViewing = open;
}

/** The operator typed in the reply box of `conversationId` (throttled here). */
export function typingIn(conversationId: string): void {
  const now = Date.now();
  if (lastTyping.conversationId === conversationId && now - lastTyping.at < TYPING_EVERY_MS) return;
  if (liveSend({ type: "typing", conversation_id: conversationId })) lastTyping = { conversationId, at: now };
}

let running: (() => void) | null = null;
let liveWas = "off";

/** Follows the console: starts when signed in, stops (and forgets everyone) when signed out. */
function onConsoleChange(): void {
  const { live, boot } = consoleStore.state;
  if (boot !== "ready") {
    if (running) stop();
    return;
  }
  if (!running) start();
  if (live === "open" && liveWas !== "open") {  // (re)opened: the server may have marked us offline meanwhile
    sentViewing = undefined;
    heartbeat();
    loadMembers();
  }
  liveWas = live;
  if (live === "open") tellViewing();
}

function start(): void {
  const unsubscribe = onLive(onEvent);
  document.addEventListener("visibilitychange", heartbeat);
  heartbeatTimer = window.setInterval(heartbeat, HEARTBEAT_MS);
  running = () => {
    unsubscribe();
    document.removeEventListener("visibilitychange", heartbeat);
    window.clearInterval(heartbeatTimer);
  };
}

function stop(): void {
  running?.();
  running = null;
  liveWas = "off";
  sentViewing = undefined;
  membersRequest = null;
  membersAt = 0;
  window.clearTimeout(membersAgain);
  presence.update({ names: {}, people: {}, typing: {} });
}

consoleStore.addEventListener("change", onConsoleChange);
