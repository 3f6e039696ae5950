/** The top bar: workspace, who is signed in, the live-updates indicator, language, sign out. */

import { signOut, store } from "../console/state";
import { t } from "../i18n";
import { useStore } from "../store";
import { can } from "../session";
import { LangSwitch } from "./LangSwitch";
import { TeamSettingsButton } from "./TeamSettingsDialog";
import { AutomationButton } from "./AutomationDialog";
import { Bell } from "./Bell";
import { TasksNav } from "./TasksNav";
import { AnalyticsNav } from "./AnalyticsHost";
import { KnowledgeNavLink } from "./KnowledgeHost";

export function TopBar() {
  const { session, live } = useStore(store);
  return (
    <header class="topbar">
      <span class="brand">Zabota</span>
      {session && <span class="muted workspace">{session.me.workspace_id} · {session.me.name || session.me.role}</span>}
      {can(session, "tasks:read") && <TasksNav />}
      {can(session, "analytics:read") && <AnalyticsNav />}
      {can(session, "articles:read") && <KnowledgeNavLink />}
      <span class="spacer" />
      <LiveIndicator state={live} />
      <Bell />
      {can(session, "workspace:admin") && <TeamSettingsButton />}
      {can(session, "workspace:admin") && <AutomationButton />}
      <LangSwitch />
      <button type="button" class="ghost" onClick={() => signOut()}>{t("sign_out")}</button>
    </header>
  );
}

function LiveIndicator({ state }: { state: string }) {
  const text = state === "open" ? t("live_on") : state === "connecting" ? t("live_connecting") : t("live_reconnecting");
  return (
    <span class={`live live-${state}`} role="status" aria-live="polite" data-state={state}>
      <span class="dot" aria-hidden="true" />{text}
    </span>
  );
}
