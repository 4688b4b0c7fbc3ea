"""Reads about tenants, memberships and quota use. Every function takes the acting user or tenant."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from booking import sql
from booking.tenancy.models import Invitation, Membership, Period, Quota, Tenant, UserLanguage
from booking.tenancy.usage import usage_sources


def tenants_for_user(*, user) -> list[Tenant]:
    if not user.is_authenticated:
        return []
    return list(Tenant.objects.filter(memberships__user=user, active=True).order_by("name"))


def membership_for(*, user, tenant: Tenant) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, tenant=tenant).first()


def managed_tenants(*, user) -> list[Tenant]:
    if not user.is_authenticated:
        return []
    return list(
        Tenant.objects.filter(
            memberships__user=user, memberships__role=Membership.Role.MANAGER, active=True
        ).order_by("name")
    )


def period_bounds(*, period: str, at: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The [start, end) of the quota period containing ``at``, in the park's local time zone."""
    local = timezone.localtime(at)
    day = local.date()
    if period == Period.WEEK:
        first = day - dt.timedelta(days=day.weekday())
        last = first + dt.timedelta(days=7)
    elif period == Period.MONTH:
        first = day.replace(day=1)
        last = (first + dt.timedelta(days=32)).replace(day=1)
    elif period == Period.QUARTER:
        first = day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)
        last = (first + dt.timedelta(days=95)).replace(day=1)
    else:
        raise ValueError(f"unknown period {period!r}")
    tz = timezone.get_current_timezone()
    return (
        dt.datetime.combine(first, dt.time.min, tzinfo=tz),
        dt.datetime.combine(last, dt.time.min, tzinfo=tz),
    )


@dataclass(frozen=True)
class QuotaUse:
    resource_class: str
    period: str
    period_start: dt.datetime
    period_end: dt.datetime
    quota_hours: Decimal
    used_hours: Decimal

    @property
    def left_hours(self) -> Decimal:
        return max(Decimal(0), self.quota_hours - self.used_hours)

    @property
    def percent(self) -> int:
        if self.quota_hours <= 0:
            return 100 if self.used_hours > 0 else 0
        return min(100, int(self.used_hours * 100 / self.quota_hours))


def used_hours(
    *,
    tenant: Tenant,
    resource_class: str,
    start: dt.datetime,
    end: dt.datetime,
    exclude_booking_id=None,
) -> Decimal:
    """Hours a tenant holds of ``resource_class`` in [start, end), summed over every usage
    source (``booking.tenancy.usage``: bookings, compute jobs), to 0.01 h.

    ``exclude_booking_id``: a booking being moved or replaced, left out of the sum.
    """
    queries = [
        query
        for source in usage_sources()
        if (
            query := source(
                tenant=tenant,
                resource_class=resource_class,
                start=start,
                end=end,
                exclude_booking_id=exclude_booking_id,
            )
        )
        is not None
    ]
    if not queries:
        return Decimal("0.00")
    # Each query is an aggregate (one row): their cross join is one row with all their columns.
    statement = "SELECT * FROM " + " CROSS JOIN ".join(
        f"({query.sql}) AS s{i}" for i, query in enumerate(queries)
    )
    row = sql.one_row(statement, [param for query in queries for param in query.params])
    total, at = Decimal(0), 0
    for query in queries:
        total += query.hours(row[at : at + query.width])
        at += query.width
    return total.quantize(Decimal("0.01"))


def quota_uses(*, tenant: Tenant, at: dt.datetime | None = None) -> list[QuotaUse]:
    """Each quota of ``tenant`` with its use in the period containing ``at`` (default: now)."""
    at = at or timezone.now()
    result = []
    for quota in Quota.objects.filter(tenant=tenant).order_by("resource_class", "period"):
        start, end = period_bounds(period=quota.period, at=at)
        result.append(
            QuotaUse(
                resource_class=quota.resource_class,
                period=quota.period,
                period_start=start,
                period_end=end,
                quota_hours=quota.hours,
                used_hours=used_hours(
                    tenant=tenant, resource_class=quota.resource_class, start=start, end=end
                ),
            )
        )
    return result


def language_of(*, user_id: int) -> str:
    """The language to write to a user in: the one they last used the site in, else the site's."""
    found = UserLanguage.objects.filter(user_id=user_id).values_list("language", flat=True).first()
    return found or settings.LANGUAGE_CODE


def members_of(*, tenant: Tenant) -> list[Membership]:
    """The tenant's memberships, managers first, then by name."""
    return list(
        Membership.objects.filter(tenant=tenant)
        .select_related("user")
        .order_by("-role", "user__first_name", "user__username")
    )


def invitations_pending(*, tenant: Tenant, now: dt.datetime) -> list[Invitation]:
    """The tenant's invitations whose link still works (not used, withdrawn or expired)."""
    return list(
        Invitation.objects.filter(
            tenant=tenant, accepted_at__isnull=True, revoked=False, expires__gt=now
        ).select_related("invited_by")
    )


def role_choices() -> list[tuple[str, str]]:
    return list(Membership.Role.choices)
