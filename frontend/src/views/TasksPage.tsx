/**
 * The Tasks page (F1-F4): filters (current / overdue / done, all / mine / my team, sort), the list, and the open
 * task in a side panel. Keyboard: j / k move through the list, n opens New task, Esc closes the panel.
 */

import { useEffect } from "preact/hooks";
import "../styles/tasks.css";
import { formatDateTime, t, type Key } from "../i18n";
import { can } from "../session";
import { store as consoleStore } from "../console/state";
import { useStore } from "../store";
import {
  closeTask, loadMoreTasks, loadTasks, memberName, moveTask, openCreateDialog, openTask, setTaskFilters, tasks,
  teamName,
} from "../tasks/state";
import type { Task, TaskScope, TaskSort, TaskView } from "../types";
import { errorText } from "./errors";
import { TaskDetailPanel } from "./TaskDetail";
import { isTyping } from "./typing";

const VIEWS: { id: TaskView; label: Key }[] = [
  { id: "current", label: "tasks_view_current" }, { id: "overdue", label: "tasks_view_overdue" },
  { id: "done", label: "tasks_view_done" },
];
const SCOPES: { id: TaskScope; label: Key }[] = [
  { id: "all", label: "tasks_scope_all" }, { id: "mine", label: "tasks_scope_mine" },
  { id: "team", label: "tasks_scope_team" },
];
const SORTS: TaskSort[] = ["created", "deadline", "status", "assignee"];

export function statusLabel(status: string): string {
  return t(`task_status_${status}` as Key);
}

export function TasksPage() {
  const s = useStore(tasks);
  const { session } = useStore(consoleStore);
  useTaskShortcuts();
  return (
    <main class="tasks-page">
      <section class="tasks-list-pane" aria-label={t("tasks_title")}>
        <div class="tabs" role="tablist" aria-label={t("tasks_views")}>
          {VIEWS.map((v) => (
            <button type="button" role="tab" key={v.id} aria-selected={s.view === v.id}
              onClick={() => setTaskFilters({ view: v.id })}>{t(v.label)}</button>
          ))}
        </div>
        <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label={t("filters")}>
          <select aria-label={t("tasks_scope")} value={s.scope}
            onChange={(e) => setTaskFilters({ scope: e.currentTarget.value as TaskScope })}>
            {SCOPES.map((o) => <option key={o.id} value={o.id}>{t(o.label)}</option>)}
          </select>
          {s.scope === "team" && (
            <select aria-label={t("tasks_team")} value={s.team ?? ""}
              onChange={(e) => setTaskFilters({ team: e.currentTarget.value || null })}>
              {s.teams.map((team) => <option key={team.id} value={team.id}>{team.name}</option>)}
            </select>
          )}
          <select aria-label={t("tasks_sort")} value={s.sort ?? ""}
            onChange={(e) => setTaskFilters({ sort: (e.currentTarget.value || null) as TaskSort | null })}>
            <option value="">{t("tasks_sort_default")}</option>
            {SORTS.map((o) => <option key={o} value={o}>{t(`tasks_sort_${o}` as Key)}</option>)}
          </select>
          {can(session, "tasks:write") && (
            <button type="button" class="primary" onClick={() => openCreateDialog()} title="n">{t("tasks_new")}</button>
          )}
        </form>
        <TaskList />
      </section>
      <TaskDetailPanel />
    </main>
  );
}

function TaskList() {
  const s = useStore(tasks);
  if (s.error) {
    return (
      <div class="list empty" role="alert">
        <p>{t("tasks_error")} {errorText(s.error)}</p>
        <button type="button" onClick={() => void loadTasks()}>{t("try_again")}</button>
      </div>
    );
  }
  if (s.loading && !s.items.length) return <div class="list" aria-busy="true"><p class="muted more">{t("loading")}</p></div>;
  if (!s.items.length) {
    return (
      <div class="list empty">
        <p class="empty-title">{t("tasks_empty_title")}</p>
        <p class="muted">{t(s.view === "overdue" ? "tasks_empty_overdue" : "tasks_empty_hint")}</p>
      </div>
    );
  }
  return (
    <nav class="list" aria-label={t("tasks_list")} aria-busy={s.loading}
      onScroll={(e) => {
        const el = e.currentTarget;
        if (el.scrollHeight - el.scrollTop - el.clientHeight < 80) void loadMoreTasks();
      }}>
      {s.items.map((task) => <TaskRow key={task.id} task={task} selected={task.id === s.selectedId} />)}
      {s.cursor && (
        <div class="more">
          <button type="button" disabled={s.loadingMore} onClick={() => void loadMoreTasks()}>
            {s.loadingMore ? t("loading") : t("load_more")}</button>
        </div>
      )}
    </nav>
  );
}

function TaskRow({ task, selected }: { task: Task; selected: boolean }) {
  return (
    <a href={`/tasks/${encodeURIComponent(task.id)}`} class={`row task-row${selected ? " selected" : ""}`}
      aria-current={selected ? "true" : undefined} data-task={task.id}
      onClick={(e) => { e.preventDefault(); void openTask(task.id); }}>
      <div class="row-main">
        <div class="row-top">
          <span class="task-number">{t("task_number", { number: task.number })}</span>
          <span class="name">{task.title}</span>
          <span class={`task-status status-${task.status}`}>{statusLabel(task.status)}</span>
        </div>
        <div class="row-bottom">
          {task.overdue && <span class="overdue-label">{t("task_overdue")}</span>}
          {task.deadline && <span class="muted">{t("task_due", { time: formatDateTime(task.deadline) })}</span>}
          {task.assignee_id && <span class="muted">· {memberName(task.assignee_id)}</span>}
          {task.team_id && <span class="tag">{teamName(task.team_id)}</span>}
          {task.priority !== "normal" && <span class={`priority priority-${task.priority}`}>
            {t(`task_priority_${task.priority}` as Key)}</span>}
        </div>
      </div>
    </a>
  );
}


function useTaskShortcuts(): void {
  useEffect(() => {
    const onKey = (event: KeyboardEvent): void => {
      if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
      if (tasks.state.dialog || document.querySelector("dialog[open]")) return;
      const action = {
        j: () => moveTask(1), k: () => moveTask(-1), Escape: closeTask,
        n: () => { if (can(consoleStore.state.session, "tasks:write")) openCreateDialog(); },
      }[event.key];
      if (!action) return;
      event.preventDefault();
      action();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);
}
