/** Grey placeholders while something loads (announced as busy to screen readers). */

import { t } from "../i18n";

export function ListSkeleton({ rows = 6 }: { rows?: number }) {
  return (
    <div class="skeleton-list" aria-busy="true" aria-label={t("loading")}>
      {Array.from({ length: rows }, (_, i) => (
        <div class="skeleton-row" key={i}><span class="sk sk-avatar" /><span class="sk sk-line" /></div>
      ))}
    </div>
  );
}

export function ThreadSkeleton() {
  return (
    <div class="skeleton-thread" aria-busy="true" aria-label={t("loading")}>
      {[60, 40, 70, 35].map((width, i) => (
        <div key={i} class={`sk sk-bubble ${i % 2 ? "out" : "in"}`} style={{ width: `${width}%` }} />
      ))}
    </div>
  );
}
