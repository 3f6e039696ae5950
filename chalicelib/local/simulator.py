"""The customer simulator's backend (embedded mode only), mounted by the runner at `/_sim`.

`GET  /_sim/channels`                                   the demo channels whose fake provider can simulate a customer
`POST /_sim/{channel_id}/messages`                      {user_id, name, text, reply_to}: the fake module's
                                                        `simulate_customer` builds the provider's own signed webhook,
                                                        which is POSTed over HTTP through the real webhook path
`GET  /_sim/{channel_id}/conversations/{external_id}`   what the customer sees from the brand (`customer_view`)
`POST /_sim/{channel_id}/buttons`                       {user_id, name, message_id, data}: the customer presses a
                                                        button the brand sent (a survey's): the fake module's
                                                        `simulate_button` builds the provider's own webhook for it

The contract of `simulate_customer` / `customer_view` is in `chalicelib/local/fakes/__init__.py`. Message texts are
never logged.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

import requests

from chalicelib.local.http import Request, Response

logger = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_FIELD = 200
WEBHOOK_TIMEOUT_SECONDS = 15


class SimulatorError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _error(status: int, code: str, message: str) -> Response:
    return Response.json(status, {"error": {"code": code, "message": message}})


# Kinds served by a fake registered under another name (Meta's three products share the Graph API fake).
SHARED_FAKES = {"whatsapp": "graph", "messenger": "graph", "instagram": "graph"}


def fake_module(kind: str) -> tuple[str, ModuleType] | None:
    """The fake provider serving channel `kind` and its module, if that module can simulate a customer.

    A fake is found under its kind's name, under SHARED_FAKES, or by a module-level `KINDS` listing the kind.
    """
    from chalicelib.local.fakes import FAKES

    for name, (_, target) in FAKES.items():
        module = importlib.import_module(target.partition(":")[0])
        serves = name == kind or SHARED_FAKES.get(kind) == name or kind in getattr(module, "KINDS", ())
        if serves and hasattr(module, "simulate_customer"):
            return name, module
    return None


class Simulator:
    """A route for the runner: `Simulator(base_url, fakes)(request) -> Response`."""

    def __init__(self, base_url: str, fakes: dict[str, Any]) -> None:
        self.base_url = base_url.rstrip("/")
        self.fakes = fakes
        self._session = requests.Session()

    def __call__(self, request: Request) -> Response:
        parts = [unquote(p) for p in request.path.strip("/").split("/") if p]
        try:
            return self._dispatch(request.method, parts, request.body)
        except SimulatorError as err:
            return _error(err.status, err.code, err.message)

    def _dispatch(self, method: str, parts: list[str], body: bytes) -> Response:
        routes: dict[tuple[str, int, str], Callable[[], Response]] = {
            ("GET", 1, "channels"): lambda: Response.json(200, {"items": self.channels(), "next_cursor": None}),
            ("POST", 2, "messages"): lambda: Response.json(201, self.write(parts[0], _json(body))),
            ("POST", 2, "buttons"): lambda: Response.json(201, self.press(parts[0], _json(body))),
            ("GET", 3, "conversations"): lambda: Response.json(200, {"items": self.seen(parts[0], parts[2]),
                                                                     "next_cursor": None}),
        }
        key = (method, len(parts), parts[1] if len(parts) > 1 else (parts[0] if parts else ""))
        handler = routes.get(key)
        if handler is None:
            raise SimulatorError(404, "not_found", "unknown simulator route")
        return handler()

    # --- the three routes -------------------------------------------------------------------------------------

    def channels(self) -> list[dict[str, str]]:
        from chalicelib.local import demo
        from chalicelib.store import repo

        found = []
        for spec in demo.DEMO_CHANNELS:
            if fake_module(spec.kind) is not None and repo.get_channel(spec.id) is not None:
                found.append({"id": spec.id, "kind": spec.kind, "name": spec.name})
        return found

    def write(self, channel_id: str, body: dict[str, Any]) -> dict[str, Any]:
        channel, module = self._channel(channel_id)
        user_id, name, text = _field(body, "user_id"), _field(body, "name"), body.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            raise SimulatorError(400, "invalid_input", f"text must be 1..{MAX_TEXT} characters")
        reply_to = body.get("reply_to")
        if reply_to is not None and not isinstance(reply_to, str):
            raise SimulatorError(400, "invalid_input", "reply_to must be a message id")
        simulated = module.simulate_customer(channel, user_id=user_id, name=name, text=text, reply_to=reply_to or None)
        conversation = self._conversation_of(channel, simulated) or user_id
        answer = self._post_webhook(channel, simulated)
        if answer.status_code >= 400:
            logger.info("simulated webhook refused", extra={"channel_id": channel_id, "status": answer.status_code})
            raise SimulatorError(502, "webhook_refused",
                                 f"the webhook answered {answer.status_code}: {answer.text[:300]}")
        return {"status": answer.status_code, "external_conversation_id": conversation}

    def press(self, channel_id: str, body: dict[str, Any]) -> dict[str, Any]:
        channel, module = self._channel(channel_id)
        found = fake_module(channel.kind)
        simulate = getattr(module, "simulate_button", None)
        if simulate is None or found is None:
            raise SimulatorError(404, "not_found", f"{channel.kind} has no buttons to press here")
        user_id, name = _field(body, "user_id"), _field(body, "name")
        message_id, data = _field(body, "message_id"), _field(body, "data")
        try:
            simulated = simulate(self.fakes[found[0]], channel, user_id=user_id, name=name, message_id=message_id,
                                 data=data)
        except (KeyError, ValueError) as err:
            raise SimulatorError(404, "not_found", "no such button under that message") from err
        except Exception as err:  # noqa: BLE001 - the fake refused (its own API error): say so
            raise SimulatorError(400, "invalid_input", f"the button cannot be pressed: {err}") from err
        answer = self._post_webhook(channel, simulated)
        if answer.status_code >= 400:
            raise SimulatorError(502, "webhook_refused", f"the webhook answered {answer.status_code}")
        return {"status": answer.status_code}

    def seen(self, channel_id: str, external_conversation_id: str) -> list[dict[str, Any]]:
        channel, module = self._channel(channel_id)
        found = fake_module(channel.kind)
        assert found is not None
        view = getattr(module, "customer_view", None)
        if view is None:
            return []
        return list(view(self.fakes[found[0]], external_conversation_id))

    # --- helpers ----------------------------------------------------------------------------------------------

    def _channel(self, channel_id: str) -> tuple[Any, ModuleType]:
        from chalicelib.local import demo
        from chalicelib.store import repo

        spec = next((s for s in demo.DEMO_CHANNELS if s.id == channel_id), None)
        channel = repo.get_channel(channel_id, cached=False) if spec is not None else None
        found = fake_module(channel.kind) if channel is not None else None
        if channel is None or found is None:
            raise SimulatorError(404, "not_found", f"no simulated demo channel {channel_id}")
        return channel, found[1]

    def _post_webhook(self, channel: Any, simulated: Any) -> requests.Response:
        url = f"{self.base_url}/api/webhooks/{quote(channel.kind)}/{quote(channel.id)}"
        if simulated.query:
            url = f"{url}?{simulated.query}"
        try:
            return self._session.request(simulated.method, url, headers=simulated.headers, data=simulated.body,
                                         timeout=WEBHOOK_TIMEOUT_SECONDS)
        except requests.RequestException as err:
            raise SimulatorError(502, "webhook_unreachable", f"the webhook could not be reached: {err}") from err

    @staticmethod
    def _conversation_of(channel: Any, simulated: Any) -> str | None:
        """The external conversation the simulated message lands in, as the channel's adapter reads it."""
        from chalicelib.channels.base import WebhookRequest
        from chalicelib.domain.model import iso, utcnow
        from chalicelib.errors import AppError
        from chalicelib.services.deps import deps

        declared = getattr(simulated, "external_conversation_id", None)
        if declared:
            return str(declared)
        request = WebhookRequest(method=simulated.method, headers={k.lower(): v for k, v in simulated.headers.items()},
                                 query=dict(parse_qsl(simulated.query)), raw_body=simulated.body,
                                 received_at=iso(utcnow()))
        try:
            result = deps().adapters.get(channel.kind).parse_webhook(channel, request)
        except (AppError, ValueError, KeyError):
            return None
        return next((e.external_conversation_id for e in result.events if e.external_conversation_id), None)


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except ValueError as err:
        raise SimulatorError(400, "invalid_json", "the body must be a JSON object") from err
    if not isinstance(value, dict):
        raise SimulatorError(400, "invalid_json", "the body must be a JSON object")
    return value


def _field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_FIELD:
        raise SimulatorError(400, "invalid_input", f"{name} must be 1..{MAX_FIELD} characters")
    return value.strip()
