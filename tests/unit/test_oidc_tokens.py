"""ID token verification (RS256 on `cryptography`, no JWT library): what is accepted and every way it refuses."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.auth.idtoken import Expected, TokenRejected, b64url, public_jwk, sign_rs256, verify

ISSUER = "https://issuer.example"
CLIENT = "zabota-client"
NONCE = "n-0S6_WzA2Mj"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
JWKS = {"keys": [public_jwk(KEY.public_key(), "k1")]}
EXPECTED = Expected((ISSUER, "issuer.example"), CLIENT, NONCE)


def claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {"iss": ISSUER, "sub": "248289761001", "aud": CLIENT, "exp": now + 300, "iat": now,
                               "nonce": NONCE, "email": "anna@example.com", "email_verified": True}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def refused(token: str, expected: Expected = EXPECTED, jwks: dict | None = None) -> str:
    with pytest.raises(TokenRejected) as caught:
        verify(token, jwks or JWKS, expected, now=time.time())
    return caught.value.message


def test_a_token_signed_by_the_providers_key_with_our_audience_and_nonce_is_accepted():
    token = sign_rs256(claims(), KEY, "k1")
    assert verify(token, JWKS, EXPECTED, now=time.time())["email"] == "anna@example.com"


def test_an_issuer_alias_is_accepted_as_google_uses_two_spellings():
    assert verify(sign_rs256(claims(iss="issuer.example"), KEY, "k1"), JWKS, EXPECTED, now=time.time())["sub"]


def test_a_token_signed_by_another_key_under_the_providers_key_id_is_refused():
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert "signature" in refused(sign_rs256(claims(), forger, "k1"))


def test_a_token_whose_payload_was_changed_after_signing_is_refused():
    head, _, sig = sign_rs256(claims(), KEY, "k1").split(".")
    tampered = b64url(json.dumps(claims(email="boss@example.com")).encode())
    assert "signature" in refused(f"{head}.{tampered}.{sig}")


def test_a_token_for_another_client_is_refused():
    assert "another client" in refused(sign_rs256(claims(aud="someone-else"), KEY, "k1"))


def test_a_token_for_several_audiences_needs_us_as_authorized_party():
    token = sign_rs256(claims(aud=[CLIENT, "other"], azp="other"), KEY, "k1")
    assert "authorized party" in refused(token)
    ok = sign_rs256(claims(aud=[CLIENT, "other"], azp=CLIENT), KEY, "k1")
    assert verify(ok, JWKS, EXPECTED, now=time.time())["sub"]


def test_a_token_from_another_issuer_is_refused():
    assert "issuer" in refused(sign_rs256(claims(iss="https://evil.example"), KEY, "k1"))


def test_an_expired_token_is_refused():
    now = int(time.time())
    assert "expired" in refused(sign_rs256(claims(iat=now - 7200, exp=now - 3600), KEY, "k1"))


def test_a_token_without_the_nonce_of_this_sign_in_is_refused():
    assert "nonce" in refused(sign_rs256(claims(nonce="replayed"), KEY, "k1"))
    assert "nonce" in refused(sign_rs256(claims(nonce=None), KEY, "k1"))


def test_alg_none_is_refused():
    head = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    assert "RS256" in refused(f"{head}.{b64url(json.dumps(claims()).encode())}.")


def test_an_hmac_token_keyed_with_the_public_key_is_refused():
    """The algorithm-confusion attack: HS256 "signed" with the RSA public key as the shared secret."""
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    body = b64url(json.dumps(claims()).encode())
    secret = json.dumps(JWKS["keys"][0]).encode()
    sig = b64url(hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest())
    assert "RS256" in refused(f"{head}.{body}.{sig}")


def test_a_token_signed_with_an_unknown_key_id_is_refused():
    assert "unknown key" in refused(sign_rs256(claims(), KEY, "rotated-away"))


def test_garbage_is_refused_without_a_crash():
    for token in ("", "a.b", "a.b.c.d", "!!!.???.***", base64.b64encode(b"x" * 20000).decode() + ".a.b"):
        refused(token)
