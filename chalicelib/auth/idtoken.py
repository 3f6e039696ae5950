"""OpenID Connect ID tokens: RS256 JWS verified against the provider's JWKS with `cryptography` (no JWT library).

Only RS256 is accepted (no `none`, no HMAC: the public key is never a shared secret), the key is picked by `kid`,
and the claims are checked as OpenID Connect Core §3.1.3.7 asks: issuer, audience (and `azp`), expiry, issue
time, nonce, subject.
"""

from __future__ import annotations

import base64
import hmac
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.errors import Unauthenticated

if TYPE_CHECKING:  # cryptography is imported where a signature is made or checked, not on every cold start
    from cryptography.hazmat.primitives.asymmetric import rsa

LEEWAY_SECONDS = 60
MAX_TOKEN_BYTES = 16 * 1024


class TokenRejected(Unauthenticated):
    code = "id_token_rejected"


def b64url_decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as err:
        raise TokenRejected("the ID token is not base64url") from err


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int(text: str) -> int:
    return int.from_bytes(b64url_decode(text), "big")


def rsa_public_key(jwk: dict[str, Any]) -> rsa.RSAPublicKey:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.RSAPublicNumbers(_int(jwk["e"]), _int(jwk["n"])).public_key()


def public_jwk(key: rsa.RSAPublicKey, kid: str) -> dict[str, str]:
    numbers = key.public_numbers()

    def encode(value: int) -> str:
        return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))

    return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": encode(numbers.n), "e": encode(numbers.e)}


def sign_rs256(claims: dict[str, Any], key: rsa.RSAPrivateKey, kid: str, *, alg: str = "RS256") -> str:
    """A compact JWS (the fake provider and tests sign with this)."""
    header = b64url(json.dumps({"alg": alg, "typ": "JWT", "kid": kid}).encode())
    payload = b64url(json.dumps(claims).encode())
    signing_input = f"{header}.{payload}".encode()
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{b64url(signature)}"


@dataclass(frozen=True)
class Expected:
    issuers: tuple[str, ...]  # Google signs "https://accounts.google.com" or "accounts.google.com"
    audience: str  # our client_id
    nonce: str


def _json_part(text: str) -> dict[str, Any]:
    try:
        value = json.loads(b64url_decode(text))
    except ValueError as err:
        raise TokenRejected("the ID token is not JSON") from err
    if not isinstance(value, dict):
        raise TokenRejected("the ID token is not a JSON object")
    return value


def _pick_key(header: dict[str, Any], jwks: dict[str, Any]) -> dict[str, Any] | None:
    candidates = [k for k in jwks.get("keys", []) if isinstance(k, dict) and k.get("kty") == "RSA"
                  and k.get("use", "sig") == "sig" and k.get("alg", "RS256") == "RS256"]
    kid = header.get("kid")
    if kid is not None:
        return next((k for k in candidates if k.get("kid") == kid), None)
    return candidates[0] if len(candidates) == 1 else None


def key_id(token: str) -> str | None:
    """The `kid` of a token's header (to refresh the JWKS when a provider rotated its keys)."""
    try:
        kid = _json_part(token.split(".")[0]).get("kid")
    except TokenRejected:
        return None
    return kid if isinstance(kid, str) else None


def verify(token: str, jwks: dict[str, Any], expected: Expected, *, now: float) -> dict[str, Any]:
    """The token's claims, or TokenRejected saying what was wrong."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
        raise TokenRejected("the ID token is not a compact JWS")
    head, body, sig = token.split(".")
    header = _json_part(head)
    if header.get("alg") != "RS256" or "crit" in header:
        raise TokenRejected("the ID token must be signed with RS256")
    jwk = _pick_key(header, jwks)
    if jwk is None:
        raise TokenRejected("the ID token is signed with an unknown key")
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        rsa_public_key(jwk).verify(b64url_decode(sig), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, KeyError) as err:
        raise TokenRejected("the ID token's signature is not valid") from err
    claims = _json_part(body)
    check_claims(claims, expected, now=now)
    return claims


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenRejected(f"the ID token's {name} is not a number")
    return float(value)


def check_claims(claims: dict[str, Any], expected: Expected, *, now: float) -> None:
    if claims.get("iss") not in expected.issuers:
        raise TokenRejected("the ID token comes from another issuer")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if expected.audience not in audiences:
        raise TokenRejected("the ID token was issued for another client")
    azp = claims.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != expected.audience:
        raise TokenRejected("the ID token's authorized party is another client")
    exp = _number(claims, "exp")
    if exp is None or exp < now - LEEWAY_SECONDS:
        raise TokenRejected("the ID token has expired")
    iat = _number(claims, "iat")
    if iat is not None and iat > now + LEEWAY_SECONDS:
        raise TokenRejected("the ID token was issued in the future")
    nbf = _number(claims, "nbf")
    if nbf is not None and nbf > now + LEEWAY_SECONDS:
        raise TokenRejected("the ID token is not valid yet")
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not hmac.compare_digest(nonce, expected.nonce):
        raise TokenRejected("the ID token's nonce does not match this sign-in")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise TokenRejected("the ID token has no subject")
