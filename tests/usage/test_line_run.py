"""Pilot-line usage comes from the technician's run record."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from booking.errors import NotFound, ParkError
from booking.usage.models import BookingUsage, LineRun
from booking.usage.services import booking_check_in, booking_check_out, line_run_complete
from resources.models import Recipe
from tests.usage.conftest import book, local

pytestmark = pytest.mark.django_db

H = dt.timedelta(hours=1)


def _line_booking(park):
    """A confirmed line run (lines are planned in rounds; written as the planner would)."""
    from booking.bookings.models import Booking, BookingStatus

    start = local(3, 8)
    return Booking.objects.create(
        tenant=park.acme,
        user=park.alice,
        resource=park.line,
        start=start,
        end=start + 6 * H,
        title="GaN run",
        recipe=Recipe.objects.get(line=park.line, code="gan"),
        status=BookingStatus.CONFIRMED,
    )


def test_the_run_record_sets_the_hours_used_of_a_line_booking(park):
    b = _line_booking(park)
    b = booking_check_in(user=park.alice, booking=b, now=b.start)
    result = booking_check_out(user=park.alice, booking=b, now=b.end)
    assert BookingUsage.objects.get(booking=b).used_hours == Decimal("6.0000")
    run = line_run_complete(
        user=park.olga,
        booking=result.booking,
        actual_start=b.start + dt.timedelta(minutes=30),
        actual_end=b.start + 5 * H,
        lots="L-2201, L-2202",
        wafers=12,
        notes="chamber clean after run",
    )
    assert run.recipe.code == "gan"
    usage = BookingUsage.objects.get(booking=b)
    assert usage.source == "run_record"
    assert usage.used_hours == usage.charged_hours == Decimal("4.5000")


def test_only_park_staff_record_runs_and_only_for_lines(park):
    b = _line_booking(park)
    with pytest.raises(NotFound):
        line_run_complete(user=park.alice, booking=b, actual_start=b.start, actual_end=b.end)
    other = book(park, start=local(2, 10))
    with pytest.raises(ParkError) as info:
        line_run_complete(user=park.olga, booking=other, actual_start=b.start, actual_end=b.end)
    assert info.value.code == "not_a_line"
    with pytest.raises(ParkError) as info:
        line_run_complete(user=park.olga, booking=b, actual_start=b.end, actual_end=b.start)
    assert info.value.field == "actual_end"
    assert not LineRun.objects.exists()
