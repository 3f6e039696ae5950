/**
 * CSAT and NPS surveys (G4) inside the Automation dialog: on / off, the questions (ru / en), the delay after a close,
 * the "not again within N days" window, the NPS schedule, how long an answer is taken, and the channels.
 * The server validates; its reason is shown as is.
 */

import { useEffect, useState } from "preact/hooks";
import { ApiError } from "../api";
import { currentApi } from "../console/state";
import { t } from "../i18n";
import type { SurveySettings } from "../types";
import { errorText } from "./errors";

export const SURVEY_CHANNELS = ["telegram", "vk", "ok", "whatsapp", "instagram", "messenger", "email", "widget"];

function asError(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError(0, "error", String(err));
}

export function SurveysPanel({ close }: { close: () => void }) {
  const api = currentApi();
  const [s, setS] = useState<SurveySettings | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState(false);
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    api.surveySettings().then(setS, (e) => setError(asError(e)));
  }, []);
  const patch = (change: Partial<SurveySettings>): void => {
    if (s) setS({ ...s, ...change });
    setSaved(false);
  };
  const save = async (event: Event): Promise<void> => {
    event.preventDefault();
    if (!s) return;
    setSaving(true);
    setError(null);
    try {
      setS(await api.saveSurveySettings(s));
      setSaved(true);
    } catch (err) {
      setError(asError(err));
    } finally {
      setSaving(false);
    }
  };
  const number = (key: "delay_minutes" | "csat_window_days" | "nps_interval_days" | "answer_hours", min: number,
    max: number) => (
    <input type="number" min={min} max={max} required value={s?.[key] ?? 0} name={key}
      onInput={(e) => patch({ [key]: Number(e.currentTarget.value) } as Partial<SurveySettings>)} />
  );

  const toggle = (key: "csat_enabled" | "nps_enabled", label: string) => (
    <label class="check">
      <input type="checkbox" name={key} checked={!!s?.[key]} onChange={(e) => patch({ [key]: e.currentTarget.checked })} />
      {label}
    </label>
  );

  return (
    <form class="surveys-panel" onSubmit={save}>
      {!s && !error && <p class="muted">{t("loading")}</p>}
      {s && (
        <>
          <fieldset>
            <legend>{t("surveys_csat")}</legend>
            {toggle("csat_enabled", t("surveys_csat_on"))}
            <label class="field">{t("surveys_question_ru")}
              <textarea rows={2} maxLength={500} value={s.csat_question.ru ?? ""} placeholder={t("surveys_default")}
                onInput={(e) => patch({ csat_question: { ...s.csat_question, ru: e.currentTarget.value } })} />
            </label>
            <label class="field">{t("surveys_question_en")}
              <textarea rows={2} maxLength={500} value={s.csat_question.en ?? ""} placeholder={t("surveys_default")}
                onInput={(e) => patch({ csat_question: { ...s.csat_question, en: e.currentTarget.value } })} />
            </label>
            <label class="field">{t("surveys_delay")} {number("delay_minutes", 0, 1440)}</label>
            <label class="field">{t("surveys_window")} {number("csat_window_days", 0, 365)}</label>
            <label class="field">{t("surveys_answer_hours")} {number("answer_hours", 1, 336)}</label>
          </fieldset>
          <fieldset>
            <legend>{t("surveys_nps")}</legend>
            {toggle("nps_enabled", t("surveys_nps_on"))}
            <label class="field">{t("surveys_nps_interval")} {number("nps_interval_days", 1, 730)}</label>
          </fieldset>
          <fieldset>
            <legend>{t("surveys_channels")}</legend>
            {SURVEY_CHANNELS.map((kind) => (
              <label class="check" key={kind}>
                <input type="checkbox" checked={s.channels.includes(kind)} onChange={(e) => patch({
                  channels: e.currentTarget.checked ? [...s.channels, kind] : s.channels.filter((k) => k !== kind) })} />
                {kind}
              </label>
            ))}
            <p class="muted">{t("surveys_hint")}</p>
          </fieldset>
        </>
      )}
      {error && <p class="form-error" role="alert">{errorText(error)}</p>}
      {saved && <p class="muted" role="status">{t("surveys_saved")}</p>}
      <div class="dialog-actions">
        <button type="button" onClick={close}>{t("automation_close")}</button>
        <button type="submit" class="primary" disabled={saving || !s}>{saving ? t("loading") : t("settings_save")}</button>
      </div>
    </form>
  );
}
