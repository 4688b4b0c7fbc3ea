"""Where the park's identity provider answers: the endpoints given in the settings, the rest
from the issuer's discovery document (fetched once per process and issuer)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import httpx
from django.conf import settings

_cache: dict[str, dict] = {}
_lock = threading.Lock()


class ProviderUnavailable(Exception):
    """The discovery document could not be fetched or does not describe the configured issuer."""


@dataclass(frozen=True)
class Endpoints:
    authorization: str
    token: str
    userinfo: str
    jwks: str


def _discovery(issuer: str) -> dict:
    with _lock:
        if issuer in _cache:
            return _cache[issuer]
    try:
        response = httpx.get(
            f"{issuer}/.well-known/openid-configuration", timeout=settings.OIDC_TIMEOUT
        )
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ProviderUnavailable(f"discovery of {issuer} failed: {exc}") from exc
    # OpenID Connect Discovery 4.3: the document must name the issuer it was fetched for.
    if str(document.get("issuer", "")).rstrip("/") != issuer:
        raise ProviderUnavailable(f"discovery of {issuer} names issuer {document.get('issuer')!r}")
    with _lock:
        _cache[issuer] = document
    return document


def provider_endpoints() -> Endpoints:
    """The provider's endpoints: each explicit OIDC_*_ENDPOINT setting, else discovery's.

    Raises ProviderUnavailable when discovery is needed and fails."""
    given = {
        "authorization": settings.OIDC_OP_AUTHORIZATION_ENDPOINT,
        "token": settings.OIDC_OP_TOKEN_ENDPOINT,
        "userinfo": settings.OIDC_OP_USER_ENDPOINT,
        "jwks": settings.OIDC_OP_JWKS_ENDPOINT,
    }
    if all(given.values()):
        return Endpoints(**given)
    document = _discovery(settings.OIDC_ISSUER)
    keys = {
        "authorization": "authorization_endpoint",
        "token": "token_endpoint",
        "userinfo": "userinfo_endpoint",
        "jwks": "jwks_uri",
    }
    found = {name: given[name] or document.get(key, "") for name, key in keys.items()}
    missing = [keys[name] for name, value in found.items() if not value]
    if missing:
        raise ProviderUnavailable(f"discovery of {settings.OIDC_ISSUER} lacks {missing}")
    return Endpoints(**found)


def provider_forget() -> None:
    """Forget fetched discovery documents (tests, or after the provider moved)."""
    with _lock:
        _cache.clear()
