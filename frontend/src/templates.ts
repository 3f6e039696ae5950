/**
 * Reply templates in the reply box (B7): find the `/query` being typed, pick matching templates and fill in their
 * variables. Pure functions: the Composer owns the text, the console state owns the list.
 */

import type { Template } from "./types";

/** The variables a template may hold; anything else in braces stays as typed. */
export interface TemplateVars {
  customer_name: string;
  operator_name: string;
  workspace_name: string;
}

export interface SlashQuery {
  start: number; // index of the "/"
  end: number; // the caret
  query: string;
}

const MAX_SHOWN = 8;

/** The `/query` right before the caret, when the slash starts the text or follows whitespace. */
export function slashQuery(text: string, caret: number): SlashQuery | null {
  const before = text.slice(0, caret);
  const match = /(^|\s)\/([^\s/]*)$/.exec(before);
  if (!match) return null;
  const start = before.length - match[2].length - 1;
  return { start, end: caret, query: match[2].toLowerCase() };
}

/** Templates whose shortcut or title holds the query; shortcuts that start with it come first. */
export function matchTemplates(items: Template[], query: string): Template[] {
  const q = query.toLowerCase();
  const found = items.filter((t) => t.shortcut.includes(q) || t.title.toLowerCase().includes(q));
  const rank = (t: Template): number => (t.shortcut.startsWith(q) ? 0 : t.shortcut.includes(q) ? 1 : 2);
  return found.sort((a, b) => rank(a) - rank(b) || a.shortcut.localeCompare(b.shortcut)).slice(0, MAX_SHOWN);
}

/** Fill in the known variables; unknown ones (`{order_id}`) stay as typed for the operator to complete. */
export function renderTemplate(text: string, vars: TemplateVars): string {
  return text.replace(/\{(\w+)\}/g, (whole, name: string) =>
    Object.prototype.hasOwnProperty.call(vars, name) ? vars[name as keyof TemplateVars] : whole);
}

/** The text with `/query` replaced by the rendered template, and where the caret goes after it. */
export function insertTemplate(text: string, at: SlashQuery, rendered: string): { text: string; caret: number } {
  return { text: text.slice(0, at.start) + rendered + text.slice(at.end), caret: at.start + rendered.length };
}
