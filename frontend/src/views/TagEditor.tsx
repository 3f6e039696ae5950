/** Tags of the open conversation: remove with ×, add by typing and Enter. */

import { useState } from "preact/hooks";
import { setTags } from "../console/state";
import { t } from "../i18n";

export function TagEditor({ tags, editable }: { tags: string[]; editable: boolean }) {
  const [draft, setDraft] = useState("");
  const add = async (): Promise<void> => {
    const tag = draft.trim();
    if (!tag || tags.includes(tag)) {
      setDraft("");
      return;
    }
    if (await setTags([...tags, tag])) setDraft("");
  };
  return (
    <div class="tags" aria-label={t("tags")} role="group">
      {tags.map((tag) => (
        <span class="tag" key={tag}>
          {tag}
          {editable && (
            <button type="button" class="ghost" aria-label={t("remove_tag", { tag })}
              onClick={() => void setTags(tags.filter((x) => x !== tag))}>×</button>
          )}
        </span>
      ))}
      {editable && (
        <input class="tag-input" aria-label={t("add_tag")} placeholder={t("add_tag")} value={draft} maxLength={50}
          onInput={(e) => setDraft(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") {
              e.preventDefault();
              void add();
            }
          }} />
      )}
    </div>
  );
}
