/**
 * The console's state and every change to it. Views call these actions; only this module calls `store.update`
 * (mutations are made centrally, as in TodoMVC's Lit example). Server answers for a conversation that is no
 * longer open are dropped, so fast clicking never shows one customer's thread under another's name.
 */

import { Api, ApiError } from "../api";
import { LiveSocket, liveUrl, type LiveState } from "../live";
import { resume, signInWithKey, signOut as forgetKey, type Session } from "../session";
import { Store } from "../store";
import { runSearch } from "./search";
import {
  STATUSES, type Channel, type Contact, type ContactPatch, type Conversation, type ConversationDetail,
  type CustomStatus, type Emotion, type LiveEvent, type Message,
  type Status, type TeamSettings, type Template, type Upload,
} from "../types";

export type Scope = "all" | "mine" | "unassigned";

export interface Filters {
  channelId: string;
  scope: Scope;
  tag: string;
  noTag: boolean;
  /** Public comments only (`surface=comment` on the server; live rows are checked against it here too). */
  commentsOnly: boolean;
  /** Search (B1): every status at once; the tabs step aside while it is on. */
  query: string;
  /** Customers waiting longer than the SLA, longest wait first (every open status). */
  overdue: boolean;
}

export interface ListState {
  items: Conversation[];
  cursor: string | null;
  loading: boolean;
  loadingMore: boolean;
  error: ApiError | null;
}

export interface ThreadState {
  id: string | null;
  detail: ConversationDetail | null;
  messages: Message[];
  cursor: string | null;
  loading: boolean;
  loadingEarlier: boolean;
  error: ApiError | null;
  replyTo: Message | null;
}

export interface ConsoleState {
  boot: "checking" | "signed_out" | "ready";
  session: Session | null;
  loginError: ApiError | null;
  channels: Channel[];
  tab: Status;
  filters: Filters;
  list: ListState;
  thread: ThreadState;
  live: LiveState | "off";
  notice: ApiError | null;
  focusComposer: number;
  templates: TemplatesState;
  /** Channel kind -> what it can do (GET /channels/capabilities), e.g. hide_comment. */
  capabilities: Record<string, string[]>;
  /** Minutes a customer may wait for an answer (team settings); past it a conversation is overdue. */
  slaMinutes: number;
  /** Hours without activity after which an in-progress conversation is stale (team settings; 0: never). */
  staleHours: number;
  /** The team's own statuses beside the built-in three (team settings): a tab each. */
  customStatuses: CustomStatus[];
}

/** Reply templates for the `/` shortcut of the reply box (B7), loaded when the operator first types a slash. */
export interface TemplatesState {
  items: Template[];
  workspaceName: string;
  loaded: boolean;
}

const NO_FILTERS: Filters = {
  channelId: "", scope: "all", tag: "", noTag: false, commentsOnly: false, query: "", overdue: false,
};
const EMPTY_LIST: ListState = { items: [], cursor: null, loading: false, loadingMore: false, error: null };
const EMPTY_THREAD: ThreadState = {
  id: null, detail: null, messages: [], cursor: null, loading: false, loadingEarlier: false, error: null,
  replyTo: null,
};

const DEFAULT_SLA_MINUTES = 30;

export const store = new Store<ConsoleState>({
  boot: "checking", session: null, loginError: null, channels: [], tab: "new", filters: NO_FILTERS,
  list: EMPTY_LIST, thread: EMPTY_THREAD, live: "off", notice: null, focusComposer: 0,
  templates: { items: [], workspaceName: "", loaded: false }, capabilities: {}, slaMinutes: DEFAULT_SLA_MINUTES, staleHours: 24,
  customStatuses: [],
});

let api: Api | null = null;
let live: LiveSocket | null = null;
let listRequest = 0;
let minuteTimer: number | undefined;
let readTimer: number | undefined;

function requireApi(): Api {
  if (!api) throw new ApiError(401, "signed_out", "");
  return api;
}

/** The signed-in console's API client (console/notifications.ts and other action modules). */
export function currentApi(): Api {
  return requireApi();
}

/** Send over the console's WebSocket (presence messages, console/presence.ts); false when it is not open. */
export function liveSend(payload: object): boolean {
  return live?.send(payload) ?? false;
}

/** The signed-in API client, for action modules beside this one (console/bulk.ts). */
export function apiClient(): Api {
  return requireApi();
}

function patchList(patch: Partial<ListState>): void {
  store.update((s) => ({ list: { ...s.list, ...patch } }));
}

function patchThread(id: string, patch: Partial<ThreadState> | ((t: ThreadState) => Partial<ThreadState>)): void {
  store.update((s) => {
    if (s.thread.id !== id) return {};
    const delta = typeof patch === "function" ? patch(s.thread) : patch;
    return { thread: { ...s.thread, ...delta } };
  });
}

function asApiError(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError(0, "error", err instanceof Error ? err.message : String(err));
}

export function showNotice(err: unknown): void {
  store.update({ notice: asApiError(err) });
}

export function dismissNotice(): void {
  store.update({ notice: null });
}

// --- signing in and out -------------------------------------------------------------------------------------

export async function boot(): Promise<void> {
  try {
    const session = await resume();
    if (session) start(session);
    else store.update({ boot: "signed_out" });
  } catch (err) {
    store.update({ boot: "signed_out", loginError: asApiError(err) });
  }
}

export async function signIn(key: string): Promise<void> {
  store.update({ loginError: null });
  try {
    start(await signInWithKey(key));
  } catch (err) {
    store.update({ loginError: asApiError(err) });
  }
}

export function signOut(reason: ApiError | null = null): void {
  forgetKey();
  window.clearInterval(minuteTimer);
  live?.stop();
  live = null;
  api = null;
  store.update({
    boot: "signed_out", session: null, loginError: reason, list: EMPTY_LIST, thread: EMPTY_THREAD, live: "off",
    channels: [], templates: { items: [], workspaceName: "", loaded: false }, capabilities: {},
  });
  templatesRequest = null;  // the next workspace has its own templates
}

function start(session: Session): void {
  api = new Api(session.token);
  api.onUnauthorized = (err) => signOut(err);
  store.update({ boot: "ready", session, loginError: null });
  live = new LiveSocket(liveUrl(session.token), {
    onEvent: applyLive,
    onState: (state) => store.update({ live: state }),
    onResync: resync,
  });
  live.start();
  window.clearInterval(minuteTimer);
  minuteTimer = window.setInterval(everyMinute, 60_000);
  void loadChannels();
  void loadCapabilities();
  void loadTeamSettings();
  void loadList();
  const fromUrl = conversationInUrl();
  if (fromUrl) void openConversation(fromUrl, { push: false });
}

async function loadChannels(): Promise<void> {
  try {
    store.update({ channels: (await requireApi().channels()).items });
  } catch (err) {
    showNotice(err);
  }
}

async function loadCapabilities(): Promise<void> {
  try {
    const { kinds } = await requireApi().capabilities();
    store.update({ capabilities: Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, v.capabilities])) });
  } catch {
    // without the table the console offers no channel-specific action (the server refuses them anyway)
  }
}

/** Waits grow without any push: redraw "waits N min", and ask again who is overdue while that tab is open. */
function everyMinute(): void {
  if (store.state.filters.overdue) void refreshList();
  else store.update({});
}

async function loadTeamSettings(): Promise<void> {
  try {
    applyTeamSettings(await requireApi().teamSettings());
  } catch {
    // the defaults stand; the server's overdue list uses the real SLA
  }
}

function applyTeamSettings(settings: TeamSettings): void {
  store.update({ slaMinutes: settings.sla_minutes || DEFAULT_SLA_MINUTES, customStatuses: settings.statuses ?? [],
                 staleHours: settings.stale_hours ?? 24 });
}

/** An admin saves the SLA and the team's statuses; resolves with the error to show, or null when saved. */
export async function saveTeamSettings(patch: Partial<TeamSettings>): Promise<ApiError | null> {
  try {
    applyTeamSettings(await requireApi().saveTeamSettings(patch));
    const { tab, customStatuses } = store.state;
    if (!STATUSES.includes(tab) && !customStatuses.some((s) => s.id === tab)) setTab("new");
    else void loadList();
    return null;
  } catch (err) {
    return asApiError(err);
  }
}

/** Has the customer waited longer than the SLA (and is the conversation still open)? */
export function isStale(c: Conversation, staleHours: number, now = Date.now()): boolean {
  return staleHours > 0 && c.status === "in_progress" && now - Date.parse(c.last_activity_at) > staleHours * 3_600_000;
}

export function isOverdue(c: Conversation, slaMinutes: number, now = Date.now()): boolean {
  return !!c.awaiting_since && c.status !== "closed" && now - Date.parse(c.awaiting_since) > slaMinutes * 60_000;
}

export function channelCan(kind: string | undefined, capability: string): boolean {
  return !!kind && (store.state.capabilities[kind] ?? []).includes(capability);
}

// --- the inbox ----------------------------------------------------------------------------------------------

function inboxQuery(s: ConsoleState, cursor: string | null = null) {
  const f = s.filters;
  const query = f.query.trim();
  return {
    status: query || f.overdue ? undefined : s.tab, cursor, q: query || undefined, overdue: f.overdue,
    surface: f.commentsOnly ? ("comment" as const) : undefined, channel_id: f.channelId || undefined, tag: f.noTag ? undefined : f.tag.trim() || undefined,
    no_tag: f.noTag, unassigned: f.scope === "unassigned",
    assignee: f.scope === "mine" ? s.session?.me.subject : undefined,
  };
}

export async function loadList(): Promise<void> {
  const request = ++listRequest;
  if (store.state.filters.query.trim()) {  // a search reads the full-text index instead (console/search.ts)
    patchList({ items: [], cursor: null, loading: false, error: null, loadingMore: false });
    void runSearch(store.state.filters.query.trim());
    return;
  }
  const mark = liveMark();
  patchList({ loading: true, error: null, loadingMore: false });
  try {
    const page = await requireApi().conversations(inboxQuery(store.state));
    if (request !== listRequest) return;
    patchList({ items: page.items, cursor: page.next_cursor, loading: false });
    replaySince(mark);
  } catch (err) {
    if (request !== listRequest) return;
    patchList({ loading: false, error: asApiError(err) });
  }
}

/** Reload the first page without skeletons (the rows stay while the answer is on its way). */
async function refreshList(): Promise<void> {
  if (store.state.list.loading || store.state.filters.query.trim()) {
    await loadList();
    return;
  }
  const request = ++listRequest;
  const mark = liveMark();
  try {
    const page = await requireApi().conversations(inboxQuery(store.state));
    if (request !== listRequest) return;
    patchList({ items: page.items, cursor: page.next_cursor, error: null });
    replaySince(mark);
  } catch {
    // the next push or reload tries again
  }
}

export async function loadMore(): Promise<void> {
  const { list } = store.state;
  if (!list.cursor || list.loadingMore || list.loading) return;
  const request = listRequest;
  const mark = liveMark();
  patchList({ loadingMore: true });
  try {
    const page = await requireApi().conversations(inboxQuery(store.state, list.cursor));
    if (request !== listRequest) return;
    store.update((s) => {
      const known = new Set(s.list.items.map((c) => c.id));
      const items = [...s.list.items, ...page.items.filter((c) => !known.has(c.id))];
      return { list: { ...s.list, items, cursor: page.next_cursor, loadingMore: false } };
    });
    replaySince(mark);
  } catch (err) {
    if (request !== listRequest) return;
    patchList({ loadingMore: false, error: asApiError(err) });
  }
}

export function setTab(tab: Status): void {
  const { filters } = store.state;
  if (store.state.tab === tab && !filters.query && !filters.overdue) return;
  store.update({ tab, filters: { ...filters, query: "", overdue: false } });
  void loadList();
}

export function setFilters(patch: Partial<Filters>): void {
  store.update((s) => ({ filters: { ...s.filters, ...patch } }));
  void loadList();
}

export function clearFilters(): void {
  store.update({ filters: NO_FILTERS });
  void loadList();
}

/** Does a conversation belong in the list the operator is looking at? */
export function matches(s: ConsoleState, c: Conversation): boolean {
  const f = s.filters;
  if (f.query.trim()) return s.list.items.some((known) => known.id === c.id);  // results change by searching again
  if (f.overdue) return isOverdue(c, s.slaMinutes);
  if (c.status !== s.tab) return false;
  if (f.channelId && c.channel_id !== f.channelId) return false;
  if (f.scope === "unassigned" && c.assignee_id) return false;
  if (f.scope === "mine" && c.assignee_id !== s.session?.me.subject) return false;
  if (f.noTag && c.tags.length > 0) return false;
  if (!f.noTag && f.tag.trim() && !c.tags.includes(f.tag.trim())) return false;
  if (f.commentsOnly && c.surface !== "comment") return false;
  return true;
}

function byActivity(a: Conversation, b: Conversation): number {
  return b.last_activity_at < a.last_activity_at ? -1 : b.last_activity_at > a.last_activity_at ? 1 : 0;
}

/** A conversation changed by an action elsewhere (console/bulk.ts): into the list, newest copy wins. */
export function applyConversation(conversation: Conversation): void {
  const mark = liveMark();
  upsertConversation(conversation);
  replaySince(mark);
}

function upsertConversation(conversation: Conversation): void {
  const known = store.state.list.items.find((c) => c.id === conversation.id)
    ?? (store.state.thread.detail?.id === conversation.id ? store.state.thread.detail : undefined);
  // Pushes and answers race (a push of an older change can arrive after a newer answer): keep the newest.
  if (known && (known.revision ?? 0) > (conversation.revision ?? 0)) return;
  store.update((s) => {
    const rest = s.list.items.filter((c) => c.id !== conversation.id);
    const oldest = s.list.items[s.list.items.length - 1];
    // A conversation older than the last loaded row belongs to a page not loaded yet.
    const fits = !s.list.cursor || !oldest || conversation.last_activity_at >= oldest.last_activity_at;
    const items = matches(s, conversation) && fits ? [...rest, conversation].sort(byActivity) : rest;
    const detail = s.thread.detail?.id === conversation.id ? { ...s.thread.detail, ...conversation } : s.thread.detail;
    return { list: { ...s.list, items }, thread: { ...s.thread, detail } };
  });
}

// --- one conversation ---------------------------------------------------------------------------------------

export function conversationInUrl(): string | null {
  const found = /^\/c\/([^/]+)$/.exec(location.pathname);
  return found ? decodeURIComponent(found[1]) : null;
}

export async function openConversation(id: string, { push = true } = {}): Promise<void> {
  if (push && conversationInUrl() !== id) history.pushState(null, "", `/c/${encodeURIComponent(id)}`);
  if (store.state.thread.id === id && !store.state.thread.error) return;
  store.update({ thread: { ...EMPTY_THREAD, id, loading: true } });
  const client = requireApi();
  const mark = liveMark();
  try {
    const [detail, page] = await Promise.all([client.conversation(id), client.messages(id)]);
    patchThread(id, {
      detail, messages: sortMessages(page.items), cursor: page.next_cursor, loading: false,
    });
    replaySince(mark);
    if (detail.unread_count > 0) scheduleRead(id, 0);
  } catch (err) {
    patchThread(id, { loading: false, error: asApiError(err) });
  }
}

export function closeThread({ push = true } = {}): void {
  if (push && location.pathname !== "/") history.pushState(null, "", "/");
  store.update({ thread: EMPTY_THREAD });
}

export function reloadThread(): void {
  const id = store.state.thread.id;
  if (!id) return;
  store.update({ thread: EMPTY_THREAD });
  void openConversation(id, { push: false });
}

export async function loadEarlier(): Promise<void> {
  const { thread } = store.state;
  if (!thread.id || !thread.cursor || thread.loadingEarlier) return;
  const id = thread.id;
  patchThread(id, { loadingEarlier: true });
  const mark = liveMark();
  try {
    const page = await requireApi().messages(id, { before: thread.cursor });
    patchThread(id, (t) => ({
      messages: mergeMessages(t.messages, page.items), cursor: page.next_cursor, loadingEarlier: false,
    }));
    replaySince(mark);
  } catch (err) {
    patchThread(id, { loadingEarlier: false });
    showNotice(err);
  }
}

function sortMessages(messages: Message[]): Message[] {
  return [...messages].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function mergeMessages(current: Message[], incoming: Message[]): Message[] {
  const byId = new Map(current.map((m) => [m.id, m]));
  for (const message of incoming) byId.set(message.id, message);
  return sortMessages([...byId.values()]);
}

function upsertMessage(conversationId: string, message: Message): void {
  patchThread(conversationId, (t) => ({ messages: mergeMessages(t.messages, [message]) }));
}

function scheduleRead(id: string, delay = 800): void {
  window.clearTimeout(readTimer);
  readTimer = window.setTimeout(() => {
    if (store.state.thread.id !== id || document.visibilityState === "hidden") return;
    if (!store.state.session?.me.permissions.includes("conversations:manage")) return;
    const mark = liveMark();
    requireApi().markRead(id).then((conversation) => {
      upsertConversation(conversation);
      replaySince(mark);
    }, () => undefined);
  }, delay);
}

export function setReplyTo(message: Message | null): void {
  store.update((s) => ({ thread: { ...s.thread, replyTo: message }, focusComposer: s.focusComposer + 1 }));
}

export function focusComposer(): void {
  store.update((s) => ({ focusComposer: s.focusComposer + 1 }));
}

let templatesRequest: Promise<void> | null = null;

/** Fetch the workspace's reply templates (again when `fresh`: an admin may have changed them meanwhile). */
export function loadTemplates({ fresh = false } = {}): Promise<void> {
  if (templatesRequest && !fresh) return templatesRequest;
  templatesRequest = requireApi().templates().then(
    (page) => store.update(() => ({ templates: { items: page.items, workspaceName: page.workspace_name, loaded: true } })),
    (err) => {
      templatesRequest = null;
      showNotice(err);
    });
  return templatesRequest;
}

/** What became of a send: taken, refused (the notice says why), or held because a colleague answered meanwhile
 * (B10): the composer asks, and `force` sends anyway. */
export type SendResult = "sent" | "failed" | { colleague: string; messageId: string };

/** The newest message of the open thread: "what I saw" when I answer. */
function lastSeenId(thread: ThreadState): string | null {
  return thread.messages.length ? thread.messages[thread.messages.length - 1].id : null;
}

/** Send a reply (or an internal note). */
export async function send(kind: "reply" | "note", text: string, uploads: Upload[],
  { force = false, articles = [] as string[] } = {}): Promise<SendResult> {
  const { thread } = store.state;
  if (!thread.id) return "failed";
  const id = thread.id;
  const mark = liveMark();
  try {
    const message = kind === "note"
      ? await requireApi().note(id, text)
      : await requireApi().reply(id, text, thread.replyTo?.id ?? null, uploads.map((u) => u.upload_id),
        { lastSeen: lastSeenId(thread), force, articles });
    upsertMessage(id, message);
    replaySince(mark);  // "sent" may have been pushed before this answer arrived
    patchThread(id, { replyTo: null });
    return "sent";
  } catch (err) {
    if (err instanceof ApiError && err.code === "colleague_replied") {
      const { author_name: name, message_id: messageId } = err.details as { author_name?: string; message_id?: string };
      void catchUp(id);  // show the colleague's answer above the question
      return { colleague: name || "", messageId: messageId ?? "" };
    }
    showNotice(err);
    return "failed";
  }
}

/** Fetch the newest messages of the open thread again (a push may not have reached us yet). */
async function catchUp(id: string): Promise<void> {
  const mark = liveMark();
  try {
    const page = await requireApi().messages(id);
    patchThread(id, (t) => ({ messages: mergeMessages(t.messages, page.items) }));
    replaySince(mark);
  } catch {
    // the live push brings it anyway
  }
}

/** Edit our sent reply at the provider (B4); the server answers 422 with the reason where the channel cannot. */
export async function editMessage(message: Message, text: string): Promise<boolean> {
  const mark = liveMark();
  try {
    upsertMessage(message.conversation_id, await requireApi().editMessage(message.conversation_id, message.id, text));
    replaySince(mark);
    return true;
  } catch (err) {
    showNotice(err);
    return false;
  }
}

export async function deleteMessage(message: Message): Promise<void> {
  const mark = liveMark();
  try {
    upsertMessage(message.conversation_id, await requireApi().deleteMessage(message.conversation_id, message.id));
    replaySince(mark);
  } catch (err) {
    showNotice(err);
  }
}

/** Hide a customer's public comment from the public, or show it again (B4); done or failed arrives live. */
export async function hideMessage(message: Message, hidden: boolean): Promise<void> {
  const mark = liveMark();
  try {
    upsertMessage(message.conversation_id,
      await requireApi().hideMessage(message.conversation_id, message.id, hidden));
    replaySince(mark);
  } catch (err) {
    showNotice(err);
  }
}

export async function retry(message: Message): Promise<void> {
  const mark = liveMark();
  try {
    upsertMessage(message.conversation_id, await requireApi().retry(message.conversation_id, message.id));
    replaySince(mark);
  } catch (err) {
    showNotice(err);
  }
}

export async function setStatus(status: Status): Promise<void> {
  const id = store.state.thread.id;
  if (!id || store.state.thread.detail?.status === status) return;
  const mark = liveMark();
  try {
    upsertConversation(await requireApi().update(id, { status }));
    replaySince(mark);
  } catch (err) {
    showNotice(err);
  }
}

/** Block or unblock the customer (their messages stay out of the inbox; replies are refused). */
export async function setBlocked(blocked: boolean): Promise<void> {
  const id = store.state.thread.id;
  if (!id) return;
  const client = requireApi();
  const mark = liveMark();
  try {
    await client.block(id, blocked);
    upsertConversation(await client.conversation(id));
    replaySince(mark);
  } catch (err) {
    showNotice(err);
  }
}

export async function setTags(tags: string[]): Promise<boolean> {
  const id = store.state.thread.id;
  if (!id) return false;
  const mark = liveMark();
  try {
    upsertConversation(await requireApi().update(id, { tags }));
    replaySince(mark);
    return true;
  } catch (err) {
    showNotice(err);
    return false;
  }
}

/** Forward the open conversation by e-mail (B11); the error to show, or null when it went out. */
export async function forwardConversation(to: string[], note: string, requestId: string): Promise<ApiError | null> {
  const id = store.state.thread.id;
  if (!id) return null;
  const mark = liveMark();
  try {
    upsertMessage(id, await requireApi().forward(id, to, note, requestId));  // the "Forwarded to …" note
    replaySince(mark);
    return null;
  } catch (err) {
    return asApiError(err);
  }
}

/** How the customer feels (B8), or null to clear it. */
export async function setEmotion(emotion: Emotion | null): Promise<void> {
  const id = store.state.thread.id;
  if (!id) return;
  const mark = liveMark();
  try {
    upsertConversation(await requireApi().update(id, { emotion }));
    replaySince(mark);
  } catch (err) {
    showNotice(err);
  }
}

/** Save an operator's correction of the open conversation's client card; the error to show, or null. */
export async function saveContact(patch: ContactPatch): Promise<ApiError | null> {
  const { thread } = store.state;
  const contact = thread.detail?.contact;
  if (!thread.id || !contact) return null;
  try {
    const card = await requireApi().updateContact(contact.id, patch);
    applyContact(card.contact);
    return null;
  } catch (err) {
    return asApiError(err);
  }
}

/** A newer card (the answer to an edit, or a colleague's edit pushed live) replaces the open one. */
function applyContact(contact: Contact): void {
  store.update((s) => {
    const current = s.thread.detail?.contact;
    if (!s.thread.detail || !current || current.id !== contact.id || current.revision > contact.revision) return {};
    const merged = { ...current, ...contact, identities: contact.identities.length ? contact.identities
      : current.identities };
    return { thread: { ...s.thread, detail: { ...s.thread.detail, contact: merged } } };
  });
}

export function upload(file: File, onProgress: (fraction: number) => void): Promise<Upload> {
  return requireApi().upload(file, onProgress);
}

// --- keyboard: j / k / r / e --------------------------------------------------------------------------------

export function moveSelection(step: 1 | -1): void {
  const { list, thread } = store.state;
  if (list.items.length === 0) return;
  const index = list.items.findIndex((c) => c.id === thread.id);
  const next = index < 0 ? (step > 0 ? 0 : list.items.length - 1) : index + step;
  if (next >= 0 && next < list.items.length) void openConversation(list.items[next].id);
  if (next >= list.items.length - 3) void loadMore();
}

export async function closeSelected(): Promise<void> {
  const { list, thread } = store.state;
  if (!thread.id || thread.detail?.status === "closed") return;
  const index = list.items.findIndex((c) => c.id === thread.id);
  const following = list.items[index + 1] ?? list.items[index - 1];
  await setStatus("closed");
  if (following && following.id !== thread.id && store.state.thread.detail?.status === "closed") {
    void openConversation(following.id);
  }
}

// --- live updates -------------------------------------------------------------------------------------------

// Pushes are newer than any answer to a request sent before them: after applying such an answer, the pushes
// that arrived meanwhile are applied again, so a slow page never rolls a row or a delivery status back.
const recent: { seq: number; event: LiveEvent }[] = [];
let liveSeq = 0;
const RECENT_MAX = 500;

function liveMark(): number {
  return liveSeq;
}

function replaySince(mark: number): void {
  for (const entry of recent) if (entry.seq > mark) applyEvent(entry.event, false);
}

const liveListeners = new Set<(event: LiveEvent) => void>();

/** Also hear every live event (console/bulk.ts follows its replies to sent or failed); returns the unsubscribe. */
export function onLive(listener: (event: LiveEvent) => void): () => void {
  liveListeners.add(listener);
  return () => liveListeners.delete(listener);
}

function applyLive(event: LiveEvent): void {
  recent.push({ seq: ++liveSeq, event });
  if (recent.length > RECENT_MAX) recent.shift();
  applyEvent(event, true);
  for (const listener of liveListeners) listener(event);
}

function applyEvent(event: LiveEvent, fresh: boolean): void {
  if (event.type === "contact.updated") {
    applyContact(event.contact);
  } else if (event.type === "conversation.updated") {
    upsertConversation(event.conversation);
  } else if (event.type === "message.new" || event.type === "message.updated") {
    if (store.state.thread.id !== event.conversation_id) return;
    upsertMessage(event.conversation_id, event.message);
    if (fresh && event.type === "message.new" && event.message.direction === "in") {
      scheduleRead(event.conversation_id);
    }
  }
}

/** The socket (re)opened: fetch the list again, quietly, and catch the open thread up. */
function resync(): void {
  void refreshList();
  const id = store.state.thread.id;
  if (!id || !api) return;
  const client = api;
  const mark = liveMark();
  Promise.all([client.conversation(id), client.messages(id)]).then(([detail, page]) => {
    patchThread(id, (t) => ({ detail, messages: mergeMessages(t.messages, page.items) }));
    replaySince(mark);
  }, () => undefined);
}

window.addEventListener("popstate", () => {
  if (store.state.boot !== "ready") return;
  const id = conversationInUrl();
  if (id) void openConversation(id, { push: false });
  else closeThread({ push: false });
});
