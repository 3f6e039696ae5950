/**
 * The only module that talks to the server over HTTP (the console's REST API, uploads with progress, and the
 * simulator's embedded-only routes). Errors always arrive as `ApiError` with the server's code and reason.
 */

import type {
  Delivery, DryRun, Hook, NotificationList, NotificationSettings, Rule,
  ContactCard, Duplicate, MergeInfo, MergePreview, MergeSide, RepeatCluster, WorkspaceExport,
  BulkReplyResult, Channel, Contact, ContactPatch, Conversation, ConversationDetail, Emotion, Me, Member, Message, Page, SimChannel, SimSeen, SimSent, Status, TeamSettings,
  TemplateList, Upload, SearchHit, Article, ArticleWrite, Task, TaskDetail, TaskEvent, TaskPage, TaskScope, TaskSort,
  TaskTeam, TaskView, TaskWrite, Survey, SurveySettings,
} from "./types";
import { credentialHeaders, payloadHeaders } from "./signing";

export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string,
              readonly details: Record<string, unknown> = {}) {
    super(message);
    this.name = "ApiError";
  }
}

type Query = Record<string, string | number | boolean | null | undefined>;

export interface InboxQuery {
  status?: Status;
  channel_id?: string;
  assignee?: string;
  unassigned?: boolean;
  tag?: string;
  no_tag?: boolean;
  q?: string;
  overdue?: boolean;
  surface?: "private" | "comment";
  cursor?: string | null;
  limit?: number;
}

/** Where the API lives: same origin unless /config.js says otherwise. */
export function apiBase(): string {
  return (window.ZABOTA_CONFIG?.apiBase ?? "").replace(/\/$/, "");
}

function queryString(query: Query | undefined): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null || value === "" || value === false) continue;
    params.set(name, value === true ? "1" : String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** Turn any answer body into an ApiError (the API answers `{error: {code, message}}`). */
function errorOf(status: number, body: unknown, fallback: string): ApiError {
  const error = (body as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | null)
    ?.error;
  if (error && typeof error === "object") {
    return new ApiError(status, error.code ?? "error", error.message ?? fallback, error.details ?? {});
  }
  const message = (body as { message?: string } | null)?.message;
  return new ApiError(status, status === 404 ? "not_found" : "error", message ?? fallback);
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

/** The signed-in user's cookie session (no API key): the CSRF token for writes and the chosen workspace. */
export function sessionHeaders(method: string): Record<string, string> {
  const headers: Record<string, string> = {};
  const csrf = /(?:^|;\s*)zb_csrf=([^;]+)/.exec(document.cookie);
  if (csrf && method !== "GET") headers["X-CSRF-Token"] = decodeURIComponent(csrf[1]);
  const workspace = currentWorkspace();
  if (workspace) headers["X-Workspace"] = workspace;
  return headers;
}

/** The workspace a cookie session acts in: from the invitation's redirect (?workspace=), kept for the tab. */
export function currentWorkspace(): string | null {
  const fromUrl = new URLSearchParams(location.search).get("workspace");
  try {
    if (fromUrl) window.sessionStorage.setItem("zabota.workspace", fromUrl);
    return fromUrl || window.sessionStorage.getItem("zabota.workspace");
  } catch {
    return fromUrl;
  }
}

async function send<T>(method: string, path: string, token: string | null, body?: unknown, query?: Query): Promise<T> {
  const headers: Record<string, string> = token ? credentialHeaders(`Bearer ${token}`) : sessionHeaders(method);
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const text = body === undefined ? undefined : JSON.stringify(body);
  let response: Response;
  try {
    Object.assign(headers, await payloadHeaders(method, text));
    response = await fetch(`${apiBase()}${path}${queryString(query)}`, { method, headers, body: text });
  } catch (err) {
    throw new ApiError(0, "network", err instanceof Error ? err.message : String(err));
  }
  const parsed = parseJson(await response.text());
  if (!response.ok) throw errorOf(response.status, parsed, response.statusText || `HTTP ${response.status}`);
  return parsed as T;
}

/** The operator REST API, bound to one credential. */
export class Api {
  /** Called on every 401 (the key was revoked or is wrong): the console goes back to the login screen. */
  onUnauthorized: (error: ApiError) => void = () => undefined;

  constructor(private readonly token: string) {}

  private async call<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
    try {
      return await send<T>(method, `/api${path}`, this.token, body, query);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) this.onUnauthorized(err);
      throw err;
    }
  }

  me(): Promise<Me> {
    return this.call("GET", "/me");
  }

  channels(): Promise<Page<Channel>> {
    return this.call("GET", "/channels");
  }

  /** The workspace's reply templates and its name (for `{workspace_name}`). */
  templates(): Promise<TemplateList> {
    return this.call("GET", "/templates");
  }

  conversations(query: InboxQuery): Promise<Page<Conversation>> {
    return this.call("GET", "/conversations", undefined, { limit: 25, ...query });
  }

  conversation(id: string): Promise<ConversationDetail> {
    return this.call("GET", `/conversations/${encodeURIComponent(id)}`);
  }

  /** Newest first; `before` pages back, `after` catches up. */
  messages(id: string, query: { before?: string | null; after?: string | null; limit?: number } = {}): Promise<Page<Message>> {
    return this.call("GET", `/conversations/${encodeURIComponent(id)}/messages`, undefined, { limit: 50, ...query });
  }

  /** `lastSeen`: the newest message the operator saw (409 colleague_replied if a colleague answered after it,
   * unless `force`). */
  reply(id: string, text: string, replyTo: string | null, attachments: string[],
        { lastSeen = null, force = false, articles = [] }:
          { lastSeen?: string | null; force?: boolean; articles?: string[] } = {}): Promise<Message> {
    return this.call("POST", `/conversations/${encodeURIComponent(id)}/replies`,
      { text, reply_to: replyTo, attachments, last_seen_message_id: lastSeen, force,
        ...(articles.length ? { articles } : {}) });
  }

  /** Full-text search over all history (B1): best first, paged by `cursor`. */
  search(q: string, query: { kind?: string; cursor?: string | null; limit?: number } = {}): Promise<Page<SearchHit>> {
    return this.call("GET", "/search", undefined, { q, limit: 20, ...query });
  }

  /** The knowledge base (H1): drafts too for those who edit it. */
  articles(): Promise<Page<Article> & { categories: string[] }> {
    return this.call("GET", "/articles");
  }

  article(id: string): Promise<Article> {
    return this.call("GET", `/articles/${encodeURIComponent(id)}`);
  }

  saveArticle(id: string | null, body: ArticleWrite): Promise<Article> {
    return id ? this.call("PUT", `/articles/${encodeURIComponent(id)}`, body) : this.call("POST", "/articles", body);
  }

  deleteArticle(id: string): Promise<unknown> {
    return this.call("DELETE", `/articles/${encodeURIComponent(id)}`);
  }

  teamSettings(): Promise<TeamSettings> {
    return this.call("GET", "/team/settings");
  }

  /** Out of the queue until a time (null wakes it now). */
  snooze(id: string, until: string | null): Promise<Conversation> {
    return this.call("POST", `/conversations/${encodeURIComponent(id)}/snooze`, { until });
  }

  remind(id: string, at: string, note: string): Promise<{ id: string; at: string }> {
    return this.call("POST", `/conversations/${encodeURIComponent(id)}/reminders`, { at, note });
  }

  /** Automation rules (E3), in the order they run. */
  rules(): Promise<{ items: Rule[] }> {
    return this.call("GET", "/rules");
  }

  saveRule(rule: Partial<Rule>): Promise<Rule> {
    const { id, valid: _valid, updated_at: _at, ...body } = rule;
    return id ? this.call("PATCH", `/rules/${encodeURIComponent(id)}`, body) : this.call("POST", "/rules", body);
  }

  deleteRule(id: string): Promise<unknown> {
    return this.call("DELETE", `/rules/${encodeURIComponent(id)}`);
  }

  dryRun(rule: Partial<Rule>, limit = 50): Promise<DryRun> {
    const { id: _id, valid: _valid, updated_at: _at, position: _p, ...body } = rule;
    return this.call("POST", "/rules/dry-run", { rule: body, limit });
  }

  /** Outgoing webhooks (E5). */
  hooks(): Promise<{ items: Hook[]; events: Record<string, string> }> {
    return this.call("GET", "/outgoing-webhooks");
  }

  createHook(url: string, events: string[]): Promise<Hook & { secret: string }> {
    return this.call("POST", "/outgoing-webhooks", { url, events });
  }

  patchHook(id: string, patch: { enabled?: boolean; events?: string[]; url?: string }): Promise<Hook> {
    return this.call("PATCH", `/outgoing-webhooks/${encodeURIComponent(id)}`, patch);
  }

  deleteHook(id: string): Promise<unknown> {
    return this.call("DELETE", `/outgoing-webhooks/${encodeURIComponent(id)}`);
  }

  deliveries(id: string): Promise<{ items: Delivery[] }> {
    return this.call("GET", `/outgoing-webhooks/${encodeURIComponent(id)}/deliveries`);
  }

  redeliver(id: string, deliveryId: string): Promise<Delivery> {
    return this.call("POST", `/outgoing-webhooks/${encodeURIComponent(id)}/deliveries/${encodeURIComponent(deliveryId)}/redeliver`);
  }

  pingHook(id: string): Promise<unknown> {
    return this.call("POST", `/outgoing-webhooks/${encodeURIComponent(id)}/ping`);
  }

  /** My notifications in this workspace, newest first (the bell). */
  notifications(before?: string | null): Promise<NotificationList> {
    return this.call("GET", "/notifications", undefined, { before, limit: 30 });
  }

  readNotifications(ids: string[] | "all"): Promise<{ marked: number; unread: number }> {
    return this.call("POST", "/notifications/read", ids === "all" ? { all: true } : { ids });
  }

  notificationSettings(): Promise<NotificationSettings> {
    return this.call("GET", "/me/notifications");
  }

  saveNotificationSettings(patch: Partial<NotificationSettings>): Promise<NotificationSettings> {
    return this.call("PUT", "/me/notifications", patch);
  }

  saveTeamSettings(patch: Partial<TeamSettings>): Promise<TeamSettings> {
    return this.call("PUT", "/team/settings", patch);
  }

  /** The workspace's members with their presence (online / away / offline, the conversation they view). */
  members(): Promise<Page<Member>> {
    return this.call("GET", "/members");
  }

  note(id: string, text: string): Promise<Message> {
    return this.call("POST", `/conversations/${encodeURIComponent(id)}/notes`, { text });
  }

  block(id: string, blocked: boolean): Promise<{ blocked: boolean; provider: string }> {
    return this.call("POST", `/conversations/${encodeURIComponent(id)}/block`, { blocked });
  }

  editMessage(id: string, messageId: string, text: string): Promise<Message> {
    return this.call("PATCH", `/conversations/${encodeURIComponent(id)}/messages/${encodeURIComponent(messageId)}`,
      { text });
  }

  deleteMessage(id: string, messageId: string): Promise<Message> {
    return this.call("DELETE", `/conversations/${encodeURIComponent(id)}/messages/${encodeURIComponent(messageId)}`);
  }

  /** Hide a customer's public comment from everyone but its author, or show it again (carried out by the server). */
  hideMessage(id: string, messageId: string, hidden: boolean): Promise<Message> {
    return this.call("POST",
      `/conversations/${encodeURIComponent(id)}/messages/${encodeURIComponent(messageId)}/hide`, { hidden });
  }

  /** One text to several conversations (B5); the same `requestId` on a retry sends nothing twice. */
  bulkReply(requestId: string, conversationIds: string[], text: string): Promise<BulkReplyResult> {
    return this.call("POST", "/replies/bulk", {
      request_id: requestId, text, items: conversationIds.map((id) => ({ conversation_id: id })),
    });
  }

  /** What each channel kind can do (GET /channels/capabilities): the console offers only what the channel has. */
  capabilities(): Promise<{ kinds: Record<string, { capabilities: string[] }> }> {
    return this.call("GET", "/channels/capabilities");
  }

  retry(id: string, messageId: string): Promise<Message> {
    return this.call("POST", `/conversations/${encodeURIComponent(id)}/messages/${encodeURIComponent(messageId)}/retry`);
  }

  update(id: string, patch: { status?: Status; tags?: string[]; emotion?: Emotion | null }): Promise<Conversation> {
    return this.call("PATCH", `/conversations/${encodeURIComponent(id)}`, patch);
  }

  forward(id: string, to: string[], note: string, requestId: string): Promise<Message> {
    return this.call("POST", `/conversations/${encodeURIComponent(id)}/forward`, { to, note, request_id: requestId });
  }

  /** Correct the client card; answers the whole card again (409 `stale` when it changed meanwhile). */
  contactCard(id: string): Promise<ContactCard> {
    return this.call("GET", `/contacts/${encodeURIComponent(id)}`);
  }

  /** Cards that look like the same person (same e-mail, phone or name), strongest reason first. */
  duplicates(id: string): Promise<{ items: Duplicate[] }> {
    return this.call("GET", `/contacts/${encodeURIComponent(id)}/duplicates`);
  }

  mergePreview(id: string, otherId: string, choices: Record<string, MergeSide>): Promise<MergePreview> {
    return this.call("POST", `/contacts/${encodeURIComponent(id)}/merge/preview`, { other_id: otherId, choices });
  }

  merge(id: string, otherId: string, choices: Record<string, MergeSide>,
        revisions: MergePreview["revisions"]): Promise<{ merge: MergeInfo; card: ContactCard }> {
    return this.call("POST", `/contacts/${encodeURIComponent(id)}/merge`, { other_id: otherId, choices, revisions });
  }

  undoMerge(mergeId: string): Promise<{ merge: MergeInfo; card: ContactCard }> {
    return this.call("POST", `/merges/${encodeURIComponent(mergeId)}/undo`);
  }

  /** H2: clusters of recent customer messages about the same problem (the last hour). */
  clusters(): Promise<{ items: RepeatCluster[] }> {
    return this.call("GET", "/clusters");
  }

  /** I2: the whole workspace as JSON lines in storage, and a short-lived link to it (admins). */
  exportWorkspace(): Promise<WorkspaceExport> {
    return this.call("POST", "/admin/export");
  }

  updateContact(id: string, patch: ContactPatch): Promise<{ contact: Contact; history: Conversation[] }> {
    return this.call("PATCH", `/contacts/${encodeURIComponent(id)}`, patch);
  }

  // --- tasks (F1-F4) ---

  tasks(query: { view: TaskView; scope: TaskScope; team?: string | null; sort?: TaskSort; cursor?: string | null;
                 limit?: number }): Promise<TaskPage> {
    return this.call("GET", "/tasks", undefined, { limit: 25, ...query });
  }

  task(id: string): Promise<TaskDetail> {
    return this.call("GET", `/tasks/${encodeURIComponent(id)}`);
  }

  createTask(body: TaskWrite): Promise<TaskDetail> {
    return this.call("POST", "/tasks", body);
  }

  updateTask(id: string, body: TaskWrite): Promise<TaskDetail> {
    return this.call("PATCH", `/tasks/${encodeURIComponent(id)}`, body);
  }

  commentTask(id: string, text: string): Promise<TaskEvent> {
    return this.call("POST", `/tasks/${encodeURIComponent(id)}/comments`, { text });
  }

  escalateTask(id: string, teamId: string, note: string): Promise<TaskDetail> {
    return this.call("POST", `/tasks/${encodeURIComponent(id)}/escalate`, { team_id: teamId, note });
  }

  conversationTasks(id: string): Promise<Page<Task>> {
    return this.call("GET", `/conversations/${encodeURIComponent(id)}/tasks`);
  }

  taskTeams(): Promise<Page<TaskTeam>> {
    return this.call("GET", "/teams");
  }

  taskSummary(): Promise<{ my_overdue: number }> {
    return this.call("GET", "/task-summary");
  }

  /** Analytics (G1-G5): `/analytics/dashboard`, `/heatmap`, `/kpis`, `/report` (types in analytics/types.ts). */
  analytics<T>(what: "dashboard" | "heatmap" | "kpis" | "report", query?: Query): Promise<T> {
    return this.call("GET", `/analytics/${what}`, undefined, query);
  }

  startExport<T>(body: Record<string, string>): Promise<T> {
    return this.call("POST", "/analytics/exports", body);
  }

  exportJob<T>(id: string): Promise<T> {
    return this.call("GET", `/analytics/exports/${encodeURIComponent(id)}`);
  }

  /** CSAT / NPS surveys (G4): the settings, and one conversation's surveys with their answers. */
  surveySettings(): Promise<SurveySettings> {
    return this.call("GET", "/surveys/settings");
  }

  saveSurveySettings(patch: Partial<SurveySettings>): Promise<SurveySettings> {
    return this.call("PUT", "/surveys/settings", patch);
  }

  conversationSurveys(id: string): Promise<Page<Survey>> {
    return this.call("GET", `/conversations/${encodeURIComponent(id)}/surveys`);
  }

  markRead(id: string): Promise<Conversation> {
    return this.call("POST", `/conversations/${encodeURIComponent(id)}/read`);
  }

  /** Upload a file for a reply; `onProgress` gets 0..1 while the bytes go up (XHR: fetch has no upload progress). */
  async upload(file: File, onProgress: (fraction: number) => void): Promise<Upload> {
    if (file.size > MAX_UPLOAD_BYTES) throw new ApiError(413, "too_large", "files up to 10 MB");
    const data = await readBase64(file);
    const body = JSON.stringify({ file_name: file.name, mime_type: file.type || "application/octet-stream",
      data_base64: data });
    const signed = await payloadHeaders("POST", body);
    return new Promise<Upload>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `${apiBase()}/api/uploads`);
      const headers = { ...(this.token ? credentialHeaders(`Bearer ${this.token}`) : sessionHeaders("POST")), ...signed };
      for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
      xhr.setRequestHeader("Content-Type", "application/json");
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      };
      xhr.onload = () => {
        const parsed = parseJson(xhr.responseText);
        if (xhr.status >= 200 && xhr.status < 300) {
          onProgress(1);
          resolve(parsed as Upload);
        } else {
          const error = errorOf(xhr.status, parsed, xhr.statusText || `HTTP ${xhr.status}`);
          if (xhr.status === 401) this.onUnauthorized(error);
          reject(error);
        }
      };
      xhr.onerror = () => reject(new ApiError(0, "network", "the upload was interrupted"));
      xhr.send(body);
    });
  }
}

function readBase64(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
    reader.onerror = () => reject(new ApiError(0, "read_failed", "the file could not be read"));
    reader.readAsDataURL(file);
  });
}

/** Check a key before keeping it: answers who it belongs to, or throws (401 for a wrong key). */
export function whoAmI(token: string): Promise<Me> {
  return send<Me>("GET", "/api/me", token);
}

/** Whether a session cookie signs this browser in (a logged-out browser is not an error: 200 `signed_in: false`). */
export function sessionState(): Promise<{ signed_in: boolean; workspaces: { id: string; name: string; role: string }[] }> {
  return send("GET", "/api/auth/session", null);
}

export interface SignInProvider {
  id: string;
  name: string;
  start_url: string;
}

/** The external accounts this deployment accepts (OpenID Connect / OAuth), public. */
export function signInProviders(): Promise<{ providers: SignInProvider[]; email_link: boolean }> {
  return send("GET", "/api/auth/providers", null);
}

/** E-mail me a one-time sign-in link (the answer is the same whether or not the address is known). */
export function requestLoginLink(email: string): Promise<unknown> {
  return send("POST", "/api/auth/login-link", null, { email });
}

export function logout(): Promise<unknown> {
  return send("POST", "/api/auth/logout", null, {});
}

/** The customer simulator's routes (embedded mode only, no credentials). */
export const simulator = {
  channels(): Promise<Page<SimChannel>> {
    return send("GET", "/_sim/channels", null);
  },
  write(channelId: string, body: { user_id: string; name: string; text: string; reply_to: string | null }): Promise<SimSent> {
    return send("POST", `/_sim/${encodeURIComponent(channelId)}/messages`, null, body);
  },
  press(channelId: string, body: { user_id: string; name: string; message_id: string; data: string }): Promise<unknown> {
    return send("POST", `/_sim/${encodeURIComponent(channelId)}/buttons`, null, body);
  },
  seen(channelId: string, conversation: string): Promise<Page<SimSeen>> {
    return send("GET", `/_sim/${encodeURIComponent(channelId)}/conversations/${encodeURIComponent(conversation)}`, null);
  },
};
