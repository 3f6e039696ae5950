"""Sign-in with an external account: OAuth 2.0 authorization code + PKCE (S256) and, for OpenID Connect issuers,
a verified ID token (docs/TEAM.md).

Providers come from `OIDC_PROVIDERS` (a JSON list). Three are presets (only `client_id` / `client_secret` to give):

- `google`: OpenID Connect through discovery (`https://accounts.google.com`).
- `yandex`: Yandex ID is OAuth 2.0 + PKCE without ID tokens: the identity comes from `login.yandex.ru/info`, and
  the token must have been issued to our `client_id`.
- `vk`: VK ID (OAuth 2.1, PKCE mandatory, `device_id` from the redirect goes back with the code); the identity comes
  from `id.vk.com/oauth2/user_info`.

Any other entry with an `issuer` is a standard OpenID Connect provider found by discovery. In embedded mode the
built-in fake provider is offered as `local`. The `state` is single use (stored, hashed, 10 minutes) and bound to
the browser by a cookie; the `nonce` must come back in the ID token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from chalicelib.auth import idtoken
from chalicelib.auth.users import normalise_email, secret_hash
from chalicelib.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from chalicelib.observability import logger
from chalicelib.settings import Settings
from chalicelib.store import team


def _http() -> Any:
    """`requests`, imported on first use: sign-in is rare, every cold start is not."""
    import requests

    return requests

STATE_MINUTES = 10
STATE_COOKIE = "zb_oidc_state"
TIMEOUT = 10
CACHE_SECONDS = 3600


class SignInFailed(Unauthenticated):
    code = "oidc_failed"


@dataclass(frozen=True)
class Provider:
    id: str
    name: str
    kind: str  # "oidc" | "yandex" | "vkid"
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    client_secret_parameter: str = ""  # SSM parameter holding the secret (AWS)
    issuer: str = ""
    issuer_aliases: tuple[str, ...] = ()
    authorization_endpoint: str = ""
    token_endpoint: str = ""
    userinfo_endpoint: str = ""
    scope: str = "openid email profile"
    token_auth: str = "client_secret_post"  # or "client_secret_basic"
    trust_email: bool = False  # accept addresses without `email_verified` (the provider only gives confirmed ones)


PRESETS: dict[str, Provider] = {
    "google": Provider("google", "Google", "oidc", issuer="https://accounts.google.com",
                       issuer_aliases=("accounts.google.com",)),
    "yandex": Provider("yandex", "Яндекс ID", "yandex", authorization_endpoint="https://oauth.yandex.ru/authorize",
                       token_endpoint="https://oauth.yandex.ru/token",
                       userinfo_endpoint="https://login.yandex.ru/info?format=json", scope="login:email login:info",
                       trust_email=True),
    "vk": Provider("vk", "VK ID", "vkid", authorization_endpoint="https://id.vk.com/authorize",
                   token_endpoint="https://id.vk.com/oauth2/auth", userinfo_endpoint="https://id.vk.com/oauth2/user_info",
                   scope="email", trust_email=True),
}
FIELDS = {f for f in Provider.__dataclass_fields__}  # noqa: C416


def configured(settings: Settings) -> dict[str, Provider]:
    """The providers of this deployment, by id."""
    found: dict[str, Provider] = {}
    raw = settings.oidc_providers.strip()
    entries = json.loads(raw) if raw else []
    if not isinstance(entries, list):
        raise ValueError("OIDC_PROVIDERS must be a JSON list")
    for entry in entries:
        found[entry["id"]] = _provider(entry)
    if settings.oidc_fake_issuer and "local" not in found:
        found["local"] = Provider("local", "Local test provider", "oidc", client_id="zabota-local",
                                  client_secret="zabota-local-secret", issuer=settings.oidc_fake_issuer)
    return found


def _provider(entry: dict[str, Any]) -> Provider:
    unknown = set(entry) - FIELDS
    if unknown:
        raise ValueError(f"OIDC_PROVIDERS: unknown fields {sorted(unknown)}")
    values: dict[str, Any] = {k: tuple(v) if k == "issuer_aliases" else v for k, v in entry.items()}
    preset = PRESETS.get(entry["id"])
    if preset is not None:
        return replace(preset, **values)
    if not entry.get("issuer"):
        raise ValueError(f"OIDC_PROVIDERS: {entry['id']} needs an issuer (or use a preset: google, yandex, vk)")
    return Provider(**{"name": entry["id"], "kind": "oidc", **values})


def provider(settings: Settings, provider_id: str) -> Provider:
    found = configured(settings).get(provider_id)
    if found is None:
        raise NotFound(f"no sign-in provider {provider_id!r}")
    return found


def redirect_uri(settings: Settings, p: Provider) -> str:
    return f"{settings.public_url}/api/auth/oidc/{p.id}/callback"


# --- discovery and keys (cached per warm Lambda) -----------------------------------------------------------

_cache: dict[str, tuple[float, dict[str, Any]]] = {}


def _get_json(url: str, *, fresh: bool = False) -> dict[str, Any]:
    hit = _cache.get(url)
    if hit and hit[0] > time.monotonic() and not fresh:
        return hit[1]
    try:
        resp = _http().get(url, timeout=TIMEOUT, headers={"Accept": "application/json"})
        resp.raise_for_status()
        doc = resp.json()
    except (_http().RequestException, ValueError) as err:
        raise SignInFailed("the sign-in provider did not answer") from err
    if not isinstance(doc, dict):
        raise SignInFailed("the sign-in provider answered nonsense")
    _cache[url] = (time.monotonic() + CACHE_SECONDS, doc)
    return doc


def discovery(p: Provider) -> dict[str, Any]:
    doc = _get_json(p.issuer.rstrip("/") + "/.well-known/openid-configuration")
    if doc.get("issuer") != p.issuer:  # OpenID Connect Discovery §4.3
        raise SignInFailed("the provider's discovery document names another issuer")
    return doc


def _endpoint(p: Provider, name: str) -> str:
    explicit = getattr(p, name)
    if explicit:
        return str(explicit)
    if p.kind != "oidc":
        raise SignInFailed(f"provider {p.id} has no {name}")
    value = discovery(p).get(name)
    if not isinstance(value, str) or not value:
        raise SignInFailed(f"provider {p.id} publishes no {name}")
    return value


def _jwks(p: Provider, token: str) -> dict[str, Any]:
    uri = str(discovery(p).get("jwks_uri") or "")
    if not uri:
        raise SignInFailed(f"provider {p.id} publishes no jwks_uri")
    keys = _get_json(uri)
    kid = idtoken.key_id(token)
    if kid and kid not in {k.get("kid") for k in keys.get("keys", []) if isinstance(k, dict)}:
        keys = _get_json(uri, fresh=True)  # keys rotate: look once more before refusing
    return keys


def forget_cache() -> None:
    _cache.clear()


def _secret(p: Provider) -> str:
    if p.client_secret or not p.client_secret_parameter:
        return p.client_secret
    from aws_lambda_powertools.utilities import parameters

    return str(parameters.get_parameter(p.client_secret_parameter, decrypt=True, max_age=300))


# --- the flow ----------------------------------------------------------------------------------------------


def pkce_challenge(verifier: str) -> str:
    return idtoken.b64url(hashlib.sha256(verifier.encode()).digest())


@dataclass(frozen=True)
class Started:
    url: str  # where to send the browser
    state: str  # also goes into the state cookie


def start(settings: Settings, provider_id: str, next_path: str, *, now: datetime) -> Started:
    p = provider(settings, provider_id)
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64)
    team.put_oidc_state(secret_hash(state), p.id, nonce, verifier, next_path, now=now,
                        until=now + timedelta(minutes=STATE_MINUTES))
    params = {"response_type": "code", "client_id": p.client_id, "redirect_uri": redirect_uri(settings, p),
              "scope": p.scope, "state": state, "code_challenge": pkce_challenge(verifier),
              "code_challenge_method": "S256"}
    if p.kind == "oidc":
        params["nonce"] = nonce
    endpoint = _endpoint(p, "authorization_endpoint")
    return Started(f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}", state)


@dataclass(frozen=True)
class Identity:
    provider: str
    subject: str
    email: str
    name: str
    next_path: str


def finish(settings: Settings, provider_id: str, params: dict[str, str], cookie_state: str, *,
           now: datetime) -> Identity:
    """Check the redirect, exchange the code (with the PKCE verifier) and establish who signed in."""
    p = provider(settings, provider_id)
    if params.get("error"):
        raise SignInFailed(f"the provider refused the sign-in ({params['error'][:60]})", code="oidc_refused")
    state, code = params.get("state", ""), params.get("code", "")
    if not state or not code:
        raise InvalidInput("the provider's redirect has no code or state")
    if not cookie_state or not hmac.compare_digest(state, cookie_state):
        raise SignInFailed("this sign-in was started in another browser; start again", code="oidc_state")
    pending = team.take_oidc_state(secret_hash(state), now=now)
    if pending is None or pending.provider != p.id:
        raise SignInFailed("this sign-in expired or was used already; start again", code="oidc_state")
    tokens = _exchange(settings, p, code, pending.code_verifier, params)
    if p.kind == "yandex":
        subject, email, name = _yandex_user(p, tokens)
    elif p.kind == "vkid":
        subject, email, name = _vk_user(p, tokens)
    else:
        subject, email, name = _oidc_user(p, tokens, pending.nonce, now=now)
    logger.info("external sign-in verified", extra={"provider": p.id})
    return Identity(p.id, subject, normalise_email(email), name, pending.next_path)


def _exchange(settings: Settings, p: Provider, code: str, verifier: str, params: dict[str, str]) -> dict[str, Any]:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri(settings, p),
            "code_verifier": verifier, "client_id": p.client_id}
    if p.kind == "vkid":  # VK ID wants the device and the state back (id.vk.com/oauth2/auth)
        form.update(device_id=params.get("device_id", ""), state=params.get("state", ""))
    auth = None
    secret = _secret(p)
    if secret and p.token_auth == "client_secret_basic":
        auth = (p.client_id, secret)
    elif secret:
        form["client_secret"] = secret
    try:
        resp = _http().post(_endpoint(p, "token_endpoint"), data=form, auth=auth, timeout=TIMEOUT,
                             headers={"Accept": "application/json"})
        body = resp.json()
    except (_http().RequestException, ValueError) as err:
        raise SignInFailed("the sign-in provider did not answer") from err
    if resp.status_code != 200 or not isinstance(body, dict) or "error" in body:
        error = body.get("error") if isinstance(body, dict) else None
        raise SignInFailed(f"the provider refused the code ({str(error or resp.status_code)[:60]})")
    return body


def _email_of(p: Provider, claims: dict[str, Any]) -> str:
    email = claims.get("email")
    if not isinstance(email, str) or not email:
        raise Forbidden("the provider did not share an e-mail address", code="oidc_no_email")
    verified = claims.get("email_verified")
    if verified is True or (isinstance(verified, str) and verified.lower() == "true"):
        return email
    if verified is None and p.trust_email:
        return email
    raise Forbidden("the provider has not confirmed this e-mail address", code="oidc_email_unverified")


def _oidc_user(p: Provider, tokens: dict[str, Any], nonce: str, *, now: datetime) -> tuple[str, str, str]:
    token = tokens.get("id_token")
    if not isinstance(token, str):
        raise SignInFailed("the provider sent no ID token")
    issuers = (p.issuer, *p.issuer_aliases)
    claims = idtoken.verify(token, _jwks(p, token), idtoken.Expected(issuers, p.client_id, nonce),
                            now=now.timestamp())
    if "email" not in claims and tokens.get("access_token"):
        info = _userinfo(p, str(tokens["access_token"]))
        if info.get("sub") != claims["sub"]:  # OpenID Connect Core §5.3.2
            raise SignInFailed("the provider's user info is about someone else")
        claims = {**info, **claims}
    return str(claims["sub"]), _email_of(p, claims), str(claims.get("name") or "")


def _userinfo(p: Provider, access_token: str) -> dict[str, Any]:
    try:
        resp = _http().get(_endpoint(p, "userinfo_endpoint"), timeout=TIMEOUT,
                            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"})
        body = resp.json()
    except (_http().RequestException, ValueError) as err:
        raise SignInFailed("the sign-in provider did not answer") from err
    if resp.status_code != 200 or not isinstance(body, dict):
        raise SignInFailed("the provider refused the user info request")
    return body


def _yandex_user(p: Provider, tokens: dict[str, Any]) -> tuple[str, str, str]:
    """login.yandex.ru/info with `Authorization: OAuth <token>` (Yandex ID "Getting information about a user")."""
    try:
        resp = _http().get(p.userinfo_endpoint, timeout=TIMEOUT,
                            headers={"Authorization": f"OAuth {tokens.get('access_token', '')}"})
        info = resp.json()
    except (_http().RequestException, ValueError) as err:
        raise SignInFailed("Yandex ID did not answer") from err
    if resp.status_code != 200 or not isinstance(info, dict) or not info.get("id"):
        raise SignInFailed("Yandex ID refused the user info request")
    if info.get("client_id") not in (None, p.client_id):
        raise SignInFailed("the Yandex token was issued to another application")
    emails = info.get("emails") if isinstance(info.get("emails"), list) else []
    email = info.get("default_email") or (emails[0] if emails else "")
    name = info.get("real_name") or info.get("display_name") or info.get("login") or ""
    return str(info["id"]), _email_of(p, {"email": email}), str(name)


def _vk_user(p: Provider, tokens: dict[str, Any]) -> tuple[str, str, str]:
    """id.vk.com/oauth2/user_info (POST client_id + access_token) answers {"user": {...}}."""
    try:
        resp = _http().post(p.userinfo_endpoint, timeout=TIMEOUT,
                             data={"client_id": p.client_id, "access_token": tokens.get("access_token", "")})
        body = resp.json()
    except (_http().RequestException, ValueError) as err:
        raise SignInFailed("VK ID did not answer") from err
    user = body.get("user") if isinstance(body, dict) else None
    if resp.status_code != 200 or not isinstance(user, dict) or not user.get("user_id"):
        raise SignInFailed("VK ID refused the user info request")
    if tokens.get("user_id") is not None and str(tokens["user_id"]) != str(user["user_id"]):
        raise SignInFailed("VK ID's user info is about someone else")
    name = " ".join(str(user.get(k) or "") for k in ("first_name", "last_name")).strip()
    return str(user["user_id"]), _email_of(p, {"email": user.get("email")}), name
