/** The open task beside the list: fields, Markdown description, its conversations (quoted messages), status,
 * escalation to another team, and the timeline of changes and comments with a comment box. */

import { useState } from "preact/hooks";
import type { ApiError } from "../api";
import { store as consoleStore } from "../console/state";
import { currentLang, formatDateTime, t, type Key } from "../i18n";
import { can } from "../session";
import { useStore } from "../store";
import {
  actorName, closeTask, commentOn, escalate, goToConversation, memberName, openEditDialog, setTaskStatus, tasks,
  teamName,
} from "../tasks/state";
import { TASK_STATUSES, type TaskDetail, type TaskEvent, type TaskStatus } from "../types";
import { errorText } from "./errors";
import { Markdown } from "./Markdown";
import { browserZone } from "./TaskDialog";
import { statusLabel } from "./TasksPage";

export function TaskDetailPanel() {
  const { selectedId, detail, detailError } = useStore(tasks);
  if (!selectedId) {
    return (
      <section class="task-panel empty-thread" aria-label={t("task_detail")}>
        <p class="empty-title">{t("tasks_pick")}</p>
        <p class="muted">{t("tasks_pick_hint")}</p>
      </section>
    );
  }
  if (detailError) {
    return (
      <section class="task-panel empty-thread" aria-label={t("task_detail")}>
        <p role="alert">{errorText(detailError)}</p>
      </section>
    );
  }
  if (!detail) return <section class="task-panel" aria-label={t("task_detail")} aria-busy="true"><span class="sk sk-line" /></section>;
  return <Detail task={detail} />;
}

function Detail({ task }: { task: TaskDetail }) {
  const { session } = useStore(consoleStore);
  const write = can(session, "tasks:write");
  const [error, setError] = useState<ApiError | null>(null);
  const changeStatus = async (status: TaskStatus): Promise<void> => setError(await setTaskStatus(task, status));
  return (
    <section class="task-panel" aria-label={t("task_detail")}>
      <header class="task-head">
        <h2><span class="task-number">{t("task_number", { number: task.number })}</span> {task.title}</h2>
        <button type="button" class="ghost" aria-label={t("task_close_panel")} onClick={closeTask}>×</button>
      </header>
      {task.done_note && <p class="done-note" role="status">{task.done_note}</p>}
      <div class="task-actions">
        <label>{t("task_field_status")}{" "}
          <select value={task.status} disabled={!write} onChange={(e) => void changeStatus(e.currentTarget.value as TaskStatus)}>
            {TASK_STATUSES.map((s) => <option key={s} value={s}>{statusLabel(s)}</option>)}
          </select>
        </label>
        {write && <button type="button" onClick={() => openEditDialog(task)}>{t("task_edit")}</button>}
      </div>
      {error && <p class="form-error" role="alert">{errorText(error)}</p>}
      <dl class="task-fields">
        <dt>{t("task_field_deadline")}</dt>
        <dd>{task.deadline ? <><Deadline at={task.deadline} zone={task.timezone} />
          {task.overdue && <span class="overdue-label"> {t("task_overdue")}</span>}</> : t("task_no_deadline")}</dd>
        <dt>{t("task_field_assignee")}</dt><dd>{memberName(task.assignee_id) || t("task_nobody")}</dd>
        <dt>{t("task_field_team")}</dt><dd>{teamName(task.team_id) || t("task_no_team")}</dd>
        <dt>{t("task_priority")}</dt><dd>{t(`task_priority_${task.priority}` as Key)}</dd>
        {task.watchers.length > 0 && <><dt>{t("task_field_watchers")}</dt>
          <dd>{task.watchers.map(memberName).join(", ")}</dd></>}
        {task.tags.length > 0 && <><dt>{t("filter_tag")}</dt>
          <dd class="tags">{task.tags.map((tag) => <span class="tag" key={tag}>{tag}</span>)}</dd></>}
      </dl>
      {task.escalation && (
        <p class="escalation">{t("task_escalated_to", { team: task.escalation.to_team_name })}
          {task.escalation.note && <>: <q>{task.escalation.note}</q></>}</p>
      )}
      {task.description && <Markdown text={task.description} />}
      <Conversations task={task} />
      {write && task.status !== "done" && task.status !== "cancelled" && <EscalateForm task={task} />}
      <Timeline task={task} />
      {write && <CommentBox taskId={task.id} />}
    </section>
  );
}

/** The deadline as its setter meant it (in their time zone), and in mine when that differs. */
function Deadline({ at, zone }: { at: string; zone: string | null }) {
  const mine = browserZone();
  if (!zone || zone === mine || !zoneKnown(zone)) return <>{formatDateTime(at)}{zone && zone !== mine && <span class="muted"> ({zone})</span>}</>;
  const there = new Date(at).toLocaleString(currentLang(), { dateStyle: "medium", timeStyle: "short", timeZone: zone });
  return <>{there} <span class="muted">({zone}; {formatDateTime(at)} {t("task_your_time")})</span></>;
}

function zoneKnown(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function Conversations({ task }: { task: TaskDetail }) {
  if (!task.conversations.length) return null;
  return (
    <section class="task-conversations" aria-label={t("task_conversations")}>
      <h3>{t("task_conversations")}</h3>
      <ul>
        {task.conversations.map((c) => (
          <li key={c.id}>
            <a href={`/c/${encodeURIComponent(c.id)}`} onClick={(e) => { e.preventDefault(); goToConversation(c.id); }}>
              {t("task_open_conversation", { name: c.contact_name || c.title || c.id })}</a>
            {task.links.filter((l) => l.conversation_id === c.id && l.quote).map((l) => (
              <blockquote class="quote" key={l.message_id} aria-label={t("task_quote")}>
                <span class="quote-text">{l.quote}</span></blockquote>
            ))}
          </li>
        ))}
      </ul>
    </section>
  );
}

function EscalateForm({ task }: { task: TaskDetail }) {
  const { teams } = useStore(tasks);
  const others = teams.filter((team) => team.id !== task.team_id);
  const [open, setOpen] = useState(false);
  const [teamId, setTeamId] = useState("");
  const [note, setNote] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  if (!others.length) return null;
  if (!open) return <button type="button" onClick={() => { setOpen(true); setTeamId(others[0].id); }}>{t("task_escalate")}</button>;
  const send = async (event: Event): Promise<void> => {
    event.preventDefault();
    const failed = await escalate(task.id, teamId, note);
    setError(failed);
    if (!failed) setOpen(false);
  };
  return (
    <form class="escalate" onSubmit={send} aria-label={t("task_escalate")}>
      <label class="field">{t("task_escalate_to")}
        <select value={teamId} onChange={(e) => setTeamId(e.currentTarget.value)}>
          {others.map((team) => <option key={team.id} value={team.id}>{team.name}</option>)}
        </select>
      </label>
      <label class="field">{t("task_escalate_note")}
        <textarea rows={2} value={note} maxLength={2000} onInput={(e) => setNote(e.currentTarget.value)} />
      </label>
      {error && <p class="form-error" role="alert">{errorText(error)}</p>}
      <div class="dialog-actions">
        <button type="button" onClick={() => setOpen(false)}>{t("task_cancel")}</button>
        <button type="submit" class="primary">{t("task_escalate_send")}</button>
      </div>
    </form>
  );
}

function eventText(e: TaskEvent): string {
  if (e.kind === "created") return t("task_event_created");
  if (e.kind === "comment") return t("task_event_comment");
  if (e.kind === "escalated") {
    const team = e.changes.find((c) => c.field === "team_id");
    return t("task_event_escalated", { team: teamName(team ? String(team.after) : "") });
  }
  return t("task_event_changed", { fields: e.changes.map((c) => describe(c)).join("; ") });
}

function describe(c: { field: string; before: unknown; after: unknown }): string {
  const show = (value: unknown): string => {
    if (value === null || value === undefined || value === "") return "—";
    if (c.field === "status") return statusLabel(String(value));
    if (c.field === "assignee_id") return memberName(String(value));
    if (c.field === "team_id") return teamName(String(value));
    if (c.field === "deadline") return formatDateTime(String(value));
    if (Array.isArray(value)) return value.length ? `${value.length}` : "—";
    return String(value).slice(0, 60);
  };
  return c.field === "description" || c.field === "links" ? c.field : `${c.field}: ${show(c.before)} → ${show(c.after)}`;
}

function Timeline({ task }: { task: TaskDetail }) {
  return (
    <section class="timeline" aria-label={t("task_history")}>
      <h3>{t("task_history")}</h3>
      <ol>
        {task.timeline.map((e) => (
          <li key={e.id} class={`event event-${e.kind}`}>
            <span class="author">{actorName(e.actor, t("task_api_key"))}</span>{" "}
            <span>{eventText(e)}</span>{" "}
            <time class="muted" dateTime={e.at}>{formatDateTime(e.at)}</time>
            {e.text && <p class="event-text">{e.text}</p>}
          </li>
        ))}
      </ol>
    </section>
  );
}

function CommentBox({ taskId }: { taskId: string }) {
  const [text, setText] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const send = async (event: Event): Promise<void> => {
    event.preventDefault();
    if (!text.trim()) return;
    const failed = await commentOn(taskId, text.trim());
    setError(failed);
    if (!failed) setText("");
  };
  return (
    <form class="comment-box" onSubmit={send}>
      <label class="field">{t("task_comment")}
        <textarea rows={2} value={text} onInput={(e) => setText(e.currentTarget.value)} />
      </label>
      {error && <p class="form-error" role="alert">{errorText(error)}</p>}
      <button type="submit" class="primary" disabled={!text.trim()}>{t("task_comment_send")}</button>
    </form>
  );
}
