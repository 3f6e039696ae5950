/**
 * Emoji for the reply box: a button opening a small grid of common ones (no library: the font draws them).
 * Arrow keys move in the grid, Enter or a click inserts at the caret, Escape (in the grid or on the button while
 * the grid is open) closes and returns to the button.
 */

import { useLayoutEffect, useRef, useState } from "preact/hooks";
import { t } from "../i18n";

export const EMOJI = [
  "😀", "😊", "🙂", "😉", "😍", "🤗", "🤔", "😅", "😂", "🙃", "😌", "😎",
  "😔", "😢", "😭", "😮", "😱", "😡", "🙏", "👍", "👎", "👌", "👋", "👏",
  "🤝", "💪", "✌️", "☝️", "👉", "👀", "❤️", "🧡", "💛", "💚", "💙", "💜",
  "🔥", "⭐", "✨", "🎉", "🎁", "💐", "☀️", "⏰", "⌛", "📦", "🚚", "✈️",
  "🏠", "🛒", "💳", "💰", "🧾", "📞", "📱", "💬", "📧", "📎", "🔗", "📍",
  "✅", "❌", "⚠️", "❗", "❓", "➡️", "🆗", "🆕", "🔄", "⏳", "🙌", "😇",
];
const COLUMNS = 8;

export function EmojiPicker({ onPick }: { onPick: (emoji: string) => void }) {
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const toggle = useRef<HTMLButtonElement>(null);
  const grid = useRef<HTMLDivElement>(null);

  const focusAt = (index: number): void => {
    grid.current?.querySelectorAll<HTMLButtonElement>("button")[index]?.focus();
  };

  // On opening only (the arrow keys move the focus themselves), and in the same task as the render: a key
  // pressed right after the click must already land in the grid, not wait for the next paint.
  useLayoutEffect(() => {
    if (open) focusAt(active);
  }, [open]);

  const close = (): void => {
    setOpen(false);
    toggle.current?.focus();
  };

  const onKey = (e: KeyboardEvent): void => {
    const moves: Record<string, number> = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: COLUMNS, ArrowUp: -COLUMNS };
    if (e.key === "Escape" && open) {
      e.preventDefault();
      e.stopPropagation();
      close();
    } else if (open && e.key in moves && grid.current?.contains(e.target as Node)) {
      e.preventDefault();
      const next = Math.min(EMOJI.length - 1, Math.max(0, active + moves[e.key]));
      focusAt(next);  // now, not after the next paint: a key pressed right after must land on it
      setActive(next);
    }
  };

  return (
    <div class="emoji" onKeyDown={onKey}>
      <button ref={toggle} type="button" class="ghost" aria-expanded={open} aria-haspopup="true"
        aria-label={t("emoji_open")} title={t("emoji_open")} onClick={() => setOpen(!open)}>
        <svg aria-hidden="true" width="16" height="16" viewBox="0 0 24 24" fill="none" stroke="currentColor"
          stroke-width="2"><circle cx="12" cy="12" r="10" /><path d="M8 14s1.5 2 4 2 4-2 4-2" />
          <path d="M9 9h.01M15 9h.01" stroke-linecap="round" stroke-width="3" /></svg>
      </button>
      {open && (
        <div ref={grid} class="emoji-grid" role="group" aria-label={t("emoji_label")}
          onFocusOut={(e) => {
            const next = e.relatedTarget as Node | null;
            if (next && !e.currentTarget.parentElement?.contains(next)) setOpen(false);
          }}>
          {EMOJI.map((emoji, i) => (
            <button type="button" key={emoji} tabIndex={i === active ? 0 : -1}
              onClick={() => { onPick(emoji); setOpen(false); }}>{emoji}</button>
          ))}
        </div>
      )}
    </div>
  );
}
