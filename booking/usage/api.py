"""Check-in, check-out and usage in the researcher API. Endpoints parse input and call the
usage services; a token sees only its own tenant's bookings (another tenant's answer 404)."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router

from booking.api_common import Id, responses
from booking.bookings import selectors
from booking.bookings.models import Booking
from booking.errors import NotFound, ParkError
from booking.tokens.auth import BOOK, READ, Caller
from booking.usage import services, tasks
from booking.usage.models import BookingUsage
from booking.usage.schemas import (
    CheckInOut,
    TenantUsageClassOut,
    TenantUsageOut,
    TenantUsagePeriodIn,
)
from booking.usage.selectors import tenant_usage

router = Router()

MAX_PERIOD_DAYS = 400


def _booking_for(caller: Caller, pk: int) -> Booking:
    booking = selectors.booking_get(user=caller.user, pk=pk)
    if booking.tenant_id != caller.tenant.pk:
        raise NotFound("booking")
    return booking


def _out(booking: Booking) -> dict:
    usage = BookingUsage.objects.filter(booking_id=booking.pk).first()
    return {
        "id": booking.pk,
        "status": booking.status,
        "start": booking.start,
        "end": booking.end,
        "checked_in_at": usage.checked_in_at if usage else None,
        "checked_out_at": usage.checked_out_at if usage else None,
        "booked_end": usage.booked_end if usage else None,
        "used_hours": float(usage.used_hours) if usage and usage.used_hours is not None else None,
    }


@router.post("/bookings/{booking_id}/check-in", auth=BOOK, response=responses({200: CheckInOut}))
def booking_check_in_view(request: HttpRequest, booking_id: Id):
    """Check a confirmed booking in, inside its resource's check-in window (status
    ``in_use``). Errors: ``check_in_not_open``, ``check_in_closed``, ``check_in_not_used``
    (400); ``already_checked_in``, ``not_confirmed`` (409); ``not_owner`` (403)."""
    caller: Caller = request.auth
    booking = services.booking_check_in(user=caller.user, booking=_booking_for(caller, booking_id))
    return _out(booking)


@router.post("/bookings/{booking_id}/check-out", auth=BOOK, response=responses({200: CheckInOut}))
def booking_check_out_view(request: HttpRequest, booking_id: Id):
    """Check a booking out (status ``completed``). Early: the booking ends at the next slot
    and the rest goes back to the calendar and the waitlist. Errors: ``not_checked_in`` (409),
    ``not_owner`` (403)."""
    caller: Caller = request.auth
    result = services.booking_check_out(user=caller.user, booking=_booking_for(caller, booking_id))
    if result.freed:
        pk = result.booking.pk
        transaction.on_commit(lambda: tasks.usage_offer_freed_time_task([pk]))
    return _out(result.booking)


@router.get("/usage", auth=READ, response=responses({200: TenantUsageOut}, without=(409,)))
def usage_view(request: HttpRequest, period: Query[TenantUsagePeriodIn]):
    """The acting tenant's booked, used and no-show hours per resource class, for bookings
    starting in [start, end) (local days; at most 400 days)."""
    caller: Caller = request.auth
    if period.end <= period.start:
        raise ParkError(
            "end_before_start", "The end must be after the start.", field="end", status=422
        )
    if (period.end - period.start).days > MAX_PERIOD_DAYS:
        raise ParkError(
            "period_too_long",
            _("A period covers at most %(days)s days."),
            params={"days": MAX_PERIOD_DAYS},
            field="end",
            status=422,
        )
    classes = tenant_usage(tenant=caller.tenant, start=period.start, end=period.end)
    return {
        "tenant": caller.tenant.slug,
        "start": period.start,
        "end": period.end,
        "classes": [
            TenantUsageClassOut(
                resource_class=c.resource_class,
                booked_hours=round(float(c.booked_hours), 4),
                used_hours=round(float(c.used_hours), 4),
                no_show_hours=round(float(c.no_show_hours), 4),
                bookings=c.bookings,
                no_shows=c.no_shows,
            )
            for c in classes
        ],
    }
