"""Sign-in providers from OIDC_PROVIDERS: the presets (Google, Yandex ID, VK ID), any issuer, the local fake."""

from __future__ import annotations

import json

import pytest

from chalicelib.auth.oidc import configured, pkce_challenge
from chalicelib.settings import load

BASE = {"MAIN_TABLE": "m", "IDEMPOTENCY_TABLE": "i", "CONNECTIONS_TABLE": "c"}


def settings(providers: list[dict] | None = None, **env: str):
    values = {**BASE, **env}
    if providers is not None:
        values["OIDC_PROVIDERS"] = json.dumps(providers)
    return load(values)


def test_presets_need_only_the_client_credentials():
    found = configured(settings([{"id": "google", "client_id": "g"}, {"id": "yandex", "client_id": "y"},
                                 {"id": "vk", "client_id": "v"}], ZABOTA_STAGE="prod"))
    assert found["google"].issuer == "https://accounts.google.com"
    assert "accounts.google.com" in found["google"].issuer_aliases
    assert found["yandex"].kind == "yandex" and found["yandex"].token_endpoint == "https://oauth.yandex.ru/token"
    assert found["vk"].kind == "vkid" and found["vk"].token_endpoint == "https://id.vk.com/oauth2/auth"
    assert found["vk"].client_id == "v" and "local" not in found


def test_any_other_provider_is_a_standard_issuer_found_by_discovery():
    found = configured(settings([{"id": "corp", "name": "Corp SSO", "issuer": "https://sso.corp.example",
                                  "client_id": "c", "client_secret": "s3cr3t-value"}], ZABOTA_STAGE="prod"))
    assert found["corp"].kind == "oidc" and found["corp"].name == "Corp SSO"
    assert "s3cr3t-value" not in repr(found["corp"])  # the secret stays out of logs and tracebacks


def test_a_provider_without_issuer_or_with_unknown_fields_is_a_configuration_error():
    with pytest.raises(ValueError, match="issuer"):
        configured(settings([{"id": "corp", "client_id": "c"}], ZABOTA_STAGE="prod"))
    with pytest.raises(ValueError, match="unknown fields"):
        configured(settings([{"id": "google", "client_id": "g", "clientsecret": "typo"}], ZABOTA_STAGE="prod"))


def test_embedded_mode_offers_the_built_in_fake_provider_and_production_never_does():
    fake = "http://127.0.0.1:8000/_fake/oidc"
    assert configured(settings(OIDC_FAKE_ISSUER=fake))["local"].issuer == fake
    assert "local" not in configured(settings(OIDC_FAKE_ISSUER=fake, ZABOTA_STAGE="prod"))


def test_the_pkce_challenge_is_the_rfc_7636_example():
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636, appendix B
    assert pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
