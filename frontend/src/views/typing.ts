/** Keyboard shortcuts stay out of fields: is the key meant for a text entry or a select? */

const NOT_TEXT = ["checkbox", "radio", "button", "submit", "reset", "file", "range", "color"];

export function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el) return false;
  if (el instanceof HTMLInputElement) return !NOT_TEXT.includes(el.type);
  return el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT";
}
