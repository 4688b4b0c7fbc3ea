"""mozilla-django-oidc's code-flow backend with the park's rules: endpoints from discovery,
the id_token's issuer, audience and expiry checked (the library checks only the signature and
the nonce), and users matched by ``identity_sign_in``."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from booking.identity.provider import provider_endpoints
from booking.identity.services import IdentityRefused, id_token_check, identity_sign_in

log = logging.getLogger(__name__)


class ParkOidcBackend(OIDCAuthenticationBackend):
    def __init__(self, *args, **kwargs):
        # Django builds every backend for each authenticate() and each request's user, also
        # with single sign-on off: nothing is read from the provider until a callback arrives.
        self.UserModel = get_user_model()

    def _configure(self) -> None:
        endpoints = provider_endpoints()
        self.OIDC_OP_TOKEN_ENDPOINT = endpoints.token
        self.OIDC_OP_USER_ENDPOINT = endpoints.userinfo
        self.OIDC_OP_JWKS_ENDPOINT = endpoints.jwks
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None

    def authenticate(self, request, **kwargs):
        # Only the callback view passes a nonce; password sign-ins are ModelBackend's.
        if not settings.OIDC_ENABLED or request is None or "nonce" not in kwargs:
            return None
        self._configure()
        return super().authenticate(request, **kwargs)

    def verify_token(self, token, **kwargs):
        claims = super().verify_token(token, **kwargs)
        try:
            id_token_check(
                claims=claims, issuer=settings.OIDC_ISSUER, client_id=settings.OIDC_RP_CLIENT_ID
            )
        except IdentityRefused as exc:
            self.request.oidc_refusal = exc.code
            raise SuspiciousOperation(f"id_token refused: {exc}") from exc
        return claims

    def get_or_create_user(self, access_token, id_token, payload):
        userinfo = self.get_userinfo(access_token, id_token, payload)
        # OpenID Connect Core 5.3.2: the userinfo must be about the id_token's subject.
        if str(userinfo.get("sub")) != str(payload["sub"]):
            raise SuspiciousOperation("userinfo is about another subject")
        try:
            return identity_sign_in(
                issuer=settings.OIDC_ISSUER,
                claims={**payload, **userinfo},
                create=settings.OIDC_CREATE_USER,
            )
        except IdentityRefused as exc:
            log.warning("single sign-on refused: %s", exc)
            self.request.oidc_refusal = exc.code
            return None
