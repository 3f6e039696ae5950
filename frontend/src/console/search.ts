/**
 * The inbox's full-text search (B1): the hits of `GET /api/search` for the query in the search box, best first,
 * paged by the server's cursor. The inbox shows them instead of its list while the box holds a query
 * (console/state.ts `loadList`); the newest answer wins when queries race. While a query is shown, a change pushed
 * over the WebSocket (a new message, an edit, a card) asks again a second later, quietly, so what was just
 * written appears without typing again (the stream indexes before it pushes).
 */

import { ApiError, type Api } from "../api";
import { Store } from "../store";
import type { SearchHit } from "../types";
import { currentApi, onLive, store } from "./state";

export interface SearchState {
  query: string;
  items: SearchHit[];
  cursor: string | null;
  loading: boolean;
  loadingMore: boolean;
  error: ApiError | null;
}

export const results = new Store<SearchState>({
  query: "", items: [], cursor: null, loading: false, loadingMore: false, error: null,
});

let request = 0;
let listening = false;
let refreshTimer: number | undefined;
const REFRESHING = new Set(["message.new", "message.updated", "contact.updated", "conversation.updated"]);

function listen(): void {
  if (listening) return;  // registered on the first search: this module loads before console/state.ts runs
  listening = true;
  onLive((event) => {
    const { query, loading, cursor, items } = results.state;
    if (!REFRESHING.has(event.type) || !query || store.state.filters.query.trim() !== query) return;
    if (loading || (cursor && items.length > 20)) return;  // more pages loaded: the operator is reading, keep them
    window.clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(() => void refresh(query), 1000);
  });
}

async function refresh(query: string): Promise<void> {
  const mine = ++request;
  try {
    const page = await currentApi().search(query);
    if (mine !== request) return;
    results.update({ items: page.items, cursor: page.next_cursor, error: null });
  } catch {
    // the next change or a new query tries again
  }
}

function asError(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError(0, "network", String(err));
}

export async function runSearch(query: string, api: Api = currentApi()): Promise<void> {
  listen();
  window.clearTimeout(refreshTimer);
  const mine = ++request;
  results.update({ query, items: [], cursor: null, loading: true, loadingMore: false, error: null });
  try {
    const page = await api.search(query);
    if (mine !== request) return;
    results.update({ items: page.items, cursor: page.next_cursor, loading: false });
  } catch (err) {
    if (mine !== request) return;
    results.update({ loading: false, error: asError(err) });
  }
}

export async function moreResults(): Promise<void> {
  const { query, cursor, loadingMore } = results.state;
  if (!cursor || loadingMore) return;
  const mine = request;
  results.update({ loadingMore: true });
  try {
    const page = await currentApi().search(query, { cursor });
    if (mine !== request) return;
    results.update((s) => ({ items: [...s.items, ...page.items], cursor: page.next_cursor, loadingMore: false }));
  } catch (err) {
    if (mine !== request) return;
    results.update({ loadingMore: false, error: asError(err) });
  }
}
