/**
 * Create or edit a task (a native <dialog>: focus stays inside, Esc closes). From a message the message is quoted
 * and linked; from a conversation it is linked. The deadline is a local time in a chosen time zone.
 */

import { useEffect, useRef, useState } from "preact/hooks";
import type { ApiError } from "../api";
import { t, type Key } from "../i18n";
import { useStore } from "../store";
import { closeDialog, saveTask, tasks } from "../tasks/state";
import { TASK_PRIORITIES, TASK_STATUSES, type TaskPriority, type TaskStatus, type TaskWrite } from "../types";
import { errorText } from "./errors";
import { statusLabel } from "./TasksPage";

const ZONES = ["UTC", "Europe/Kaliningrad", "Europe/Moscow", "Europe/Samara", "Asia/Yekaterinburg", "Asia/Omsk",
  "Asia/Novosibirsk", "Asia/Krasnoyarsk", "Asia/Irkutsk", "Asia/Yakutsk", "Asia/Vladivostok", "Asia/Magadan",
  "Asia/Kamchatka", "Europe/London", "Europe/Berlin", "America/New_York"];

export function browserZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

/** A UTC time as the `YYYY-MM-DDTHH:mm` a datetime-local input shows, in `zone`. */
export function localIn(iso: string, zone: string): string {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

function isZone(name: string | null | undefined): name is string {
  if (!name) return false;
  try {
    new Intl.DateTimeFormat("en", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export function TaskDialogHost() {
  const { dialog } = useStore(tasks);
  return dialog ? <TaskDialog key={`${dialog.mode}-${dialog.taskId ?? ""}`} /> : null;
}

function TaskDialog() {
  const { dialog, members, teams } = useStore(tasks);
  const initial = dialog?.initial ?? {};
  const editing = dialog?.mode === "edit";
  const startZone = isZone(initial.timezone) ? initial.timezone : browserZone();
  const [title, setTitle] = useState(initial.title ?? "");
  const [description, setDescription] = useState(initial.description ?? "");
  const [zone, setZone] = useState(startZone);
  const [deadline, setDeadline] = useState(initial.deadline ? localIn(initial.deadline, startZone) : "");
  const [remind, setRemind] = useState(String(initial.remind_minutes ?? 60));
  const [assignee, setAssignee] = useState(initial.assignee_id ?? "");
  const [priority, setPriority] = useState<TaskPriority>(initial.priority ?? "normal");
  const [status, setStatus] = useState<TaskStatus>(initial.status ?? "open");
  const [tags, setTags] = useState((initial.tags ?? []).join(", "));
  const [team, setTeam] = useState(initial.team_id ?? "");
  const [watchers, setWatchers] = useState<string[]>(initial.watchers ?? []);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const box = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    box.current?.showModal();
  }, []);
  if (!dialog) return null;
  const zones = ZONES.includes(zone) ? ZONES : [zone, ...ZONES];

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setSaving(true);
    const body: TaskWrite = {
      title, description, priority, remind_minutes: Number(remind) || 0,
      deadline: deadline || null, timezone: deadline ? zone : null, assignee_id: assignee || null,
      tags: tags.split(",").map((x) => x.trim()).filter(Boolean), team_id: team || null, watchers,
      ...(editing ? { status, revision: initial.revision } : { links: initial.links ?? [] }),
    };
    const failed = await saveTask(body);
    setSaving(false);
    setError(failed);
  };

  return (
    <dialog ref={box} class="settings task-dialog" aria-labelledby="task-dialog-title" onClose={closeDialog}>
      <form onSubmit={submit}>
        <h2 id="task-dialog-title">{editing ? t("task_edit_title", { number: dialog.number ?? "" })
          : t("task_create_title")}</h2>
        {dialog.quote !== undefined && (
          <blockquote class="quote" aria-label={t("task_quote")}>
            <span class="quote-author">{t("task_from_message")}</span>
            <span class="quote-text">{dialog.quote}</span>
          </blockquote>
        )}
        {!editing && (initial.links ?? []).length > 0 && dialog.quote === undefined && (
          <p class="muted">{t("task_linked_to")}</p>
        )}
        <label class="field">{t("task_field_title")}
          <input required maxLength={200} value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
        </label>
        <label class="field">{t("task_field_description")}
          <textarea rows={4} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        </label>
        <div class="task-field-row">
          <label class="field">{t("task_field_deadline")}
            <input type="datetime-local" value={deadline} onInput={(e) => setDeadline(e.currentTarget.value)} />
          </label>
          <label class="field">{t("task_field_timezone")}
            <select value={zone} onChange={(e) => setZone(e.currentTarget.value)}>
              {zones.map((z) => <option key={z} value={z}>{z}</option>)}
            </select>
          </label>
          <label class="field">{t("task_field_remind")}
            <input type="number" min={0} max={10080} value={remind} onInput={(e) => setRemind(e.currentTarget.value)} />
          </label>
        </div>
        <div class="task-field-row">
          <label class="field">{t("task_field_assignee")}
            <select value={assignee} onChange={(e) => setAssignee(e.currentTarget.value)}>
              <option value="">{t("task_nobody")}</option>
              {members.map((m) => <option key={m.user_id} value={m.user_id}>{m.name || m.email}</option>)}
            </select>
          </label>
          <label class="field">{t("task_field_team")}
            <select value={team} onChange={(e) => setTeam(e.currentTarget.value)}>
              <option value="">{t("task_no_team")}</option>
              {teams.map((x) => <option key={x.id} value={x.id}>{x.name}</option>)}
            </select>
          </label>
          <label class="field">{t("task_priority")}
            <select value={priority} onChange={(e) => setPriority(e.currentTarget.value as TaskPriority)}>
              {TASK_PRIORITIES.map((p) => <option key={p} value={p}>{t(`task_priority_${p}` as Key)}</option>)}
            </select>
          </label>
          {editing && (
            <label class="field">{t("task_field_status")}
              <select value={status} onChange={(e) => setStatus(e.currentTarget.value as TaskStatus)}>
                {TASK_STATUSES.map((s) => <option key={s} value={s}>{statusLabel(s)}</option>)}
              </select>
            </label>
          )}
        </div>
        {members.length > 0 && (
          <fieldset class="watchers">
            <legend>{t("task_field_watchers")}</legend>
            {members.map((m) => (
              <label class="check" key={m.user_id}>
                <input type="checkbox" checked={watchers.includes(m.user_id)}
                  onChange={(e) => setWatchers(e.currentTarget.checked ? [...watchers, m.user_id]
                    : watchers.filter((w) => w !== m.user_id))} />
                {m.name || m.email}
              </label>
            ))}
          </fieldset>
        )}
        <label class="field">{t("task_field_tags")}
          <input value={tags} onInput={(e) => setTags(e.currentTarget.value)} />
        </label>
        {error && <p class="form-error" role="alert">{t("task_saved_error")} {errorText(error)}</p>}
        <div class="dialog-actions">
          <button type="button" onClick={() => box.current?.close()}>{t("task_cancel")}</button>
          <button type="submit" class="primary" disabled={saving}>
            {saving ? t("loading") : editing ? t("task_save") : t("task_create")}</button>
        </div>
      </form>
    </dialog>
  );
}
