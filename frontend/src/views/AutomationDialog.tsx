/**
 * Automation settings for admins: working hours with holidays and the off-hours message (E1), SLA policies by
 * tag or channel (E2). The server validates (time zone, overlaps, minutes) and its reason is shown as is.
 */

import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "../api";
import { currentApi, saveTeamSettings, store } from "../console/state";
import { t } from "../i18n";
import type { Key } from "../i18n";
import { useStore } from "../store";
import type { SlaPolicy, TeamSettings, Weekday, WorkingHours } from "../types";
import { WEEKDAYS } from "../types";
import { errorText } from "./errors";
import { RulesPanel } from "./RulesPanel";
import { SurveysPanel } from "./SurveysPanel";
import { WebhooksPanel } from "./WebhooksPanel";

type Tab = "hours" | "rules" | "hooks" | "surveys";

interface Day { open: boolean; start: string; end: string }

function daysOf(hours: WorkingHours | null | undefined): Record<Weekday, Day> {
  const out = {} as Record<Weekday, Day>;
  for (const day of WEEKDAYS) {
    const first = hours?.week?.[day]?.[0];
    const weekday = day !== "sat" && day !== "sun";
    out[day] = first ? { open: true, start: first[0], end: first[1] === "24:00" ? "23:59" : first[1] }
      : { open: !hours && weekday, start: "09:00", end: "18:00" };
  }
  return out;
}

function zones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  return intl.supportedValuesOf ? intl.supportedValuesOf("timeZone") : ["UTC", "Europe/Moscow"];
}

export function AutomationButton() {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" class="ghost" aria-haspopup="dialog" onClick={() => setOpen(true)}>
        {t("automation_open")}</button>
      {open && <AutomationDialog close={() => setOpen(false)} />}
    </>
  );
}

function AutomationDialog({ close }: { close: () => void }) {
  const { channels } = useStore(store);
  const [loaded, setLoaded] = useState<TeamSettings | null>(null);
  const [enabled, setEnabled] = useState(false);
  const [zone, setZone] = useState(Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC");
  const [days, setDays] = useState<Record<Weekday, Day>>(daysOf(null));
  const [holidays, setHolidays] = useState("");
  const [offRu, setOffRu] = useState("");
  const [offEn, setOffEn] = useState("");
  const [policies, setPolicies] = useState<SlaPolicy[]>([]);
  const [error, setError] = useState<ApiError | null>(null);
  const [saving, setSaving] = useState(false);
  const [tab, setTab] = useState<Tab>("hours");
  const dialog = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    dialog.current?.showModal();
    currentApi().teamSettings().then((s) => {
      setLoaded(s);
      setEnabled(!!s.working_hours);
      if (s.working_hours) setZone(s.working_hours.time_zone);
      setDays(daysOf(s.working_hours));
      setHolidays((s.working_hours?.holidays ?? []).join(", "));
      setOffRu(s.off_hours_messages?.ru ?? "");
      setOffEn(s.off_hours_messages?.en ?? "");
      setPolicies(s.sla_policies ?? []);
    }, (err) => setError(err instanceof ApiError ? err : new ApiError(0, "error", String(err))));
  }, []);

  const setDay = (day: Weekday, patch: Partial<Day>): void => setDays({ ...days, [day]: { ...days[day], ...patch } });
  const setPolicy = (index: number, patch: Partial<SlaPolicy>): void =>
    setPolicies(policies.map((p, i) => (i === index ? { ...p, ...patch } : p)));

  const save = async (event: Event): Promise<void> => {
    event.preventDefault();
    const week: WorkingHours["week"] = {};
    for (const day of WEEKDAYS) {
      const d = days[day];
      if (d.open) week[day] = [[d.start, d.end === "23:59" ? "24:00" : d.end]];
    }
    const workingHours = enabled ? {
      time_zone: zone.trim(), week,
      holidays: holidays.split(/[\s,;]+/).map((h) => h.trim()).filter(Boolean),
    } : null;
    setSaving(true);
    const failed = await saveTeamSettings({
      working_hours: workingHours, off_hours_messages: { ru: offRu, en: offEn },
      sla_policies: policies.map((p, i) => ({ ...p, id: p.id || `p${i + 1}`, name: p.name || `SLA ${i + 1}` })),
    });
    setSaving(false);
    if (failed) setError(failed);
    else close();
  };

  return (
    <dialog ref={dialog} class="settings automation" aria-labelledby="automation-title" onClose={close}>
      <h2 id="automation-title">{t("automation_title")}</h2>
      <div class="tabs" role="tablist" aria-label={t("automation_title")}>
        {(["hours", "rules", "hooks", "surveys"] as Tab[]).map((id) => (
          <button type="button" role="tab" key={id} aria-selected={tab === id} onClick={() => setTab(id)}>
            {t(`automation_tab_${id}` as Key)}</button>
        ))}
      </div>
      {tab === "rules" && <RulesPanel />}
      {tab === "hooks" && <WebhooksPanel />}
      {tab === "surveys" && <SurveysPanel close={() => dialog.current?.close()} />}
      {tab !== "hours" && tab !== "surveys" && (
        <div class="dialog-actions">
          <button type="button" onClick={() => dialog.current?.close()}>{t("automation_close")}</button>
        </div>
      )}
      <form onSubmit={save} hidden={tab !== "hours"}>
        {!loaded && !error && <p class="muted">{t("loading")}</p>}
        <fieldset>
          <legend>{t("hours_title")}</legend>
          <label class="check">
            <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} />
            {t("hours_enabled")}
          </label>
          {!enabled && <p class="muted">{t("hours_always_open")}</p>}
          {enabled && (
            <>
              <label class="field">{t("hours_zone")}
                <input list="zones" required value={zone} onInput={(e) => setZone(e.currentTarget.value)} />
                <datalist id="zones">{zones().map((z) => <option key={z} value={z} />)}</datalist>
              </label>
              <table class="hours-table">
                <tbody>
                  {WEEKDAYS.map((day) => (
                    <tr key={day}>
                      <td><label class="check"><input type="checkbox" checked={days[day].open}
                        onChange={(e) => setDay(day, { open: e.currentTarget.checked })} />{t(`day_${day}` as Key)}</label></td>
                      <td><input type="time" aria-label={`${t(`day_${day}` as Key)} ${t("notify_from")}`}
                        disabled={!days[day].open} value={days[day].start}
                        onInput={(e) => setDay(day, { start: e.currentTarget.value })} /></td>
                      <td><input type="time" aria-label={`${t(`day_${day}` as Key)} ${t("notify_to")}`}
                        disabled={!days[day].open} value={days[day].end}
                        onInput={(e) => setDay(day, { end: e.currentTarget.value })} /></td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <label class="field">{t("hours_holidays")}
                <input value={holidays} placeholder="2026-12-31, 2027-01-01"
                  onInput={(e) => setHolidays(e.currentTarget.value)} />
              </label>
              <label class="field">{t("hours_off_ru")}
                <textarea rows={2} maxLength={1000} value={offRu} onInput={(e) => setOffRu(e.currentTarget.value)} />
              </label>
              <label class="field">{t("hours_off_en")}
                <textarea rows={2} maxLength={1000} value={offEn} onInput={(e) => setOffEn(e.currentTarget.value)} />
              </label>
              <p class="muted">{t("hours_off_hint")}</p>
            </>
          )}
        </fieldset>
        <fieldset>
          <legend>{t("sla_title")}</legend>
          <p class="muted">{t("sla_hint", { minutes: String(loaded?.sla_minutes ?? 30) })}</p>
          {policies.length === 0 && <p class="muted">{t("sla_empty")}</p>}
          {policies.map((p, i) => (
            <div class="sla-policy" key={i}>
              <input aria-label={t("sla_name")} placeholder={t("sla_name")} maxLength={80} value={p.name}
                onInput={(e) => setPolicy(i, { name: e.currentTarget.value })} />
              <input aria-label={t("sla_tags")} placeholder={t("sla_tags")} value={p.tags.join(", ")}
                onInput={(e) => setPolicy(i, { tags: e.currentTarget.value.split(",").map((x) => x.trim()).filter(Boolean) })} />
              <select aria-label={t("sla_channel")} value={p.channel_ids[0] ?? ""}
                onChange={(e) => setPolicy(i, { channel_ids: e.currentTarget.value ? [e.currentTarget.value] : [] })}>
                <option value="">{t("sla_any_channel")}</option>
                {channels.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
              </select>
              <label>{t("sla_first")} <input type="number" min={1} max={10080} required value={p.first_response_minutes}
                onInput={(e) => setPolicy(i, { first_response_minutes: Number(e.currentTarget.value) })} /></label>
              <label>{t("sla_next")} <input type="number" min={1} max={10080} required value={p.next_response_minutes}
                onInput={(e) => setPolicy(i, { next_response_minutes: Number(e.currentTarget.value) })} /></label>
              <button type="button" class="link" onClick={() => setPolicies(policies.filter((_, j) => j !== i))}>
                {t("settings_remove")}</button>
            </div>
          ))}
          <button type="button" disabled={policies.length >= 20} onClick={() => setPolicies([...policies, {
            id: "", name: "", channel_ids: [], tags: [], first_response_minutes: 15, next_response_minutes: 30 }])}>
            {t("sla_add")}</button>
        </fieldset>
        {error && <p class="form-error" role="alert">{errorText(error)}</p>}
        <div class="dialog-actions">
          <button type="button" onClick={() => dialog.current?.close()}>{t("colleague_cancel")}</button>
          <button type="submit" class="primary" disabled={saving || !loaded}>{saving ? t("loading") : t("settings_save")}</button>
        </div>
      </form>
    </dialog>
  );
}
