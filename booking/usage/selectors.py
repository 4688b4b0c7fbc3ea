"""Reads of usage: a tenant's booked, used and no-show hours per resource class; the check-in
panel of a booking; the kiosk's bookings of an instrument."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from booking import sql
from booking.bookings.models import HOLDING_STATUSES, Booking, BookingStatus
from booking.tenancy.models import Tenant
from booking.tenancy.usage import UsageQuery
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
) -> UsageQuery:
    """The usage source of closed bookings for quota use (registered in ``UsageConfig.ready``).

    Bookings' own source counts every holding booking at its booked hours. Once a booking is
    closed its usage record says what it is charged (hours used; a no-show as the usage policy
    says), so this source adds, for each closed booking in [start, end), its charged hours
    minus what the bookings' source counted for it (nothing for a no-show, which holds no
    capacity) — both for the part of the booking inside the window. The sum is then the hours
    used where known, and the booked hours until a booking ends.
    """
    # One aggregate in SQL (the hot path of every quota check; ``booking.sql``).
    b, u, r = sql.table(Booking), sql.table(BookingUsage), sql.table(Resource)
    b_start, b_end = f"{b}.{sql.column(Booking, 'start')}", f"{b}.{sql.column(Booking, 'end')}"
    overlap = (
        f"({sql.seconds(sql.least(b_end, '%s'))} - {sql.seconds(sql.greatest(b_start, '%s'))})"
    )
    length = f"NULLIF({sql.seconds(b_end)} - {sql.seconds(b_start)}, 0)"
    charged = f"{u}.{sql.column(BookingUsage, 'charged_hours')}"
    status = f"{b}.{sql.column(Booking, 'status')}"
    statement = (
        f"SELECT SUM({charged} * {overlap} / {length}), "
        f"SUM(CASE WHEN {status} IN ({sql.placeholders(HOLDING_STATUSES)}) "
        f"THEN {b}.{sql.column(Booking, 'units')} * {overlap} END) "
        f"FROM {u} JOIN {b} ON {b}.{sql.column(Booking, 'id')} = {u}.{sql.column(BookingUsage, 'booking')} "
        f"JOIN {r} ON {r}.{sql.column(Resource, 'id')} = {b}.{sql.column(Booking, 'resource')} "
        f"WHERE {b}.{sql.column(Booking, 'tenant')} = %s AND {r}.{sql.column(Resource, 'kind')} = %s "
        f"AND {status} IN (%s, %s) AND {b_start} < %s AND {b_end} > %s AND {charged} IS NOT NULL"
    )
    window = [sql.at(end), sql.at(start)]
    params = [
        *window,
        *HOLDING_STATUSES,
        *window,
        sql.pk(tenant),
        resource_class,
        BookingStatus.COMPLETED,
        BookingStatus.NO_SHOW,
        sql.at(end),
        sql.at(start),
    ]
    if exclude_booking_id is not None:
        statement += f" AND {b}.{sql.column(Booking, 'id')} <> %s"
        params.append(sql.pk(exclude_booking_id))
    return UsageQuery(
        statement,
        params,
        2,
        lambda row: sql.decimal(row[0]) - sql.decimal(row[1]) / Decimal(3600),
    )


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
