/** The tasks of the open conversation, in the thread (F1, F4): number, title, status, deadline, and when another
 * team finished an escalated one, "Engineering fixed it: tell the customer". New task links this conversation. */

import { useEffect } from "preact/hooks";
import { store as consoleStore } from "../console/state";
import { formatDateTime, t } from "../i18n";
import { can } from "../session";
import { useStore } from "../store";
import { linkOf, loadConversationTasks, openCreateDialog, openTask, showTasks, tasks } from "../tasks/state";
import { statusLabel } from "./TasksPage";

export function TasksBlock({ conversationId }: { conversationId: string }) {
  const { byConversation } = useStore(tasks);
  const { session } = useStore(consoleStore);
  useEffect(() => {
    if (can(session, "tasks:read")) void loadConversationTasks(conversationId);
  }, [conversationId]);
  if (!can(session, "tasks:read")) return null;
  const list = byConversation[conversationId] ?? [];
  return (
    <section class="tasks-block" aria-label={t("tasks_block")}>
      <div class="tasks-block-head">
        <h3>{t("tasks_block")}</h3>
        {can(session, "tasks:write") && (
          <button type="button" class="link" onClick={() => openCreateDialog({ links: linkOf(conversationId) })}>
            {t("tasks_block_new")}</button>
        )}
      </div>
      {list.length === 0 && <p class="muted">{t("tasks_block_empty")}</p>}
      <ul>
        {list.map((task) => (
          <li key={task.id} class={`task-line status-${task.status}`}>
            <a href={`/tasks/${encodeURIComponent(task.id)}`} onClick={(e) => {
              e.preventDefault();
              showTasks();
              void openTask(task.id);
            }}>{t("task_number", { number: task.number })} {task.title}</a>{" "}
            <span class={`task-status status-${task.status}`}>{statusLabel(task.status)}</span>
            {task.deadline && task.status !== "done" && (
              <span class={task.overdue ? "overdue-label" : "muted"}> · {t("task_due", { time: formatDateTime(task.deadline) })}</span>
            )}
            {task.done_note && <p class="done-note" role="status">{task.done_note}</p>}
          </li>
        ))}
      </ul>
    </section>
  );
}
