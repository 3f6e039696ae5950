/**
 * Russian and English. The browser's language decides by default; the choice is kept in localStorage.
 * `t(key, params)` fills `{name}` placeholders; keys missing in one language fall back to English.
 */

import { en } from "./i18n/en";
import { ru } from "./i18n/ru";

export type Lang = "ru" | "en";
export type Key = keyof typeof en;

const DICTS: Record<Lang, Record<Key, string>> = { en, ru };
const STORAGE_KEY = "zabota.lang";
const listeners = new Set<() => void>();

function detect(): Lang {
  const chosen = fromUrl();
  if (chosen) {
    safeStorage()?.setItem(STORAGE_KEY, chosen);
    return chosen;
  }
  const saved = safeStorage()?.getItem(STORAGE_KEY);
  if (saved === "ru" || saved === "en") return saved;
  const preferred = navigator.languages?.length ? navigator.languages : [navigator.language];
  for (const tag of preferred) {
    const base = (tag || "").toLowerCase().split("-")[0];
    if (base === "ru" || base === "en") return base;
  }
  return "en";
}

/** `?lang=` chosen on a page before this one (the e-mailed link's page): kept, and taken out of the address. */
function fromUrl(): Lang | null {
  const params = new URLSearchParams(location.search);
  const chosen = params.get("lang");
  if (chosen !== "ru" && chosen !== "en") return null;
  params.delete("lang");
  const rest = params.toString();
  history.replaceState(history.state, "", `${location.pathname}${rest ? `?${rest}` : ""}${location.hash}`);
  return chosen;
}

function safeStorage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

let lang: Lang = detect();

export function currentLang(): Lang {
  return lang;
}

export function setLang(next: Lang): void {
  lang = next;
  safeStorage()?.setItem(STORAGE_KEY, next);
  document.documentElement.lang = next;
  listeners.forEach((listener) => listener());
}

export function onLangChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Is this text known (keys built from server values, e.g. a notification kind, may not be)? */
export function known(key: string): key is Key {
  return Object.prototype.hasOwnProperty.call(en, key);
}

export function t(key: Key, params: Record<string, string | number> = {}): string {
  const template: string = DICTS[lang][key] ?? en[key];
  return template.replace(/\{(\w+)\}/g, (_, name: string) => String(params[name] ?? `{${name}}`));
}

/** Plural form of a count ("1 message", "5 сообщений"): keys `<base>_one`, `_few`, `_many`. */
export function plural(base: "messages", count: number): string {
  const rule = new Intl.PluralRules(lang).select(count);
  const form = rule === "one" ? "one" : rule === "few" ? "few" : "many";
  return t(`${base}_${form}` as Key, { count });
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const now = new Date();
  const sameDay = date.toDateString() === now.toDateString();
  return sameDay
    ? date.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleDateString(lang, { day: "numeric", month: "short" });
}

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleString(lang, { dateStyle: "medium", timeStyle: "short" });
}

export function formatSize(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
