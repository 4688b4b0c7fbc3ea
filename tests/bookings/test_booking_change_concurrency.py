"""Moving bookings at once on PostgreSQL: two moves into the same free slot, exactly one wins."""

from __future__ import annotations

import datetime as dt

import pytest

from booking.bookings.changes import booking_change
from booking.bookings.models import Booking, BookingStatus
from booking.bookings.services import booking_create_instant
from booking.errors import ParkError
from tests.bookings.test_bookings_concurrency import next_monday, run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_moves_into_one_slot_exactly_one_wins(park):
    start = next_monday(10)
    mine = [
        booking_create_instant(
            user=user,
            tenant=tenant,
            resource=park.confocal,
            start=start + dt.timedelta(hours=i),
            end=start + dt.timedelta(hours=i + 1),
            title=f"run {i}",
        )
        for i, (user, tenant) in enumerate(
            [(park.alice, park.acme), (park.charlie, park.globex)] * 3
        )
    ]
    target = start + dt.timedelta(hours=8)

    def move(booking):
        return lambda: booking_change(
            user=booking.user, booking=booking, start=target, end=target + dt.timedelta(hours=1)
        )

    results = run_at_once([move(b) for b in mine])
    assert [r for r in results if isinstance(r, tuple)] == []
    winners = [r for r in results if isinstance(r, Booking)]
    losers = [r for r in results if isinstance(r, ParkError)]
    assert len(winners) == 1 and len(losers) == len(mine) - 1
    assert {e.code for e in losers} == {"slot_taken"}
    at_target = Booking.objects.filter(
        resource=park.confocal, status=BookingStatus.CONFIRMED, start=target
    )
    assert at_target.count() == 1
