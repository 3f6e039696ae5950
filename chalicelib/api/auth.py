"""Signing in and out (public routes that authenticate by themselves): e-mailed one-time links, invitations and
OpenID Connect; the signed-in user's workspaces. docs/TEAM.md describes the flows.

E-mailed links open a small confirmation page whose button POSTs the token: mail scanners that fetch links do not
use them up. Browser POSTs from another site are refused by their Origin.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from chalice import Blueprint, Response

from chalicelib.api import pages
from chalicelib.api.http import json_object, json_response
from chalicelib.api.routing import PUBLIC, Ctx, route
from chalicelib.auth import access, keys, login_links, oidc, sessions, signin
from chalicelib.domain.model import parse_iso
from chalicelib.errors import AppError, Forbidden, InvalidInput, RateLimitedByUs
from chalicelib.services import team as team_service
from chalicelib.services.deps import deps
from chalicelib.store import team

bp = Blueprint(__name__)

FORM = ["application/json", "application/x-www-form-urlencoded"]
TOKEN_BODY = {"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}}
SESSION = {
    "type": "object",
    "properties": {
        "signed_in": {"type": "boolean"},
        "user": {"type": ["object", "null"], "properties": {"id": {"type": "string"}, "email": {"type": "string"},
                                                            "name": {"type": "string"}}},
        "workspaces": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "name": {"type": "string"}, "role": {"type": "string"}}}},
    },
}


def _body(ctx: Ctx) -> dict[str, Any]:
    """A JSON object or an HTML form (the confirmation pages post forms)."""
    if ctx.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        fields = parse_qs((ctx.request.raw_body or b"").decode("utf-8", "replace"))
        return {k: v[-1] for k, v in fields.items()}
    return json_object(ctx.request.raw_body)


def _is_form(ctx: Ctx) -> bool:
    return ctx.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")


def _same_site(ctx: Ctx) -> None:
    origin = ctx.headers.get("origin", "")
    if origin and not access.same_origin(ctx.deps.settings, origin):
        raise Forbidden("sign-in requests must come from this site", code="cross_site")


def _lang(ctx: Ctx, form: dict[str, Any] | None = None) -> str:
    chosen = (form or {}).get("lang") or ctx.query("lang")
    return pages.language(chosen if isinstance(chosen, str) else None, ctx.headers.get("accept-language", ""))


def _redirect(location: str, cookies: list[str], status: int = 302) -> Response:
    return Response(body="", status_code=status,
                    headers={"Location": location, "Cache-Control": "no-store", "Set-Cookie": cookies})


def _invite_page(ctx: Ctx, lang: str, token: str) -> Response:
    """Which address joins which workspace with which role, the button and why a click; or why it cannot."""
    state = team_service.inspect_invite(ctx.deps, token)
    switch = pages.lang_switch(lang, "/api/auth/invite", {"token": token} if token else {})
    back = f"<p><a href='/'>{pages.esc(pages.text(lang, 'back'))}</a></p>"
    if state.status != "pending":
        reason = pages.text(lang, f"invite_{state.status}" if state.status in ("accepted", "revoked", "expired")
                            else "invite_invalid")
        return pages.page(200, lang, pages.text(lang, "invite_bad_title"), f"<p>{pages.esc(reason)}</p>{back}",
                          switch=switch)
    role = pages.text(lang, f"role_{state.role}") if f"role_{state.role}" in pages.TEXTS["en"] else state.role
    who = pages.text(lang, "invite_who", email=f"<b>{pages.esc(state.email)}</b>",
                     workspace=f"<b>{pages.esc(state.workspace_name)}</b>", role=pages.esc(role))
    body = (f"<p>{who}</p>"
            f"<form method=post action=/api/auth/invite><input type=hidden name=token value='{pages.esc(token)}'>"
            f"<input type=hidden name=lang value={lang}><button type=submit>"
            f"{pages.esc(pages.text(lang, 'invite_button'))}</button></form>"
            f"<p class=hint>{pages.esc(pages.text(lang, 'invite_why'))}</p>")
    return pages.page(200, lang, pages.text(lang, "invite_title"), body, switch=switch)


def _link_page(ctx: Ctx, lang: str, token: str, *, status: int = 200) -> Response:
    """What the link would do (whom it signs in, where), the button, and why a click; or why it cannot."""
    d = ctx.deps
    state = login_links.inspect_link(token, now=d.now())
    switch = pages.lang_switch(lang, "/api/auth/link", {"token": token} if token else {})
    if state.status != "ok":
        return _bad_link_page(lang, state.status, switch, status=status)
    who = signin.me(state.user_id)
    email = f"<b>{pages.esc(who['user']['email'])}</b>"
    names = [f"<b>{pages.esc(w['name'])}</b>" for w in who["workspaces"]]
    key = "link_who_one" if len(names) == 1 else "link_who_many" if names else "link_who_none"
    minutes = max(1, int((parse_iso(state.valid_until) - d.now()).total_seconds() // 60))
    # a language picked with the switch goes on to the console; otherwise the console follows the browser too
    chosen = f"<input type=hidden name=lang value={lang}>" if ctx.query("lang") in pages.LANGS else ""
    body = (f"<p>{pages.text(lang, key, email=email, workspaces=', '.join(names))}</p>"
            f"<form method=post action=/api/auth/link><input type=hidden name=token value='{pages.esc(token)}'>"
            f"{chosen}<button type=submit>{pages.esc(pages.text(lang, 'link_button'))}</button></form>"
            f"<p class=hint>{pages.esc(pages.text(lang, 'link_why'))} "
            f"{pages.esc(pages.text(lang, 'link_valid', minutes=str(minutes)))}</p>")
    return pages.page(status, lang, pages.text(lang, "link_title"), body, switch=switch)


def _bad_link_page(lang: str, why: str, switch: str, *, status: int) -> Response:
    """A used, expired or unknown link says which, and asks for a new one (the same API as the console's form)."""
    settings = deps().settings
    reason = pages.text(lang, f"link_{why}" if why in ("used", "expired") else "link_unknown",
                        minutes=str(settings.login_link_minutes))
    body = (f"<p>{pages.esc(reason)}</p><p>{pages.esc(pages.text(lang, 'link_new'))}</p>{_new_link_form(lang)}"
            f"<p><a href='/'>{pages.esc(pages.text(lang, 'back'))}</a></p>")
    return pages.page(status, lang, pages.text(lang, "link_bad_title"), body, switch=switch)


def _new_link_form(lang: str, email: str = "") -> str:
    return (f"<form method=post action=/api/auth/login-link><label for=email>"
            f"{pages.esc(pages.text(lang, 'email_label'))}</label><input id=email name=email type=email required "
            f"autocomplete=email value='{pages.esc(email)}'><input type=hidden name=lang value={lang}>"
            f"<button type=submit>{pages.esc(pages.text(lang, 'email_button'))}</button></form>")


def _signed_in(ctx: Ctx, issued: sessions.Issued, next_path: str, extra: dict[str, Any] | None = None) -> Response:
    if _is_form(ctx):
        return _redirect(next_path, issued.cookies, status=303)
    body = {**signin.me(issued.user_id), "csrf_token": issued.csrf_token, "next": next_path, **(extra or {})}
    return json_response(body, 200, headers={"Set-Cookie": issued.cookies})  # type: ignore[dict-item]


# --- which ways to sign in ---------------------------------------------------------------------------------


@route(bp, "/auth/providers", "GET", permission=PUBLIC, tag="auth",
       summary="Ways to sign in: external providers (OpenID Connect / OAuth) and the e-mailed link")
def get_providers(ctx: Ctx) -> dict[str, Any]:
    found = oidc.configured(ctx.deps.settings)
    return {"providers": [{"id": p.id, "name": p.name, "start_url": f"/api/auth/oidc/{p.id}/start"}
                          for p in found.values()], "email_link": True}


# --- e-mailed links ----------------------------------------------------------------------------------------


@route(bp, "/auth/login-link", "POST", permission=PUBLIC, tag="auth", status=202, content_types=FORM,
       summary="E-mail a one-time sign-in link (15 minutes). The answer never says whether the address has an account",
       request={"type": "object", "required": ["email"],
                "properties": {"email": {"type": "string"}, "next": {"type": "string"}}})
def post_login_link(ctx: Ctx) -> dict[str, Any] | Response:
    _same_site(ctx)
    body = _body(ctx)
    if not _is_form(ctx):
        login_links.request_link(ctx.deps.settings, body.get("email"), next_path=body.get("next", "/"),
                                 now=ctx.deps.now())
        return {"sent": True, "message": "If this address has an account, a sign-in link is on its way."}
    return _link_requested_page(ctx, body)


def _link_requested_page(ctx: Ctx, form: dict[str, Any]) -> Response:
    """The form of a used or expired link's page: the same answer whether or not the address has an account."""
    settings, lang = ctx.deps.settings, _lang(ctx, form)
    try:
        login_links.request_link(settings, form.get("email"), next_path=form.get("next", "/"), now=ctx.deps.now())
    except RateLimitedByUs:
        return _form_error(lang, 429, "rate_limited", form)
    except InvalidInput:
        return _form_error(lang, 400, "bad_email", form)
    body = f"<p role=status>{pages.esc(pages.text(lang, 'sent_text', minutes=str(settings.login_link_minutes)))}</p>"
    if settings.embedded:
        body += (f"<p class=hint>{pages.esc(pages.text(lang, 'sent_outbox'))} "
                 f"<a href='/_outbox'>{pages.esc(pages.text(lang, 'outbox'))}</a></p>")
    body += f"<p><a href='/'>{pages.esc(pages.text(lang, 'back'))}</a></p>"
    return pages.page(202, lang, pages.text(lang, "sent_title"), body)


def _form_error(lang: str, status: int, key: str, form: dict[str, Any]) -> Response:
    email = form.get("email") if isinstance(form.get("email"), str) else ""
    body = (f"<p class=error role=alert>{pages.esc(pages.text(lang, key))}</p>{_new_link_form(lang, email or '')}"
            f"<p><a href='/'>{pages.esc(pages.text(lang, 'back'))}</a></p>")
    return pages.page(status, lang, pages.text(lang, "link_bad_title"), body)


@route(bp, "/auth/link", "GET", permission=PUBLIC, tag="auth", query={"token": {"type": "string"}}, html=True,
       summary="The e-mailed link opens this confirmation page (its button signs in)")
def get_link(ctx: Ctx) -> Response:
    return _link_page(ctx, _lang(ctx), ctx.query("token") or "")


@route(bp, "/auth/link", "POST", permission=PUBLIC, tag="auth", content_types=FORM, request=TOKEN_BODY,
       response=SESSION, html=True, summary="Use a sign-in link (once): sets the session and CSRF cookies")
def post_link(ctx: Ctx) -> Response:
    _same_site(ctx)
    form = _body(ctx)
    try:
        issued, next_path = signin.with_link(ctx.deps.settings, form.get("token"), now=ctx.deps.now())
    except AppError:
        if _is_form(ctx):  # used meanwhile (another tab, another click): the page says which and offers a new one
            token = form.get("token") if isinstance(form.get("token"), str) else ""
            return _link_page(ctx, _lang(ctx, form), token or "", status=401)
        raise
    if form.get("lang") in pages.LANGS:
        path, _, fragment = next_path.partition("#")
        next_path = f"{path}{'&' if '?' in path else '?'}lang={form['lang']}" + (f"#{fragment}" if fragment else "")
    return _signed_in(ctx, issued, next_path)


# --- invitations -------------------------------------------------------------------------------------------


@route(bp, "/auth/invite", "GET", permission=PUBLIC, tag="auth", query={"token": {"type": "string"}}, html=True,
       summary="The invitation e-mail opens this confirmation page")
def get_invite(ctx: Ctx) -> Response:
    return _invite_page(ctx, _lang(ctx), ctx.query("token") or "")


@route(bp, "/auth/invite", "POST", permission=PUBLIC, tag="auth", content_types=FORM, request=TOKEN_BODY,
       response=SESSION, html=True,
       summary="Accept an invitation (once, before it expires): join the workspace and sign in")
def post_invite(ctx: Ctx) -> Response:
    _same_site(ctx)
    form = _body(ctx)
    try:
        issued, ws = team_service.accept_invite(ctx.deps, form.get("token"))
    except AppError as err:
        if _is_form(ctx):
            lang = _lang(ctx, form)
            body = (f"<p>{pages.esc(err.message)}</p><p><a href='/'>{pages.esc(pages.text(lang, 'back'))}</a></p>")
            return pages.page(401, lang, pages.text(lang, "invite_bad_title"), body)
        raise
    return _signed_in(ctx, issued, f"/?workspace={ws}", {"workspace_id": ws})


# --- OpenID Connect ----------------------------------------------------------------------------------------


@route(bp, "/auth/oidc/{provider}/start", "GET", permission=PUBLIC, tag="auth",
       query={"next": {"type": "string"}}, status=302,
       summary="Start signing in with an external account: redirects to the provider (PKCE, state, nonce)")
def get_oidc_start(ctx: Ctx, provider: str) -> Response:
    settings = ctx.deps.settings
    started = oidc.start(settings, provider, login_links.safe_next(ctx.query("next", "/")), now=ctx.deps.now())
    cookie = sessions.set_cookie(settings, oidc.STATE_COOKIE, started.state, max_age=oidc.STATE_MINUTES * 60,
                                 http_only=True, path="/api/auth/oidc")
    return _redirect(started.url, [cookie])


@route(bp, "/auth/oidc/{provider}/callback", "GET", permission=PUBLIC, tag="auth", status=302, html=True,
       query={"code": {"type": "string"}, "state": {"type": "string"}},
       summary="The provider sends the browser back here: checks state, exchanges the code, verifies the ID token")
def get_oidc_callback(ctx: Ctx, provider: str) -> Response:
    settings = ctx.deps.settings
    params = {k: v for k, v in (ctx.request.query_params or {}).items() if isinstance(v, str)}
    cookie_state = sessions.parse_cookies(ctx.headers.get("cookie", "")).get(oidc.STATE_COOKIE, "")
    clear = sessions.set_cookie(settings, oidc.STATE_COOKIE, "", max_age=0, http_only=True, path="/api/auth/oidc")
    try:
        identity = oidc.finish(settings, provider, params, cookie_state, now=ctx.deps.now())
        issued = signin.with_identity(settings, identity, now=ctx.deps.now())
    except AppError as err:
        status = 403 if isinstance(err, Forbidden) else 404 if err.code == "not_found" else 401
        lang = _lang(ctx)
        body = (f"<p>{pages.esc(err.message)}</p><p><a href='/'>{pages.esc(pages.text(lang, 'back'))}</a></p>"
                f"<!-- {pages.esc(err.code)} -->")
        return pages.page(status, lang, pages.text(lang, "failed_title"), body, cookies=[clear])
    return _redirect(identity.next_path, [*issued.cookies, clear])


# --- the session -------------------------------------------------------------------------------------------


@route(bp, "/auth/session", "GET", permission=PUBLIC, tag="auth", response=SESSION,
       summary="Who is signed in and their workspaces with a role each; nobody signed in is not an error: "
               "200 {signed_in: false} (a wrong API key is still 401)")
def get_session(ctx: Ctx) -> dict[str, Any]:
    headers, d = ctx.headers, ctx.deps
    if headers.get("authorization"):
        key = keys.authenticate_key(keys.bearer(headers))
        return {"signed_in": True, "user": None,
                "workspaces": [{"id": key.workspace_id, "name": key.workspace_id, "role": key.role}]}
    session = sessions.current_session(d.settings, headers, now=d.now())
    if session is None or team.get_user(session.user_id) is None:
        return {"signed_in": False, "user": None, "workspaces": []}
    return {"signed_in": True, **signin.me(session.user_id)}


@route(bp, "/auth/logout", "POST", permission=PUBLIC, tag="auth", status=204,
       summary="Sign out: the session is deleted and the cookies cleared (needs X-CSRF-Token)")
def post_logout(ctx: Ctx) -> Response:
    d = ctx.deps
    if sessions.current_session(d.settings, ctx.headers, now=d.now()) is not None:
        access.signed_in(d.settings, ctx.headers, method="POST", now=d.now())  # the CSRF check
        sessions.end_session(d.settings, ctx.headers)
    elif not ctx.headers.get("cookie"):
        raise InvalidInput("nobody is signed in here")
    return Response(body="", status_code=204, headers={"Set-Cookie": sessions.cleared_cookies(d.settings),
                                                       "Cache-Control": "no-store"})
