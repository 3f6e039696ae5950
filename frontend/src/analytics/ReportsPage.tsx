/** Reports (G3, G5, D6): by channel, tag, operator or in total for a period, with a chart (PNG / SVG); operator
 * and team KPIs with the lead's review of one operator's dialogs; export as CSV or XLSX with a progress bar.
 * A lazy chunk. */

import { useEffect, useState } from "preact/hooks";
import { apiClient, openConversation } from "../console/state";
import { t } from "../i18n";
import type { Conversation } from "../types";
import { Chart, Downloads, duration } from "./charts";
import { closeAnalytics } from "./state";
import type { ExportJob, Kpi, Kpis, Report } from "./types";
import "./analytics.css";

const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
const GROUPS = ["channel", "tag", "operator", "total"] as const;
const METRICS = ["messages_in", "new", "resolved", "messages_out"] as const;
type Metric = (typeof METRICS)[number];

function day(offset: number): string {
  const d = new Date(Date.now() + offset * 86_400_000);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

/** A local date as the start of that day in UTC ISO (the API reads offsets). */
function startOf(date: string): string {
  return new Date(`${date}T00:00:00`).toISOString();
}

function KpiCells({ k }: { k: Kpi }) {
  return (
    <>
      <td>{k.handled}</td><td>{k.replies}</td><td>{duration(k.first_response_median_s)}</td>
      <td>{duration(k.first_response_p90_s)}</td><td>{duration(k.resolution_median_s)}</td>
      <td>{k.csat_avg ?? "—"}{k.csat_answers > 0 && <span class="muted"> ({k.csat_answers})</span>}</td>
    </>
  );
}

function KpiHead({ first }: { first: string }) {
  return (
    <thead><tr><th>{first}</th><th>{t("anx_handled")}</th><th>{t("anx_replies")}</th><th>{t("anx_fr_median")}</th>
      <th>{t("anx_fr_p90")}</th><th>{t("anx_resolution_median")}</th><th>{t("anx_csat")}</th><th /></tr></thead>
  );
}

function Dialogs({ userId, name, onClose }: { userId: string; name: string; onClose: () => void }) {
  const [items, setItems] = useState<Conversation[] | null>(null);
  useEffect(() => {
    Promise.all((["in_progress", "closed", "new"] as const).map((status) =>
      apiClient().conversations({ assignee: userId, status, limit: 50 })))
      .then((pages) => setItems(pages.flatMap((p) => p.items)), () => setItems([]));
  }, [userId]);
  return (
    <div class="review" role="region" aria-label={t("anx_review_of", { name })}>
      <h3>{t("anx_review_of", { name })} <button type="button" class="ghost small" onClick={onClose}>×</button></h3>
      {items === null ? <p class="muted">{t("loading")}</p> : items.length === 0 ? <p class="muted">{t("anx_no_dialogs")}</p> : (
        <ul class="review-list">
          {items.map((c) => (
            <li key={c.id}>
              <a href={`/c/${encodeURIComponent(c.id)}`}
                onClick={(e) => { e.preventDefault(); closeAnalytics(); void openConversation(c.id); }}>
                {c.contact_name || c.id}
              </a>{" "}<span class="muted">{c.status} · {c.last_message_preview}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function ExportBar({ from, to }: { from: string; to: string }) {
  const [job, setJob] = useState<ExportJob | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!job || job.state === "done" || job.state === "failed") return undefined;
    const timer = window.setTimeout(() => {
      apiClient().exportJob<ExportJob>(job.id).then(setJob, (err: Error) => setError(err.message));
    }, 1000);
    return () => window.clearTimeout(timer);
  }, [job]);
  const start = (format: "csv" | "xlsx", rows: "conversations" | "hours"): void => {
    setError(null);
    apiClient().startExport<ExportJob>({ format, rows, from: startOf(from), to: startOf(to), tz: ZONE })
      .then(setJob, (err: Error) => setError(err.message));
  };
  const fraction = job?.rows_expected ? Math.min(1, job.rows_written / Math.max(1, job.rows_expected)) : null;
  return (
    <div class="export-bar">
      <span>{t("anx_export")}:</span>
      <button type="button" onClick={() => start("csv", "conversations")}>{t("anx_export_csv")}</button>
      <button type="button" onClick={() => start("xlsx", "conversations")}>{t("anx_export_xlsx")}</button>
      <button type="button" class="ghost" onClick={() => start("xlsx", "hours")}>{t("anx_export_hours")}</button>
      {job && job.state !== "done" && job.state !== "failed" && (
        <progress data-testid="export-progress" max={1} value={job.state === "pending" ? undefined : fraction ?? undefined}
          aria-label={t("anx_export_progress", { rows: job.rows_written })} />
      )}
      {job?.state === "done" && job.url && (
        <a class="button" href={job.url} download={job.file_name} data-testid="export-link">
          {t("anx_export_ready", { rows: job.rows_written })}
        </a>
      )}
      {(job?.state === "failed" || error) && <span class="error" role="alert">{job?.error || error}</span>}
    </div>
  );
}

export default function ReportsPage() {
  const [group, setGroup] = useState<(typeof GROUPS)[number]>("channel");
  const [metric, setMetric] = useState<Metric>("messages_in");
  const [from, setFrom] = useState(day(-6));
  const [to, setTo] = useState(day(1));
  const [report, setReport] = useState<Report | null>(null);
  const [kpis, setKpis] = useState<Kpis | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [review, setReview] = useState<{ id: string; name: string } | null>(null);
  useEffect(() => {
    const query = { from: startOf(from), to: startOf(to), tz: ZONE };
    setError(null);
    Promise.all([apiClient().analytics<Report>("report", { ...query, group, interval: "day" }),
      apiClient().analytics<Kpis>("kpis", { from: query.from, to: query.to })])
      .then(([r, k]) => { setReport(r); setKpis(k); }, (err: Error) => setError(err.message));
  }, [group, from, to]);
  const periods = [...new Set((report?.groups ?? []).flatMap((g) => g.series.map((p) => p.period)))].sort();
  const shown = (report?.groups ?? []).slice(0, 8);
  const series = shown.map((g) => ({
    name: g.name || t("anx_total"),
    values: periods.map((p) => Number(g.series.find((s) => s.period === p)?.[metric] ?? 0)),
  }));
  return (
    <section class="analytics-page" aria-label={t("nav_reports")}>
      <h1>{t("anx_reports_title")}</h1>
      <div class="report-filters">
        <label>{t("anx_group")}{" "}
          <select value={group} onChange={(e) => setGroup(e.currentTarget.value as typeof group)} name="group">
            {GROUPS.map((g) => <option key={g} value={g}>{t(`anx_group_${g}`)}</option>)}
          </select>
        </label>
        <label>{t("anx_metric")}{" "}
          <select value={metric} onChange={(e) => setMetric(e.currentTarget.value as Metric)} name="metric">
            {METRICS.map((m) => <option key={m} value={m}>{t(`anx_metric_${m}`)}</option>)}
          </select>
        </label>
        <label>{t("anx_from")} <input type="date" value={from} onChange={(e) => setFrom(e.currentTarget.value)} /></label>
        <label>{t("anx_to")} <input type="date" value={to} onChange={(e) => setTo(e.currentTarget.value)} /></label>
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {report && report.groups.length === 0 && <p class="empty-state" data-testid="anx-empty">{t("anx_empty")}</p>}
      {report && report.groups.length > 0 && (
        <>
          <h2>{t(`anx_metric_${metric}`)} <Downloads id="chart-report" name={`zabota-${group}-${metric}`} /></h2>
          <Chart id="chart-report" title={t(`anx_metric_${metric}`)} labels={periods} series={series} />
          <ul class="legend">
            {series.map((s, i) => <li key={s.name}><span class={`swatch c${i}`} />{s.name}</li>)}
          </ul>
          <table class="anx-table" data-testid="report-table">
            <thead><tr><th>{t(`anx_group_${group}`)}</th><th>{t("anx_new")}</th><th>{t("anx_messages_in")}</th>
              <th>{t("anx_metric_messages_out")}</th><th>{t("anx_resolved")}</th><th>{t("anx_fr_median")}</th>
              <th>{t("anx_csat")}</th><th>{t("anx_sla")}</th></tr></thead>
            <tbody>
              {report.groups.map((g) => (
                <tr key={g.key}>
                  <td>{g.name || t("anx_total")}</td><td>{g.totals.new}</td><td>{g.totals.messages_in}</td>
                  <td>{g.totals.messages_out}</td><td>{g.totals.resolved}</td>
                  <td>{duration(g.totals.first_response_median_s)}</td><td>{g.totals.csat_avg ?? "—"}</td>
                  <td>{g.totals.sla_breaches}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <ExportBar from={from} to={to} />
      <h2>{t("anx_kpis")}</h2>
      {kpis && (
        <table class="anx-table" data-testid="kpi-table">
          <KpiHead first={t("anx_operator")} />
          <tbody>
            <tr class="total"><td>{t("anx_total")}</td><KpiCells k={kpis.workspace} /><td /></tr>
            {kpis.operators.map((o) => (
              <tr key={o.user_id} data-user={o.user_id}>
                <td>{o.name}</td><KpiCells k={o} />
                <td><button type="button" class="ghost small"
                  onClick={() => setReview({ id: o.user_id, name: o.name })}>{t("anx_dialogs")}</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {review && <Dialogs userId={review.id} name={review.name} onClose={() => setReview(null)} />}
      {kpis && kpis.teams.length > 0 && (
        <table class="anx-table" data-testid="team-table">
          <KpiHead first={t("anx_team")} />
          <tbody>
            {kpis.teams.map((team) => <tr key={team.team_id}><td>{team.name}</td><KpiCells k={team} /><td /></tr>)}
          </tbody>
        </table>
      )}
    </section>
  );
}
