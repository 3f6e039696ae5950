/**
 * Team settings for admins: the answer-time SLA (the Overdue tab) and the team's own statuses (a tab each).
 * A native <dialog>: focus stays inside, Escape closes it.
 */

import { useEffect, useRef, useState } from "preact/hooks";
import type { ApiError } from "../api";
import { apiClient, saveTeamSettings, store } from "../console/state";
import { t } from "../i18n";
import { useStore } from "../store";
import type { CustomStatus, WorkspaceExport } from "../types";
import { errorText } from "./errors";

/** A status id from its label: latin letters, digits and _, as the API wants (Cyrillic is transliterated). */
export function statusId(label: string): string {
  const latin: Record<string, string> = {
    а: "a", б: "b", в: "v", г: "g", д: "d", е: "e", ё: "e", ж: "zh", з: "z", и: "i", й: "i", к: "k", л: "l",
    м: "m", н: "n", о: "o", п: "p", р: "r", с: "s", т: "t", у: "u", ф: "f", х: "h", ц: "c", ч: "ch", ш: "sh",
    щ: "sch", ы: "y", э: "e", ю: "yu", я: "ya",
  };
  const id = [...label.toLowerCase()].map((c) => latin[c] ?? c).join("")
    .replace(/[^a-z0-9]+/g, "_").replace(/^[^a-z]+|_+$/g, "").slice(0, 30);
  return id.length >= 2 ? id : `s_${id}`.slice(0, 30);
}

export function TeamSettingsButton() {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" class="ghost" aria-haspopup="dialog" onClick={() => setOpen(true)}>
        {t("settings_open")}</button>
      {open && <TeamSettingsDialog close={() => setOpen(false)} />}
    </>
  );
}

function TeamSettingsDialog({ close }: { close: () => void }) {
  const { slaMinutes, customStatuses } = useStore(store);
  const [sla, setSla] = useState(String(slaMinutes));
  const [statuses, setStatuses] = useState<CustomStatus[]>(customStatuses);
  const [label, setLabel] = useState("");
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);

  const add = (): void => {
    const text = label.trim();
    if (!text) return;
    const id = statusId(text);
    if (!statuses.some((s) => s.id === id)) setStatuses([...statuses, { id, label: text }]);
    setLabel("");
  };

  const save = async (event: Event): Promise<void> => {
    event.preventDefault();
    setSaving(true);
    const failed = await saveTeamSettings({ sla_minutes: Number(sla), statuses });
    setSaving(false);
    if (failed) setError(failed);
    else close();
  };

  return (
    <dialog ref={dialog} class="settings" aria-labelledby="settings-title" onClose={close}>
      <form onSubmit={save}>
        <h2 id="settings-title">{t("settings_title")}</h2>
        <label class="field">
          {t("settings_sla")}
          <input type="number" min={1} max={10080} required value={sla}
            onInput={(e) => setSla(e.currentTarget.value)} />
          <span class="muted">{t("settings_sla_hint")}</span>
        </label>
        <fieldset>
          <legend>{t("settings_statuses")}</legend>
          {statuses.length === 0 && <p class="muted">{t("settings_statuses_empty")}</p>}
          <ul class="status-list">
            {statuses.map((s) => (
              <li key={s.id}>
                <span>{s.label}</span> <code>{s.id}</code>
                <button type="button" class="link" aria-label={t("remove_named", { name: s.label })}
                  onClick={() => setStatuses(statuses.filter((x) => x.id !== s.id))}>{t("settings_remove")}</button>
              </li>
            ))}
          </ul>
          <div class="add-status">
            <input aria-label={t("settings_new_status")} placeholder={t("settings_new_status")} value={label}
              maxLength={40} onInput={(e) => setLabel(e.currentTarget.value)}
              onKeyDown={(e) => { if (e.key === "Enter") { e.preventDefault(); add(); } }} />
            <button type="button" onClick={add} disabled={!label.trim() || statuses.length >= 10}>
              {t("settings_add_status")}</button>
          </div>
        </fieldset>
        <ExportWorkspace />
        {error && <p class="form-error" role="alert">{errorText(error)}</p>}
        <div class="dialog-actions">
          <button type="button" onClick={() => dialog.current?.close()}>{t("colleague_cancel")}</button>
          <button type="submit" class="primary" disabled={saving}>{saving ? t("loading") : t("settings_save")}</button>
        </div>
      </form>
    </dialog>
  );
}

/** I2: the whole workspace as one JSON-lines file with its attachments (admins); restore it with the CLI. */
function ExportWorkspace() {
  const [state, setState] = useState<{ busy: boolean; done?: WorkspaceExport; error?: ApiError }>({ busy: false });
  const start = async (): Promise<void> => {
    setState({ busy: true });
    try {
      setState({ busy: false, done: await apiClient().exportWorkspace() });
    } catch (err) {
      setState({ busy: false, error: err as ApiError });
    }
  };
  return (
    <fieldset class="export">
      <legend>{t("export_title")}</legend>
      <p class="muted">{t("export_hint")}</p>
      <button type="button" disabled={state.busy} onClick={() => void start()}>
        {state.busy ? t("export_running") : t("export_start")}</button>
      {state.busy && <progress aria-label={t("export_running")} />}
      {state.done && (
        <p role="status">
          {t("export_done", { items: state.done.items, files: state.done.files })}{" "}
          <a href={state.done.url} download={state.done.file_name}>{t("export_download")}</a>
        </p>
      )}
      {state.error && <p class="form-error" role="alert">{errorText(state.error)}</p>}
    </fieldset>
  );
}
