/** Merge another card of the same person into this one (C2): a preview of what wins per field, the operator picks a
 * side, then the merge (undo within 24 h from the card). Loaded on demand: it is not in the console's first bundle. */

import { useEffect, useRef, useState } from "preact/hooks";
import type { ApiError } from "../api";
import { apiClient } from "../console/state";
import { t, type Key } from "../i18n";
import type { Duplicate, MergeField, MergeInfo, MergePreview, MergeSide } from "../types";
import { errorText } from "./errors";

const FIELD: Record<MergeField, Key> = {
  display_name: "card_name", email: "card_email", phone: "card_phone", notes: "card_notes",
  custom_fields: "card_fields",
};
const SIDE: Record<MergeSide, Key> = { survivor: "merge_side_survivor", other: "merge_side_other", both: "merge_side_both" };

function shown(value: unknown): string {
  if (value && typeof value === "object") {
    return Object.entries(value as Record<string, string>).map(([k, v]) => `${k}: ${v}`).join(", ");
  }
  return value ? String(value) : "—";
}

export default function MergeDialog({ survivorId, other, close, merged }: {
  survivorId: string; other: Duplicate; close: () => void; merged: (merge: MergeInfo) => void;
}) {
  const [choices, setChoices] = useState<Record<string, MergeSide>>({});
  const [preview, setPreview] = useState<MergePreview | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => { dialog.current?.showModal(); }, []);
  useEffect(() => {
    apiClient().mergePreview(survivorId, other.contact_id, choices).then(setPreview, (err: ApiError) => setError(err));
  }, [survivorId, other.contact_id, JSON.stringify(choices)]);

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    if (!preview) return;
    setBusy(true);
    try {
      const answer = await apiClient().merge(survivorId, other.contact_id, choices, preview.revisions);
      merged(answer.merge);
    } catch (err) {
      setError(err as ApiError);
      setBusy(false);
    }
  };

  return (
    <dialog ref={dialog} class="settings merge-dialog" aria-labelledby="merge-title" onClose={close}>
      <form onSubmit={submit}>
        <h2 id="merge-title">{t("merge_title", { name: other.display_name || other.contact_id })}</h2>
        <p class="muted">{t("merge_explain")}</p>
        {!preview && !error && <p aria-busy="true">{t("loading")}</p>}
        {preview && (
          <table class="merge-table">
            <thead><tr><th>{t("merge_field")}</th><th>{t("merge_side_survivor")}</th><th>{t("merge_side_other")}</th>
              <th>{t("merge_result")}</th></tr></thead>
            <tbody>
              {preview.fields.map((f) => (
                <tr key={f.field}>
                  <th scope="row">{t(FIELD[f.field])}</th>
                  <td>{shown(f.survivor)}</td>
                  <td>{shown(f.other)}</td>
                  <td>
                    <fieldset class="merge-sides" aria-label={t("merge_pick", { field: t(FIELD[f.field]) })}>
                      {f.sides.map((side) => (
                        <label key={side}>
                          <input type="radio" name={`merge-${f.field}`} checked={(choices[f.field] ?? f.side) === side}
                            onChange={() => setChoices({ ...choices, [f.field]: side })} />
                          {t(SIDE[side])}
                        </label>
                      ))}
                    </fieldset>
                    <output class="merge-result" aria-label={t("merge_result_of", { field: t(FIELD[f.field]) })}>
                      {shown(f.result)}</output>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {preview && (
          <p>{t("merge_moves", { identities: preview.moves.identities, conversations: preview.moves.conversations })}
            {preview.tags.result.length > 0 && ` ${t("merge_tags", { tags: preview.tags.result.join(", ") })}`}</p>
        )}
        {error && <p class="form-error" role="alert">{error.code === "stale" ? t("merge_stale") : errorText(error)}</p>}
        <div class="dialog-actions">
          <button type="button" onClick={() => dialog.current?.close()}>{t("colleague_cancel")}</button>
          <button type="submit" class="primary" disabled={busy || !preview}>{busy ? t("loading") : t("merge_do")}</button>
        </div>
      </form>
    </dialog>
  );
}
