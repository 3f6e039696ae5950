/**
 * Sign in: the external accounts this deployment accepts (Google, Yandex ID, VK ID, any OpenID Connect issuer;
 * the local test provider in embedded mode), an e-mailed link, or an API key.
 */

import { useEffect, useState } from "preact/hooks";
import { apiBase, requestLoginLink, signInProviders, type SignInProvider } from "../api";
import { signIn, store } from "../console/state";
import { t } from "../i18n";
import { SIGN_IN_METHODS } from "../session";
import { useStore } from "../store";
import { errorText } from "./errors";
import { LangSwitch } from "./LangSwitch";

export function Login() {
  const { loginError } = useStore(store);
  return (
    <main class="login">
      <div class="login-card">
        <header class="login-head">
          <h1>Zabota</h1>
          <LangSwitch />
        </header>
        <p class="muted">{t("login_intro")}</p>
        <ProviderButtons />
        {SIGN_IN_METHODS.includes("email_link") && <EmailLinkForm />}
        {SIGN_IN_METHODS.includes("api_key") && <ApiKeyForm />}
        {loginError && loginError.code !== "empty_key" && (
          <p class="form-error" role="alert">{loginErrorText(loginError.status) ?? errorText(loginError)}</p>
        )}
      </div>
    </main>
  );
}

function loginErrorText(status: number): string | null {
  if (status === 401) return t("login_wrong_key");
  if (status === 403) return t("login_forbidden");
  return null;
}

/** One button per configured provider; each starts the provider's sign-in and comes back to this page. */
function ProviderButtons() {
  const [providers, setProviders] = useState<SignInProvider[]>([]);
  useEffect(() => {
    signInProviders().then((found) => setProviders(found.providers), () => setProviders([]));
  }, []);
  if (providers.length === 0) return null;
  const back = encodeURIComponent(location.pathname + location.search);
  return (
    <nav class="login-providers" aria-label={t("login_providers")}>
      {providers.map((p) => (
        <a key={p.id} class="button provider" data-provider={p.id}
          href={`${apiBase()}${p.start_url}?next=${back}`}>{t("login_with", { name: p.name })}</a>
      ))}
      <p class="login-or" aria-hidden="true"><span>{t("login_or")}</span></p>
    </nav>
  );
}

function EmailLinkForm() {
  const [email, setEmail] = useState("");
  const [state, setState] = useState<"idle" | "busy" | "sent" | "error">("idle");
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setState("busy");
    try {
      await requestLoginLink(email.trim());
      setState("sent");
    } catch {
      setState("error");
    }
  };
  if (state === "sent") return <p role="status">{t("login_link_sent")}</p>;
  return (
    <form class="stack" onSubmit={submit}>
      <label for="login-email">{t("login_email_label")}</label>
      <input id="login-email" type="email" autocomplete="email" value={email} required
        onInput={(e) => setEmail(e.currentTarget.value)} />
      <button type="submit" class="primary" disabled={state === "busy" || !email.trim()}>{t("login_link_submit")}</button>
      {state === "error" && <p class="form-error" role="alert">{t("login_link_failed")}</p>}
    </form>
  );
}

function ApiKeyForm() {
  const [key, setKey] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    if (!key.trim()) return;
    setBusy(true);
    await signIn(key);
    setBusy(false);
  };
  return (
    <form class="stack" onSubmit={submit}>
      <label for="api-key">{t("login_key_label")}</label>
      <input id="api-key" type="password" autocomplete="off" spellcheck={false} value={key} required
        placeholder="zb_…" onInput={(e) => setKey(e.currentTarget.value)} />
      <p class="hint">{t("login_key_hint")}</p>
      <button type="submit" class="primary" disabled={busy || !key.trim()}>
        {busy ? t("login_checking") : t("login_submit")}
      </button>
    </form>
  );
}
