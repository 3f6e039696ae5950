/**
 * Which analytics page shows (Dashboard or Reports, G1-G5) and the way there and back: `/analytics` and
 * `/reports` in the address. The pages themselves are lazy chunks (views/AnalyticsHost.tsx); this module is small
 * and in the main bundle. The top bar's Inbox and Tasks close an
 * analytics page (views/TasksNav.tsx).
 */

import { onLive } from "../console/state";
import { Store } from "../store";

export type AnalyticsPage = "dashboard" | "reports";

function pageInUrl(): AnalyticsPage | null {
  if (/^\/analytics\/?$/.test(location.pathname)) return "dashboard";
  if (/^\/reports\/?$/.test(location.pathname)) return "reports";
  return null;
}

export const analytics = new Store<{ page: AnalyticsPage | null; updates: number }>({ page: pageInUrl(), updates: 0 });

const PATHS: Record<AnalyticsPage, string> = { dashboard: "/analytics", reports: "/reports" };

export function showAnalytics(page: AnalyticsPage): void {
  if (location.pathname !== PATHS[page]) history.pushState(null, "", PATHS[page]);
  analytics.update({ page });
}

export function closeAnalytics(): void {
  if (!analytics.state.page) return;
  if (pageInUrl()) history.pushState(null, "", "/");
  analytics.update({ page: null });
}

let started = false;

/** Live: an `analytics.updated` push (at most one per stream batch) makes an open dashboard read again. */
export function startAnalytics(): void {
  if (started) return;
  started = true;
  onLive((event) => {
    if (event.type === "analytics.updated") analytics.update({ updates: analytics.state.updates + 1 });
  });
  window.addEventListener("popstate", () => analytics.update({ page: pageInUrl() }));
}
