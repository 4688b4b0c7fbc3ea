"""Personal API tokens (create, revoke, authenticate) and the private iCal feed link of a member."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from booking import sql
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
    or its user left the tenant). Records the use at most once a minute. The token comes with
    its ``user`` and ``tenant`` loaded, and the user's ``membership`` of the tenant."""
    parts = secret.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or len(parts[1]) != 12 or len(secret) > 200:
        return None
    token = _live_token_row(prefix=parts[1])
    if token is None or not hmac.compare_digest(token.secret_hash, _hash(secret)):
        return None
    now = timezone.now()
    if token.expires_at <= now or not token.user.is_active or not token.tenant.active:
        return None
    if token.membership is None:
        return None
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def _live_token_row(*, prefix: str) -> ApiToken | None:
    """The unrevoked token with ``prefix``, its user, its tenant and the user's membership of
    it, in one statement (the hot path of every API call: no ORDER BY, no compiled queryset;
    ``booking.sql``)."""
    token_cols, token_fields = sql.columns_of(ApiToken, "t")
    user_model = get_user_model()
    user_cols, user_fields = sql.columns_of(user_model, "u")
    tenant_cols, tenant_fields = sql.columns_of(Tenant, "n")
    member_cols, member_fields = sql.columns_of(Membership, "m")
    statement = (
        f"SELECT {token_cols}, {user_cols}, {tenant_cols}, {member_cols} "
        f"FROM {sql.table(ApiToken)} t "
        f"JOIN {sql.table(user_model)} u ON u.{sql.column(user_model, 'id')} = t.{sql.column(ApiToken, 'user')} "
        f"JOIN {sql.table(Tenant)} n ON n.{sql.column(Tenant, 'id')} = t.{sql.column(ApiToken, 'tenant')} "
        f"LEFT JOIN {sql.table(Membership)} m ON m.{sql.column(Membership, 'user')} = t.{sql.column(ApiToken, 'user')} "
        f"AND m.{sql.column(Membership, 'tenant')} = t.{sql.column(ApiToken, 'tenant')} "
        f"WHERE t.{sql.column(ApiToken, 'prefix')} = %s AND t.{sql.column(ApiToken, 'revoked_at')} IS NULL "
        "LIMIT 1"
    )
    row = sql.one_row(statement, [prefix])
    if row is None:
        return None
    cut = [0, len(token_fields), len(user_fields), len(tenant_fields), len(member_fields)]
    for i in range(1, len(cut)):
        cut[i] += cut[i - 1]
    token = sql.instance(ApiToken, token_fields, row[cut[0] : cut[1]], "t")
    token.user = sql.instance(user_model, user_fields, row[cut[1] : cut[2]], "u")
    token.tenant = sql.instance(Tenant, tenant_fields, row[cut[2] : cut[3]], "n")
    token.membership = sql.instance(Membership, member_fields, row[cut[3] : cut[4]], "m")
    if token.membership is not None:
        token.membership.tenant = token.tenant
        token.membership.user = token.user
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
