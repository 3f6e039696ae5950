"""Route declarations: every route names its permission, summary and schemas in one decorator.

`route()` registers the view with Chalice, records a `RouteSpec` (the OpenAPI document and the permission
tests are generated from `ROUTES`), authenticates, checks the role × action table, enforces the body limit
and maps errors (Chalice turns view exceptions into responses before middleware sees them, so the mapping
lives here, once).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalice import Blueprint, Response

from chalicelib import errors
from chalicelib.api.http import error_response, internal_error, json_response, status_of
from chalicelib.auth import access, keys
from chalicelib.auth.permissions import allowed
from chalicelib.observability import logger
from chalicelib.services.deps import Deps, deps

PUBLIC = None  # permission of routes that authenticate otherwise (webhooks, documents)
JSON = ["application/json"]


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


ROUTES: list[RouteSpec] = []


@dataclass(frozen=True)
class Ctx:
    """What a view gets: the request, the caller (None on public routes) and the dependencies."""

    request: Any
    principal: keys.Principal | None
    deps: Deps

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
          content_types: list[str] | None = None, max_body: int | None = None) -> Callable[..., Any]:
    spec = RouteSpec(path, method, permission, summary, tag, request, response, query or {}, status,
                     tuple(content_types or JSON), max_body)
    ROUTES.append(spec)

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def view(**params: str) -> Response:
            try:
                req = bp.current_request
                d = deps()
                limit = spec.max_body or d.settings.max_body_bytes
                if req.raw_body and len(req.raw_body) > limit:
                    raise errors.PayloadTooLarge(f"request body is larger than {limit} bytes")
                headers = {k.lower(): v for k, v in dict(req.headers).items()}
                principal = authorize(headers, permission, req.method) if permission else None
                result = fn(Ctx(req, principal, d), **params)
                return result if isinstance(result, Response) else json_response(result, spec.status)
            except errors.AppError as err:
                if status_of(err) >= 500:
                    logger.warning("request failed", extra={"code": err.code})
                return error_response(err)
            except Exception:  # noqa: BLE001 - logged; the caller gets a plain 500, never a traceback
                logger.exception("unhandled error")
                return internal_error()

        bp.route(path, methods=[method], content_types=list(spec.content_types))(view)
        return fn

    return decorate
