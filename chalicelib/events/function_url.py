"""Lambda Function URLs in front of the Chalice app: provider webhooks (the webhook function, public) and the whole
API (the API function, reached only through CloudFront), without API Gateway.

Lambda calls the handler with the Function URL's event (payload format 2.0: `rawPath`, `rawQueryString`,
`headers` with lower-case names and repeated values joined by commas, `requestContext.http`, `body`,
`isBase64Encoded`). A path under `/api/` (the same scheme as behind API Gateway, whose stage was `api`) that one of
the entry's routes matches becomes the REST-proxy event Chalice reads (`requestContext.resourcePath` and
`httpMethod`, `pathParameters`, `multiValueQueryStringParameters`, `headers`, `body`, `isBase64Encoded`) and goes to
the app itself: its middleware and every guard of `chalicelib/api/routing.py` apply (path shapes 404, methods 405
with Allow, body limit 413, media types 415, the safe JSON loader), then the route's own authentication. Routes
match as API Gateway matched them: segment by segment, a literal segment before a `{parameter}`, parameters
URL-decoded. The app's answer (`statusCode`, `headers`, `multiValueHeaders`, `body`, `isBase64Encoded`) goes back
in the Function URL's response shape, which has no `multiValueHeaders`: repeated headers are joined by commas,
`Set-Cookie` goes to `cookies`. Any other path is 404 here and runs no view.

- `webhook` (public URL, AuthType NONE): only `/api/webhooks/{kind}/{channel_id}`: this URL is not a second door
  into the API.
- `api` (AuthType AWS_IAM, CloudFront's origin access control signs every request): every route. CloudFront's
  signature takes the `Authorization` header, so callers send their credential as `X-Zabota-Authorization`
  (`Bearer <API key>`, or a widget visitor's token); here it becomes `authorization` again and the signature is
  dropped, so the app's own authentication reads what it always read (docs/DEPLOY.md).

Registered in `app.py` (`app.lambda_function` for the webhook; the API function's handler `app.api`), one bundle,
each function with its own role and log group (infra/resources.yaml, docs/DEPLOY.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, unquote

from chalicelib import errors

RESOURCE_PATH = "/webhooks/{kind}/{channel_id}"  # chalicelib/api/webhooks.py PATH
STAGE = "api"  # the former REST API's stage: every URL is {base}/api/... behind either entry
CREDENTIAL_HEADER = "x-zabota-authorization"  # the caller's Authorization, when CloudFront signs the origin request
SIGNATURE_PREFIX = "AWS4-HMAC-SHA256 "  # CloudFront's SigV4 Authorization (origin access control)

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class Routes:
    """Chalice resource paths (`/conversations/{cid}/replies`) matched against request paths, API Gateway style."""

    def __init__(self, paths: Iterable[str]) -> None:
        self._routes = sorted(((tuple(p.strip("/").split("/")), p) for p in paths),
                              key=lambda r: [not _is_parameter(s) for s in r[0]], reverse=True)

    def match(self, path: str) -> tuple[str, dict[str, str]] | None:
        """(resource path, decoded path parameters) for a path without the stage, or None."""
        parts = tuple(path.strip("/").split("/")) if path.startswith("/") and not path.endswith("/") else ()
        for segments, resource in self._routes:  # literal segments first, as API Gateway prefers them
            if len(segments) != len(parts) or not all(parts):
                continue
            found: dict[str, str] = {}
            for want, got in zip(segments, parts, strict=True):
                if _is_parameter(want):
                    found[want[1:-1]] = unquote(got)
                elif want != got:
                    break
            else:
                return resource, found
        return None


def _is_parameter(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


WEBHOOK_ROUTES = Routes([RESOURCE_PATH])


def rest_event(event: dict[str, Any], routes: Routes = WEBHOOK_ROUTES, *, signed_by_cloudfront: bool = False
               ) -> dict[str, Any] | None:
    """The REST-proxy event for a Function URL event on one of `routes`; None for any other path."""
    raw_path = str(event.get("rawPath") or "")
    found = routes.match(raw_path.removeprefix(f"/{STAGE}")) if raw_path.startswith(f"/{STAGE}/") else None
    if found is None:
        return None
    resource, path_parameters = found
    http = (event.get("requestContext") or {}).get("http") or {}
    context = event.get("requestContext") or {}
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    if signed_by_cloudfront:
        headers = caller_headers(headers)
    cookies = event.get("cookies") or []
    if cookies and "cookie" not in headers:  # payload 2.0 moves Cookie headers into `cookies`
        headers["cookie"] = "; ".join(str(c) for c in cookies)
    multi_query = parse_qs(str(event.get("rawQueryString") or ""), keep_blank_values=True) or None
    method = str(http.get("method") or "GET").upper()
    return {
        "resource": resource,
        "path": raw_path.removeprefix(f"/{STAGE}"),
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} if multi_query else None,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource, "httpMethod": method, "path": raw_path, "stage": STAGE,
            "requestId": str(context.get("requestId") or ""), "domainName": str(context.get("domainName") or ""),
            "requestTimeEpoch": context.get("timeEpoch"), "accountId": str(context.get("accountId") or ""),
            "identity": {"sourceIp": str(http.get("sourceIp") or ""), "userAgent": str(http.get("userAgent") or "")},
        },
        "body": event.get("body"),
        "isBase64Encoded": bool(event.get("isBase64Encoded")),
    }


def caller_headers(headers: dict[str, str]) -> dict[str, str]:
    """The caller's headers behind CloudFront's origin access control: its SigV4 `Authorization` (and the signing
    headers) dropped, the caller's own credential from `X-Zabota-Authorization` in `authorization`."""
    found = {k: v for k, v in headers.items() if k not in ("x-amz-date", "x-amz-security-token", CREDENTIAL_HEADER)}
    if found.get("authorization", "").startswith(SIGNATURE_PREFIX):
        del found["authorization"]
    credential = headers.get(CREDENTIAL_HEADER, "").strip()
    if credential:
        found["authorization"] = credential
    return found


def url_response(result: dict[str, Any]) -> dict[str, Any]:
    """A REST-proxy result (Chalice's `Response.to_dict`) in the Function URL's response shape."""
    headers: dict[str, str] = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    cookies: list[str] = []
    for name, values in (result.get("multiValueHeaders") or {}).items():
        if name.lower() == "set-cookie":
            cookies.extend(str(v) for v in values)
        else:
            headers[name] = ", ".join(str(v) for v in values)
    for name in [n for n in headers if n.lower() == "set-cookie"]:
        cookies.append(headers.pop(name))
    answer: dict[str, Any] = {"statusCode": int(result.get("statusCode", 200)), "headers": headers,
                              "body": result.get("body") or "", "isBase64Encoded": bool(result.get("isBase64Encoded"))}
    if cookies:
        answer["cookies"] = cookies
    return answer


def not_found(event: dict[str, Any], entry: str) -> dict[str, Any]:
    from chalicelib.api.http import error_response
    from chalicelib.observability import logger

    logger.info("request refused", extra={"code": "not_found", "status": 404, "entry": f"function_url:{entry}"})
    if entry == "webhook":
        err = errors.NotFound("this URL serves provider webhooks only: /api/webhooks/{kind}/{channel_id}")
    else:
        err = errors.NotFound("no such path under /api/ (see /api/openapi.json)")
    return url_response(error_response(err).to_dict())


def handler(app: Any, entry: str = "webhook") -> Handler:
    """A Function URL's handler: its event -> the Chalice app's REST handling -> the URL's response. `entry` is
    `webhook` (the webhook path only) or `api` (every route of the app, behind CloudFront's signature)."""
    api = entry == "api"
    routes: Routes | None = None

    def serve(event: dict[str, Any], context: Any) -> dict[str, Any]:
        nonlocal routes
        if routes is None:
            routes = Routes(app.routes) if api else WEBHOOK_ROUTES
        converted = rest_event(event, routes, signed_by_cloudfront=api)
        if converted is None:
            return not_found(event, entry)
        return url_response(app(converted, context))

    serve.__name__ = serve.__qualname__ = entry  # Chalice names the handler after it: app.webhook, app.api
    return serve
