"""The few pages the API renders itself (the e-mailed sign-in link, an invitation, their outcomes): the console's
sign-in card in plain HTML, Russian or English, no script at all.

Every value that comes from a user or a request (an address, a workspace's name, a token) goes through
`html.escape`; the Content-Security-Policy allows only the one stylesheet below (by its hash) and forms to this
site, so nothing injected could run or post elsewhere even if an escape were missed.
"""

from __future__ import annotations

import base64
import hashlib
import html
from typing import Any
from urllib.parse import urlencode

from chalice import Response

LANGS = ("ru", "en")

# The console's sign-in card (frontend/src/styles/base.css + console.css `.login-card`), reduced to what these
# pages use. Colours are the console's; text contrast >= 4.5:1.
CSS = (
    ":root{--bg:#f4f5f7;--panel:#fff;--line:#dfe2e8;--text:#1c2230;--muted:#5a6272;--accent:#2459c4;"
    "--accent-soft:#e7eefc;--danger:#b3261e;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,"
    "'Helvetica Neue',Arial,sans-serif;color:var(--text);background:var(--bg)}"
    "*{box-sizing:border-box}html,body{height:100%}body{margin:0}"
    "main{display:grid;place-items:center;min-height:100%;padding:1rem}"
    ".card{width:min(26rem,100%);background:var(--panel);padding:1.5rem;border-radius:14px;"
    "box-shadow:0 1px 4px #0002;display:grid;gap:.75rem}"
    ".head{display:flex;justify-content:space-between;align-items:center}"
    "h1{margin:0;font-size:2em;line-height:1.25}h2{margin:0;font-size:1.1rem;line-height:1.25}p{margin:.25rem 0}"
    ".muted{color:var(--muted)}.hint{color:var(--muted);font-size:.85rem}.error{color:var(--danger)}"
    "a{color:var(--accent)}b{overflow-wrap:anywhere}"
    ".lang{display:inline-flex;gap:2px}.lang a{border:1px solid var(--line);border-radius:8px;padding:.15rem .45rem;"
    "font-size:.8rem;color:var(--text);text-decoration:none}"
    ".lang a[aria-current]{background:var(--accent-soft);border-color:var(--accent);color:var(--accent)}"
    "form{display:grid;gap:.5rem}label{font-weight:500}"
    "input{font:inherit;color:inherit;border:1px solid var(--line);border-radius:8px;padding:.35rem .55rem;"
    "background:var(--panel)}"
    "button{font:inherit;border:1px solid var(--accent);background:var(--accent);color:#fff;font-weight:600;"
    "border-radius:8px;padding:.45rem .75rem;cursor:pointer}"
    ":focus-visible{outline:none;box-shadow:0 0 0 3px #2459c466}"
)
CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
CSP = (f"default-src 'none'; style-src 'sha256-{CSS_HASH}'; img-src data:; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")
FAVICON = ("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' "
           "cy='8' r='7' fill='%23e0862b'/%3E%3C/svg%3E")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "language": "Language",
        "link_title": "Sign in to Zabota",
        "link_who_one": "This link signs in {email} to the workspace {workspaces}.",
        "link_who_many": "This link signs in {email}; workspaces: {workspaces} (you choose one in the console).",
        "link_who_none": "This link signs in {email} (not a member of any workspace yet).",
        "link_button": "Sign in",
        "link_why": "Why a click: mail scanners open links by themselves, so only this button signs you in.",
        "link_valid": "The link works once, for {minutes} more min.",
        "link_bad_title": "This link cannot be used",
        "link_used": "It was used already: each link signs in once.",
        "link_expired": "It has expired: a link works for {minutes} minutes.",
        "link_unknown": "It is not a valid sign-in link (mistyped, or older than a day).",
        "link_new": "Ask for a new one:",
        "email_label": "Your work e-mail",
        "email_button": "E-mail me a new link",
        "sent_title": "Check your inbox",
        "sent_text": "If this address has an account, a sign-in link is on its way: it works once, within {minutes} "
                     "minutes.",
        "sent_outbox": "Embedded mode: nothing leaves this computer; the e-mail is in the outbox.",
        "outbox": "Open the outbox",
        "rate_limited": "Too many links for this address: try again in a quarter of an hour.",
        "bad_email": "This is not an e-mail address.",
        "back": "Back to the sign-in page",
        "invite_title": "Join the team in Zabota",
        "invite_button": "Accept",
        "invite_why": "Why a click: mail scanners open links by themselves, so only this button accepts.",
        "invite_who": "This invitation adds {email} to the workspace {workspace} as {role}.",
        "invite_accepted": "It was accepted already: each invitation works once. Sign in instead.",
        "invite_revoked": "The admin withdrew it: ask them for a new one.",
        "invite_expired": "It has expired: ask the admin who invited you for a new one.",
        "invite_invalid": "It is not a valid invitation link (mistyped?).",
        "role_readonly": "read-only", "role_moderator": "moderator", "role_operator": "operator",
        "role_analyst": "analyst", "role_admin": "admin",
        "invite_bad_title": "This invitation cannot be used",
        "failed_title": "Signing in did not work",
    },
    "ru": {
        "language": "Язык",
        "link_title": "Вход в Zabota",
        "link_who_one": "По этой ссылке вы войдёте как {email} в пространство {workspaces}.",
        "link_who_many": "По этой ссылке вы войдёте как {email}; пространства: {workspaces} (выбор в консоли).",
        "link_who_none": "По этой ссылке вы войдёте как {email} (пока ни в одном пространстве).",
        "link_button": "Войти",
        "link_why": "Зачем нажимать: почтовые сканеры сами открывают ссылки, поэтому войти можно только кнопкой.",
        "link_valid": "Ссылка действует один раз, ещё {minutes} мин.",
        "link_bad_title": "Этой ссылкой нельзя войти",
        "link_used": "Ею уже воспользовались: каждая ссылка входит один раз.",
        "link_expired": "Её срок истёк: ссылка действует {minutes} минут.",
        "link_unknown": "Это не ссылка для входа (ошибка в адресе или ей больше суток).",
        "link_new": "Попросите новую:",
        "email_label": "Рабочий e-mail",
        "email_button": "Прислать новую ссылку",
        "sent_title": "Проверьте почту",
        "sent_text": "Если у этого адреса есть учётная запись, ссылка уже в пути: она действует один раз в течение "
                     "{minutes} минут.",
        "sent_outbox": "Встроенный режим: письма не покидают компьютер, письмо лежит в исходящих.",
        "outbox": "Открыть исходящие",
        "rate_limited": "Слишком много ссылок на этот адрес: попробуйте через четверть часа.",
        "bad_email": "Это не адрес e-mail.",
        "back": "К странице входа",
        "invite_title": "Вступить в команду в Zabota",
        "invite_button": "Принять",
        "invite_why": "Зачем нажимать: почтовые сканеры сами открывают ссылки, поэтому принимает только эта кнопка.",
        "invite_who": "Это приглашение добавляет {email} в пространство {workspace} с ролью «{role}».",
        "invite_accepted": "Его уже приняли: приглашение действует один раз. Просто войдите.",
        "invite_revoked": "Администратор его отозвал: попросите новое.",
        "invite_expired": "Его срок истёк: попросите новое у пригласившего администратора.",
        "invite_invalid": "Это не ссылка-приглашение (ошибка в адресе?).",
        "role_readonly": "только чтение", "role_moderator": "модератор", "role_operator": "оператор",
        "role_analyst": "аналитик", "role_admin": "администратор",
        "invite_bad_title": "Этим приглашением нельзя воспользоваться",
        "failed_title": "Войти не получилось",
    },
}


def language(query_lang: str | None, accept_language: str) -> str:
    """`?lang=` (the page's switch, or the form's hidden field), else the browser's first of ru / en, else en."""
    if query_lang in LANGS:
        return query_lang
    for part in accept_language.split(","):
        base = part.split(";")[0].strip().lower().split("-")[0]
        if base in LANGS:
            return base
    return "en"


def text(lang: str, key: str, **params: str) -> str:
    """The text in `lang` with `{name}` filled by already-escaped HTML fragments."""
    template = TEXTS.get(lang, TEXTS["en"]).get(key) or TEXTS["en"][key]
    return template.format(**params)


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def lang_switch(lang: str, path: str, params: dict[str, str]) -> str:
    """RU / EN as links to the same page (a GET: nothing is used up by switching)."""
    links = []
    for code, label, name in (("ru", "RU", "Русский"), ("en", "EN", "English")):
        href = f"{path}?{urlencode({**params, 'lang': code})}"
        current = " aria-current=true" if code == lang else ""
        links.append(f"<a href='{esc(href)}' lang={code} title='{name}'{current}>{label}</a>")
    return f"<nav class=lang aria-label='{esc(text(lang, 'language'))}'>{''.join(links)}</nav>"


def page(status: int, lang: str, title: str, body: str, *, switch: str = "",
         cookies: list[str] | None = None) -> Response:
    """One card: Zabota, the language switch, a heading and `body` (HTML the caller escaped)."""
    doc = (f"<!doctype html><html lang={lang}><head><meta charset=utf-8>"
           "<meta name=viewport content='width=device-width, initial-scale=1'><meta name=color-scheme content=light>"
           f"<title>{esc(title)} · Zabota</title><link rel=icon href=\"{FAVICON}\"><style>{CSS}</style></head>"
           f"<body><main><div class=card><header class=head><h1>Zabota</h1>{switch}</header>"
           f"<h2>{esc(title)}</h2>{body}</div></main></body></html>")
    headers: dict[str, Any] = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
                               "Content-Security-Policy": CSP, "X-Frame-Options": "DENY",
                               # the token never leaves in a Referer; `no-referrer` would also send `Origin: null`
                               # with the form, which the sign-in POST refuses as cross-site
                               "Referrer-Policy": "strict-origin", "X-Content-Type-Options": "nosniff"}
    if cookies:
        headers["Set-Cookie"] = cookies
    return Response(body=doc, status_code=status, headers=headers)
