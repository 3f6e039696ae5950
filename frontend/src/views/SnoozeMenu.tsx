/**
 * Snooze and "remind me" in the thread header (E4): presets (in an hour, tomorrow 9:00, next Monday 9:00) or a
 * time of one's own; a snoozed conversation says until when and can be woken now.
 */

import { useState } from "preact/hooks";
import { ApiError } from "../api";
import { currentApi, reloadThread } from "../console/state";
import { t } from "../i18n";
import type { ConversationDetail } from "../types";
import { errorText } from "./errors";

function presets(now = new Date()): { key: "snooze_hour" | "snooze_tomorrow" | "snooze_monday"; at: Date }[] {
  const hour = new Date(now.getTime() + 3_600_000);
  const tomorrow = new Date(now);
  tomorrow.setDate(now.getDate() + 1);
  tomorrow.setHours(9, 0, 0, 0);
  const monday = new Date(now);
  monday.setDate(now.getDate() + ((8 - now.getDay()) % 7 || 7));
  monday.setHours(9, 0, 0, 0);
  return [{ key: "snooze_hour", at: hour }, { key: "snooze_tomorrow", at: tomorrow }, { key: "snooze_monday", at: monday }];
}

/** A local datetime-local value as an ISO time with the browser's offset (the API wants a zone). */
function withZone(local: string): string {
  return new Date(local).toISOString();
}

export function SnoozeMenu({ detail }: { detail: ConversationDetail }) {
  const [open, setOpen] = useState<"snooze" | "remind" | null>(null);
  const [custom, setCustom] = useState("");
  const [note, setNote] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState("");

  const act = async (at: string): Promise<void> => {
    setError(null);
    try {
      if (open === "remind") {
        await currentApi().remind(detail.id, at, note.trim());
        setDone(t("remind_set", { time: new Date(at).toLocaleString() }));
      } else {
        await currentApi().snooze(detail.id, at);
        reloadThread();
      }
      setOpen(null);
      setNote("");
      setCustom("");
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, "error", String(err)));
    }
  };

  if (detail.status === "snoozed" && detail.snoozed_until) {
    return (
      <span class="snoozed" role="status">
        {t("snoozed_until", { time: new Date(detail.snoozed_until).toLocaleString() })}{" "}
        <button type="button" class="link" onClick={async () => {
          await currentApi().snooze(detail.id, null).catch(() => undefined);
          reloadThread();
        }}>{t("snooze_wake")}</button>
      </span>
    );
  }
  return (
    <span class="snooze-wrap">
      {detail.status !== "closed" && (
        <button type="button" aria-expanded={open === "snooze"} onClick={() => setOpen(open === "snooze" ? null : "snooze")}>
          {t("snooze")}</button>
      )}
      <button type="button" class="ghost" aria-expanded={open === "remind"}
        onClick={() => setOpen(open === "remind" ? null : "remind")}>{t("remind_me")}</button>
      {done && <span class="muted" role="status">{done}</span>}
      {open && (
        <div class="snooze-panel" role="group" aria-label={open === "remind" ? t("remind_me") : t("snooze")}>
          {open === "remind" && (
            <input aria-label={t("remind_note")} placeholder={t("remind_note")} maxLength={500} value={note}
              onInput={(e) => setNote(e.currentTarget.value)} />
          )}
          {presets().map((p) => (
            <button type="button" key={p.key} onClick={() => void act(p.at.toISOString())}>
              {t(p.key)} <span class="muted">{p.at.toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit" })}</span>
            </button>
          ))}
          <span class="snooze-custom">
            <input type="datetime-local" aria-label={t("snooze_custom")} value={custom}
              onInput={(e) => setCustom(e.currentTarget.value)} />
            <button type="button" disabled={!custom} onClick={() => void act(withZone(custom))}>{t("snooze_ok")}</button>
          </span>
          {error && <p class="form-error" role="alert">{errorText(error)}</p>}
        </div>
      )}
    </span>
  );
}
