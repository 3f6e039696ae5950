/**
 * The hits of the full-text search (B1) in place of the inbox list: who, what kind (message, note, client card,
 * article), and the snippet with the matching words marked. Snippets are text: marks are `<mark>` elements
 * around slices of it, so nothing in a message is ever rendered as HTML.
 */

import { useEffect, useRef } from "preact/hooks";
import { showKnowledge } from "../console/knowledge";
import { moreResults, results } from "../console/search";
import { openConversation } from "../console/state";
import { formatTime, t, type Key } from "../i18n";
import { useStore } from "../store";
import type { SearchHit } from "../types";
import { ChannelBadge } from "./ChannelBadge";
import { initial } from "./ConversationRow";
import { errorText } from "./errors";
import { ListSkeleton } from "./Skeleton";

const KIND: Record<SearchHit["kind"], Key> = {
  message: "hit_message", note: "hit_note", contact: "hit_contact", conversation: "hit_conversation",
  article: "hit_article",
};

/** The snippet as text pieces, the matching ones in `<mark>`. */
export function Marked({ text, marks }: { text: string; marks: [number, number][] }) {
  const pieces = [];
  let at = 0;
  for (const [start, end] of [...marks].sort((a, b) => a[0] - b[0])) {
    if (start < at || end > text.length) continue;
    if (start > at) pieces.push(text.slice(at, start));
    pieces.push(<mark key={start}>{text.slice(start, end)}</mark>);
    at = end;
  }
  if (at < text.length) pieces.push(text.slice(at));
  return <>{pieces}</>;
}

function hitName(hit: SearchHit): string {
  if (hit.article) return hit.article.title;
  return hit.conversation?.contact_name || hit.contact?.name || hit.conversation?.title || t("unknown_customer");
}

function Hit({ hit }: { hit: SearchHit }) {
  const name = hitName(hit);
  const conv = hit.conversation;
  const href = hit.article ? "#" : conv ? `/c/${encodeURIComponent(conv.id)}` : "#";
  return (
    <li>
      <a href={href} class={`row hit hit-${hit.kind}`} data-kind={hit.kind}
        onClick={(event) => {
          if (event.ctrlKey || event.metaKey || event.shiftKey) return;
          event.preventDefault();
          if (hit.article) showKnowledge(hit.article.id);
          else if (conv) void openConversation(conv.id);
        }}>
        <span class="avatar" aria-hidden="true">{initial(name)}</span>
        <span class="row-main">
          <span class="row-top">
            <span class="name">{name}</span>
            {hit.at && <time dateTime={hit.at}>{formatTime(hit.at)}</time>}
          </span>
          <span class="row-bottom">
            {conv && <ChannelBadge kind={conv.channel_kind} />}
            <span class="hit-kind">{t(KIND[hit.kind])}{hit.hidden ? ` · ${t("hit_hidden")}` : ""}</span>
          </span>
          <span class="snippet"><Marked text={hit.snippet} marks={hit.marks} /></span>
        </span>
      </a>
    </li>
  );
}

export function SearchResults() {
  const { query, items, cursor, loading, loadingMore, error } = useStore(results);
  const sentinel = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const target = sentinel.current;
    if (!target || !cursor) return undefined;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) void moreResults();
    }, { rootMargin: "200px" });
    observer.observe(target);
    return () => observer.disconnect();
  }, [cursor, items.length]);

  if (loading) return <div id="conversation-list" class="list"><ListSkeleton /></div>;
  if (error && items.length === 0) {
    return <div id="conversation-list" class="list empty" role="alert"><p>{t("error_list")} {errorText(error)}</p></div>;
  }
  if (items.length === 0) {
    return (
      <div id="conversation-list" class="list empty" role="status">
        <p class="empty-title">{t("search_nothing", { query })}</p>
        <p class="muted">{t("search_nothing_hint")}</p>
      </div>
    );
  }
  return (
    <nav id="conversation-list" class="list search-results" aria-label={t("conversations")}>
      <p class="list-caption" role="status">{t("search_results", { query })}</p>
      <ul>{items.map((hit, i) => <Hit key={`${hit.kind}-${hit.message_id ?? ""}-${i}`} hit={hit} />)}</ul>
      {cursor && (
        <div ref={sentinel} class="more">
          <button type="button" disabled={loadingMore} onClick={() => void moreResults()}>
            {loadingMore ? t("loading") : t("load_more")}</button>
        </div>
      )}
    </nav>
  );
}
