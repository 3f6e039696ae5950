"""Route declarations: every route names its permission, summary and schemas in one decorator.

`route()` registers the view with Chalice, records a `RouteSpec` (the OpenAPI document and the permission
tests are generated from `ROUTES`), runs the input guard, authenticates, checks the role × action table and
maps errors (Chalice turns view exceptions into responses before middleware sees them, so the mapping lives
here, once).

The guard runs before any view reads the request, on every route: path parameters by shape and length
(`PATH_SHAPES`, 404) and the methods a route answers for its parameters (`allow=`, 405 with `Allow`); then,
after the caller is authenticated (which reads headers only), no body where a route takes none (400), the body
limit (413), the content types the route declares and UTF-8 only (415), then the body itself through the one
safe JSON loader (`chalicelib/safejson.py`: UTF-8, nesting depth, number range; 400 / 422). A method no route
of a path declares is Chalice's 405 (with `Allow`), put in our error shape by `framework_errors_in_our_shape`.
Each refusal is logged once, here; nothing after the guard runs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalice import Blueprint, Response

from chalicelib import errors, safejson
from chalicelib.api.http import error_response, internal_error, json_response, status_of
from chalicelib.auth import access, keys
from chalicelib.auth.permissions import allowed
from chalicelib.channels.registry import WEBHOOK_KINDS
from chalicelib.observability import logger
from chalicelib.services.deps import Deps, deps
from chalicelib.store.base import store_unavailable

PUBLIC = None  # permission of routes that authenticate otherwise (webhooks, documents)
JSON = ["application/json"]
FORM_TYPE = "application/x-www-form-urlencoded"
BODYLESS = ("GET", "HEAD", "DELETE", "OPTIONS")


@dataclass(frozen=True)
class Shape:
    """What a path parameter may look like; anything else is 404 before a lookup (ids have known forms)."""

    pattern: str
    max_length: int
    description: str

    def matches(self, value: str) -> bool:
        return len(value) <= self.max_length and re.fullmatch(self.pattern, value) is not None

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": f"^{self.pattern}$", "maxLength": self.max_length,
                "description": self.description}


ID = Shape(r"[A-Za-z0-9_-]{1,128}", 128, "an id: letters, digits, _ and -")
PATH_SHAPES: dict[str, Shape] = {
    "channel_id": Shape(r"ch_[A-Za-z0-9_-]{1,64}", 67, "a channel id: ch_ then letters, digits, _ or -"),
    "kind": Shape(f"(?:{'|'.join(WEBHOOK_KINDS)})", 16, f"one of the webhook kinds: {', '.join(WEBHOOK_KINDS)}"),
    "provider": Shape(r"[a-z]{2,16}", 16, "a sign-in provider"),
}


def shape_of(name: str) -> Shape:
    return PATH_SHAPES.get(name, ID)


@dataclass(frozen=True)
class RouteSpec:
    path: str
    method: str
    permission: str | None
    summary: str
    tag: str
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    query: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: int = 200
    content_types: tuple[str, ...] = ("application/json",)
    max_body: int | None = None
    allow: Callable[[dict[str, str]], tuple[str, ...]] | None = None  # methods answered for these parameters
    html: bool = False  # also answers with an HTML page (sign-in confirmations, the OpenID Connect callback)


ROUTES: list[RouteSpec] = []


@dataclass(frozen=True)
class Ctx:
    """What a view gets: the request, the caller (None on public routes) and the dependencies."""

    request: Any
    principal: keys.Principal | None
    deps: Deps
    body: Any = None  # the JSON body as the guard parsed it (None: no body, or a form)

    @property
    def workspace_id(self) -> str:
        assert self.principal is not None
        return self.principal.workspace_id

    def query(self, name: str, default: str | None = None) -> str | None:
        params = self.request.query_params or {}
        return params.get(name, default)

    @property
    def headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in dict(self.request.headers).items()}


def authorize(headers: dict[str, str], permission: str, method: str = "GET") -> keys.Principal:
    """API key or session cookie (+ CSRF token on writes, membership of `X-Workspace`), then the role × action."""
    d = deps()
    principal = access.authenticate(d.settings, headers, method=method, now=d.now())
    if not allowed(principal.role, permission):
        raise errors.Forbidden(f"the {principal.role} role may not do {permission}")
    return principal


def route(bp: Blueprint, path: str, method: str, *, permission: str | None, summary: str, tag: str,
          request: dict[str, Any] | None = None, response: dict[str, Any] | None = None,
          query: dict[str, dict[str, Any]] | None = None, status: int = 200,
          content_types: list[str] | None = None, max_body: int | None = None,
          allow: Callable[[dict[str, str]], tuple[str, ...]] | None = None,
          html: bool = False) -> Callable[..., Any]:
    spec = RouteSpec(path, method, permission, summary, tag, request, response, query or {}, status,
                     tuple(content_types or JSON), max_body, allow, html)
    ROUTES.append(spec)

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def view(**params: str) -> Response:
            try:
                req = bp.current_request
                d = deps()
                headers = {k.lower(): v for k, v in dict(req.headers).items()}
                _guard_path(spec, req, params)
                principal = authorize(headers, permission, req.method) if permission else None
                body = _guard_body(spec, req, headers, d.settings.max_body_bytes)
                result = fn(Ctx(req, principal, d, body), **params)
                return result if isinstance(result, Response) else json_response(result, spec.status)
            except errors.AppError as err:
                _log_refusal(spec, err)
                return error_response(err)
            except Exception as exc:  # noqa: BLE001 - logged; the caller gets a plain 5xx, never a traceback
                if store_unavailable(exc):  # nothing was stored: every provider retries a 503
                    logger.warning("store unavailable", extra={"route": f"{spec.method} {spec.path}",
                                                               "error": type(exc).__name__})
                    return error_response(errors.Unavailable("the store is unavailable; retry shortly"))
                logger.exception("unhandled error")
                return internal_error()

        # Chalice's own 415 has another body: every type reaches the guard, which answers in ours
        bp.route(path, methods=[method], content_types=["*/*"])(view)
        return fn

    return decorate


def _guard_path(spec: RouteSpec, req: Any, params: dict[str, str]) -> None:
    """Path parameters by shape and length (404), then the methods this route answers for them (405)."""
    for name, value in params.items():
        if not shape_of(name).matches(value):
            raise errors.NotFound(f"{name} is not {shape_of(name).description} (at most "
                                  f"{shape_of(name).max_length} characters)", code="not_found")
    if spec.allow is not None:
        allowed_methods = spec.allow(params)
        if req.method not in allowed_methods:
            raise errors.MethodNotAllowed(f"{req.method} is not answered here", allow=", ".join(allowed_methods))


def _guard_body(spec: RouteSpec, req: Any, headers: dict[str, str], default_limit: int) -> Any:
    """Refuse a body no view of this route may read (400 / 413 / 415 / 422); return it parsed (or None)."""
    raw: bytes = req.raw_body or b""
    if not raw:
        return None
    if req.method in BODYLESS:
        raise errors.MalformedBody(f"a {req.method} request takes no body", code="unexpected_body")
    limit = spec.max_body or default_limit
    if len(raw) > limit:
        raise errors.PayloadTooLarge(f"request body is larger than {limit} bytes")
    media_type, _, parameters = headers.get("content-type", "application/json").partition(";")
    media_type = media_type.strip().lower()
    if media_type not in spec.content_types:
        raise errors.UnsupportedMediaType(f"this route reads {', '.join(spec.content_types)}, not "
                                          f"{media_type[:80] or 'an untyped body'}")
    charset = re.search(r"charset\s*=\s*\"?([\w-]+)", parameters, re.I)
    if charset and charset.group(1).lower() not in ("utf-8", "utf8"):
        raise errors.UnsupportedMediaType("bodies must be UTF-8")
    if media_type == FORM_TYPE:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise errors.MalformedBody("the body is not valid UTF-8", code="invalid_utf8") from None
        return None
    return safejson.loads(raw)


def _log_refusal(spec: RouteSpec, err: errors.AppError) -> None:
    status = status_of(err)
    if status >= 500:
        logger.warning("request failed", extra={"code": err.code, "route": f"{spec.method} {spec.path}"})
    else:
        logger.info("request refused", extra={"code": err.code, "status": status,
                                              "route": f"{spec.method} {spec.path}"})


def framework_errors_in_our_shape(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """HTTP middleware: Chalice's own refusals (405 for a method no route of a path declares, with `Allow`) get
    our error body, `{"error": {"code", "message"}}`, like every other refusal. Registered once in app.py."""
    response = get_response(event)
    body = response.body
    if response.status_code == 405 and isinstance(body, dict) and "Code" in body:
        allow = {k.lower(): v for k, v in (response.headers or {}).items()}.get("allow", "")
        path = (getattr(event, "context", None) or {}).get("resourcePath")
        narrowing = next((s.allow for s in ROUTES if s.path == path and s.allow is not None), None)
        try:  # where the methods depend on the parameters (webhook kinds), Allow names those of this request
            allow = ", ".join(narrowing(dict(getattr(event, "uri_params", None) or {}))) if narrowing else allow
        except errors.AppError as err:
            return error_response(err)
        logger.info("request refused", extra={"code": "method_not_allowed", "status": 405})
        return error_response(errors.MethodNotAllowed(str(body.get("Message") or "method not allowed"), allow=allow))
    return response
