"""Quotas count hours used where known: booked hours are held until a booking is closed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from booking.bookings.rules import booking_check
from booking.tenancy.models import Period
from booking.tenancy.selectors import period_bounds, used_hours
from booking.usage.models import UsagePolicy
from booking.usage.services import booking_check_in, booking_check_out
from booking.usage.tasks import usage_sweep_task
from resources.models import ResourceKind
from tests.usage.conftest import book, local

pytestmark = pytest.mark.django_db

MIN = dt.timedelta(minutes=1)


def _week_use(park, at) -> Decimal:
    start, end = period_bounds(period=Period.WEEK, at=at)
    return used_hours(
        tenant=park.acme, resource_class=ResourceKind.LAB_INSTRUMENT, start=start, end=end
    )


def _quota_codes(park, start, minutes, now):
    errors = booking_check(
        user=park.alice,
        tenant=park.acme,
        resource=park.confocal,
        start=start,
        end=start + dt.timedelta(minutes=minutes),
        now=now,
    )
    return [e.code for e in errors if e.code == "quota_exceeded"]


def _same_week_days(count: int) -> list[int]:
    """``count`` day offsets ≥ 2 that fall in one quota week."""
    first = local(2, 10)
    start, end = period_bounds(period=Period.WEEK, at=first)
    if (end - first).days < count:
        start, end = period_bounds(period=Period.WEEK, at=end)
    base = (start.date() - local(0, 0).date()).days
    return [max(base, 2) + i for i in range(count)]


def test_a_booking_holds_its_booked_hours_until_it_is_closed_then_counts_hours_used(park):
    day = _same_week_days(1)[0]
    b = book(park, start=local(day, 10), minutes=240)
    assert _week_use(park, b.start) == Decimal("4.00")
    b = booking_check_in(user=park.alice, booking=b, now=b.start + 15 * MIN)
    assert _week_use(park, b.start) == Decimal("4.00")  # in use: still held as booked
    booking_check_out(user=park.alice, booking=b, now=b.start + 100 * MIN)
    # Used 10:15 → 11:40 (1 h 25 min), not the 2 h it now spans nor the 4 h booked.
    assert _week_use(park, b.start) == Decimal("1.42")


def test_hours_given_back_make_room_under_the_quota(park):
    days = _same_week_days(6)
    # 20 h instrument quota per week: five 4 h bookings use it up.
    first, *rest = [book(park, start=local(d, 10), minutes=240) for d in days[:5]]
    assert _quota_codes(park, local(days[5], 10), 120, now=local(days[0], 9)) == ["quota_exceeded"]
    first = booking_check_in(user=park.alice, booking=first, now=first.start)
    booking_check_out(user=park.alice, booking=first, now=first.start + 60 * MIN)
    assert _quota_codes(park, local(days[5], 10), 120, now=local(days[0], 12)) == []


@pytest.mark.parametrize(("charged", "counted"), [(True, "3.00"), (False, "0.00")])
def test_a_no_show_counts_as_the_policy_says(
    park, django_capture_on_commit_callbacks, charged, counted
):
    UsagePolicy.objects.create(pk=1, no_show_charged=charged)
    b = book(park, start=local(_same_week_days(1)[0], 10), minutes=180)
    with (
        time_machine.travel(b.start + 20 * MIN, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        usage_sweep_task()
    assert _week_use(park, b.start) == Decimal(counted)
