/**
 * The Tasks page's state (F1-F4) and every change to it: the list with its filters, the open task, the teams and
 * members to pick from, the top bar's overdue badge, the tasks of each conversation shown in the thread, and the
 * create / edit dialog. Only this module calls `tasks.update`; live `task.updated` pushes refresh what shows it.
 */

import { ApiError } from "../api";
import { apiClient, onLive, openConversation, store as consoleStore } from "../console/state";
import { Store } from "../store";
import type {
  Member, Task, TaskDetail, TaskLink, TaskScope, TaskSort, TaskStatus, TaskTeam, TaskView, TaskWrite,
} from "../types";

export type Page = "inbox" | "tasks";

export interface TaskDialog {
  mode: "create" | "edit";
  taskId?: string;
  number?: number;
  initial: TaskWrite;
  /** The customer's message the task is made from: shown quoted in the dialog. */
  quote?: string;
}

export interface TasksState {
  page: Page;
  view: TaskView;
  scope: TaskScope;
  team: string | null;
  sort: TaskSort | null;
  items: Task[];
  cursor: string | null;
  loading: boolean;
  loadingMore: boolean;
  error: ApiError | null;
  selectedId: string | null;
  detail: TaskDetail | null;
  detailError: ApiError | null;
  teams: TaskTeam[];
  members: Member[];
  badge: number;
  byConversation: Record<string, Task[]>;
  dialog: TaskDialog | null;
}

function pageInUrl(): { page: Page; taskId: string | null } {
  const found = /^\/tasks(?:\/([^/]+))?\/?$/.exec(location.pathname);
  return found ? { page: "tasks", taskId: found[1] ? decodeURIComponent(found[1]) : null } : { page: "inbox", taskId: null };
}

export const tasks = new Store<TasksState>({
  page: pageInUrl().page, view: "current", scope: "all", team: null, sort: null, items: [], cursor: null,
  loading: false, loadingMore: false, error: null, selectedId: null, detail: null, detailError: null, teams: [],
  members: [], badge: 0, byConversation: {}, dialog: null,
});

let started = false;
let listRequest = 0;
let badgeTimer: number | undefined;

function asApiError(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError(0, "error", err instanceof Error ? err.message : String(err));
}

/** The signed-in console is ready: load teams, members, the badge; open the Tasks page if the URL says so. */
export function startTasks(): void {
  if (started) return;
  started = true;
  onLive((event) => {
    if (event.type === "task.updated") applyTask(event.task);
  });
  // a conversation opened from elsewhere (the bell, a link) while the Tasks page shows: back to the inbox for it
  let thread = consoleStore.state.thread.id;
  consoleStore.addEventListener("change", () => {
    const now = consoleStore.state.thread.id;
    if (now && now !== thread && tasks.state.page === "tasks" && location.pathname.startsWith("/c/")) {
      tasks.update({ page: "inbox" });
    }
    thread = now;
  });
  void loadPeople();
  void refreshBadge();
  window.clearInterval(badgeTimer);
  badgeTimer = window.setInterval(() => void refreshBadge(), 60_000);
  const { page, taskId } = pageInUrl();
  if (page === "tasks") {
    void loadTasks();
    if (taskId) void openTask(taskId, { push: false });
  }
}

export function stopTasks(): void {
  started = false;
  window.clearInterval(badgeTimer);
}

export function myUserId(): string | null {
  const me = consoleStore.state.session?.me as { user_id?: string | null } | undefined;
  return me?.user_id ?? null;
}

async function loadPeople(): Promise<void> {
  try {
    const [teams, members] = await Promise.all([apiClient().taskTeams(), apiClient().members()]);
    tasks.update({ teams: teams.items, members: members.items });
  } catch {
    // names fall back to ids; pickers stay empty
  }
}

export async function refreshBadge(): Promise<void> {
  try {
    tasks.update({ badge: (await apiClient().taskSummary()).my_overdue });
  } catch {
    // the badge stays as it was
  }
}

// --- navigation -----------------------------------------------------------------------------------------------

export function showTasks(): void {
  if (!location.pathname.startsWith("/tasks")) history.pushState(null, "", "/tasks");
  tasks.update({ page: "tasks" });
  void loadTasks();
  void loadPeople();  // teams and members may have changed since the console started
}

export function showInbox(): void {
  if (location.pathname.startsWith("/tasks")) history.pushState(null, "", "/");
  tasks.update({ page: "inbox" });
}

/** From a task to the customer's conversation in the inbox. */
export function goToConversation(id: string): void {
  tasks.update({ page: "inbox" });
  void openConversation(id);
}

window.addEventListener("popstate", () => {
  if (consoleStore.state.boot !== "ready") return;
  const { page, taskId } = pageInUrl();
  tasks.update({ page });
  if (page !== "tasks") return;
  if (!tasks.state.items.length) void loadTasks();
  if (taskId) void openTask(taskId, { push: false });
  else tasks.update({ selectedId: null, detail: null });
});

// --- the list -------------------------------------------------------------------------------------------------

function listQuery(cursor: string | null = null) {
  const s = tasks.state;
  return { view: s.view, scope: s.scope, team: s.scope === "team" ? s.team : null, sort: s.sort ?? undefined,
    cursor };
}

export async function loadTasks(): Promise<void> {
  const request = ++listRequest;
  tasks.update({ loading: true, error: null });
  try {
    const page = await apiClient().tasks(listQuery());
    if (request !== listRequest) return;
    tasks.update({ items: page.items, cursor: page.next_cursor, loading: false,
      team: tasks.state.scope === "team" ? page.team_id : tasks.state.team });
  } catch (err) {
    if (request !== listRequest) return;
    const error = asApiError(err);
    const first = tasks.state.teams[0];
    if (error.code === "no_team" && first && !tasks.state.team) {  // in no team: show the first team's queue
      tasks.update({ team: first.id });
      void loadTasks();
      return;
    }
    tasks.update({ loading: false, error, items: [], cursor: null });
  }
}

/** The first page again, quietly (the rows stay while the answer is on its way). */
async function refreshTasks(): Promise<void> {
  const request = ++listRequest;
  try {
    const page = await apiClient().tasks(listQuery());
    if (request === listRequest) tasks.update({ items: page.items, cursor: page.next_cursor, error: null });
  } catch {
    // the next push or reload tries again
  }
}

export async function loadMoreTasks(): Promise<void> {
  const s = tasks.state;
  if (!s.cursor || s.loadingMore || s.loading) return;
  const request = listRequest;
  tasks.update({ loadingMore: true });
  try {
    const page = await apiClient().tasks(listQuery(s.cursor));
    if (request !== listRequest) return;
    const known = new Set(tasks.state.items.map((t) => t.id));
    tasks.update({ items: [...tasks.state.items, ...page.items.filter((t) => !known.has(t.id))],
      cursor: page.next_cursor, loadingMore: false });
  } catch (err) {
    tasks.update({ loadingMore: false, error: asApiError(err) });
  }
}

export function setTaskFilters(patch: Partial<Pick<TasksState, "view" | "scope" | "team" | "sort">>): void {
  tasks.update(patch);
  void loadTasks();
}

// --- one task -------------------------------------------------------------------------------------------------

export async function openTask(id: string, { push = true } = {}): Promise<void> {
  if (push) history.pushState(null, "", `/tasks/${encodeURIComponent(id)}`);
  tasks.update({ selectedId: id, detailError: null, detail: tasks.state.detail?.id === id ? tasks.state.detail : null });
  try {
    const detail = await apiClient().task(id);
    if (tasks.state.selectedId === id) tasks.update({ detail });
  } catch (err) {
    if (tasks.state.selectedId === id) tasks.update({ detailError: asApiError(err) });
  }
}

export function closeTask(): void {
  if (location.pathname !== "/tasks") history.pushState(null, "", "/tasks");
  tasks.update({ selectedId: null, detail: null, detailError: null });
}

/** j / k on the Tasks page. */
export function moveTask(step: 1 | -1): void {
  const { items, selectedId } = tasks.state;
  if (!items.length) return;
  const index = items.findIndex((t) => t.id === selectedId);
  const next = index < 0 ? (step > 0 ? 0 : items.length - 1) : index + step;
  if (next >= 0 && next < items.length) void openTask(items[next].id);
  if (next >= items.length - 3) void loadMoreTasks();
}

function applyDetail(detail: TaskDetail): void {
  applyTask(detail);
  if (tasks.state.selectedId === detail.id) tasks.update({ detail });
}

/** A task changed (an answer or a push): the newest revision replaces it wherever it shows. */
function applyTask(task: Task): void {
  const s = tasks.state;
  const known = s.items.find((t) => t.id === task.id);
  if (known && known.revision > task.revision) return;
  const finished = task.status === "done" || task.status === "cancelled";
  const fits = s.view === "done" ? finished : !finished && (s.view !== "overdue" || task.overdue);
  const items = s.items.flatMap((t) => (t.id !== task.id ? [t] : fits ? [task] : []));
  const byConversation: Record<string, Task[]> = {};
  for (const [conv, list] of Object.entries(s.byConversation)) {
    const linked = task.links.some((l) => l.conversation_id === conv);
    const rest = list.filter((t) => t.id !== task.id);
    byConversation[conv] = linked ? [task, ...rest].sort((a, b) => b.number - a.number) : rest;
  }
  tasks.update({ items, byConversation });
  // a task this list does not show yet (a colleague's new one, or one that moved here): ask again when the
  // whole list is loaded (with more pages, it shows on the next reload instead of jumping the cursor)
  if (!known && s.page === "tasks" && !s.cursor && !s.loading) void refreshTasks();
  if (s.selectedId === task.id && s.detail && s.detail.revision < task.revision) void openTask(task.id, { push: false });
  void refreshBadge();
}

export async function setTaskStatus(task: Task, status: TaskStatus): Promise<ApiError | null> {
  try {
    applyDetail(await apiClient().updateTask(task.id, { status }));
    return null;
  } catch (err) {
    return asApiError(err);
  }
}

export async function commentOn(id: string, text: string): Promise<ApiError | null> {
  try {
    await apiClient().commentTask(id, text);
    applyDetail(await apiClient().task(id));
    return null;
  } catch (err) {
    return asApiError(err);
  }
}

export async function escalate(id: string, teamId: string, note: string): Promise<ApiError | null> {
  try {
    applyDetail(await apiClient().escalateTask(id, teamId, note));
    return null;
  } catch (err) {
    return asApiError(err);
  }
}

// --- the create / edit dialog ---------------------------------------------------------------------------------

export function openCreateDialog(initial: TaskWrite = {}, quote?: string): void {
  tasks.update({ dialog: { mode: "create", initial, quote } });
}

export function openEditDialog(task: Task): void {
  tasks.update({ dialog: { mode: "edit", taskId: task.id, number: task.number, initial: { ...task } } });
}

export function closeDialog(): void {
  tasks.update({ dialog: null });
}

/** Create or save from the dialog; the error to show, or null (the dialog closes). */
export async function saveTask(body: TaskWrite): Promise<ApiError | null> {
  const dialog = tasks.state.dialog;
  if (!dialog) return null;
  try {
    const detail = dialog.mode === "create" || !dialog.taskId ? await apiClient().createTask(body)
      : await apiClient().updateTask(dialog.taskId, body);
    tasks.update({ dialog: null });
    if (dialog.mode === "create") {
      for (const link of detail.links) void loadConversationTasks(link.conversation_id);
      if (tasks.state.page === "tasks") {
        await loadTasks();
        void openTask(detail.id);
      }
    }
    applyDetail(detail);
    return null;
  } catch (err) {
    return asApiError(err);
  }
}

// --- a conversation's tasks (the block in the thread) ---------------------------------------------------------

export async function loadConversationTasks(conversationId: string): Promise<void> {
  try {
    const page = await apiClient().conversationTasks(conversationId);
    tasks.update((s) => ({ byConversation: { ...s.byConversation, [conversationId]: page.items } }));
  } catch {
    // the block stays empty; the tasks page still has them
  }
}

export function linkOf(conversationId: string, messageId?: string): TaskLink[] {
  return [{ conversation_id: conversationId, ...(messageId ? { message_id: messageId } : {}) }];
}

// --- names ----------------------------------------------------------------------------------------------------

export function memberName(userId: string | null | undefined): string {
  if (!userId) return "";
  const m = tasks.state.members.find((x) => x.user_id === userId);
  return m ? m.name || m.email : userId;
}

export function actorName(actor: string | null | undefined, apiKeyLabel: string): string {
  if (!actor) return "";
  if (actor.startsWith("user:")) return memberName(actor.slice(5));
  return actor.startsWith("key:") ? apiKeyLabel : actor;
}

export function teamName(teamId: string | null | undefined): string {
  if (!teamId) return "";
  return tasks.state.teams.find((t) => t.id === teamId)?.name ?? teamId;
}
