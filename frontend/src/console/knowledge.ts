/**
 * Whether the knowledge-base page (H1) shows, and which article it opens; the page itself is a lazily loaded
 * chunk (views/KnowledgePage.tsx), so the inbox's bundle carries only this switch.
 */

import { Store } from "../store";

export interface KnowledgeNav {
  open: boolean;
  articleId: string | null;
}

export const knowledgeNav = new Store<KnowledgeNav>({ open: false, articleId: null });

export function showKnowledge(articleId: string | null = null): void {
  knowledgeNav.update({ open: true, articleId });
}

export function hideKnowledge(): void {
  knowledgeNav.update({ open: false, articleId: null });
}
