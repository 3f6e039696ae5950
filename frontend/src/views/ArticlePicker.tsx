/**
 * The knowledge base from the reply box (H1): Ctrl+K (⌘K) opens a search over the published articles; Enter
 * inserts the chosen article's text at the caret, Shift+Enter (or the button) its link; Escape goes back to the
 * reply. Hits show as text with marks (views/SearchResults.tsx `Marked`).
 */

import { useLayoutEffect, useRef, useState } from "preact/hooks";
import { apiClient, showNotice } from "../console/state";
import { currentLang, t } from "../i18n";
import type { SearchHit } from "../types";
import { Marked } from "./SearchResults";

export interface Inserted {
  articleId: string;
  text: string;
}

/** What goes into the reply: the article's body in the hit's language, or "title: link". */
async function contentOf(hit: SearchHit, asLink: boolean): Promise<string | null> {
  if (!hit.article) return null;
  const article = await apiClient().article(hit.article.id);
  const lang = (hit.article.language || currentLang()) as "ru" | "en";
  const version = article.versions[lang] ?? article.versions.ru ?? article.versions.en;
  if (asLink) return article.url ? `${version?.title ?? hit.title}: ${article.url}` : null;
  return version?.body ?? null;
}

export function ArticlePicker({ onInsert, onClose }: { onInsert: (value: Inserted) => void; onClose: () => void }) {
  const [query, setQuery] = useState("");
  const [hits, setHits] = useState<SearchHit[]>([]);
  const [searched, setSearched] = useState(false);
  const [active, setActive] = useState(0);
  const input = useRef<HTMLInputElement>(null);
  const timer = useRef<number | undefined>(undefined);
  const seq = useRef(0);
  useLayoutEffect(() => input.current?.focus(), []);  // before the next key, not after the next paint

  const find = (value: string): void => {
    window.clearTimeout(timer.current);
    if (value.trim().length < 2) {
      setHits([]);
      setSearched(false);
      return;
    }
    timer.current = window.setTimeout(async () => {
      const mine = ++seq.current;
      try {
        const page = await apiClient().search(value, { kind: "article", limit: 8 });
        if (mine !== seq.current) return;
        setHits(page.items);
        setActive(0);
        setSearched(true);
      } catch (err) {
        showNotice(err);
      }
    }, 200);
  };

  const choose = async (hit: SearchHit | undefined, asLink: boolean): Promise<void> => {
    if (!hit?.article) return;
    try {
      const text = await contentOf(hit, asLink);
      if (text === null) {
        showNotice(new Error(t("kb_no_link")));
        return;
      }
      onInsert({ articleId: hit.article.id, text });
    } catch (err) {
      showNotice(err);
    }
  };

  return (
    <div class="article-picker" role="dialog" aria-label={t("kb_picker")}>
      <input ref={input} type="search" aria-label={t("kb_picker_search")} placeholder={t("kb_picker_search")}
        value={query} maxLength={200} aria-controls="article-picker-list"
        onInput={(e) => { setQuery(e.currentTarget.value); find(e.currentTarget.value); }}
        onKeyDown={(e) => {
          if (e.key === "Escape") {
            e.preventDefault();
            onClose();
          } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
            e.preventDefault();
            if (hits.length) setActive((active + (e.key === "ArrowDown" ? 1 : -1) + hits.length) % hits.length);
          } else if (e.key === "Enter") {
            e.preventDefault();
            void choose(hits[active], e.shiftKey);
          }
        }} />
      <ul id="article-picker-list" role="listbox" aria-label={t("kb_title")}>
        {hits.map((hit, index) => (
          <li key={`${hit.article?.id}-${hit.article?.language}`} role="option" aria-selected={index === active}
            class={index === active ? "active" : ""} onMouseEnter={() => setActive(index)}>
            <span class="article-title">{hit.title}</span>
            <span class="muted article-lang">{hit.article?.language.toUpperCase()}</span>
            <span class="snippet"><Marked text={hit.snippet} marks={hit.marks} /></span>
            <span class="article-actions">
              <button type="button" onClick={() => void choose(hit, false)}>{t("kb_insert_text")}</button>
              <button type="button" onClick={() => void choose(hit, true)}>{t("kb_insert_link")}</button>
            </span>
          </li>
        ))}
      </ul>
      {searched && hits.length === 0 && <p class="muted" role="status">{t("kb_picker_none", { query })}</p>}
      <p class="hint">{t("kb_picker_hint")}</p>
    </div>
  );
}
