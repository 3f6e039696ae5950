"""The OpenAPI 3.1 document, generated from the route declarations, and a health probe."""

from __future__ import annotations

import re
from typing import Any

from chalice import Blueprint

from chalicelib.api import schemas
from chalicelib.api.http import STATUS
from chalicelib.api.routing import PUBLIC, ROUTES, Ctx, RouteSpec, route, shape_of

bp = Blueprint(__name__)

VERSION = "0.1.0"


def _operation(spec: RouteSpec) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": spec.summary, "tags": [spec.tag],
        "operationId": f"{spec.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', spec.path.lower()).strip('_')}",
        "parameters": [{"name": n, "in": "path", "required": True, "schema": shape_of(n).schema()}
                       for n in re.findall(r"{(\w+)}", spec.path)]
        + [{"name": n, "in": "query", "required": False, "schema": s} for n, s in spec.query.items()],
        "responses": {},
    }
    ref = {"$ref": "#/components/schemas/Error"}
    page = {"text/html": {"schema": {"type": "string"}}} if spec.html else {}
    error = {"description": "error", "content": {"application/json": {"schema": ref}, **page}}
    if spec.status < 400:
        content = {**({"application/json": {"schema": spec.response}} if spec.response else {}), **page}
        op["responses"][str(spec.status)] = {"description": "OK", **({"content": content} if content else {})}
    for status in sorted({s for _, s in STATUS if s < 500} | {500, 503}):
        op["responses"].setdefault(str(status), error)
    if spec.request:
        op["requestBody"] = {"required": True, "content": {ct: {"schema": spec.request} for ct in spec.content_types}}
    if spec.permission is not PUBLIC:
        op["security"] = [{"apiKey": []}, {"session": []}]
        op["x-permission"] = spec.permission
        op["parameters"].append({"$ref": "#/components/parameters/Workspace"})
        if spec.method != "GET":
            op["parameters"].append({"$ref": "#/components/parameters/CSRF"})
    else:
        op["security"] = []
    return op


def openapi_document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for spec in ROUTES:
        paths.setdefault(f"/api{spec.path}", {})[spec.method.lower()] = _operation(spec)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Zabota API", "version": VERSION,
                 "description": "Shared inbox for support teams. Errors are {error: {code, message}}."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer",
                           "description": "python -m chalicelib.cli create-api-key, or POST /api/api-keys. On AWS the "
                                          "API is behind CloudFront, whose signature takes Authorization: send "
                                          "X-Zabota-Authorization: Bearer <key>, and on POST / PUT the body's "
                                          "SHA-256 (hex) in x-amz-content-sha256"},
                "session": {"type": "apiKey", "in": "cookie", "name": "zb_session",
                            "description": "set by sign-in (e-mail link or OpenID Connect); `__Host-zb_session` "
                                           "over HTTPS"},
            },
            "parameters": {
                "Workspace": {"name": "X-Workspace", "in": "header", "required": False, "schema": {"type": "string"},
                              "description": "the workspace (brand) to act in, for users in several"},
                "CSRF": {"name": "X-CSRF-Token", "in": "header", "required": False, "schema": {"type": "string"},
                         "description": "required with the session cookie: the value of the zb_csrf cookie"},
            },
            "schemas": {"Error": schemas.ERROR},
        },
    }


@route(bp, "/openapi.json", "GET", permission=PUBLIC, tag="meta", summary="This document")
def get_openapi(ctx: Ctx) -> dict[str, Any]:
    return openapi_document()


@route(bp, "/health", "GET", permission=PUBLIC, tag="meta", summary="Liveness probe")
def get_health(ctx: Ctx) -> dict[str, Any]:
    return {"ok": True, "stage": ctx.deps.settings.stage}
