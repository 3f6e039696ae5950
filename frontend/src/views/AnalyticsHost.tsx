/** The analytics pages (Dashboard, Reports) load as lazy chunks the first time one opens; the top bar's links to
 * them show for roles with `analytics:read` (analyst, admin). */

import { hideKnowledge } from "../console/knowledge";
import { useEffect, useState } from "preact/hooks";
import type { ComponentType } from "preact";
import { analytics, showAnalytics, type AnalyticsPage } from "../analytics/state";
import { t } from "../i18n";
import { useStore } from "../store";

const LOADERS: Record<AnalyticsPage, () => Promise<{ default: ComponentType }>> = {
  dashboard: () => import("../analytics/DashboardPage"),
  reports: () => import("../analytics/ReportsPage"),
};

export function AnalyticsHost({ page }: { page: AnalyticsPage }) {
  const [loaded, setLoaded] = useState<{ page: AnalyticsPage; View: ComponentType } | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let gone = false;
    setFailed(false);
    LOADERS[page]().then((mod) => { if (!gone) setLoaded({ page, View: mod.default }); },
      () => { if (!gone) setFailed(true); });
    return () => { gone = true; };
  }, [page]);
  if (failed) return <p class="error" role="alert">{t("anx_load_failed")}</p>;
  if (!loaded || loaded.page !== page) return <div class="splash" aria-busy="true">{t("loading")}</div>;
  const View = loaded.View;
  return <main class="analytics-main"><View /></main>;
}

export function AnalyticsNav() {
  const { page } = useStore(analytics);
  return (
    <nav class="page-nav" aria-label={t("nav_analytics")}>
      <a href="/analytics" aria-current={page === "dashboard" ? "page" : undefined}
        onClick={(e) => { e.preventDefault(); hideKnowledge(); showAnalytics("dashboard"); }}>{t("nav_dashboard")}</a>
      <a href="/reports" aria-current={page === "reports" ? "page" : undefined}
        onClick={(e) => { e.preventDefault(); hideKnowledge(); showAnalytics("reports"); }}>{t("nav_reports")}</a>
    </nav>
  );
}
