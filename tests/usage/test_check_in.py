"""Check-in and check-out services: the window's edges, who may act, early check-out."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from booking.bookings.models import BookingEvent, BookingStatus
from booking.bookings.rules import booking_check
from booking.errors import NotFound, ParkError
from booking.usage.models import BookingUsage, CheckInRule
from booking.usage.services import booking_check_in, booking_check_out
from tests.usage.conftest import book, local

pytestmark = pytest.mark.django_db

SECOND = dt.timedelta(seconds=1)
MIN = dt.timedelta(minutes=1)


def _code(call) -> str:
    with pytest.raises(ParkError) as info:
        call()
    return info.value.code


@pytest.mark.parametrize(
    ("offset", "ok_or_code"),
    [
        (-15 * MIN - SECOND, "check_in_not_open"),
        (-15 * MIN, "ok"),
        (dt.timedelta(0), "ok"),
        (15 * MIN, "ok"),
        (15 * MIN + SECOND, "check_in_closed"),
    ],
)
def test_the_default_window_runs_from_15_minutes_before_to_15_after_the_start(
    park, offset, ok_or_code
):
    b = book(park, start=local(2, 10))
    at = b.start + offset
    if ok_or_code == "ok":
        done = booking_check_in(user=park.alice, booking=b, now=at)
        assert done.status == BookingStatus.IN_USE
        assert BookingUsage.objects.get(booking=b).checked_in_at == at
    else:
        assert _code(lambda: booking_check_in(user=park.alice, booking=b, now=at)) == ok_or_code
        b.refresh_from_db()
        assert b.status == BookingStatus.CONFIRMED
        assert not BookingUsage.objects.filter(booking=b).exists()


def test_the_operator_sets_the_window_per_resource(park):
    CheckInRule.objects.create(
        resource=park.confocal, opens_minutes_before=5, closes_minutes_after=30
    )
    b = book(park, start=local(2, 10))
    assert (
        _code(lambda: booking_check_in(user=park.alice, booking=b, now=b.start - 6 * MIN))
        == "check_in_not_open"
    )
    assert (
        _code(lambda: booking_check_in(user=park.alice, booking=b, now=b.start + 31 * MIN))
        == "check_in_closed"
    )
    done = booking_check_in(user=park.alice, booking=b, now=b.start + 30 * MIN)
    assert done.status == BookingStatus.IN_USE


def test_checking_in_twice_or_a_cancelled_booking_is_refused(park):
    b = book(park, start=local(2, 10))
    b = booking_check_in(user=park.alice, booking=b, now=b.start)
    assert _code(lambda: booking_check_in(user=park.alice, booking=b, now=b.start)) == (
        "already_checked_in"
    )
    other = book(park, start=local(2, 12))
    from booking.bookings.services import booking_cancel

    other = booking_cancel(user=park.alice, booking=other, now=other.start - MIN)
    assert _code(lambda: booking_check_in(user=park.alice, booking=other, now=other.start)) == (
        "not_confirmed"
    )


def test_gpu_bookings_are_measured_without_check_in(park):
    b = book(park, start=local(2, 10), resource=park.gpu, units=2)
    assert _code(lambda: booking_check_in(user=park.alice, booking=b, now=b.start)) == (
        "check_in_not_used"
    )


def test_a_manager_may_check_in_for_a_member_but_another_tenant_sees_nothing(park):
    b = book(park, start=local(2, 10))
    with pytest.raises(NotFound):
        booking_check_in(user=park.charlie, booking=b, now=b.start)
    done = booking_check_in(user=park.bob, booking=b, now=b.start)
    assert done.status == BookingStatus.IN_USE
    assert BookingEvent.objects.filter(booking=b, to_status="in_use", actor=park.bob).exists()


def test_an_early_check_out_gives_the_rest_back_to_the_calendar(park):
    b = book(park, start=local(2, 10), minutes=240)
    b = booking_check_in(user=park.alice, booking=b, now=b.start + 5 * MIN)
    result = booking_check_out(user=park.alice, booking=b, now=b.start + 70 * MIN)
    assert result.freed
    b = result.booking
    assert b.status == BookingStatus.COMPLETED
    # Ends at the next 30-minute slot; the booked end is kept.
    assert b.end == local(2, 11, 30)
    usage = BookingUsage.objects.get(booking=b)
    assert usage.booked_end == local(2, 14)
    assert usage.used_hours == Decimal("1.0833")  # 10:05 → 11:10
    assert usage.charged_hours == usage.used_hours
    # The freed time can be booked by someone else.
    errors = booking_check(
        user=park.charlie,
        tenant=park.globex,
        resource=park.confocal,
        start=local(2, 11, 30),
        end=local(2, 14),
        now=local(2, 11, 15),
    )
    assert [e.code for e in errors] == []


def test_a_check_out_at_the_end_keeps_the_booking_and_frees_nothing(park):
    b = book(park, start=local(2, 10), minutes=60)
    b = booking_check_in(user=park.alice, booking=b, now=b.start)
    result = booking_check_out(user=park.alice, booking=b, now=b.start + 59 * MIN)
    assert not result.freed
    assert result.booking.end == local(2, 11)
    assert BookingUsage.objects.get(booking=b).booked_end is None


def test_checking_out_what_is_not_checked_in_is_refused_and_changes_nothing(park):
    b = book(park, start=local(2, 10))
    assert _code(lambda: booking_check_out(user=park.alice, booking=b, now=b.start)) == (
        "not_checked_in"
    )
    b.refresh_from_db()
    assert b.status == BookingStatus.CONFIRMED
    assert not BookingEvent.objects.filter(booking=b).exclude(to_status="confirmed").exists()
