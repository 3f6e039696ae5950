/** The customer's rating of the open conversation (G4): the newest survey's score in the thread header, live. */

import { useEffect, useState } from "preact/hooks";
import { currentApi, onLive } from "../console/state";
import { t } from "../i18n";
import type { Survey } from "../types";

export function SurveyRating({ conversationId }: { conversationId: string }) {
  const [surveys, setSurveys] = useState<Survey[]>([]);
  useEffect(() => {
    let live = true;
    currentApi().conversationSurveys(conversationId).then((page) => live && setSurveys(page.items), () => undefined);
    const stop = onLive((event) => {
      if (event.type !== "survey.updated" || event.survey.conversation_id !== conversationId) return;
      setSurveys((list) => [event.survey, ...list.filter((s) => s.id !== event.survey.id)]
        .sort((a, b) => ((a.created_at ?? "") < (b.created_at ?? "") ? 1 : -1)));
    });
    return () => { live = false; stop(); };
  }, [conversationId]);
  const last = surveys[0];
  if (!last) return null;
  const scale = last.kind === "csat" ? 5 : 10;
  const state = last.score !== null ? `${last.score} / ${scale}`
    : last.state === "failed" ? t("survey_failed") : last.state === "expired" ? t("survey_expired") : t("survey_waiting");
  return (
    <span class={`survey-rating survey-${last.kind}${last.score !== null ? " answered" : ""}`} data-testid="survey-rating"
      title={t("survey_rating")}>
      {last.kind.toUpperCase()} {last.kind === "csat" && last.score !== null ? "★".repeat(last.score) : ""} {state}
    </span>
  );
}
