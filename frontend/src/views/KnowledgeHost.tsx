/** The knowledge base's way in: a top-bar link, and the page loaded as its own chunk on first open (H1). */

import { closeAnalytics } from "../analytics/state";
import type { ComponentType } from "preact";
import { useEffect, useState } from "preact/hooks";
import { hideKnowledge, knowledgeNav, showKnowledge } from "../console/knowledge";
import { store } from "../console/state";
import { t } from "../i18n";
import { useStore } from "../store";

let loaded: ComponentType | null = null;
let shownThread: string | null = null;

store.addEventListener("change", () => {  // a conversation opened from elsewhere (the bell): back to the inbox
  const id = store.state.thread.id;
  if (id !== shownThread) {
    shownThread = id;
    if (id && knowledgeNav.state.open) hideKnowledge();
  }
});

export function KnowledgeHost() {
  const [page, setPage] = useState<ComponentType | null>(() => loaded);
  useEffect(() => {
    if (loaded) return;
    void import("./KnowledgePage").then((module) => {
      loaded = module.default;
      setPage(() => loaded);
    });
  }, []);
  const Page = page;
  return Page ? <Page /> : <main class="knowledge" aria-busy="true"><p class="muted">{t("loading")}</p></main>;
}

export function KnowledgeNavLink() {
  const { open } = useStore(knowledgeNav);
  return (
    <a href="#" class="kb-nav" aria-current={open ? "page" : undefined}
      onClick={(e) => { e.preventDefault(); closeAnalytics(); showKnowledge(); }}>{t("kb_title")}</a>
  );
}
