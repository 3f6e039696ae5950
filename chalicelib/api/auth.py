"""Signing in and out (public routes that authenticate by themselves): e-mailed one-time links, invitations and
OpenID Connect; the signed-in user's workspaces. docs/TEAM.md describes the flows.

E-mailed links open a small confirmation page whose button POSTs the token: mail scanners that fetch links do not
use them up. Browser POSTs from another site are refused by their Origin.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import parse_qs

from chalice import Blueprint, Response

from chalicelib.api.http import json_object, json_response
from chalicelib.api.routing import PUBLIC, Ctx, route
from chalicelib.auth import access, keys, login_links, oidc, sessions, signin
from chalicelib.errors import AppError, Forbidden, InvalidInput
from chalicelib.services import team as team_service

bp = Blueprint(__name__)

FORM = ["application/json", "application/x-www-form-urlencoded"]
TOKEN_BODY = {"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}}
SESSION = {
    "type": "object",
    "properties": {
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


def _page(status: int, title: str, body: str, cookies: list[str] | None = None) -> Response:
    doc = (f"<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport content='width=device-width'>"
           f"<meta name=referrer content=same-origin><title>{html.escape(title)}</title>"
           f"<body style='font-family:sans-serif;max-width:32rem;margin:4rem auto'><h1>{html.escape(title)}</h1>"
           f"{body}</body></html>")
    headers: dict[str, Any] = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
                               "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                                          "form-action 'self'", "X-Frame-Options": "DENY"}
    if cookies:
        headers["Set-Cookie"] = cookies
    return Response(body=doc, status_code=status, headers=headers)


def _redirect(location: str, cookies: list[str], status: int = 302) -> Response:
    return Response(body="", status_code=status,
                    headers={"Location": location, "Cache-Control": "no-store", "Set-Cookie": cookies})


def _confirm_page(action: str, token: str, title: str, button: str) -> Response:
    form = (f"<form method=post action='{html.escape(action)}'><input type=hidden name=token "
            f"value='{html.escape(token)}'><button type=submit>{html.escape(button)}</button></form>")
    return _page(200, title, form)


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


@route(bp, "/auth/login-link", "POST", permission=PUBLIC, tag="auth", status=202,
       summary="E-mail a one-time sign-in link (15 minutes). The answer never says whether the address has an account",
       request={"type": "object", "required": ["email"],
                "properties": {"email": {"type": "string"}, "next": {"type": "string"}}})
def post_login_link(ctx: Ctx) -> dict[str, Any]:
    _same_site(ctx)
    body = json_object(ctx.request.raw_body)
    login_links.request_link(ctx.deps.settings, body.get("email"), next_path=body.get("next", "/"),
                             now=ctx.deps.now())
    return {"sent": True, "message": "If this address has an account, a sign-in link is on its way."}


@route(bp, "/auth/link", "GET", permission=PUBLIC, tag="auth", query={"token": {"type": "string"}}, html=True,
       summary="The e-mailed link opens this confirmation page (its button signs in)")
def get_link(ctx: Ctx) -> Response:
    return _confirm_page("/api/auth/link", ctx.query("token") or "", "Sign in to Zabota", "Sign in")


@route(bp, "/auth/link", "POST", permission=PUBLIC, tag="auth", content_types=FORM, request=TOKEN_BODY,
       response=SESSION, html=True, summary="Use a sign-in link (once): sets the session and CSRF cookies")
def post_link(ctx: Ctx) -> Response:
    _same_site(ctx)
    try:
        issued, next_path = signin.with_link(ctx.deps.settings, _body(ctx).get("token"), now=ctx.deps.now())
    except AppError as err:
        if _is_form(ctx):
            return _page(401, "This link cannot be used", f"<p>{html.escape(err.message)}</p>")
        raise
    return _signed_in(ctx, issued, next_path)


# --- invitations -------------------------------------------------------------------------------------------


@route(bp, "/auth/invite", "GET", permission=PUBLIC, tag="auth", query={"token": {"type": "string"}}, html=True,
       summary="The invitation e-mail opens this confirmation page")
def get_invite(ctx: Ctx) -> Response:
    return _confirm_page("/api/auth/invite", ctx.query("token") or "", "Join the team in Zabota", "Accept")


@route(bp, "/auth/invite", "POST", permission=PUBLIC, tag="auth", content_types=FORM, request=TOKEN_BODY,
       response=SESSION, html=True,
       summary="Accept an invitation (once, before it expires): join the workspace and sign in")
def post_invite(ctx: Ctx) -> Response:
    _same_site(ctx)
    try:
        issued, ws = team_service.accept_invite(ctx.deps, _body(ctx).get("token"))
    except AppError as err:
        if _is_form(ctx):
            return _page(401, "This invitation cannot be used", f"<p>{html.escape(err.message)}</p>")
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
        body = f"<p>{html.escape(err.message)}</p><p><a href='/'>Back to the sign-in page</a></p>"
        return _page(status, "Signing in did not work", f"{body}<!-- {html.escape(err.code)} -->", [clear])
    return _redirect(identity.next_path, [*issued.cookies, clear])


# --- the session -------------------------------------------------------------------------------------------


@route(bp, "/auth/session", "GET", permission=PUBLIC, tag="auth", response=SESSION,
       summary="Who is signed in and their workspaces with a role each (401 when nobody is)")
def get_session(ctx: Ctx) -> dict[str, Any]:
    headers, d = ctx.headers, ctx.deps
    if headers.get("authorization"):
        key = keys.authenticate_key(keys.bearer(headers))
        return {"user": None, "workspaces": [{"id": key.workspace_id, "name": key.workspace_id, "role": key.role}]}
    session = access.signed_in(d.settings, headers, method="GET", now=d.now())
    return signin.me(session.user_id)


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
