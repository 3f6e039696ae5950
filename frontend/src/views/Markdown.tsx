/**
 * A task description's Markdown, rendered safely: parsed into Preact elements (never innerHTML), so HTML in it
 * shows as text. Paragraphs, line breaks, "- " / "1. " lists, "> " quotes, **bold**, *italic*, `code`, and
 * [links](https://…) / bare http(s) URLs (other schemes stay text).
 */

import type { ComponentChildren } from "preact";
import { safeUrl } from "./safeUrl";

const INLINE = /(\*\*[^*]+\*\*|\*[^*\s][^*]*\*|`[^`]+`|\[[^\]]+\]\([^)\s]+\)|https?:\/\/[^\s<>()]+)/g;

function inline(text: string): ComponentChildren[] {
  const out: ComponentChildren[] = [];
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    const token = match[0];
    const at = match.index ?? 0;
    if (at > last) out.push(text.slice(last, at));
    last = at + token.length;
    if (token.startsWith("**")) out.push(<strong>{token.slice(2, -2)}</strong>);
    else if (token.startsWith("`")) out.push(<code>{token.slice(1, -1)}</code>);
    else if (token.startsWith("*")) out.push(<em>{token.slice(1, -1)}</em>);
    else if (token.startsWith("[")) {
      const [, label, href] = /^\[([^\]]+)\]\(([^)\s]+)\)$/.exec(token) ?? [];
      const url = safeUrl(href);
      out.push(url ? <a href={url} target="_blank" rel="noopener noreferrer">{label}</a> : token);
    } else {
      const url = safeUrl(token);
      out.push(url ? <a href={url} target="_blank" rel="noopener noreferrer">{token}</a> : token);
    }
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function withBreaks(lines: string[]): ComponentChildren[] {
  return lines.flatMap((line, i) => (i ? [<br />, ...inline(line)] : inline(line)));
}

export function Markdown({ text }: { text: string }) {
  const blocks: ComponentChildren[] = [];
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i += 1;
      continue;
    }
    const take = (test: RegExp): string[] => {
      const found: string[] = [];
      while (i < lines.length && test.test(lines[i])) found.push(lines[i++]);
      return found;
    };
    if (/^\s*[-*] /.test(line)) {
      blocks.push(<ul>{take(/^\s*[-*] /).map((l) => <li>{inline(l.replace(/^\s*[-*] /, ""))}</li>)}</ul>);
    } else if (/^\s*\d+\. /.test(line)) {
      blocks.push(<ol>{take(/^\s*\d+\. /).map((l) => <li>{inline(l.replace(/^\s*\d+\. /, ""))}</li>)}</ol>);
    } else if (/^>/.test(line)) {
      blocks.push(<blockquote class="quote">{withBreaks(take(/^>/).map((l) => l.replace(/^> ?/, "")))}</blockquote>);
    } else {
      blocks.push(<p>{withBreaks(take(/^(?!\s*$)(?!\s*[-*] )(?!\s*\d+\. )(?!>)/))}</p>);
    }
  }
  return <div class="markdown">{blocks}</div>;
}
