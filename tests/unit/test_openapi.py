"""The OpenAPI document is generated from the route declarations and is valid OpenAPI 3.1."""

from __future__ import annotations

from openapi_spec_validator import validate

import app as app_module
from chalicelib.api.docs import openapi_document


def test_openapi_document_is_valid_and_covers_every_route():
    doc = openapi_document()
    validate(doc)
    for path, methods in app_module.app.routes.items():
        for method in methods:
            assert method.lower() in doc["paths"][f"/api{path}"], f"{method} {path} missing"


def test_protected_operations_name_their_permission():
    doc = openapi_document()
    reply = doc["paths"]["/api/conversations/{conversation_id}/replies"]["post"]
    assert reply["x-permission"] == "conversations:reply" and {"apiKey": []} in reply["security"]
    webhook = doc["paths"]["/api/webhooks/{kind}/{channel_id}"]["post"]
    assert webhook["security"] == []
