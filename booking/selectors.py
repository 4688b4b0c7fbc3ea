"""Reads about tenants and their quota use. Every function takes the acting user or tenant."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import DurationField, ExpressionWrapper, F, Q, Sum
from django.utils import timezone

from booking.models import (
    HOLDING_STATUSES,
    Booking,
    ComputeJob,
    JobState,
    Membership,
    Period,
    Quota,
    Tenant,
)
from resources.models import ResourceKind


def tenants_for_user(*, user) -> list[Tenant]:
    if not user.is_authenticated:
        return []
    return list(Tenant.objects.filter(memberships__user=user, active=True).order_by("name"))


def membership_for(*, user, tenant: Tenant) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, tenant=tenant).first()


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
    """Hours a tenant holds in [start, end): bookings (GPU bookings count GPU-hours) plus jobs.

    A booking counts for the part of it inside the window. A job that runs inside a booking is
    covered by that booking; other jobs hold GPUs × time limit while live and are charged their
    real GPU-hours once ended.
    """
    bookings = Booking.objects.filter(
        tenant=tenant,
        resource__kind=resource_class,
        status__in=HOLDING_STATUSES,
        start__lt=end,
        end__gt=start,
    )
    if exclude_booking_id is not None:
        bookings = bookings.exclude(pk=exclude_booking_id)
    total = Decimal(0)
    for b_start, b_end, units in bookings.values_list("start", "end", "units"):
        overlap = (min(b_end, end) - max(b_start, start)).total_seconds()
        total += Decimal(units) * Decimal(overlap) / Decimal(3600)
    if resource_class == ResourceKind.GPU_NODE:
        jobs = ComputeJob.objects.filter(
            tenant=tenant, booking__isnull=True, created_at__gte=start, created_at__lt=end
        )
        live = jobs.filter(state__in=[JobState.QUEUED, JobState.PENDING, JobState.RUNNING])
        for gpus, minutes in live.values_list("gpus", "time_limit_minutes"):
            total += Decimal(gpus) * Decimal(minutes) / Decimal(60)
        ended = jobs.exclude(state__in=[JobState.QUEUED, JobState.PENDING, JobState.RUNNING])
        total += ended.aggregate(s=Sum("gpu_hours"))["s"] or Decimal(0)
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


def booking_duration_expr():
    return ExpressionWrapper(F("end") - F("start"), output_field=DurationField())


def bookings_visible_q(*, user) -> Q:
    """Bookings a user may see in full: their own, and all of tenants they manage."""
    managed = Membership.objects.filter(user=user, role=Membership.Role.MANAGER).values("tenant_id")
    return Q(user=user) | Q(tenant_id__in=managed)
