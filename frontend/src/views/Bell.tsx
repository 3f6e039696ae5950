/**
 * The bell in the top bar (D3): unread count, the list of my notifications (newest first, live), mark read,
 * open the conversation a notification is about, and my notification settings.
 */

import { useEffect, useRef, useState } from "preact/hooks";
import { bell, follow, loadBell, loadMore, loadSettings, markRead, saveSettings } from "../console/notifications";
import { known, t } from "../i18n";
import { useStore } from "../store";
import type { AppNotification, NotificationSettings } from "../types";
import { errorText } from "./errors";
import { ApiError } from "../api";

export function Bell() {
  const state = useStore(bell);
  const [open, setOpen] = useState(false);
  const [settings, setSettings] = useState(false);
  const panel = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return undefined;
    void loadBell();
    const onKey = (e: KeyboardEvent): void => { if (e.key === "Escape") setOpen(false); };
    const onClick = (e: MouseEvent): void => {
      if (panel.current && !panel.current.parentElement?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener("keydown", onKey);
    document.addEventListener("mousedown", onClick);
    return () => { document.removeEventListener("keydown", onKey); document.removeEventListener("mousedown", onClick); };
  }, [open]);
  if (!state.enabled) return null;
  const count = state.unread >= 100 ? "99+" : String(state.unread);
  return (
    <span class="bell-wrap">
      <button type="button" class="ghost bell" aria-expanded={open} aria-haspopup="true"
        aria-label={t("bell_label", { count })} onClick={() => setOpen(!open)}>
        <svg aria-hidden="true" width="16" height="16" viewBox="0 0 24 24" fill="none" stroke="currentColor"
          stroke-width="2"><path d="M18 8a6 6 0 1 0-12 0c0 7-3 9-3 9h18s-3-2-3-9" /><path d="M13.7 21a2 2 0 0 1-3.4 0" /></svg>
        {state.unread > 0 && <span class="badge" data-testid="bell-count">{count}</span>}
      </button>
      {open && (
        <div class="bell-panel" ref={panel} role="region" aria-label={t("bell_title")}>
          <div class="bell-head">
            <strong>{t("bell_title")}</strong>
            <span class="spacer" />
            <button type="button" class="link" disabled={state.unread === 0} onClick={() => void markRead("all")}>
              {t("bell_read_all")}</button>
            <button type="button" class="link" onClick={() => { setSettings(true); setOpen(false); }}>
              {t("bell_settings")}</button>
          </div>
          {state.error && <p class="form-error" role="alert">{errorText(state.error)}</p>}
          {state.items.length === 0 && !state.loading && <p class="muted empty">{t("bell_empty")}</p>}
          <ul class="bell-list">
            {state.items.map((n) => (
              <li key={n.id} class={n.read ? "read" : "unread"}>
                <button type="button" class="bell-item" onClick={() => { setOpen(false); void follow(n); }}>
                  <span class="bell-kind">{kindLabel(n.kind)}</span>
                  <span class="bell-title">{titleOf(n)}</span>
                  {n.body && <span class="muted bell-body">{bodyOf(n)}</span>}
                  <time class="muted" dateTime={n.created_at}>{new Date(n.created_at).toLocaleString()}</time>
                </button>
              </li>
            ))}
          </ul>
          {state.next && <button type="button" class="link" onClick={() => void loadMore()}>{t("load_more")}</button>}
        </div>
      )}
      {settings && <NotificationSettingsDialog close={() => setSettings(false)} />}
    </span>
  );
}

/** The title in the reader's language when the console knows its text (ntitle_<key>); else as the server wrote it. */
function titleOf(n: AppNotification): string {
  if (!n.text_key || !n.params) return n.title;
  const key = `ntitle_${n.text_key}`;
  return known(key) ? t(key, n.params) : n.title;
}

function bodyOf(n: AppNotification): string {
  const key = `nbody_${n.text_key ?? ""}`;
  if (!n.params || !known(key)) return n.body;
  const due = n.params.due ? new Date(n.params.due).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
  return t(key, { ...n.params, due });
}

function kindLabel(kind: string): string {
  const key = `notify_kind_${kind}`;
  return known(key) ? t(key) : kind;
}

function NotificationSettingsDialog({ close }: { close: () => void }) {
  const [value, setValue] = useState<NotificationSettings | null>(null);
  const [quiet, setQuiet] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [saving, setSaving] = useState(false);
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    dialog.current?.showModal();
    loadSettings().then((s) => { setValue(s); setQuiet(!!s.quiet_hours); },
      (err) => setError(err instanceof ApiError ? err : new ApiError(0, "error", String(err))));
  }, []);

  const toggle = (kind: string, channel: "console" | "email", on: boolean): void => {
    if (!value) return;
    const current = value.events[kind] ?? [];
    const next = on ? [...new Set([...current, channel])] : current.filter((c) => c !== channel);
    setValue({ ...value, events: { ...value.events, [kind]: next } });
  };

  const save = async (event: Event): Promise<void> => {
    event.preventDefault();
    if (!value) return;
    setSaving(true);
    try {
      const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
      const quietHours = quiet ? { start: value.quiet_hours?.start ?? "22:00", end: value.quiet_hours?.end ?? "08:00",
                                   time_zone: value.quiet_hours?.time_zone ?? zone } : null;
      await saveSettings({ events: value.events, email_mode: value.email_mode, quiet_hours: quietHours });
      close();
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, "error", String(err)));
    } finally {
      setSaving(false);
    }
  };

  const zone = value?.quiet_hours?.time_zone ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? "UTC";
  return (
    <dialog ref={dialog} class="settings" aria-labelledby="notify-title" onClose={close}>
      <form onSubmit={save}>
        <h2 id="notify-title">{t("notify_settings_title")}</h2>
        {!value && !error && <p class="muted">{t("loading")}</p>}
        {value && (
          <>
            <table class="notify-table">
              <thead><tr><th>{t("notify_event")}</th><th>{t("notify_console")}</th><th>{t("notify_email")}</th></tr></thead>
              <tbody>
                {value.kinds.map((kind) => (
                  <tr key={kind}>
                    <td>{kindLabel(kind)}</td>
                    {(["console", "email"] as const).map((channel) => (
                      <td key={channel}>
                        <input type="checkbox" aria-label={`${kindLabel(kind)}: ${t(channel === "console" ? "notify_console" : "notify_email")}`}
                          checked={(value.events[kind] ?? []).includes(channel)}
                          onChange={(e) => toggle(kind, channel, e.currentTarget.checked)} />
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
            <label class="field">
              {t("notify_email_mode")}
              <select value={value.email_mode}
                onChange={(e) => setValue({ ...value, email_mode: e.currentTarget.value as "instant" | "digest" })}>
                <option value="instant">{t("notify_instant")}</option>
                <option value="digest">{t("notify_digest")}</option>
              </select>
            </label>
            <label class="check">
              <input type="checkbox" checked={quiet} onChange={(e) => setQuiet(e.currentTarget.checked)} />
              {t("notify_quiet")}
            </label>
            {quiet && (
              <div class="quiet-hours">
                <label>{t("notify_from")} <input type="time" required value={value.quiet_hours?.start ?? "22:00"}
                  onInput={(e) => setValue({ ...value, quiet_hours: { start: e.currentTarget.value,
                    end: value.quiet_hours?.end ?? "08:00", time_zone: zone } })} /></label>
                <label>{t("notify_to")} <input type="time" required value={value.quiet_hours?.end ?? "08:00"}
                  onInput={(e) => setValue({ ...value, quiet_hours: { start: value.quiet_hours?.start ?? "22:00",
                    end: e.currentTarget.value, time_zone: zone } })} /></label>
                <span class="muted">{zone}</span>
              </div>
            )}
          </>
        )}
        {error && <p class="form-error" role="alert">{errorText(error)}</p>}
        <div class="dialog-actions">
          <button type="button" onClick={() => dialog.current?.close()}>{t("colleague_cancel")}</button>
          <button type="submit" class="primary" disabled={saving || !value}>{saving ? t("loading") : t("settings_save")}</button>
        </div>
      </form>
    </dialog>
  );
}
