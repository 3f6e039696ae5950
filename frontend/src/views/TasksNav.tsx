/** The top bar's way between the inbox and the Tasks page, with the count of my overdue tasks (F3); and the
 * "Create task" of a customer's message (the message quoted and linked). */

import { analytics, closeAnalytics } from "../analytics/state";
import { hideKnowledge } from "../console/knowledge";
import { t } from "../i18n";
import { useStore } from "../store";
import { linkOf, openCreateDialog, showInbox, showTasks, tasks } from "../tasks/state";
import type { Message } from "../types";

export function TasksNav() {
  const { page: tasksPage, badge } = useStore(tasks);
  const page = useStore(analytics).page ?? tasksPage;  // an analytics page is neither the inbox nor Tasks
  return (
    <nav class="page-nav" aria-label={t("nav_tasks")}>
      <a href="/" aria-current={page === "inbox" ? "page" : undefined}
        onClick={(e) => { e.preventDefault(); closeAnalytics(); hideKnowledge(); showInbox(); }}>{t("nav_inbox")}</a>
      <a href="/tasks" aria-current={page === "tasks" ? "page" : undefined}
        onClick={(e) => { e.preventDefault(); closeAnalytics(); hideKnowledge(); showTasks(); }}>
        {t("nav_tasks")}
        {badge > 0 && <span class="badge overdue-badge" title={t("tasks_overdue_badge", { count: badge })}
          aria-label={t("tasks_overdue_badge", { count: badge })}>{badge}</span>}
      </a>
    </nav>
  );
}

export function createTaskFrom(message: Message): void {
  const text = message.text.trim();
  const title = text.split("\n")[0].slice(0, 80);
  const quote = text.split("\n").map((line) => `> ${line}`).join("\n");
  openCreateDialog({ title, description: quote, links: linkOf(message.conversation_id, message.id) }, text);
}
