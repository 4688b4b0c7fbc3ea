"""Personal API tokens (create, revoke, authenticate) and the private iCal feed link of a member."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.errors import NotFound, ParkError
from booking.tenancy.models import Membership, Tenant
from booking.tokens.models import ApiScope, ApiToken, CalendarFeedToken

TOKEN_PREFIX = "park"


MAX_TOKEN_DAYS = 366


# Writing last_used_at on every call would turn each read into a write; once a minute is
# precise enough for "last used" in the token list.
LAST_USED_RESOLUTION = dt.timedelta(seconds=60)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_token_create(
    *,
    user,
    tenant: Tenant,
    name: str,
    scopes: list[str],
    expires_at: dt.datetime,
) -> tuple[ApiToken, str]:
    """Create a token for ``user`` acting for ``tenant``; returns (token, secret).

    The secret is returned only here: the database keeps its SHA-256 hash. The user must be
    a member of the tenant; scopes are a non-empty subset of ``ApiScope``; the expiry is in
    the future and at most a year away.
    """
    name = (name or "").strip()
    if not name:
        raise ParkError("name_required", _("Give the token a name."), field="name")
    if len(name) > 80:
        raise ParkError("name_too_long", _("At most 80 characters."), field="name")
    if not Membership.objects.filter(user=user, tenant=tenant, tenant__active=True).exists():
        raise NotFound(_("tenant"), field="tenant")
    scopes = sorted(set(scopes or []))
    if not scopes:
        raise ParkError("scopes_required", _("Choose at least one scope."), field="scopes")
    unknown = [s for s in scopes if s not in ApiScope.values]
    if unknown:
        raise ParkError(
            "unknown_scope",
            _("Unknown scope %(scope)s (allowed: %(allowed)s)."),
            params={"scope": unknown[0], "allowed": ", ".join(ApiScope.values)},
            field="scopes",
        )
    now = timezone.now()
    if expires_at <= now:
        raise ParkError("expiry_in_past", _("Must be in the future."), field="expires_at")
    if expires_at > now + dt.timedelta(days=MAX_TOKEN_DAYS):
        raise ParkError(
            "expiry_too_far",
            _("A token may live at most %(days)s days."),
            params={"days": MAX_TOKEN_DAYS},
            field="expires_at",
        )
    prefix = secrets.token_hex(6)
    secret = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken(
        user=user,
        tenant=tenant,
        name=name,
        scopes=scopes,
        prefix=prefix,
        secret_hash=_hash(secret),
        expires_at=expires_at,
    )
    token.full_clean()
    token.save()
    return token, secret


def api_token_revoke(*, token: ApiToken, actor) -> ApiToken:
    """Revoke a token of ``actor``'s; revoking twice is harmless. Another user's token → 404."""
    if token.user_id != actor.pk:
        raise NotFound(_("token"))
    now = timezone.now()
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
    token.refresh_from_db(fields=["revoked_at"])
    return token


def api_token_authenticate(*, secret: str) -> ApiToken | None:
    """The live token whose secret is ``secret``, or None (unknown, malformed, expired, revoked,
    or its user left the tenant). Records the use at most once a minute."""
    parts = secret.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or len(parts[1]) != 12 or len(secret) > 200:
        return None
    # One query: the token with its user, tenant and whether the user is still a member.
    # (The hot path of every API call, so no ORDER BY and no second round trip.)
    rows = list(
        ApiToken.objects.select_related("user", "tenant")
        .annotate(
            member=Exists(
                Membership.objects.filter(
                    user_id=OuterRef("user_id"), tenant_id=OuterRef("tenant_id")
                )
            )
        )
        .filter(prefix=parts[1], revoked_at__isnull=True)
        .order_by()[:1]
    )
    token = rows[0] if rows else None
    if token is None or not hmac.compare_digest(token.secret_hash, _hash(secret)):
        return None
    now = timezone.now()
    if token.expires_at <= now or not token.user.is_active or not token.tenant.active:
        return None
    if not token.member:
        return None
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def api_tokens_for_user(*, user) -> list[ApiToken]:
    """The user's tokens, newest first (a read; kept here beside the token rules)."""
    return list(ApiToken.objects.filter(user=user).select_related("tenant"))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def calendar_feed_regenerate(*, user) -> str:
    """Issue a new secret for ``user``'s feed and return it (shown once; only its hash is kept).
    Any earlier link stops working at once."""
    token = secrets.token_urlsafe(32)
    CalendarFeedToken.objects.update_or_create(user=user, defaults={"token_hash": _hash(token)})
    return token


@transaction.atomic
def calendar_feed_revoke(*, user) -> None:
    CalendarFeedToken.objects.filter(user=user).delete()


def calendar_feed_user(*, token: str):
    """The user a feed secret belongs to; unknown or revoked secrets answer 404."""
    if not token or len(token) > 100:
        raise NotFound("calendar feed")
    row = (
        CalendarFeedToken.objects.select_related("user")
        .filter(token_hash=_hash(token), user__is_active=True)
        .first()
    )
    if row is None:
        raise NotFound("calendar feed")
    return row.user
