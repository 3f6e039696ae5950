/** What the analytics API answers (chalicelib/api/analytics.py). */

export interface Summary {
  new: number;
  messages_in: number;
  messages_out: number;
  first_responses: number;
  resolved: number;
  reopened: number;
  sla_breaches: number;
  first_response_median_s: number | null;
  first_response_p90_s: number | null;
  resolution_median_s: number | null;
  csat_answers: number;
  csat_avg: number | null;
  nps_answers: number;
  nps: number | null;
}

export interface Dashboard {
  generated_at: string;
  current: Summary;
  previous: Summary;
  waiting_now: number;
  oldest_waiting: { conversation_id: string; contact_name: string; waiting_s: number } | null;
  channels: { channel_id: string; name: string; current: Summary; previous: Summary }[];
  hourly: { hour: string; new: number; messages_in: number }[];
}

export interface Heatmap {
  time_zone: string;
  cells: number[][];
  max: number;
}

export interface Kpi {
  handled: number;
  replies: number;
  first_responses: number;
  first_response_median_s: number | null;
  first_response_p90_s: number | null;
  resolution_median_s: number | null;
  csat_avg: number | null;
  csat_answers: number;
}

export interface Kpis {
  workspace: Kpi;
  operators: (Kpi & { user_id: string; name: string; role: string })[];
  teams: (Kpi & { team_id: string; name: string })[];
}

export interface Point {
  period: string;
  new: number;
  messages_in: number;
  messages_out: number;
  resolved: number;
  first_response_median_s: number | null;
  csat_avg: number | null;
}

export interface Report {
  group: string;
  time_zone: string;
  groups: { key: string; name: string; totals: Summary; series: Point[] }[];
}

export interface ExportJob {
  id: string;
  state: "pending" | "running" | "done" | "failed";
  rows_written: number;
  rows_expected: number | null;
  url: string | null;
  file_name: string;
  error: string | null;
}
