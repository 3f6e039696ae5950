/**
 * Charts drawn as plain SVG (no chart library: this file is about 2 KB gzipped, uPlot would be about 20 KB), and
 * their download as SVG or PNG. Colours are fixed in the SVG so a downloaded file looks as it does on screen.
 */

import { t } from "../i18n";

export const COLORS = ["#2563eb", "#16a34a", "#ea580c", "#9333ea", "#0891b2", "#dc2626", "#ca8a04", "#4b5563"];
const W = 720;
const H = 240;
const PAD = { left: 44, right: 12, top: 12, bottom: 28 };

export interface Series {
  name: string;
  values: number[];
}

function nice(max: number): number {
  if (max <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 5, 10].map((m) => m * power).find((v) => v >= max) ?? max;
}

/** Lines (or bars when there is one series) over shared labels. */
export function Chart({ id, labels, series, title }: { id: string; labels: string[]; series: Series[]; title: string }) {
  const top = nice(Math.max(0, ...series.flatMap((s) => s.values)));
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const x = (i: number): number => PAD.left + (labels.length <= 1 ? innerW / 2 : (i * innerW) / (labels.length - 1));
  const y = (v: number): number => PAD.top + innerH - (v / top) * innerH;
  const step = Math.max(1, Math.ceil(labels.length / 8));
  const bars = series.length === 1;
  const barW = Math.max(2, innerW / Math.max(1, labels.length) - 2);
  return (
    <svg id={id} class="chart" viewBox={`0 0 ${W} ${H}`} width="100%" role="img" aria-label={title}
      xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">
      <title>{title}</title>
      <rect x="0" y="0" width={W} height={H} fill="#ffffff" />
      {[0, 0.5, 1].map((f) => (
        <g key={f}>
          <line x1={PAD.left} x2={W - PAD.right} y1={y(top * f)} y2={y(top * f)} stroke="#e5e7eb" />
          <text x={PAD.left - 6} y={y(top * f) + 4} text-anchor="end" fill="#6b7280">{Math.round(top * f)}</text>
        </g>
      ))}
      {labels.map((label, i) => (i % step === 0 ? (
        <text key={label} x={bars ? PAD.left + i * (innerW / labels.length) + barW / 2 : x(i)} y={H - 8}
          text-anchor="middle" fill="#6b7280">{label.length > 10 ? label.slice(5) : label}</text>
      ) : null))}
      {bars ? series[0].values.map((v, i) => (
        <rect key={i} x={PAD.left + i * (innerW / labels.length)} y={y(v)} width={barW} height={Math.max(0, y(0) - y(v))}
          fill={COLORS[0]}><title>{`${labels[i]}: ${v}`}</title></rect>
      )) : series.map((s, n) => (
        <polyline key={s.name} fill="none" stroke={COLORS[n % COLORS.length]} stroke-width="2"
          points={s.values.map((v, i) => `${x(i)},${y(v)}`).join(" ")}><title>{s.name}</title></polyline>
      ))}
    </svg>
  );
}

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;

/** Weekday x hour, darker for more. */
export function HeatGrid({ id, cells, max, title }: { id: string; cells: number[][]; max: number; title: string }) {
  const cw = 26;
  const ch = 22;
  const left = 40;
  return (
    <svg id={id} class="chart heat" viewBox={`0 0 ${left + 24 * cw + 4} ${7 * ch + 24}`} width="100%" role="img"
      aria-label={title} xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="10">
      <title>{title}</title>
      <rect x="0" y="0" width={left + 24 * cw + 4} height={7 * ch + 24} fill="#ffffff" />
      {Array.from({ length: 24 }, (_, h) => (h % 3 === 0 ? (
        <text key={h} x={left + h * cw + cw / 2} y={7 * ch + 16} text-anchor="middle" fill="#6b7280">{h}</text>
      ) : null))}
      {cells.map((row, d) => (
        <g key={d}>
          <text x={left - 6} y={d * ch + ch / 2 + 4} text-anchor="end" fill="#6b7280">{t(`anx_day_${DAYS[d]}`)}</text>
          {row.map((n, h) => (
            <rect key={h} x={left + h * cw} y={d * ch} width={cw - 2} height={ch - 2} rx="3"
              fill={n === 0 ? "#f3f4f6" : `rgba(37, 99, 235, ${(0.15 + 0.85 * (n / Math.max(1, max))).toFixed(2)})`}
              data-cell={`${d}-${h}`} data-count={n}>
              <title>{`${t(`anx_day_${DAYS[d]}`)} ${h}:00 — ${n}`}</title>
            </rect>
          ))}
        </g>
      ))}
    </svg>
  );
}

function save(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function svgText(id: string): string | null {
  const svg = document.getElementById(id);
  return svg ? new XMLSerializer().serializeToString(svg) : null;
}

export function downloadSvg(id: string, name: string): void {
  const text = svgText(id);
  if (text) save(new Blob([text], { type: "image/svg+xml" }), `${name}.svg`);
}

export function downloadPng(id: string, name: string): void {
  const text = svgText(id);
  const svg = document.getElementById(id) as SVGSVGElement | null;
  if (!text || !svg) return;
  const box = svg.viewBox.baseVal;
  const image = new Image();
  image.onload = () => {
    const canvas = document.createElement("canvas");
    canvas.width = box.width * 2;
    canvas.height = box.height * 2;
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
    canvas.toBlob((blob) => blob && save(blob, `${name}.png`), "image/png");
  };
  image.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(text)}`;
}

export function Downloads({ id, name }: { id: string; name: string }) {
  return (
    <span class="chart-downloads">
      <button type="button" class="ghost small" onClick={() => downloadPng(id, name)}>PNG</button>
      <button type="button" class="ghost small" onClick={() => downloadSvg(id, name)}>SVG</button>
    </span>
  );
}

export function duration(seconds: number | null): string {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 60) return `${Math.round(seconds)} ${t("unit_s")}`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} ${t("unit_min")}`;
  if (seconds < 86400) return `${(seconds / 3600).toFixed(1)} ${t("unit_h")}`;
  return `${(seconds / 86400).toFixed(1)} ${t("unit_d")}`;
}
