/** How an ApiError reads to a person: the server's reason, with the code kept for support. */

import type { ApiError } from "../api";
import { t } from "../i18n";

export function errorText(error: ApiError): string {
  if (error.status === 0 && error.code === "network") return t("error_network");
  const reason = error.message || t("error_unknown");
  return error.code && error.code !== "error" ? `${reason} (${error.code})` : reason;
}
