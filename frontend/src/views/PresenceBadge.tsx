/** Who else is here (B10): colleagues viewing or typing in a conversation, so that two never answer one customer. */

import { colleaguesIn, presence } from "../console/presence";
import { t } from "../i18n";
import { useStore } from "../store";

function names(list: string[]): string {
  return list.length <= 2 ? list.join(t("presence_and")) : `${list.slice(0, 2).join(", ")} +${list.length - 2}`;
}

/** In the thread header: "Anna is typing…", "Anna and Boris are viewing". */
export function PresenceBadge({ conversationId }: { conversationId: string }) {
  const state = useStore(presence);
  const { viewing, typing } = colleaguesIn(state, conversationId);
  return (
    <p class="presence" role="status" aria-live="polite">
      {typing.length > 0 && (
        <span class="presence-typing">
          {t(typing.length === 1 ? "presence_typing_one" : "presence_typing_many", { names: names(typing) })}
        </span>
      )}
      {viewing.length > 0 && (
        <span class="presence-viewing">
          {t(viewing.length === 1 ? "presence_viewing_one" : "presence_viewing_many", { names: names(viewing) })}
        </span>
      )}
    </p>
  );
}

/** In an inbox row: an eye with the colleagues' names when someone else has it open. */
export function RowPresence({ conversationId }: { conversationId: string }) {
  const state = useStore(presence);
  const { viewing, typing } = colleaguesIn(state, conversationId);
  const here = [...typing, ...viewing];
  if (here.length === 0) return null;
  const label = t("presence_row", { names: names(here) });
  return (
    <span class="row-presence" title={label} aria-label={label} role="img">
      <svg aria-hidden="true" width="14" height="14" viewBox="0 0 24 24" fill="none" stroke="currentColor"
        stroke-width="2"><path d="M1 12s4-7 11-7 11 7 11 7-4 7-11 7S1 12 1 12z" /><circle cx="12" cy="12" r="3" /></svg>
      {here[0]}{here.length > 1 ? ` +${here.length - 1}` : ""}
    </span>
  );
}
