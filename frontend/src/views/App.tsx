/** The console's shell: the login screen until signed in, then inbox | thread | client card. */

import { useEffect } from "preact/hooks";
import {
  boot, closeSelected, focusComposer, moveSelection, store, type ConsoleState,
} from "../console/state";
import { t } from "../i18n";
import { can } from "../session";
import { useStore } from "../store";
import { analytics, startAnalytics } from "../analytics/state";
import { startTasks, tasks } from "../tasks/state";
import { AnalyticsHost } from "./AnalyticsHost";
import { knowledgeNav } from "../console/knowledge";
import { ClientCard } from "./ClientCard";
import { KnowledgeHost } from "./KnowledgeHost";
import { Inbox, SEARCH_ID } from "./Inbox";
import { Login } from "./Login";
import { Notice } from "./Notice";
import { TaskDialogHost } from "./TaskDialog";
import { TasksPage } from "./TasksPage";
import { Thread } from "./Thread";
import { TopBar } from "./TopBar";
import { isTyping } from "./typing";

export function App() {
  const state = useStore(store);
  const { page } = useStore(tasks);
  const wanted = useStore(analytics).page;
  const analyticsPage = can(state.session, "analytics:read") ? wanted : null;
  const kb = useStore(knowledgeNav);
  useEffect(() => void boot(), []);
  useEffect(() => {
    if (state.boot === "ready") {
      startTasks();
      startAnalytics();
    }
  }, [state.boot]);
  useShortcuts(state.boot === "ready" && page === "inbox" && !analyticsPage && !kb.open);
  useUnreadTitle(state);
  if (state.boot === "checking") {
    return <div class="splash" aria-busy="true">{t("app_loading")}</div>;
  }
  if (state.boot === "signed_out") return <Login />;
  return (
    <div class={`console${state.thread.id ? " has-thread" : ""}`}>
      <TopBar />
      <Notice />
      {kb.open ? <KnowledgeHost /> : analyticsPage ? <AnalyticsHost page={analyticsPage} /> : page === "tasks" ? <TasksPage /> : (
        <main class="panes">
          <Inbox />
          <Thread />
          <ClientCard />
        </main>
      )}
      <TaskDialogHost />
    </div>
  );
}


/** j / k: next / previous conversation; r: reply; e: close the conversation; "/": search. Never while typing. */
function useShortcuts(enabled: boolean): void {
  useEffect(() => {
    if (!enabled) return undefined;
    const onKey = (event: KeyboardEvent): void => {
      if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
      const action = { j: () => moveSelection(1), k: () => moveSelection(-1), r: focusComposer,
        e: () => void closeSelected(), "/": () => document.getElementById(SEARCH_ID)?.focus() }[event.key];
      if (!action) return;
      event.preventDefault();
      action();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [enabled]);
}

function useUnreadTitle(state: ConsoleState): void {
  const unread = state.list.items.filter((c) => c.unread_count > 0).length;
  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) Zabota` : "Zabota";
  }, [unread]);
}
