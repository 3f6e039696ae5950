/**
 * The knowledge base (H1), a lazily loaded chunk: articles by category with their uses; admins and moderators
 * write them (ru / en versions in Markdown, draft or published, an optional public link), everyone reads the
 * published ones. Markdown goes through the safe renderer (views/Markdown.tsx): nothing is set as HTML.
 */

import { useEffect, useState } from "preact/hooks";
import { ApiError } from "../api";
import { hideKnowledge, knowledgeNav } from "../console/knowledge";
import { apiClient, showNotice, store } from "../console/state";
import { currentLang, t } from "../i18n";
import { can } from "../session";
import { useStore } from "../store";
import type { Article, ArticleWrite } from "../types";
import { errorText } from "./errors";
import { Markdown } from "./Markdown";
import "../styles/knowledge.css";

type Lang = "ru" | "en";
const LANGS: Lang[] = ["ru", "en"];

export function articleTitle(a: Article, lang: Lang = currentLang()): string {
  return a.versions[lang]?.title || a.versions.ru?.title || a.versions.en?.title || "";
}

function blank(): ArticleWrite {
  return { category: "", status: "draft", url: null, versions: { ru: { title: "", body: "" } } };
}

export default function KnowledgePage() {
  const { session } = useStore(store);
  const { articleId } = useStore(knowledgeNav);
  const editor = can(session, "articles:write");
  const [items, setItems] = useState<Article[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [selected, setSelected] = useState<string | null>(articleId);
  const [editing, setEditing] = useState<{ id: string | null; draft: ArticleWrite } | null>(null);

  const load = async (): Promise<void> => {
    try {
      setItems((await apiClient().articles()).items);
      setError(null);
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, "network", String(err)));
    }
  };
  useEffect(() => void load(), []);
  useEffect(() => setSelected(articleId), [articleId]);

  const current = items?.find((a) => a.id === selected) ?? null;
  const categories = [...new Set((items ?? []).map((a) => a.category))].sort((a, b) => a.localeCompare(b));

  const save = async (): Promise<void> => {
    if (!editing) return;
    try {
      const saved = await apiClient().saveArticle(editing.id, filled(editing.draft));
      setEditing(null);
      setSelected(saved.id);
      await load();
    } catch (err) {
      showNotice(err);
    }
  };
  const remove = async (article: Article): Promise<void> => {
    if (!window.confirm(t("kb_delete_confirm", { title: articleTitle(article) }))) return;
    try {
      await apiClient().deleteArticle(article.id);
      setSelected(null);
      await load();
    } catch (err) {
      showNotice(err);
    }
  };

  return (
    <main class="knowledge" aria-label={t("kb_title")}>
      <aside class="kb-list">
        <div class="kb-head">
          <h1>{t("kb_title")}</h1>
          <button type="button" class="ghost" onClick={hideKnowledge}>{t("kb_back")}</button>
        </div>
        {editor && (
          <button type="button" class="primary" onClick={() => setEditing({ id: null, draft: blank() })}>
            {t("kb_new")}</button>
        )}
        {error && <p role="alert">{errorText(error)}</p>}
        {items && items.length === 0 && <p class="muted" role="status">{t("kb_empty")}</p>}
        {categories.map((category) => (
          <section key={category} aria-label={category || t("kb_no_category")}>
            <h2>{category || t("kb_no_category")}</h2>
            <ul>
              {(items ?? []).filter((a) => a.category === category).map((a) => (
                <li key={a.id}>
                  <a href="#" aria-current={a.id === selected ? "true" : undefined}
                    onClick={(e) => { e.preventDefault(); setEditing(null); setSelected(a.id); }}>
                    {articleTitle(a)}
                  </a>
                  {a.status === "draft" && <span class="tag">{t("kb_draft")}</span>}
                  <span class="muted kb-uses">{t("kb_uses", { count: a.uses })}</span>
                </li>
              ))}
            </ul>
          </section>
        ))}
      </aside>
      <section class="kb-article">
        {editing ? (
          <Editor value={editing.draft} onChange={(draft) => setEditing({ ...editing, draft })}
            onSave={() => void save()} onCancel={() => setEditing(null)} />
        ) : current ? (
          <ArticleView article={current} editor={editor}
            onEdit={() => setEditing({ id: current.id, draft: {
              category: current.category, status: current.status, url: current.url, versions: current.versions,
              revision: current.revision } })}
            onDelete={() => void remove(current)} />
        ) : <p class="muted">{t("kb_pick")}</p>}
      </section>
    </main>
  );
}

function ArticleView({ article, editor, onEdit, onDelete }: {
  article: Article; editor: boolean; onEdit: () => void; onDelete: () => void;
}) {
  const langs = LANGS.filter((l) => article.versions[l]);
  const [lang, setLang] = useState<Lang>(langs.includes(currentLang()) ? currentLang() : langs[0] ?? "ru");
  const version = article.versions[lang];
  return (
    <article aria-label={version?.title}>
      <div class="kb-langs" role="group" aria-label={t("kb_language")}>
        {langs.map((l) => (
          <button type="button" key={l} aria-pressed={l === lang} onClick={() => setLang(l)}>{l.toUpperCase()}</button>
        ))}
      </div>
      <h2>{version?.title}</h2>
      <p class="muted">
        {article.category}{article.status === "draft" ? ` · ${t("kb_draft")}` : ""} · {t("kb_uses", { count: article.uses })}
      </p>
      <Markdown text={version?.body ?? ""} />
      {article.url && <p><a href={article.url} target="_blank" rel="noopener noreferrer">{article.url}</a></p>}
      {editor && (
        <div class="kb-actions">
          <button type="button" onClick={onEdit}>{t("kb_edit")}</button>
          <button type="button" class="danger" onClick={onDelete}>{t("kb_delete")}</button>
        </div>
      )}
    </article>
  );
}

function Editor({ value, onChange, onSave, onCancel }: {
  value: ArticleWrite; onChange: (v: ArticleWrite) => void; onSave: () => void; onCancel: () => void;
}) {
  const setVersion = (lang: Lang, field: "title" | "body", text: string): void => {
    const version = { title: "", body: "", ...value.versions[lang], [field]: text };
    onChange({ ...value, versions: { ...value.versions, [lang]: version } });
  };
  return (
    <form class="kb-editor" aria-label={t("kb_editor")} onSubmit={(e) => { e.preventDefault(); onSave(); }}>
      <label>{t("kb_category")}
        <input value={value.category} maxLength={60} onInput={(e) => onChange({ ...value, category: e.currentTarget.value })} />
      </label>
      <label>{t("kb_status")}
        <select value={value.status} onChange={(e) => onChange({ ...value, status: e.currentTarget.value as Article["status"] })}>
          <option value="draft">{t("kb_draft")}</option>
          <option value="published">{t("kb_published")}</option>
        </select>
      </label>
      <label>{t("kb_url")}
        <input type="url" value={value.url ?? ""} maxLength={500}
          onInput={(e) => onChange({ ...value, url: e.currentTarget.value || null })} />
      </label>
      {LANGS.map((lang) => (
        <fieldset key={lang}>
          <legend>{lang === "ru" ? t("kb_version_ru") : t("kb_version_en")}</legend>
          <label>{t("kb_article_title")}
            <input value={value.versions[lang]?.title ?? ""} maxLength={200}
              onInput={(e) => setVersion(lang, "title", e.currentTarget.value)} />
          </label>
          <label>{t("kb_body")}
            <textarea rows={8} value={value.versions[lang]?.body ?? ""}
              onInput={(e) => setVersion(lang, "body", e.currentTarget.value)} />
          </label>
        </fieldset>
      ))}
      <div class="kb-actions">
        <button type="submit" class="primary">{t("kb_save")}</button>
        <button type="button" onClick={onCancel}>{t("kb_cancel")}</button>
      </div>
    </form>
  );
}

/** The versions actually filled in: an empty second language is not sent. */
export function filled(draft: ArticleWrite): ArticleWrite {
  const versions = Object.fromEntries(Object.entries(draft.versions).filter(([, v]) => v && (v.title || v.body)));
  return { ...draft, versions };
}
