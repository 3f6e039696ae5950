/** The inbox: status tabs, filters, the conversation list with infinite scroll ("load more" as a fallback). */

import { useEffect, useRef, useState } from "preact/hooks";
import { bulk, toggle, toggleSelecting } from "../console/bulk";
import {
  clearFilters, loadList, loadMore, setFilters, setTab, store, type ConsoleState, type Scope,
} from "../console/state";
import { t, type Key } from "../i18n";
import { useStore } from "../store";
import { STATUSES } from "../types";
import { BulkBar } from "./BulkBar";
import { RepeatRequests } from "./RepeatRequests";
import { ConversationRow } from "./ConversationRow";
import { errorText } from "./errors";
import { SearchResults } from "./SearchResults";
import { ListSkeleton } from "./Skeleton";

export const STATUS_LABEL: Record<string, Key> = { new: "status_new", in_progress: "status_in_progress",
  closed: "status_closed" };

/** Every status of the workspace, built-in first, each with the label to show. */
export function allStatuses(s: ConsoleState): { id: string; label: string }[] {
  return [...STATUSES.map((id) => ({ id, label: t(STATUS_LABEL[id]) })), ...s.customStatuses];
}

/** The rows on screen: the loaded page, less what the console itself filters (comments only). */
function visibleRows(s: ConsoleState) {
  return s.filters.commentsOnly ? s.list.items.filter((c) => c.surface === "comment") : s.list.items;
}

export const SEARCH_ID = "inbox-search";

export function Inbox() {
  const state = useStore(store);
  const { tab, filters } = state;
  const across = !!filters.query.trim() || filters.overdue;  // search and overdue look past the tabs
  return (
    <section class="inbox" aria-label={t("inbox")}>
      <Search />
      <div class="tabs" role="tablist" aria-label={t("inbox")}>
        {allStatuses(state).map(({ id, label }) => (
          <button type="button" role="tab" key={id} id={`tab-${id}`} aria-selected={!across && tab === id}
            aria-controls="conversation-list" onClick={() => setTab(id)}>{label}</button>
        ))}
        <button type="button" role="tab" id="tab-snoozed" aria-selected={!across && tab === "snoozed"}
          aria-controls="conversation-list" onClick={() => setTab("snoozed")}>{t("status_snoozed")}</button>
        <button type="button" role="tab" id="tab-overdue" aria-selected={filters.overdue} class="tab-overdue"
          aria-controls="conversation-list" onClick={() => setFilters({ overdue: true, query: "" })}>
          {t("filter_overdue")}</button>
      </div>
      <Filters />
      <RepeatRequests />
      <BulkBar visible={visibleRows(state).map((c) => c.id)} />
      {filters.query.trim() ? <SearchResults /> : <ConversationList />}
    </section>
  );
}

function Filters() {
  const { filters, channels } = useStore(store);
  const scopes: { value: Scope; label: Key }[] = [
    { value: "all", label: "filter_all" }, { value: "mine", label: "filter_mine" },
    { value: "unassigned", label: "filter_unassigned" },
  ];
  const active = filters.channelId || filters.scope !== "all" || filters.tag || filters.noTag || filters.commentsOnly;
  const { selecting } = useStore(bulk);
  return (
    <form class="filters" aria-label={t("filters")} onSubmit={(e) => e.preventDefault()}>
      <select aria-label={t("filter_channel")} value={filters.channelId}
        onChange={(e) => setFilters({ channelId: e.currentTarget.value })}>
        <option value="">{t("filter_all_channels")}</option>
        {channels.map((c) => <option key={c.id} value={c.id}>{c.name} ({c.kind})</option>)}
      </select>
      <select aria-label={t("filter_assignee")} value={filters.scope}
        onChange={(e) => setFilters({ scope: e.currentTarget.value as Scope })}>
        {scopes.map((s) => <option key={s.value} value={s.value}>{t(s.label)}</option>)}
      </select>
      <TagFilter />
      <label class="check">
        <input type="checkbox" checked={filters.noTag} onChange={(e) => setFilters({ noTag: e.currentTarget.checked })} />
        {t("filter_no_tag")}
      </label>
      <label class="check">
        <input type="checkbox" checked={filters.commentsOnly}
          onChange={(e) => setFilters({ commentsOnly: e.currentTarget.checked })} />
        {t("filter_comments_only")}
      </label>
      {active && <button type="button" class="link" onClick={clearFilters}>{t("filter_clear")}</button>}
      <button type="button" class="select-mode" aria-pressed={selecting} onClick={toggleSelecting}>
        {selecting ? t("bulk_select_done") : t("bulk_select")}</button>
    </form>
  );
}

/** Search every status (B1); debounced, Escape clears, "/" anywhere outside a field jumps here. */
function Search() {
  const { filters } = useStore(store);
  const [text, setText] = useState(filters.query);
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => setText(filters.query), [filters.query]);
  const run = (value: string): void => {
    window.clearTimeout(timer.current);
    const query = value.trim();
    if (query.length === 1) return;  // one letter finds everything: wait for the second
    timer.current = window.setTimeout(() => setFilters({ query, overdue: false }), 300);
  };
  return (
    <form class="search" role="search" onSubmit={(e) => { e.preventDefault(); run(text); }}>
      <input id={SEARCH_ID} type="search" aria-label={t("search_label")} placeholder={t("search_placeholder")}
        value={text} maxLength={200}
        onInput={(e) => { setText(e.currentTarget.value); run(e.currentTarget.value); }}
        onKeyDown={(e) => {
          if (e.key !== "Escape") return;
          e.preventDefault();
          setText("");
          window.clearTimeout(timer.current);
          if (filters.query) setFilters({ query: "" });
          e.currentTarget.blur();
        }} />
    </form>
  );
}

function TagFilter() {
  const { filters } = useStore(store);
  const timer = useRef<number | undefined>(undefined);
  return (
    <input type="search" aria-label={t("filter_tag")} placeholder={t("filter_tag")} value={filters.tag}
      disabled={filters.noTag}
      onInput={(e) => {
        const value = e.currentTarget.value;
        window.clearTimeout(timer.current);
        timer.current = window.setTimeout(() => setFilters({ tag: value }), 300);
      }} />
  );
}

function ConversationList() {
  const state = useStore(store);
  const { list, thread, tab } = state;
  const { selecting, selected } = useStore(bulk);
  const rows = visibleRows(state);
  const ids = rows.map((c) => c.id);
  const sentinel = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const target = sentinel.current;
    if (!target || !list.cursor) return undefined;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) void loadMore();
    }, { rootMargin: "200px" });
    observer.observe(target);
    return () => observer.disconnect();
  }, [list.cursor, list.items.length]);

  if (list.loading) return <div id="conversation-list" class="list"><ListSkeleton /></div>;
  if (list.error && list.items.length === 0) {
    return (
      <div id="conversation-list" class="list empty" role="alert">
        <p>{t("error_list")} {errorText(list.error)}</p>
        <button type="button" onClick={() => void loadList()}>{t("try_again")}</button>
      </div>
    );
  }
  if (rows.length === 0 && !list.cursor) {
    const query = state.filters.query.trim();
    return (
      <div id="conversation-list" class="list empty" role="status">
        {query ? <p class="empty-title">{t("search_nothing", { query })}</p>
          : state.filters.overdue ? <p class="empty-title">{t("overdue_none", { minutes: state.slaMinutes })}</p>
            : <p class="empty-title">{t("empty_list_title")}</p>}
        {!query && !state.filters.overdue && (
          <p class="muted">{t(tab === "closed" ? "empty_list_closed" : "empty_list_hint")}</p>
        )}
      </div>
    );
  }
  return (
    <nav id="conversation-list" class="list" aria-label={t("conversations")}>
      {state.filters.query.trim() && (
        <p class="list-caption" role="status">{t("search_results", { query: state.filters.query.trim() })}</p>
      )}
      {state.filters.overdue && (
        <p class="list-caption" role="status">{t("overdue_caption", { minutes: state.slaMinutes })}</p>
      )}
      <ul>
        {rows.map((c) => (
          <ConversationRow key={c.id} conversation={c} selected={c.id === thread.id}
            check={selecting ? { checked: selected.includes(c.id), toggle: (range) => toggle(c.id, range, ids) }
              : undefined} />
        ))}
      </ul>
      {list.cursor && (
        <div ref={sentinel} class="more">
          <button type="button" disabled={list.loadingMore} onClick={() => void loadMore()}>
            {list.loadingMore ? t("loading") : t("load_more")}
          </button>
        </div>
      )}
      {list.error && <p class="form-error" role="alert">{errorText(list.error)}</p>}
    </nav>
  );
}
