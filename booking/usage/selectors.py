"""Reads of usage: a tenant's booked, used and no-show hours per resource class; the check-in
panel of a booking; the kiosk's bookings of an instrument."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from booking.bookings.models import HOLDING_STATUSES, Booking, BookingStatus
from booking.tenancy.models import Tenant
from booking.usage.models import BookingUsage
from booking.usage.services import check_in_times, default_window, usage_policy, window_for
from resources.models import Resource, ResourceKind

# Bookings that were (or are) really held: the ones usage is measured for.
MEASURED_STATUSES = (
    BookingStatus.CONFIRMED,
    BookingStatus.IN_USE,
    BookingStatus.COMPLETED,
    BookingStatus.NO_SHOW,
)


def local_day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


def charged_hours_adjustment(
    *,
    tenant,
    resource_class: str,
    start: dt.datetime,
    end: dt.datetime,
    exclude_booking_id=None,
) -> Decimal:
    """The usage source of closed bookings for quota use (registered in ``UsageConfig.ready``).

    Bookings' own source counts every holding booking at its booked hours. Once a booking is
    closed its usage record says what it is charged (hours used; a no-show as the usage policy
    says), so this source adds, for each closed booking in [start, end), its charged hours
    minus what the bookings' source counted for it (nothing for a no-show, which holds no
    capacity) — both for the part of the booking inside the window. The sum is then the hours
    used where known, and the booked hours until a booking ends.
    """
    rows = BookingUsage.objects.filter(
        booking__tenant=tenant,
        booking__resource__kind=resource_class,
        booking__status__in=(BookingStatus.COMPLETED, BookingStatus.NO_SHOW),
        booking__start__lt=end,
        booking__end__gt=start,
        charged_hours__isnull=False,
    )
    if exclude_booking_id is not None:
        rows = rows.exclude(booking_id=exclude_booking_id)
    total = Decimal(0)
    for b_start, b_end, units, status, charged in rows.values_list(
        "booking__start", "booking__end", "booking__units", "booking__status", "charged_hours"
    ):
        overlap = Decimal((min(b_end, end) - max(b_start, start)).total_seconds())
        length = Decimal((b_end - b_start).total_seconds())
        total += charged * overlap / length
        if status in HOLDING_STATUSES:
            total -= Decimal(units) * overlap / Decimal(3600)
    return total


@dataclass
class ClassUsage:
    resource_class: str
    booked_hours: Decimal = Decimal(0)
    used_hours: Decimal = Decimal(0)
    no_show_hours: Decimal = Decimal(0)
    bookings: int = 0
    no_shows: int = 0


def _booked(start, end, booked_end, units) -> Decimal:
    seconds = ((booked_end or end) - start).total_seconds()
    return Decimal(units) * Decimal(str(seconds)) / Decimal(3600)


def tenant_usage(*, tenant: Tenant, start: dt.date, end: dt.date) -> list[ClassUsage]:
    """Booked, used and no-show hours of ``tenant``'s bookings starting in [start, end) (local
    days), per resource class. Booked hours are as booked (before any early check-out); used
    hours come from closed bookings' usage records (check-in/out, jobs, run records)."""
    rows = Booking.objects.filter(
        tenant=tenant,
        status__in=MEASURED_STATUSES,
        start__gte=local_day_start(start),
        start__lt=local_day_start(end),
    ).values_list(
        "resource__kind",
        "status",
        "start",
        "end",
        "units",
        "usage__booked_end",
        "usage__used_hours",
    )
    by_class = {kind: ClassUsage(kind) for kind in ResourceKind.values}
    for kind, status, b_start, b_end, units, booked_end, used in rows:
        c = by_class[kind]
        booked = _booked(b_start, b_end, booked_end, units)
        c.bookings += 1
        c.booked_hours += booked
        if status == BookingStatus.NO_SHOW:
            c.no_shows += 1
            c.no_show_hours += booked
        elif used is not None:
            c.used_hours += used
    return list(by_class.values())


@dataclass
class Panel:
    """What the check-in panel of a booking shows."""

    booking: Booking
    usage: BookingUsage | None
    required: bool
    opens: dt.datetime | None
    closes: dt.datetime | None
    can_check_in: bool
    can_check_out: bool


def booking_panel(*, booking: Booking, now: dt.datetime | None = None) -> Panel:
    now = now or timezone.now()
    usage = BookingUsage.objects.filter(booking_id=booking.pk).first()
    if booking.resource is None or booking.start is None:
        return Panel(booking, usage, False, None, None, False, False)
    window = window_for(booking.resource)
    opens, closes = check_in_times(booking=booking, window=window)
    confirmed = booking.status == BookingStatus.CONFIRMED
    return Panel(
        booking=booking,
        usage=usage,
        required=window.required,
        opens=opens,
        closes=closes,
        can_check_in=window.required and confirmed and opens <= now <= closes,
        can_check_out=booking.status == BookingStatus.IN_USE,
    )


def kiosk_bookings(*, resource: Resource, now: dt.datetime | None = None) -> list[Panel]:
    """The bookings of ``resource`` a kiosk offers now: those whose check-in window is open and
    those checked in. Names are shown to anyone at the instrument, so only first names."""
    now = now or timezone.now()
    window = window_for(resource) if resource.pk else default_window(resource.kind)
    q = Q(status=BookingStatus.IN_USE) | Q(
        status=BookingStatus.CONFIRMED,
        start__lte=now + window.opens_before,
        start__gte=now - window.closes_after,
    )
    bookings = (
        Booking.objects.filter(q, resource=resource)
        .select_related("user", "resource")
        .order_by("start", "pk")
    )
    return [booking_panel(booking=b, now=now) for b in bookings]


def no_show_weight_factor(*, tenant, allocation_round) -> float:
    """The no-show penalty on ``tenant``'s weight in ``allocation_round`` (registered with
    ``booking.rounds.weights`` in ``UsageConfig.ready``): with a penalty of p % per no-show and
    n no-shows of the tenant starting in the policy's days before the round's period, the
    weight is multiplied by 1 − min(n × p, cap) / 100. 1.0 when the penalty is off."""
    policy = usage_policy()
    if not policy.no_show_weight_penalty:
        return 1.0
    until = allocation_round.period_start
    n = Booking.objects.filter(
        tenant=tenant,
        status=BookingStatus.NO_SHOW,
        start__gte=until - dt.timedelta(days=policy.no_show_penalty_days),
        start__lt=until,
    ).count()
    penalty = min(Decimal(n) * policy.no_show_weight_penalty, policy.no_show_penalty_cap)
    return float(1 - penalty / 100)
