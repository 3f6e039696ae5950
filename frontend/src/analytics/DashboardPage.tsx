/** The Dashboard (G1, G2): the last 24 h against the 24 h before, waiting now and the oldest wait, per channel;
 * the workload heat map for a chosen period in the workspace's time zone. Live: it reads the counters again on an
 * `analytics.updated` push. A lazy chunk. */

import { useEffect, useState } from "preact/hooks";
import { apiClient, openConversation } from "../console/state";
import { t } from "../i18n";
import { useStore } from "../store";
import { analytics, closeAnalytics } from "./state";
import { Chart, Downloads, HeatGrid, duration } from "./charts";
import type { Dashboard, Heatmap, Summary } from "./types";
import "./analytics.css";

const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

function Delta({ now, before, lowerIsBetter = false }: { now: number | null; before: number | null;
  lowerIsBetter?: boolean }) {
  if (now === null || before === null || before === 0) return null;
  const change = Math.round(((now - before) / before) * 100);
  if (change === 0) return <span class="delta">±0%</span>;
  const good = lowerIsBetter ? change < 0 : change > 0;
  return <span class={`delta ${good ? "good" : "bad"}`}>{change > 0 ? "+" : ""}{change}%</span>;
}

function Card({ label, value, children, name }: { label: string; value: string | number; name: string;
  children?: preact.ComponentChildren }) {
  return (
    <div class="kpi-card" data-kpi={name}>
      <div class="kpi-label">{label}</div>
      <div class="kpi-value">{value}</div>
      <div class="kpi-extra">{children}</div>
    </div>
  );
}

function Cards({ data }: { data: Dashboard }) {
  const c: Summary = data.current;
  const p: Summary = data.previous;
  return (
    <div class="kpi-cards">
      <Card name="new" label={t("anx_new")} value={c.new}><Delta now={c.new} before={p.new} /></Card>
      <Card name="answered" label={t("anx_answered")} value={c.first_responses}>
        <Delta now={c.first_responses} before={p.first_responses} />
      </Card>
      <Card name="waiting" label={t("anx_waiting_now")} value={data.waiting_now} />
      <Card name="median" label={t("anx_fr_median")} value={duration(c.first_response_median_s)}>
        <Delta now={c.first_response_median_s} before={p.first_response_median_s} lowerIsBetter />
      </Card>
      <Card name="p90" label={t("anx_fr_p90")} value={duration(c.first_response_p90_s)} />
      <Card name="resolved" label={t("anx_resolved")} value={c.resolved}>
        <Delta now={c.resolved} before={p.resolved} />
      </Card>
      <Card name="csat" label={t("anx_csat")} value={c.csat_avg ?? "—"}>
        {c.csat_answers > 0 && <span class="muted">{t("anx_answers", { count: c.csat_answers })}</span>}
      </Card>
      <Card name="nps" label={t("anx_nps")} value={c.nps ?? "—"}>
        {c.nps_answers > 0 && <span class="muted">{t("anx_answers", { count: c.nps_answers })}</span>}
      </Card>
    </div>
  );
}

function open(id: string): void {
  closeAnalytics();
  void openConversation(id);
}

export default function DashboardPage() {
  const { updates } = useStore(analytics);
  const [data, setData] = useState<Dashboard | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [days, setDays] = useState(28);
  const [heat, setHeat] = useState<Heatmap | null>(null);
  useEffect(() => {
    let gone = false;
    const timer = window.setTimeout(() => {
      apiClient().analytics<Dashboard>("dashboard").then((d) => { if (!gone) { setData(d); setError(null); } },
        (err: Error) => { if (!gone) setError(err.message); });
    }, updates ? 1000 : 0);  // pushes come once per stream batch: a second's pause folds a burst into one read
    return () => { gone = true; window.clearTimeout(timer); };
  }, [updates]);
  useEffect(() => {
    const to = new Date(Math.ceil(Date.now() / 3_600_000) * 3_600_000);
    const from = new Date(to.getTime() - days * 86_400_000);
    apiClient().analytics<Heatmap>("heatmap", { from: from.toISOString(), to: to.toISOString(), tz: ZONE })
      .then(setHeat, () => setHeat(null));
  }, [days, updates]);
  if (error) return <section class="analytics-page"><p class="error" role="alert">{error}</p></section>;
  if (!data) return <section class="analytics-page" aria-busy="true"><p class="muted">{t("loading")}</p></section>;
  const empty = data.current.new + data.previous.new + data.current.messages_in + data.previous.messages_in === 0;
  return (
    <section class="analytics-page" aria-label={t("nav_dashboard")}>
      <h1>{t("anx_dashboard_title")}</h1>
      <p class="muted">{t("anx_dashboard_hint")}</p>
      {empty && <p class="empty-state" data-testid="anx-empty">{t("anx_empty")}</p>}
      <Cards data={data} />
      {data.oldest_waiting && (
        <p class="oldest" data-testid="oldest-waiting">
          {t("anx_oldest")}{" "}
          <a href={`/c/${encodeURIComponent(data.oldest_waiting.conversation_id)}`}
            onClick={(e) => { e.preventDefault(); open(data.oldest_waiting!.conversation_id); }}>
            {data.oldest_waiting.contact_name || data.oldest_waiting.conversation_id}
          </a>{" "}<span class="muted">({duration(data.oldest_waiting.waiting_s)})</span>
        </p>
      )}
      <h2>{t("anx_last_24h")} <Downloads id="chart-hourly" name="zabota-24h" /></h2>
      <Chart id="chart-hourly" title={t("anx_messages_in")} labels={data.hourly.map((h) => `${h.hour.slice(11)}:00`)}
        series={[{ name: t("anx_messages_in"), values: data.hourly.map((h) => h.messages_in) }]} />
      <h2>{t("anx_per_channel")}</h2>
      {data.channels.length === 0 ? <p class="muted">{t("anx_no_data")}</p> : (
        <table class="anx-table">
          <thead><tr><th>{t("anx_channel")}</th><th>{t("anx_new")}</th><th>{t("anx_messages_in")}</th>
            <th>{t("anx_answered")}</th><th>{t("anx_fr_median")}</th></tr></thead>
          <tbody>
            {data.channels.map((ch) => (
              <tr key={ch.channel_id}>
                <td>{ch.name}</td><td>{ch.current.new} <Delta now={ch.current.new} before={ch.previous.new} /></td>
                <td>{ch.current.messages_in}</td><td>{ch.current.first_responses}</td>
                <td>{duration(ch.current.first_response_median_s)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>
        {t("anx_heatmap")}{" "}
        <select aria-label={t("anx_period")} value={days} onChange={(e) => setDays(Number(e.currentTarget.value))}>
          {[7, 28, 90].map((d) => <option key={d} value={d}>{t("anx_days", { count: d })}</option>)}
        </select>{" "}
        <Downloads id="chart-heat" name="zabota-heatmap" />
      </h2>
      {heat && <HeatGrid id="chart-heat" cells={heat.cells} max={heat.max}
        title={`${t("anx_heatmap")} (${heat.time_zone})`} />}
      {heat && <p class="muted">{t("anx_time_zone", { zone: heat.time_zone })}</p>}
    </section>
  );
}
