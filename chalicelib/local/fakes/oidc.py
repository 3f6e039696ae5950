"""A fake OpenID Connect provider that speaks the real protocol, for embedded mode and tests.

Mounted by the runner at `/_fake/oidc` (the issuer is `OIDC_FAKE_ISSUER`, i.e. `<public url>/_fake/oidc`):

- `GET /.well-known/openid-configuration`: discovery (OpenID Connect Discovery 1.0);
- `GET /jwks`: the RSA public key (JWK Set);
- `GET /authorize`: authorization code flow; PKCE with S256 is required. With `login_hint=<e-mail>` it approves
  at once (tests); without, it shows a one-field page to choose who signs in (embedded mode);
- `POST /token`: checks the client (`client_secret_post` or `client_secret_basic`), the redirect URI, the code
  (single use, 60 s) and the PKCE verifier, and returns an RS256-signed ID token with the nonce;
- `GET /userinfo`: the claims for a Bearer access token.

Tests can make the next token answers misbehave (`tamper`): a forged signature, another audience, issuer or
nonce, an expired token, `alg: none`, an unconfirmed e-mail. `GET /_calls` lists the requests; `POST /_reset`.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.auth.idtoken import b64url, public_jwk, sign_rs256

Response = tuple[int, dict[str, str], bytes]

DEFAULT_CLIENT = ("zabota-local", "zabota-local-secret")
TAMPERS = ("forged_signature", "wrong_audience", "wrong_issuer", "wrong_nonce", "expired", "alg_none",
           "unverified_email")
CODE_SECONDS = 60


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return status, {"Content-Type": "application/json", "Cache-Control": "no-store", **(headers or {})}, \
        json.dumps(body).encode()


def _oauth_error(status: int, error: str, description: str) -> Response:
    return _json(status, {"error": error, "error_description": description})


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    email: str
    name: str
    scope: str
    expires: float
    used: bool = False


class FakeOidc:
    """One provider with one signing key, any number of users (created by e-mail on first sign-in)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = f"fake-{secrets.token_hex(4)}"
        self.clients: dict[str, str] = {DEFAULT_CLIENT[0]: DEFAULT_CLIENT[1]}
        self.unverified: set[str] = set()  # addresses the provider has not confirmed
        self.tamper: str | None = None
        self.calls: list[dict[str, Any]] = []
        self._codes: dict[str, _Code] = {}
        self._tokens: dict[str, dict[str, Any]] = {}

    def reset(self) -> None:
        with self._lock:
            self.tamper = None
            self.calls.clear()
            self._codes.clear()
            self._tokens.clear()
            self.unverified.clear()

    # --- transport ---------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        parts = urlsplit(path)
        route = parts.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        low = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            self.calls.append({"method": method.upper(), "path": route, "query": dict(query)})
        if route == "/.well-known/openid-configuration" and method.upper() == "GET":
            return _json(200, self.discovery(low))
        if route == "/jwks":
            return _json(200, {"keys": [public_jwk(self.key.public_key(), self.kid)]})
        if route == "/authorize" and method.upper() == "GET":
            return self._authorize(query)
        if route == "/token" and method.upper() == "POST":
            form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
            return self._token(form, low)
        if route == "/userinfo":
            return self._userinfo(low)
        if route == "/_calls":
            return _json(200, self.calls)
        if route == "/_reset" and method.upper() == "POST":
            self.reset()
            return _json(200, {"ok": True})
        return _json(404, {"error": "not_found"})

    def issuer(self, headers: dict[str, str] | None = None) -> str:
        configured = os.environ.get("OIDC_FAKE_ISSUER", "")
        if configured:
            return configured.rstrip("/")
        return f"http://{(headers or {}).get('host', '127.0.0.1')}/_fake/oidc"

    def discovery(self, headers: dict[str, str] | None = None) -> dict[str, Any]:
        issuer = self.issuer(headers)
        return {
            "issuer": issuer, "authorization_endpoint": f"{issuer}/authorize", "token_endpoint": f"{issuer}/token",
            "userinfo_endpoint": f"{issuer}/userinfo", "jwks_uri": f"{issuer}/jwks",
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"], "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["S256"], "grant_types_supported": ["authorization_code"],
            "claims_supported": ["sub", "email", "email_verified", "name", "nonce"],
        }

    # --- the authorization endpoint ----------------------------------------------------------------------

    def _authorize(self, q: dict[str, str]) -> Response:
        redirect = q.get("redirect_uri", "")
        if q.get("client_id") not in self.clients or not redirect.startswith(("http://", "https://")):
            return _json(400, {"error": "invalid_request", "error_description": "unknown client or redirect_uri"})
        problem = None
        if q.get("response_type") != "code":
            problem = ("unsupported_response_type", "only the code flow")
        elif "openid" not in q.get("scope", "").split():
            problem = ("invalid_scope", "scope must include openid")
        elif not q.get("code_challenge") or q.get("code_challenge_method") != "S256":
            problem = ("invalid_request", "PKCE with S256 is required")
        if problem:
            return self._back(redirect, {"error": problem[0], "error_description": problem[1],
                                         "state": q.get("state", "")})
        email = q.get("login_hint", "").strip().lower()
        if not email:
            return self._chooser(q)
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Code(q["client_id"], redirect, q["code_challenge"], q.get("nonce"), email,
                                      q.get("name") or email.split("@")[0], q.get("scope", ""),
                                      time.time() + CODE_SECONDS)
        return self._back(redirect, {"code": code, "state": q.get("state", "")})

    @staticmethod
    def _back(redirect: str, params: dict[str, str]) -> Response:
        joiner = "&" if "?" in redirect else "?"
        return 302, {"Location": f"{redirect}{joiner}{urlencode(params)}", "Cache-Control": "no-store"}, b""

    @staticmethod
    def _chooser(q: dict[str, str]) -> Response:
        hidden = "".join(f"<input type=hidden name='{html.escape(k)}' value='{html.escape(v)}'>" for k, v in q.items())
        page = ("<!doctype html><meta charset=utf-8><title>Fake sign-in</title><link rel=icon href='data:,'>"
                "<body style='font-family:sans-serif;max-width:30rem;margin:4rem auto'><h1>Local test provider</h1>"
                "<p>Embedded mode: sign in as any address (it must have an account in Zabota).</p>"
                f"<form method=get action=authorize>{hidden}<label>E-mail <input name=login_hint type=email "
                "required autofocus></label> <button>Sign in</button></form>")
        return 200, {"Content-Type": "text/html; charset=utf-8"}, page.encode()

    # --- the token endpoint ------------------------------------------------------------------------------

    def _client(self, form: dict[str, str], headers: dict[str, str]) -> str | None:
        auth = headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        known = self.clients.get(client_id)
        return client_id if known is not None and secrets.compare_digest(known, secret) else None

    def _token(self, form: dict[str, str], headers: dict[str, str]) -> Response:
        client_id = self._client(form, headers)
        if client_id is None:
            return _oauth_error(401, "invalid_client", "client authentication failed")
        if form.get("grant_type") != "authorization_code":
            return _oauth_error(400, "unsupported_grant_type", "authorization_code only")
        with self._lock:
            code = self._codes.get(form.get("code", ""))
            if code is None or code.used or code.expires < time.time() or code.client_id != client_id:
                return _oauth_error(400, "invalid_grant", "unknown, used or expired code")
            code.used = True
        if form.get("redirect_uri") != code.redirect_uri:
            return _oauth_error(400, "invalid_grant", "redirect_uri differs from the authorization request")
        verifier = form.get("code_verifier", "")
        if not 43 <= len(verifier) <= 128 or b64url(hashlib.sha256(verifier.encode()).digest()) != code.challenge:
            return _oauth_error(400, "invalid_grant", "PKCE verification failed")
        access = secrets.token_urlsafe(24)
        claims = self._claims(code, client_id, headers)
        with self._lock:
            self._tokens[access] = {k: v for k, v in claims.items() if k in ("sub", "email", "email_verified", "name")}
            tamper, self.tamper = self.tamper, None
        return _json(200, {"access_token": access, "token_type": "Bearer", "expires_in": 3600,
                           "scope": code.scope, "id_token": self._sign(claims, tamper)})

    def subject_of(self, email: str) -> str:
        return "sub-" + hashlib.sha256(email.encode()).hexdigest()[:16]

    def _claims(self, code: _Code, client_id: str, headers: dict[str, str]) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.issuer(headers), "sub": self.subject_of(code.email), "aud": client_id,
                                  "azp": client_id, "iat": now, "exp": now + 600, "auth_time": now,
                                  "email": code.email, "email_verified": code.email not in self.unverified,
                                  "name": code.name}
        if code.nonce is not None:
            claims["nonce"] = code.nonce
        return claims

    def _sign(self, claims: dict[str, Any], tamper: str | None) -> str:
        claims = dict(claims)
        if tamper == "wrong_audience":
            claims["aud"], claims["azp"] = "another-client", "another-client"
        elif tamper == "wrong_issuer":
            claims["iss"] = "https://evil.example"
        elif tamper == "wrong_nonce":
            claims["nonce"] = "not-the-nonce"
        elif tamper == "expired":
            claims["iat"], claims["exp"] = claims["iat"] - 7200, claims["iat"] - 3600
        elif tamper == "unverified_email":
            claims["email_verified"] = False
        if tamper == "alg_none":
            head = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
            return f"{head}.{b64url(json.dumps(claims).encode())}."
        if tamper == "forged_signature":  # signed by someone else's key under our key id
            other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return sign_rs256(claims, other, self.kid)
        return sign_rs256(claims, self.key, self.kid)

    def _userinfo(self, headers: dict[str, str]) -> Response:
        auth = headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        with self._lock:
            claims = self._tokens.get(token)
        if claims is None:
            return 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, b""
        return _json(200, claims)
