/** Русский / English switch (the choice is remembered). */

import { useEffect, useState } from "preact/hooks";
import { currentLang, onLangChange, setLang, t, type Lang } from "../i18n";

const LANGS: { code: Lang; label: string }[] = [{ code: "ru", label: "RU" }, { code: "en", label: "EN" }];

export function LangSwitch() {
  const lang = useLang();
  return (
    <div class="lang-switch" role="group" aria-label={t("language")}>
      {LANGS.map(({ code, label }) => (
        <button type="button" key={code} aria-pressed={lang === code} lang={code}
          title={code === "ru" ? "Русский" : "English"} onClick={() => setLang(code)}>{label}</button>
      ))}
    </div>
  );
}

/** Re-render when the language changes; returns the current one. */
export function useLang(): Lang {
  const [lang, setState] = useState(currentLang());
  useEffect(() => onLangChange(() => setState(currentLang())), []);
  return lang;
}
