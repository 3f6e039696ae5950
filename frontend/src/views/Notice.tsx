/** The last failed action, with the server's reason (dismissable). */

import { dismissNotice, store } from "../console/state";
import { t } from "../i18n";
import { useStore } from "../store";
import { errorText } from "./errors";

export function Notice() {
  const { notice } = useStore(store);
  if (!notice) return null;
  return (
    <div class="notice" role="alert">
      <span>{t("error_action")} {errorText(notice)}</span>
      <button type="button" class="ghost" onClick={dismissNotice} aria-label={t("dismiss")}>×</button>
    </div>
  );
}
