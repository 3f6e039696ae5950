"""The webhook function: provider webhooks through a Lambda Function URL, without API Gateway or CloudFront.

Lambda calls the handler with the Function URL's event (payload format 2.0: `rawPath`, `rawQueryString`,
`headers` with lower-case names and repeated values joined by commas, `requestContext.http`, `body`,
`isBase64Encoded`). For the one path this function serves, `/api/webhooks/{kind}/{channel_id}` (the same scheme
as behind API Gateway, whose stage is `api`), it becomes the REST-proxy event Chalice reads (`requestContext.
resourcePath` and `httpMethod`, `pathParameters`, `multiValueQueryStringParameters`, `headers`, `body`,
`isBase64Encoded`) and goes to the app itself: its middleware and every guard of `chalicelib/api/routing.py` apply
(path shapes 404, methods 405 with Allow, body limit 413, media types 415, the safe JSON loader), then the
webhook's own authentication (the channel's secret token or the provider's signature). The app's answer
(`statusCode`, `headers`, `multiValueHeaders`, `body`, `isBase64Encoded`) goes back in the Function URL's response
shape, which has no `multiValueHeaders`: repeated headers are joined by commas, `Set-Cookie` goes to `cookies`.
Any other path is 404 here and runs no view: this public URL is not a second door into the API.

Registered in `app.py` with `app.lambda_function` (one bundle, its own function, role and log group:
infra/resources.yaml, docs/DEPLOY.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote

from chalicelib import errors

RESOURCE_PATH = "/webhooks/{kind}/{channel_id}"  # chalicelib/api/webhooks.py PATH
STAGE = "api"  # the REST API's stage: webhook URLs are {base}/api/webhooks/... behind either entry
_PATH = re.compile(r"/api/webhooks/([^/]+)/([^/]+)")

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def rest_event(event: dict[str, Any]) -> dict[str, Any] | None:
    """The REST-proxy event for a Function URL event on the webhook path; None for any other path."""
    raw_path = str(event.get("rawPath") or "")
    found = _PATH.fullmatch(raw_path)
    if found is None:
        return None
    http = (event.get("requestContext") or {}).get("http") or {}
    context = event.get("requestContext") or {}
    headers = {str(k): str(v) for k, v in (event.get("headers") or {}).items()}
    cookies = event.get("cookies") or []
    if cookies and "cookie" not in headers:  # payload 2.0 moves Cookie headers into `cookies`
        headers["cookie"] = "; ".join(str(c) for c in cookies)
    multi_query = parse_qs(str(event.get("rawQueryString") or ""), keep_blank_values=True) or None
    path_parameters = {"kind": unquote(found.group(1)), "channel_id": unquote(found.group(2))}
    method = str(http.get("method") or "GET").upper()
    return {
        "resource": RESOURCE_PATH,
        "path": raw_path.removeprefix(f"/{STAGE}"),
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} if multi_query else None,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": RESOURCE_PATH, "httpMethod": method, "path": raw_path, "stage": STAGE,
            "requestId": str(context.get("requestId") or ""), "domainName": str(context.get("domainName") or ""),
            "requestTimeEpoch": context.get("timeEpoch"), "accountId": str(context.get("accountId") or ""),
            "identity": {"sourceIp": str(http.get("sourceIp") or ""), "userAgent": str(http.get("userAgent") or "")},
        },
        "body": event.get("body"),
        "isBase64Encoded": bool(event.get("isBase64Encoded")),
    }


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


def not_found(event: dict[str, Any]) -> dict[str, Any]:
    from chalicelib.api.http import error_response
    from chalicelib.observability import logger

    logger.info("request refused", extra={"code": "not_found", "status": 404, "entry": "function_url"})
    err = errors.NotFound("this URL serves provider webhooks only: /api/webhooks/{kind}/{channel_id}")
    return url_response(error_response(err).to_dict())


def handler(app: Any) -> Handler:
    """The webhook function's handler: Function URL event -> the Chalice app's REST handling -> URL response."""

    def webhook(event: dict[str, Any], context: Any) -> dict[str, Any]:
        converted = rest_event(event)
        if converted is None:
            return not_found(event)
        return url_response(app(converted, context))

    return webhook
