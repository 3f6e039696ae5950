/**
 * Outgoing webhooks (E5) inside the Automation dialog: subscribe a URL to events (the signing secret is shown once),
 * switch on / off, a test delivery, and each subscription's delivery log with Redeliver.
 */

import { useEffect, useState } from "preact/hooks";
import { ApiError } from "../api";
import { currentApi } from "../console/state";
import { t } from "../i18n";
import type { Delivery, Hook } from "../types";
import { errorText } from "./errors";

function asError(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError(0, "error", String(err));
}

export function WebhooksPanel() {
  const api = currentApi();
  const [hooks, setHooks] = useState<Hook[] | null>(null);
  const [events, setEvents] = useState<Record<string, string>>({});
  const [url, setUrl] = useState("");
  const [chosen, setChosen] = useState<string[]>(["message.received"]);
  const [secret, setSecret] = useState("");
  const [log, setLog] = useState<{ id: string; items: Delivery[] } | null>(null);
  const [error, setError] = useState<ApiError | null>(null);

  const load = (): void => {
    api.hooks().then((h) => { setHooks(h.items); setEvents(h.events); }, (e) => setError(asError(e)));
  };
  useEffect(load, []);
  const showLog = (id: string): void => {
    api.deliveries(id).then((d) => setLog({ id, items: d.items }), (e) => setError(asError(e)));
  };
  useEffect(() => {  // while a delivery is on its way, the log asks again
    if (!log || !log.items.some((d) => d.state === "pending" || d.state === "sending")) return undefined;
    const timer = window.setTimeout(() => showLog(log.id), 1500);
    return () => window.clearTimeout(timer);
  }, [log]);
  const create = async (event: Event): Promise<void> => {
    event.preventDefault();
    setError(null);
    try {
      const made = await api.createHook(url.trim(), chosen);
      setSecret(made.secret);
      setUrl("");
      load();
    } catch (err) {
      setError(asError(err));
    }
  };

  return (
    <div class="webhooks-panel">
      {hooks === null && !error && <p class="muted">{t("loading")}</p>}
      {hooks?.length === 0 && <p class="muted">{t("hooks_empty")}</p>}
      <ul class="hook-list">
        {hooks?.map((h) => (
          <li key={h.id}>
            <code>{h.url}</code> <span class="muted">{h.events.join(", ")}</span>
            {h.disabled_reason && <span class="form-error">{h.disabled_reason}</span>}
            <label class="check"><input type="checkbox" checked={h.enabled}
              onChange={(e) => api.patchHook(h.id, { enabled: e.currentTarget.checked }).then(load, (err) => setError(asError(err)))} />
              {t("rule_enabled")}</label>
            <button type="button" class="link" onClick={() => api.pingHook(h.id).then(() => showLog(h.id))}>{t("hooks_ping")}</button>
            <button type="button" class="link" onClick={() => showLog(h.id)}>{t("hooks_log")}</button>
            <button type="button" class="link" onClick={() => api.deleteHook(h.id).then(load, (err) => setError(asError(err)))}>{t("settings_remove")}</button>
          </li>
        ))}
      </ul>
      {log && (
        <table class="delivery-log" aria-label={t("hooks_log")}>
          <thead><tr><th>{t("hooks_event")}</th><th>{t("hooks_state")}</th><th>{t("hooks_attempts")}</th><th>{t("hooks_answer")}</th><th /></tr></thead>
          <tbody>
            {log.items.length === 0 && <tr><td colSpan={5} class="muted">{t("hooks_no_deliveries")}</td></tr>}
            {log.items.map((d) => (
              <tr key={d.id}>
                <td>{d.event}</td><td>{d.state}</td><td>{d.attempts}</td>
                <td>{d.last_status ?? ""} <span class="muted">{d.last_error ?? ""}</span></td>
                <td>{(d.state === "delivered" || d.state === "failed") && (
                  <button type="button" class="link" onClick={() => api.redeliver(log.id, d.id).then(() => showLog(log.id), (e) => setError(asError(e)))}>
                    {t("hooks_redeliver")}</button>)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {secret && (
        <p class="notice-inline" role="status">{t("hooks_secret")} <code>{secret}</code></p>
      )}
      <form class="hook-form" onSubmit={create}>
        <label class="field">{t("hooks_url")}
          <input type="url" required value={url} placeholder="https://crm.example.org/zabota" onInput={(e) => setUrl(e.currentTarget.value)} /></label>
        <fieldset>
          <legend>{t("hooks_events")}</legend>
          {Object.entries(events).filter(([e]) => e !== "rule.triggered").map(([e, what]) => (
            <label class="check" key={e} title={what}>
              <input type="checkbox" checked={chosen.includes(e)}
                onChange={(ev) => setChosen(ev.currentTarget.checked ? [...chosen, e] : chosen.filter((x) => x !== e))} />{e}
            </label>
          ))}
        </fieldset>
        <button type="submit" disabled={!url.trim() || chosen.length === 0}>{t("hooks_add")}</button>
      </form>
      {error && <p class="form-error" role="alert">{errorText(error)}</p>}
    </div>
  );
}
