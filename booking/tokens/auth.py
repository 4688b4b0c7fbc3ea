"""Who is calling: a personal bearer token, or the web UI's own session (CSRF enforced).

Each operation names the scope it needs; ``auth_for(scope)`` gives the auth callbacks for it.
A token's tenant is the acting tenant. With a session, the acting tenant is the ``tenant``
query parameter (a slug) or the user's only membership.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.errors import Throttled
from ninja.security import APIKeyCookie, HttpBearer
from ninja.throttling import BaseThrottle
from ninja.utils import check_csrf

from booking.errors import NotFound, ParkError
from booking.tenancy.models import Membership, Tenant
from booking.tokens.models import ApiScope, ApiToken
from booking.tokens.services import api_token_authenticate
from config import ratelimit

SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
SLUG_RE = re.compile(r"[-a-zA-Z0-9_]{1,80}")


@dataclass(frozen=True)
class Caller:
    user: object
    tenant: Tenant
    scopes: frozenset[str]
    token: ApiToken | None = None
    # The user's membership of the tenant, read with the token or the session's tenant.
    membership: Membership | None = None

    @property
    def rate_key(self) -> str:
        if self.token is not None:
            return f"t{self.token.pk}"
        return f"s{self.user.pk}"


class NotAuthenticated(ParkError):
    status = 401

    def __init__(self, message: str, code: str = "not_authenticated"):
        super().__init__(code, message)


def _require_scope(scopes: frozenset[str], scope: str) -> None:
    if scope not in scopes:
        raise ParkError(
            "insufficient_scope",
            _("This token lacks the “%(scope)s” scope needed here."),
            params={"scope": scope},
            status=403,
        )


class TokenAuth(HttpBearer):
    """``Authorization: Bearer park_…``: unknown, expired or revoked → 401; wrong scope → 403."""

    def __init__(self, scope: str):
        self.scope = scope
        super().__init__()

    def authenticate(self, request: HttpRequest, token: str) -> Caller:
        address = ratelimit.client_address(request)
        limit = settings.API_BAD_TOKEN_LIMIT_PER_MINUTE
        if limit > 0:
            # An address that keeps sending unknown tokens is refused before any look-up.
            verdict = ratelimit.peek("bad-token", address, limit=limit, period=60)
            if not verdict.allowed:
                raise Throttled(verdict.retry_after)
        api_token = api_token_authenticate(secret=token.strip())
        if api_token is None:
            if limit > 0:
                ratelimit.hit("bad-token", address, limit=limit, period=60)
            raise NotAuthenticated(
                _("The token is unknown, expired or revoked."), code="invalid_token"
            )
        scopes = frozenset(api_token.scopes)
        _require_scope(scopes, self.scope)
        return Caller(
            user=api_token.user,
            tenant=api_token.tenant,
            scopes=scopes,
            token=api_token,
            membership=api_token.membership,
        )


class SessionTenantAuth(APIKeyCookie):
    """The signed-in web user; unsafe methods need Django's CSRF token as for any form."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self, scope: str):
        self.scope = scope
        super().__init__(csrf=True)

    def __call__(self, request: HttpRequest) -> Caller | None:
        user = request.user
        if not user.is_authenticated:
            return None
        if request.method not in SAFE_METHODS and check_csrf(request) is not None:
            raise ParkError(
                "csrf_failed",
                _("CSRF check failed: send the X-CSRFToken header with a session."),
                status=403,
            )
        memberships = Membership.objects.filter(user=user, tenant__active=True).select_related(
            "tenant"
        )
        slug = request.GET.get("tenant")
        if slug:
            # A malformed slug (even a NUL byte) is simply no tenant of the user's.
            if not SLUG_RE.fullmatch(slug):
                raise NotFound(_("tenant"), field="tenant")
            membership = memberships.filter(tenant__slug=slug).first()
            if membership is None:
                raise NotFound(_("tenant"), field="tenant")
        else:
            found = list(memberships[:2])
            if len(found) != 1:
                raise ParkError(
                    "tenant_required",
                    _("You belong to several tenants (or none); name one with ?tenant=."),
                    field="tenant",
                )
            membership = found[0]
        # A signed-in member may do in the API what the web UI lets them do.
        return Caller(
            user=user,
            tenant=membership.tenant,
            scopes=frozenset(ApiScope.values),
            membership=membership,
        )

    def authenticate(self, request, key):  # pragma: no cover - __call__ does the work
        return None


def auth_for(scope: str) -> list:
    return [TokenAuth(scope), SessionTenantAuth(scope)]


READ = auth_for(ApiScope.READ)
BOOK = auth_for(ApiScope.BOOK)
JOBS = auth_for(ApiScope.JOBS)


class CallerRateThrottle(BaseThrottle):
    """At most ``settings.API_RATE_LIMIT_PER_MINUTE`` calls per token (or session user) in any
    60 seconds (a sliding window, not clock minutes), counted in Django's cache (shared across
    workers when it is Redis)."""

    def __init__(self):
        super().__init__()
        self._local = threading.local()  # one throttle serves every request thread

    def allow_request(self, request: HttpRequest) -> bool:
        limit = settings.API_RATE_LIMIT_PER_MINUTE
        caller = getattr(request, "auth", None)
        if not limit or limit <= 0 or not isinstance(caller, Caller):
            return True
        verdict = ratelimit.hit("api", caller.rate_key, limit=limit, period=60)
        self._local.retry_after = verdict.retry_after
        return verdict.allowed

    def wait(self) -> float:
        return getattr(self._local, "retry_after", 0) or 1
